package s3store

import (
	"errors"
	"fmt"

	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// ErrBucketNotFound is matched (errors.Is) by errors caused by a bucket
// that does not exist: New checks the bucket, and a bucket removed later
// makes uploads fail with it (the entries stay pending).
var ErrBucketNotFound = errors.New("s3store: bucket does not exist")

// ErrObjectLocked is matched (errors.Is) by the error of a Delete whose
// entry lies in an object still under Object Lock retention
// ([WithObjectLock]).
var ErrObjectLocked = errors.New("s3store: object under Object Lock retention")

// ErrAccessDenied is matched (errors.Is) by errors caused by the server
// refusing the credentials or the operation (HTTP 403, AccessDenied,
// InvalidAccessKeyId, SignatureDoesNotMatch).
var ErrAccessDenied = errors.New("s3store: access denied")

// ErrObjectTooLarge is matched (errors.Is) by the error of a read that
// met an object under the prefix larger than [WithMaxObjectBytes]: no
// object the Store writes, so a planted or damaged one, which is not held
// in memory.
var ErrObjectTooLarge = errors.New("s3store: object larger than any the store writes")

// ErrUndelivered is matched (errors.Is) by the error Close returns when
// some accepted entries could not be uploaded before the close timeout.
// With a spool directory they are still there and a later Store on it
// uploads them; without one they are lost, and the error says how many.
var ErrUndelivered = errors.New("s3store: accepted entries not uploaded")

// ErrReadOnly is matched (errors.Is) by the error Write, WriteBatch,
// Delete or DeleteBefore returns on a Store opened [WithReadOnly].
var ErrReadOnly = errors.New("s3store: store is opened read-only")

// ErrCheckpointKeyNeeded is matched (errors.Is) by the error of [New] when
// the Store is opened for writing without a checkpoint key
// ([WithCheckpointKey], [WithCheckpointSigner]) on a prefix whose writers
// sign digests (objects under prefix/_digests/): it would store batch
// objects no signed digest lists, and [Store.Verify] with the writers' key
// would report them as tampering. The error names the key id when the
// first digest object says it; New writes nothing. Open the Store with the
// writers' key, or [WithReadOnly] to read it.
var ErrCheckpointKeyNeeded = errors.New("s3store: the prefix is signed with a checkpoint key that was not given")

// ErrCheckpointKeyMismatch is matched (errors.Is) by the error of [New]
// opened [WithSameCheckpointKey] when the checkpoint key given did not
// sign the prefix's newest digest object: another key id, another key
// under that id, or a key of the other kind. Its digests and removal
// notes would not verify with the writers' key, and [Store.Verify] would
// report them as forged. The error names the key id the prefix is signed
// with and the one given, never a key; New writes nothing.
var ErrCheckpointKeyMismatch = errors.New("s3store: the prefix is signed with another checkpoint key than the one given")

// httpStatus returns the HTTP status of an SDK error, or 0.
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.HTTPStatusCode()
	}
	return 0
}

// apiCode returns the S3 error code of an SDK error, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func isPreconditionFailed(err error) bool {
	return httpStatus(err) == 412 || apiCode(err) == "PreconditionFailed"
}

func isNotFound(err error) bool {
	switch apiCode(err) {
	case "NoSuchKey", "NotFound":
		return true
	}
	return httpStatus(err) == 404 && apiCode(err) != "NoSuchBucket"
}

// classify wraps err with ErrBucketNotFound or ErrAccessDenied when it is
// one of those, naming the operation and bucket (never entry content).
func classify(op, bucket string, err error) error {
	if err == nil {
		return nil
	}
	switch code := apiCode(err); {
	case code == "NoSuchBucket":
		return fmt.Errorf("s3store: %s in bucket %q: %w: %w", op, bucket, ErrBucketNotFound, err)
	case code == "AccessDenied" || code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" ||
		code == "AllAccessDisabled" || code == "Forbidden" || httpStatus(err) == 403:
		return fmt.Errorf("s3store: %s in bucket %q: %w: %w", op, bucket, ErrAccessDenied, err)
	}
	return fmt.Errorf("s3store: %s in bucket %q: %w", op, bucket, err)
}

// isPermanent reports whether retrying err cannot help until someone
// changes the configuration (credentials, policy, bucket). Network errors,
// throttling and 5xx are transient.
func isPermanent(err error) bool {
	if errors.Is(err, ErrBucketNotFound) || errors.Is(err, ErrAccessDenied) {
		return true
	}
	s := httpStatus(err)
	return s >= 400 && s < 500 && s != 408 && s != 429 && s != 412
}
