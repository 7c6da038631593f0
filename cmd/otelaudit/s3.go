package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/otelaudit/otelaudit-go/internal/s3client"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// s3Flags select an S3 store (storage/s3store).
type s3Flags struct {
	bucket, prefix, endpoint, region string
	opts                             []s3store.Option // added by the command (a checkpoint key)
	client                           *s3.Client       // set by open
}

const (
	s3Hint     = " or --s3-bucket BUCKET"
	s3TopUsage = `  --s3-bucket BUCKET [--s3-prefix P] [--s3-endpoint URL] [--s3-region R]
                an S3 store (query, show, count, verify, stats, cleanup); credentials
                and region come from the standard AWS chain (AWS_ACCESS_KEY_ID,
                AWS_PROFILE, ~/.aws/config, instance roles, ...)
`
)

func (f *s3Flags) add(fs *flag.FlagSet) {
	fs.StringVar(&f.bucket, "s3-bucket", "", "the S3 store in `BUCKET` instead of a directory")
	fs.StringVar(&f.prefix, "s3-prefix", s3store.DefaultPrefix, "key `PREFIX` of the S3 store in its bucket")
	fs.StringVar(&f.endpoint, "s3-endpoint", "", "S3 endpoint `URL` for S3-compatible servers (MinIO, versitygw);\nuses path-style addressing")
	fs.StringVar(&f.region, "s3-region", "", "AWS `REGION` (default: AWS_REGION or the AWS config, else "+s3client.DefaultRegion+")")
}

// given reports whether any S3 flag selects or configures an S3 store.
func (f *s3Flags) given() bool {
	return f.bucket != "" || f.endpoint != "" || f.region != "" || (f.prefix != "" && f.prefix != s3store.DefaultPrefix)
}

// open connects to the S3 store, for reading only when readOnly (the
// Store then writes nothing and needs no checkpoint key). Failing to reach
// the bucket (missing, access denied, unreachable) is an I/O error (exit
// 2), and so is opening for writing without the key of a prefix whose
// writers sign (the error matches s3store.ErrCheckpointKeyNeeded).
func (f *s3Flags) open(ctx context.Context, c *cli, readOnly bool) (*store, error) {
	if f.bucket == "" {
		return nil, usageErrorf("--s3-prefix, --s3-endpoint and --s3-region need --s3-bucket")
	}
	client, err := s3client.New(ctx, f.region, f.endpoint)
	if err != nil {
		return nil, ioError(err)
	}
	f.client = client
	opts := append([]s3store.Option{s3store.WithPrefix(f.prefix), s3store.WithLogger(c.logger())}, f.opts...)
	if readOnly {
		opts = append(opts, s3store.WithReadOnly())
	}
	st, err := s3store.New(ctx, client, f.bucket, opts...)
	if err != nil {
		return nil, ioError(fmt.Errorf("open S3 store s3://%s/%s: %w", f.bucket, f.prefix, err))
	}
	out := &store{Backend: st, name: "s3://" + f.bucket + "/" + st.Prefix()}
	if readOnly {
		// A mistyped --s3-prefix reads as an empty store: one listing of
		// a single key tells (a listing that fails says nothing).
		out.empty = func() bool {
			l, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(f.bucket), Prefix: aws.String(st.Prefix()), MaxKeys: aws.Int32(1)})
			return err == nil && len(l.Contents) == 0
		}
	}
	return out, nil
}
