package s3store

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/otelaudit/otelaudit-go/storage"
)

const (
	// DefaultPrefix is the key prefix under which a Store keeps its
	// objects when WithPrefix is not given.
	DefaultPrefix = "audit/"
	// DefaultMaxBatchEntries is the number of entries after which the
	// open batch is sealed and uploaded.
	DefaultMaxBatchEntries = 5000
	// DefaultMaxBatchBytes is the encoded size, in bytes, after which the
	// open batch is sealed and uploaded (8 MiB).
	DefaultMaxBatchBytes = 8 << 20
	// DefaultMaxObjectBytes is the largest object the Store reads (256
	// MiB): far above any object it writes at the default batch size.
	DefaultMaxObjectBytes = 256 << 20
	// DefaultMaxBatchDelay is how long, at most, the first entry of a
	// batch waits in memory before the batch is sealed and uploaded (1 s).
	DefaultMaxBatchDelay = time.Second
	// DefaultUploadConcurrency is the number of batches uploaded at once.
	DefaultUploadConcurrency = 4
	// DefaultReadConcurrency is the number of objects fetched at once by
	// range queries and by the reference-layout fallback of Read.
	DefaultReadConcurrency = 8
	// DefaultMaxPendingBytes bounds the encoded size, in bytes, of entries
	// accepted but not yet uploaded (256 MiB). When it is reached, Write
	// blocks until uploads catch up or its ctx ends.
	DefaultMaxPendingBytes = 256 << 20
	// DefaultCloseTimeout is how long Close keeps trying to upload what
	// was accepted (30 s).
	DefaultCloseTimeout = 30 * time.Second
	// DefaultMaxRetryBackoff caps the wait between two delivery attempts
	// of one batch (5 s).
	DefaultMaxRetryBackoff = 5 * time.Second
	// DefaultDigestInterval is how often, at most, a signing Store writes
	// a digest object listing the batch objects it stored since the last
	// one (1 minute); it also writes one at Flush and Close.
	DefaultDigestInterval = time.Minute
	// DefaultDigestObjects is the number of stored batch objects after
	// which a digest is written before the interval ends.
	DefaultDigestObjects = 1000
)

// Option configures a Store. Options are applied in order; nil arguments
// are ignored and out-of-range values keep the default.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	prefix            string
	maxBatchEntries   int
	maxBatchBytes     int
	maxObjectBytes    int64
	maxBatchDelay     time.Duration
	uploadConcurrency int
	readConcurrency   int
	maxPendingBytes   int64
	closeTimeout      time.Duration
	maxRetryBackoff   time.Duration
	spoolDir          string
	logger            *slog.Logger
	signer            storage.Signer
	keyErr            error // an unusable checkpoint key: New fails with it
	sameKey           bool
	witness           io.Writer
	digestInterval    time.Duration
	digestObjects     int
	lockMode          types.ObjectLockMode // "" without Object Lock
	lockPeriod        time.Duration
	lockErr           error
	readOnly          bool
}

func newConfig(opts []Option) config {
	c := config{
		prefix:            DefaultPrefix,
		maxBatchEntries:   DefaultMaxBatchEntries,
		maxBatchBytes:     DefaultMaxBatchBytes,
		maxObjectBytes:    DefaultMaxObjectBytes,
		maxBatchDelay:     DefaultMaxBatchDelay,
		uploadConcurrency: DefaultUploadConcurrency,
		readConcurrency:   DefaultReadConcurrency,
		maxPendingBytes:   DefaultMaxPendingBytes,
		closeTimeout:      DefaultCloseTimeout,
		maxRetryBackoff:   DefaultMaxRetryBackoff,
		digestInterval:    DefaultDigestInterval,
		digestObjects:     DefaultDigestObjects,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c
}

// WithPrefix sets the key prefix (default [DefaultPrefix]). A trailing "/"
// is added when missing; "" stores the partitions at the bucket's root.
// Point it at the prefix a reference-implementation store used to read that
// store's objects.
func WithPrefix(p string) Option {
	return optionFunc(func(c *config) {
		p = strings.TrimLeft(p, "/")
		if p != "" && !strings.HasSuffix(p, "/") {
			p += "/"
		}
		c.prefix = p
	})
}

// WithMaxBatchEntries sets how many entries seal a batch (default
// [DefaultMaxBatchEntries]). Values < 1 keep the default.
func WithMaxBatchEntries(n int) Option {
	return optionFunc(func(c *config) {
		if n >= 1 {
			c.maxBatchEntries = n
		}
	})
}

// WithMaxBatchBytes sets the encoded size that seals a batch (default
// [DefaultMaxBatchBytes]). Values < 1 keep the default.
func WithMaxBatchBytes(n int) Option {
	return optionFunc(func(c *config) {
		if n >= 1 {
			c.maxBatchBytes = n
		}
	})
}

// WithMaxObjectBytes sets the largest object the Store reads (default
// [DefaultMaxObjectBytes]); a larger one under the prefix, which no Store
// writes unless its [WithMaxBatchBytes] is near the limit, fails the read
// with [ErrObjectTooLarge] instead of being held in memory. Raise it when
// writers use batches larger than the default limit allows. Values < 1
// keep the default.
func WithMaxObjectBytes(n int64) Option {
	return optionFunc(func(c *config) {
		if n >= 1 {
			c.maxObjectBytes = n
		}
	})
}

// WithMaxBatchDelay sets how long the first entry of an open batch may
// wait before the batch is sealed (default [DefaultMaxBatchDelay]). Values
// <= 0 keep the default.
func WithMaxBatchDelay(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.maxBatchDelay = d
		}
	})
}

// WithUploadConcurrency sets how many batches are uploaded at once
// (default [DefaultUploadConcurrency]). Values < 1 keep the default.
func WithUploadConcurrency(n int) Option {
	return optionFunc(func(c *config) {
		if n >= 1 {
			c.uploadConcurrency = n
		}
	})
}

// WithReadConcurrency sets how many objects queries fetch at once
// (default [DefaultReadConcurrency]). Values < 1 keep the default.
func WithReadConcurrency(n int) Option {
	return optionFunc(func(c *config) {
		if n >= 1 {
			c.readConcurrency = n
		}
	})
}

// WithMaxPendingBytes bounds the encoded bytes accepted but not yet
// uploaded (default [DefaultMaxPendingBytes]); Write blocks above it.
// Values < 1 keep the default.
func WithMaxPendingBytes(n int64) Option {
	return optionFunc(func(c *config) {
		if n >= 1 {
			c.maxPendingBytes = n
		}
	})
}

// WithCloseTimeout sets how long Close keeps trying to upload (default
// [DefaultCloseTimeout]). Values <= 0 keep the default.
func WithCloseTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.closeTimeout = d
		}
	})
}

// WithMaxRetryBackoff caps the wait between delivery attempts of a batch
// (default [DefaultMaxRetryBackoff]). Values <= 0 keep the default.
func WithMaxRetryBackoff(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.maxRetryBackoff = d
		}
	})
}

// WithSpoolDir makes the Store keep every accepted, not yet uploaded entry
// in files under dir (created 0700, files 0600): Write appends the entry to
// the open batch's spool file before it returns, so accepted entries
// survive a crash of the process and an outage of the server that outlasts
// Close. A Store started on the same dir uploads what an earlier one left
// there, under the same object keys, so nothing is written twice. Only one
// Store may use a dir at a time (New fails otherwise). "" (the default)
// keeps unsent entries in memory only.
func WithSpoolDir(dir string) Option {
	return optionFunc(func(c *config) { c.spoolDir = dir })
}

// WithReadOnly opens the Store for reading only: Read, ListEntries,
// Entries, Count, Stats and [Store.Verify] work as without it; Write,
// WriteBatch, Delete and DeleteBefore return an error matching
// [ErrReadOnly], and Flush and Close have nothing to upload. [New] makes
// no request that writes, takes no spool directory ([WithSpoolDir] is
// ignored) and does not check for a checkpoint key, so a prefix whose
// writers sign digests can be read without their key (see
// [ErrCheckpointKeyNeeded]). A checkpoint key given with it signs nothing.
// Default: the Store reads and writes.
func WithReadOnly() Option {
	return optionFunc(func(c *config) { c.readOnly = true })
}

// WithLogger sets where the Store reports background events (retries,
// skipped lines); nil keeps slog.Default(). Entry content is never logged.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithCheckpointKey makes the Store sign its digest objects and removal
// notes with HMAC-SHA256 under key (and its id, written next to each
// signature): per writer, CloudTrail-style, a digest lists every batch
// object the Store stored since its previous digest with the object's
// SHA-256 and chain positions, and the writer's chain head, and chains to
// the previous digest (see the package doc). [Store.Verify] given the same
// key ([WithVerifyKey]) then also detects modified, replaced, added or
// deleted objects and digests. A key shorter than [storage.MinHMACKeyLen]
// bytes or an empty id makes [New] fail with an error matching
// [storage.ErrBadKey]; there is never a fallback key. Without this option
// (or [WithCheckpointSigner]) the Store writes no digests. Keep the key
// outside the bucket.
func WithCheckpointKey(keyID string, key []byte) Option {
	return optionFunc(func(c *config) {
		c.signer, c.keyErr = storage.NewHMACSigner(keyID, key)
	})
}

// WithCheckpointSigner signs digests with an Ed25519 private key (and its
// id) instead of HMAC, so that verification needs only the public key
// ([WithVerifyPublicKey]). A key of the wrong size or an empty id makes
// [New] fail with an error matching [storage.ErrBadKey]. The last of
// WithCheckpointKey and WithCheckpointSigner wins.
func WithCheckpointSigner(keyID string, priv ed25519.PrivateKey) Option {
	return optionFunc(func(c *config) {
		c.signer, c.keyErr = storage.NewEd25519Signer(keyID, priv)
	})
}

// WithSameCheckpointKey makes [New] refuse to open the Store for writing
// with a checkpoint key other than the one the prefix's newest digest
// object (by last-modified time) is signed with: another key id, another
// key under that id, or a key of the other kind (HMAC for Ed25519 or the
// reverse). New then fails with an error matching
// [ErrCheckpointKeyMismatch] that names both key ids (never a key) and
// writes nothing. A prefix with no digest yet (its writers do not sign)
// takes any key, as without this option; one without a key is refused
// anyway ([ErrCheckpointKeyNeeded]). Cost: the listing of
// prefix/_digests/ (one LIST per 1,000 digests) and one GET, at New.
//
// Give it to a process that must sign on with the key the prefix's
// writers sign with, such as a retention job: its removal notes signed
// with a wrong key would make [Store.Verify] with the writers' key report
// a legitimate removal as tampering. Without it (the default) a Store
// given another key signs with it, which is how writers move to a new
// key.
func WithSameCheckpointKey() Option {
	return optionFunc(func(c *config) { c.sameKey = true })
}

// WithWitness publishes every signed digest and removal note outside the
// bucket as well: once a digest object is stored, its exact line (the
// same record a file store's witness gets) is written to w, whole lines in
// order, one Write per note. Give w a file in another directory or on
// another host, a writer into a second bucket or prefix, or anything that
// ships lines away (a log pipeline). [Store.Verify] given those lines
// ([WithVerifyWitness]) requires each in the store, which detects what the
// bucket alone cannot: the newest entries removed together with the last
// digest, a deleted writer session and a rollback of the prefix to an
// older copy. It needs a checkpoint key (without one nothing is signed and
// nothing is published). A failed witness write does not fail the Store:
// it is logged (no content) and the witness lags. Writes to w are
// serialised by the Store. A nil w is ignored; default none.
func WithWitness(w io.Writer) Option {
	return optionFunc(func(c *config) {
		if w != nil {
			c.witness = w
		}
	})
}

// WithDigestInterval sets how often, at most, a signing Store writes a
// digest of the batch objects stored since its last one (default
// [DefaultDigestInterval]), and after how many stored batch objects it
// writes one sooner (default [DefaultDigestObjects]). Objects stored after
// the last digest of a Store that is still running are chain-checked but
// reported as unconfirmed by [Store.Verify]. Values <= 0 keep the
// defaults.
func WithDigestInterval(d time.Duration, objects int) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.digestInterval = d
		}
		if objects > 0 {
			c.digestObjects = objects
		}
	})
}

// WithObjectLock writes every batch object (and its rewritten generations)
// and every digest object with S3 Object Lock retention: mode
// (types.ObjectLockModeGovernance or types.ObjectLockModeCompliance) until
// period after the upload, so that no one (in COMPLIANCE mode, not even the
// account root) can change or delete them before then: WORM storage, SEC
// 17a-4 style. The bucket must have been created with Object Lock enabled
// (uploads fail with the server's error otherwise, reported as for any
// failed upload). Retention cleanup respects it: DeleteBefore keeps a day
// whose objects are still under retention (by their upload time and
// period) and the batches of t's day still under retention, and says so in
// its log; Delete of an entry in an object still under retention fails
// with an error matching [ErrObjectLocked]. Id markers are not locked. An
// unknown mode or a period <= 0 makes [New] fail. Default: no Object Lock.
func WithObjectLock(mode types.ObjectLockMode, period time.Duration) Option {
	return optionFunc(func(c *config) {
		if (mode != types.ObjectLockModeGovernance && mode != types.ObjectLockModeCompliance) || period <= 0 {
			c.lockErr = fmt.Errorf("s3store: Object Lock mode %q and period %s: want GOVERNANCE or COMPLIANCE and a period > 0", mode, period)
			return
		}
		c.lockMode, c.lockPeriod, c.lockErr = mode, period, nil
	})
}
