package s3store_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/lend/lendtest"
	"github.com/otelaudit/otelaudit-go/otelaudit"
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
	key, err := otelaudit.GenerateKey()
	require.NoError(t, err)
	ring, err := otelaudit.NewEncryptionManager(key)
	require.NoError(t, err)
	l, err := otelaudit.NewLogger(st, otelaudit.WithEncryption(ring))
	require.NoError(t, err)
	var (
		mu   sync.Mutex
		want = map[string]string{}
		wg   sync.WaitGroup
	)
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				text := fmt.Sprintf("prompt %d/%d %s", g, i, strings.Repeat("p", (g*31+i*17)%400))
				id, err := l.Log(t.Context(), otelaudit.Interaction{Input: text, Output: "answer " + text})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				want[id] = text
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(200), loans(), "the store was not lent every entry")
	require.NoError(t, st.Flush(t.Context()))
	for id, text := range want {
		e, err := l.GetEntry(t.Context(), id)
		require.NoError(t, err)
		in, out, err := l.DecryptContent(e)
		require.NoError(t, err, id)
		require.Equal(t, [2]string{text, "answer " + text}, [2]string{in, out}, id)
	}
}
