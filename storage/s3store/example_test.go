package s3store_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// A Store on an S3-compatible server at a custom endpoint (versitygw,
// MinIO, ...): path-style addressing and static credentials. For AWS,
// build the client from config.LoadDefaultConfig instead.
func Example() {
	ctx := context.Background()
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://127.0.0.1:7070"),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("ACCESS_KEY", "SECRET_KEY", ""),
	})
	st, err := s3store.New(ctx, client, "audit",
		s3store.WithPrefix("prod/audit"),
		s3store.WithSpoolDir("/var/lib/myapp/audit-spool"))
	switch {
	case errors.Is(err, s3store.ErrBucketNotFound), errors.Is(err, s3store.ErrAccessDenied):
		log.Fatalf("audit bucket misconfigured: %v", err)
	case err != nil:
		log.Fatal(err)
	}
	defer st.Close() // uploads what is still buffered

	var b storage.Backend = st // use it wherever a Backend is expected
	_ = b
}

// A bucket that does not exist is found when the Store is made, not at the
// first upload; the error says which kind of problem it is. (The server
// here answers like S3 does for a missing bucket.)
func ExampleNew_missingBucket() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound) // HeadBucket of a missing bucket
	}))
	defer srv.Close()
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("ACCESS_KEY", "SECRET_KEY", ""),
	})
	_, err := s3store.New(context.Background(), client, "no-such-bucket")
	fmt.Println("bucket missing:", errors.Is(err, s3store.ErrBucketNotFound))
	fmt.Println("access denied:", errors.Is(err, s3store.ErrAccessDenied))
	// Output:
	// bucket missing: true
	// access denied: false
}

// A prefix whose writers sign digests (WithCheckpointKey) cannot be opened
// for writing without their key: the Store would store objects no signed
// digest lists. Reading it needs no key: open it WithReadOnly. (The server
// here answers like S3 for such a prefix: its first digest object is a
// note signed with key id "ops-2026".)
func ExampleWithReadOnly() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodHead: // HeadBucket: the bucket exists
		case r.URL.Query().Get("list-type") == "2": // ListObjectsV2 of audit/_digests/
			w.Header().Set("Content-Type", "application/xml")
			fmt.Fprint(w, `<ListBucketResult><Name>audit</Name><KeyCount>1</KeyCount><MaxKeys>1</MaxKeys>`+
				`<Contents><Key>audit/_digests/_legacy.json</Key><Size>120</Size></Contents></ListBucketResult>`)
		default: // GetObject of the note's last KiB
			w.WriteHeader(http.StatusPartialContent)
			fmt.Fprint(w, `{"type":"legacy","kid":"ops-2026","sig":"00"}`+"\n")
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("ACCESS_KEY", "SECRET_KEY", ""),
	})

	_, err := s3store.New(ctx, client, "audit")
	fmt.Println("key needed:", errors.Is(err, s3store.ErrCheckpointKeyNeeded))
	fmt.Println(err)

	ro, err := s3store.New(ctx, client, "audit", s3store.WithReadOnly())
	if err != nil {
		log.Fatal(err)
	}
	defer ro.Close()
	err = ro.Write(ctx, &storage.AuditEntry{ID: storage.NewEntryID()})
	fmt.Println("write refused:", errors.Is(err, s3store.ErrReadOnly))
	// Output:
	// key needed: true
	// s3store: the prefix is signed with a checkpoint key that was not given: the writers of s3://audit/audit/ sign digests (objects under _digests/) with key id "ops-2026"; open it WithCheckpointKey or WithCheckpointSigner and their key, or WithReadOnly to read it
	// write refused: true
}
