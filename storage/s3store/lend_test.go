package s3store_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/lend/lendtest"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// TestLoggerLendsEntries checks that the Store keeps nothing of an entry
// once Write returned, as its BorrowEntries says: an encrypting Logger
// lends it entries that live, with their hashes and ciphertexts, in memory
// scribbled over as soon as each write returned, and every entry,
// uploaded after many writes (and kept in the spool file meanwhile),
// decrypts to its own content.
func TestLoggerLendsEntries(t *testing.T) {
	loans := lendtest.Scribble(t)
	st, _, _, _ := newCountedStore(t, s3store.WithSpoolDir(t.TempDir()))
	l, err := otelaudit.NewLogger(st, otelaudit.WithEncryption(lendtest.FernetRing(t)))
	require.NoError(t, err)
	var want lendtest.Want
	lendtest.LogMany(t, l, &want, 4, 50)
	require.Equal(t, int64(200), loans(), "the store was not lent every entry")
	require.NoError(t, st.Flush(t.Context()))
	want.CheckAll(t, func(id string) (*storage.AuditEntry, error) { return l.GetEntry(t.Context(), id) }, l.DecryptContent)
}
