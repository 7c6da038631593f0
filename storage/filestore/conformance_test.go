package filestore_test

import (
	"bytes"
	"os"
	"path/filepath"
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

// dataFileOf returns the path of the data file holding e (the store
// writes one day file; rotation is not used with these hooks).
func dataFileOf(t *testing.T, b storage.Backend, e *storage.AuditEntry) string {
	t.Helper()
	fs := b.(*filestore.Store)
	require.NoError(t, fs.Flush(t.Context()))
	return filepath.Join(fs.Dir(), "audit_"+e.Timestamp.UTC().Format("20060102")+".jsonl")
}

// makeUnreadable closes the store, replaces the data file holding e by a
// symbolic link to itself, so that every open of it fails with an I/O
// error (ELOOP, which a process running as root meets too; file modes do
// not stop root), and opens the store read-only, as the CLI does.
func makeUnreadable(t *testing.T, b storage.Backend, e *storage.AuditEntry) storage.Backend {
	t.Helper()
	path := dataFileOf(t, b, e)
	fs := b.(*filestore.Store)
	require.NoError(t, fs.Close())
	require.NoError(t, os.Rename(path, path+".moved"))
	require.NoError(t, os.Symlink(filepath.Base(path), path))
	r, err := filestore.New(fs.Dir(), filestore.WithReadOnly())
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// damage changes bytes of e's line in place (the same length, so that the
// end of the file and its size stay as they were), behind the store's
// back, and reopens the store.
func damage(t *testing.T, b storage.Backend, e *storage.AuditEntry) storage.Backend {
	t.Helper()
	path := dataFileOf(t, b, e)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	i := bytes.Index(data, []byte(`"id":"`+e.ID+`"`))
	require.Positive(t, i, "entry line not found")
	copy(data[i:], `"id":"`+e.ID+`'`) // no longer valid JSON
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return reopenFile(t, b)
}

// TestFileConformance runs the backend conformance suite against the file
// backend with its defaults.
func TestFileConformance(t *testing.T) {
	storagetest.RunConfig(t, storagetest.Config{
		New:        func(t *testing.T) storage.Backend { return newFileBackend(t) },
		Reopen:     reopenFile,
		Unreadable: makeUnreadable,
		Damage:     damage,
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
