package otelaudit_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/lend/lendtest"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// retainingStore is a user's wrapper of a file store that keeps every
// entry it is given (as a queue in front of the store would): it embeds
// the store, and so its BorrowEntries, but must never be lent an entry.
type retainingStore struct {
	*filestore.Store
	mu   sync.Mutex
	kept []*storage.AuditEntry
}

func (r *retainingStore) Write(ctx context.Context, e *storage.AuditEntry) error {
	r.mu.Lock()
	r.kept = append(r.kept, e)
	r.mu.Unlock()
	return r.Store.Write(ctx, e)
}

func (r *retainingStore) WriteBatch(ctx context.Context, es []*storage.AuditEntry) error {
	r.mu.Lock()
	r.kept = append(r.kept, es...)
	r.mu.Unlock()
	return r.Store.WriteBatch(ctx, es)
}

// TestLogLendsEntriesOnlyToBorrowers logs entries (hash-only and
// encrypted) from several goroutines, with Log and LogBatch, while the
// memory of every loan is scribbled over as soon as it ends. The file
// store, which copies each entry as it writes it, is lent the entries, and
// every entry read back has its own hashes and decrypts to its own
// content; a memory store and a wrapper that keeps the entries it is given
// are never lent one (their kept entries, which a loan would have left
// pointing at scribbled memory, are intact too).
func TestLogLendsEntriesOnlyToBorrowers(t *testing.T) {
	key, err := otelaudit.GenerateKey()
	require.NoError(t, err)
	fernetRing, err := otelaudit.NewEncryptionManager(key)
	require.NoError(t, err)
	otherKey, err := otelaudit.GenerateKey()
	require.NoError(t, err)
	otherRing, err := otelaudit.NewEncryptionManager(otherKey)
	require.NoError(t, err)
	ciphers := map[string]otelaudit.Cipher{
		"fernet ring":                   fernetRing,
		"MultiCipher with a ring first": otelaudit.MultiCipher(fernetRing, otherRing),
		"cipher without AppendEncrypt":  encryptOnly{fernetRing},
		"MultiCipher without it first":  otelaudit.MultiCipher(encryptOnly{fernetRing}, otherRing),
		"hash only":                     nil,
	}
	type backend struct {
		b    storage.Backend
		lent bool
		kept func() []*storage.AuditEntry
	}
	backends := map[string]func(t *testing.T) backend{
		"file store": func(t *testing.T) backend {
			st, err := filestore.New(t.TempDir())
			require.NoError(t, err)
			t.Cleanup(func() { _ = st.Close() })
			return backend{b: st, lent: true}
		},
		"memory store": func(t *testing.T) backend {
			st := storage.NewMemoryStorage(0)
			return backend{b: st, kept: func() []*storage.AuditEntry {
				es, err := st.ListEntries(context.Background(), time.Unix(0, 0), time.Now().Add(time.Hour))
				require.NoError(t, err)
				return es
			}}
		},
		"wrapper that keeps entries": func(t *testing.T) backend {
			st, err := filestore.New(t.TempDir())
			require.NoError(t, err)
			t.Cleanup(func() { _ = st.Close() })
			r := &retainingStore{Store: st}
			return backend{b: r, kept: func() []*storage.AuditEntry { return r.kept }}
		},
	}
	for cname, c := range ciphers {
		for bname, newBackend := range backends {
			t.Run(cname+"/"+bname, func(t *testing.T) {
				loans := lendtest.Scribble(t)
				be := newBackend(t)
				l, err := otelaudit.NewLogger(be.b, otelaudit.WithCipher(c))
				require.NoError(t, err)
				want := map[string][2]string{}
				var mu sync.Mutex
				record := func(id string, in otelaudit.Interaction) {
					mu.Lock()
					want[id] = [2]string{in.Input, in.Output}
					mu.Unlock()
				}
				interaction := func(g, i int) otelaudit.Interaction {
					// Lengths vary so that later ciphertexts do not
					// exactly cover earlier ones.
					return otelaudit.Interaction{
						Input:  fmt.Sprintf("prompt %d/%d %s", g, i, strings.Repeat("p", (g*37+i*11)%300)),
						Output: fmt.Sprintf("answer %d/%d %s", g, i, strings.Repeat("a", (g*13+i*29)%500)),
					}
				}
				var wg sync.WaitGroup
				for g := range 4 {
					wg.Go(func() {
						for i := range 40 {
							in := interaction(g, i)
							id, err := l.Log(context.Background(), in)
							if err != nil {
								t.Error(err)
								return
							}
							record(id, in)
						}
					})
				}
				wg.Go(func() {
					ins := make([]otelaudit.Interaction, 25)
					for i := range ins {
						ins[i] = interaction(9, i)
					}
					ids, err := l.LogBatch(context.Background(), ins)
					if err != nil {
						t.Error(err)
						return
					}
					for i, id := range ids {
						record(id, ins[i])
					}
				})
				wg.Wait()
				if be.lent {
					require.Positive(t, loans(), "the file store was never lent an entry")
				} else {
					require.Zero(t, loans(), "a backend that may keep entries was lent one")
				}
				check := func(e *storage.AuditEntry) {
					w := want[e.ID]
					require.Equal(t, [2]string{otelaudit.HashContent(w[0]), otelaudit.HashContent(w[1])},
						[2]string{e.InputHash, e.OutputHash}, "entry %s", e.ID)
					if c == nil {
						require.Nil(t, e.InputContent)
						return
					}
					in, out, err := l.DecryptContent(e)
					require.NoError(t, err, "entry %s", e.ID)
					require.Equal(t, w, [2]string{in, out}, "entry %s", e.ID)
				}
				n := 0
				for id := range want {
					e, err := l.GetEntry(context.Background(), id)
					require.NoError(t, err)
					check(e)
					n++
				}
				require.Equal(t, 4*40+25, n)
				if be.kept != nil {
					kept := be.kept()
					require.Len(t, kept, n)
					for _, e := range kept {
						check(e)
					}
				}
			})
		}
	}
}

// encryptOnly is a Cipher without AppendEncrypt.
type encryptOnly struct{ c otelaudit.Cipher }

func (e encryptOnly) Encrypt(p string) (string, error) { return e.c.Encrypt(p) }
func (e encryptOnly) Decrypt(c string) (string, error) { return e.c.Decrypt(c) }

// TestAppendEncrypt checks that AppendEncrypt keeps what dst held and
// appends a ciphertext that decrypts to the plaintext, in the form
// Encrypt returns, whatever room dst has.
func TestAppendEncrypt(t *testing.T) {
	key, err := otelaudit.GenerateKey()
	require.NoError(t, err)
	m, err := otelaudit.NewEncryptionManager(key)
	require.NoError(t, err)
	for _, pt := range []string{"", "x", strings.Repeat("16 bytes exactly", 1), strings.Repeat("é", 700)} {
		for _, dst := range [][]byte{nil, []byte("head:"), append(make([]byte, 0, 8192), "roomy:"...)} {
			head := string(dst)
			out, err := m.AppendEncrypt(dst, pt)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(string(out), head))
			ct := string(out[len(head):])
			require.True(t, strings.HasPrefix(ct, otelaudit.FernetPrefix), ct)
			got, err := m.Decrypt(ct)
			require.NoError(t, err)
			require.Equal(t, pt, got)
			enc, err := m.Encrypt(pt)
			require.NoError(t, err)
			require.Len(t, ct, len(enc), "AppendEncrypt and Encrypt differ in length")
		}
	}
}
