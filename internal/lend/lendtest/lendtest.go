// Package lendtest is what the tests of lending (internal/lend) share:
// scribbling over ended loans, interactions logged from several
// goroutines, and the checks that every entry read back is its own.
package lendtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/lend"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// Scribble makes every lent buffer hold only 'X' once its loan ends (see
// lend.Scribble), for the rest of t, and returns a func that counts the
// loans ended since. Tests that call it must not run in parallel with
// each other.
func Scribble(t testing.TB) (loans func() int64) {
	t.Helper()
	if !lend.Scribble.CompareAndSwap(false, true) {
		t.Fatal("lendtest.Scribble: another test is scribbling")
	}
	t.Cleanup(func() { lend.Scribble.Store(false) })
	start := lend.Loans.Load()
	return func() int64 { return lend.Loans.Load() - start }
}

// FernetRing is a Fernet ring (otelaudit.EncryptionManager) with a fresh
// key: the cipher an encrypting Logger lends entries with in these tests.
func FernetRing(t testing.TB) *otelaudit.EncryptionManager {
	t.Helper()
	key, err := otelaudit.GenerateKey()
	require.NoError(t, err)
	ring, err := otelaudit.NewEncryptionManager(key)
	require.NoError(t, err)
	return ring
}

// Content is the input and output of the i-th call of goroutine g: text
// of its own, of varied length, so that an entry made in reused memory
// does not exactly cover an earlier one.
func Content(g, i int) (input, output string) {
	return fmt.Sprintf("prompt %d/%d %s", g, i, strings.Repeat("p", (g*37+i*11)%300)),
		fmt.Sprintf("answer %d/%d %s", g, i, strings.Repeat("a", (g*13+i*29)%500))
}

// Want records, safely from several goroutines, what each entry should
// hold: its input and output by entry id.
type Want struct {
	mu sync.Mutex
	m  map[string][2]string
}

// Add records that entry id holds input and output.
func (w *Want) Add(id, input, output string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string][2]string{}
	}
	w.m[id] = [2]string{input, output}
}

// Len is the number of entries recorded.
func (w *Want) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.m)
}

// LogMany logs per interactions (Content) from each of goroutines
// goroutines with l.Log, and records them in w.
func LogMany(t testing.TB, l *otelaudit.Logger, w *Want, goroutines, per int) {
	t.Helper()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range per {
				in, out := Content(g, i)
				id, err := l.Log(t.Context(), otelaudit.Interaction{Input: in, Output: out})
				if err != nil {
					t.Error(err)
					return
				}
				w.Add(id, in, out)
			}
		})
	}
	wg.Wait()
}

// Check checks that e is one of w's entries, with the plain SHA-256 hashes
// of its input and output and, when open is not nil, with content that
// open (a Logger's DecryptContent, or a decrypt-only cipher's) turns
// back into them; without open, that e holds no content.
func (w *Want) Check(t testing.TB, e *storage.AuditEntry, open func(*storage.AuditEntry) (string, string, error)) {
	t.Helper()
	w.mu.Lock()
	c, ok := w.m[e.ID]
	w.mu.Unlock()
	require.True(t, ok, "entry %q is not one of those written", e.ID)
	require.Equal(t, [2]string{otelaudit.HashContent(c[0]), otelaudit.HashContent(c[1])},
		[2]string{e.InputHash, e.OutputHash}, "entry %s", e.ID)
	if open == nil {
		require.Nil(t, e.InputContent, "entry %s", e.ID)
		return
	}
	in, out, err := open(e)
	require.NoError(t, err, "entry %s", e.ID)
	require.Equal(t, c, [2]string{in, out}, "entry %s", e.ID)
}

// CheckAll reads every entry of w with read and checks it (see Check).
func (w *Want) CheckAll(t testing.TB, read func(id string) (*storage.AuditEntry, error), open func(*storage.AuditEntry) (string, string, error)) {
	t.Helper()
	w.mu.Lock()
	ids := make([]string, 0, len(w.m))
	for id := range w.m {
		ids = append(ids, id)
	}
	w.mu.Unlock()
	for _, id := range ids {
		e, err := read(id)
		require.NoError(t, err, "entry %s", id)
		w.Check(t, e, open)
	}
}

// CipherOpen is open for Check with a decrypt-only cipher.
func CipherOpen(c otelaudit.Cipher) func(*storage.AuditEntry) (string, string, error) {
	return func(e *storage.AuditEntry) (string, string, error) {
		if e.InputContent == nil || e.OutputContent == nil {
			return "", "", otelaudit.ErrNoContent
		}
		in, err := c.Decrypt(*e.InputContent)
		if err != nil {
			return "", "", err
		}
		out, err := c.Decrypt(*e.OutputContent)
		return in, out, err
	}
}

// AppendCipher is a cipher that can append its ciphertext.
type AppendCipher interface {
	otelaudit.Cipher
	otelaudit.AppendEncrypter
}

// CheckAppendEncrypt checks that c.AppendEncrypt keeps what dst held and
// appends a ciphertext that starts with prefix, decrypts to the
// plaintext and is as long as Encrypt's, whatever room dst has.
func CheckAppendEncrypt(t testing.TB, c AppendCipher, prefix string) {
	t.Helper()
	for _, pt := range []string{"", "x", "16 bytes exactly", strings.Repeat("é", 700)} {
		for _, dst := range [][]byte{nil, []byte("head:"), append(make([]byte, 0, 8192), "roomy:"...)} {
			head := string(dst)
			out, err := c.AppendEncrypt(dst, pt)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(string(out), head), "what dst held is kept")
			ct := string(out[len(head):])
			require.True(t, strings.HasPrefix(ct, prefix), ct)
			got, err := c.Decrypt(ct)
			require.NoError(t, err)
			require.Equal(t, pt, got)
			enc, err := c.Encrypt(pt)
			require.NoError(t, err)
			require.Len(t, ct, len(enc), "AppendEncrypt and Encrypt differ in length")
		}
	}
}

// Keeping wraps a file store as a user's queue in front of it might: it
// keeps every entry it is given. It embeds the store, and so its
// BorrowEntries, but must never be lent an entry.
type Keeping struct {
	*filestore.Store
	mu   sync.Mutex
	kept []*storage.AuditEntry
}

// Write keeps e and writes it to the store.
func (k *Keeping) Write(ctx context.Context, e *storage.AuditEntry) error {
	return k.WriteBatch(ctx, []*storage.AuditEntry{e})
}

// WriteBatch keeps es and writes them to the store.
func (k *Keeping) WriteBatch(ctx context.Context, es []*storage.AuditEntry) error {
	k.mu.Lock()
	k.kept = append(k.kept, es...)
	k.mu.Unlock()
	return k.Store.WriteBatch(ctx, es)
}

// Kept returns the entries k was given.
func (k *Keeping) Kept() []*storage.AuditEntry {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]*storage.AuditEntry(nil), k.kept...)
}
