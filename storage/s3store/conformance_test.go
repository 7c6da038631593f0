package s3store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
	"github.com/otelaudit/otelaudit-go/storage/storagetest"
)

// TestConformance runs the storagetest suite against a Store on the test
// server, each subtest in a fresh bucket, with small batches so that
// multi-object days, rewrites and markers are exercised.
func TestConformance(t *testing.T) {
	srv := testServer(t)
	client := srv.client(nil, srv.secret)
	open := func(t *testing.T, bucket string, spool string) *s3store.Store {
		st, err := s3store.New(t.Context(), client, bucket,
			s3store.WithPrefix("conf"),
			s3store.WithMaxBatchEntries(64),
			s3store.WithMaxBatchDelay(20*time.Millisecond),
			s3store.WithSpoolDir(spool))
		require.NoError(t, err)
		return st
	}
	storagetest.RunConfig(t, storagetest.Config{
		New: func(t *testing.T) storage.Backend {
			return open(t, newBucket(t, client), t.TempDir())
		},
		Reopen: func(t *testing.T, b storage.Backend) storage.Backend {
			st := b.(*s3store.Store)
			require.NoError(t, st.Close())
			r := open(t, st.Bucket(), t.TempDir())
			t.Cleanup(func() { _ = r.Close() })
			return r
		},
	})
}
