package filestore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
	"github.com/otelaudit/otelaudit-go/storage/storagetest"
)

func newFileBackend(t *testing.T, opts ...filestore.Option) storage.Backend {
	t.Helper()
	fs, err := filestore.New(t.TempDir(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { fs.Close() })
	return fs
}

func reopenFile(t *testing.T, b storage.Backend) storage.Backend {
	t.Helper()
	fs := b.(*filestore.Store)
	require.NoError(t, fs.Close())
	r, err := filestore.New(fs.Dir())
	require.NoError(t, err)
	return r
}

// TestFileConformance runs the backend conformance suite against the file
// backend with its defaults.
func TestFileConformance(t *testing.T) {
	storagetest.RunConfig(t, storagetest.Config{
		New:    func(t *testing.T) storage.Backend { return newFileBackend(t) },
		Reopen: reopenFile,
	})
}

// TestFileConformanceRotating runs the suite with tiny rotation parts
// (many files per day).
func TestFileConformanceRotating(t *testing.T) {
	storagetest.RunConfig(t, storagetest.Config{
		New: func(t *testing.T) storage.Backend {
			return newFileBackend(t, filestore.WithRotationSize(16<<10))
		},
		Reopen: reopenFile,
	})
}

// TestFileConformanceSync runs the suite with fsync on every write.
func TestFileConformanceSync(t *testing.T) {
	storagetest.RunConfig(t, storagetest.Config{
		New: func(t *testing.T) storage.Backend {
			return newFileBackend(t, filestore.WithDurability(filestore.DurabilitySync))
		},
		Reopen: reopenFile,
	})
}
