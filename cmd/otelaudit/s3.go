package main

import (
	"context"
	"flag"
)

// s3Flags select an S3 store. S3 support arrives with storage/s3store;
// until then no S3 flags are registered.
type s3Flags struct{}

const (
	s3Hint     = ""
	s3TopUsage = ""
)

func (f *s3Flags) add(fs *flag.FlagSet) {}
func (f *s3Flags) given() bool          { return false }
func (f *s3Flags) open(ctx context.Context) (*store, error) {
	return nil, usageErrorf("S3 stores are not supported by this build")
}
