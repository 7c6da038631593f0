package otelaudit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/lend/lendtest"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// TestLogLendsEntriesOnlyToBorrowers logs entries (hash-only and
// encrypted) from several goroutines, with Log and LogBatch, while the
// memory of every loan is scribbled over as soon as it ends. The file
// store, which copies each entry as it writes it, is lent the entries, and
// every entry read back has its own hashes and decrypts to its own
// content; a memory store and a wrapper that keeps the entries it is given
// are never lent one (their kept entries, which a loan would have left
// pointing at scribbled memory, are intact too).
func TestLogLendsEntriesOnlyToBorrowers(t *testing.T) {
	fernetRing, otherRing := lendtest.FernetRing(t), lendtest.FernetRing(t)
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
			k := &lendtest.Keeping{Store: st}
			return backend{b: k, kept: k.Kept}
		},
	}
	for cname, c := range ciphers {
		for bname, newBackend := range backends {
			t.Run(cname+"/"+bname, func(t *testing.T) {
				loans := lendtest.Scribble(t)
				be := newBackend(t)
				l, err := otelaudit.NewLogger(be.b, otelaudit.WithCipher(c))
				require.NoError(t, err)
				var want lendtest.Want
				var wg sync.WaitGroup
				wg.Go(func() { lendtest.LogMany(t, l, &want, 4, 40) })
				wg.Go(func() {
					ins := make([]otelaudit.Interaction, 25)
					for i := range ins {
						ins[i].Input, ins[i].Output = lendtest.Content(9, i)
					}
					ids, err := l.LogBatch(context.Background(), ins)
					if err != nil {
						t.Error(err)
						return
					}
					for i, id := range ids {
						want.Add(id, ins[i].Input, ins[i].Output)
					}
				})
				wg.Wait()
				if be.lent {
					require.Positive(t, loans(), "the file store was never lent an entry")
				} else {
					require.Zero(t, loans(), "a backend that may keep entries was lent one")
				}
				var open func(*storage.AuditEntry) (string, string, error)
				if c != nil {
					open = l.DecryptContent
				}
				require.Equal(t, 4*40+25, want.Len())
				want.CheckAll(t, func(id string) (*storage.AuditEntry, error) { return l.GetEntry(context.Background(), id) }, open)
				if be.kept != nil {
					kept := be.kept()
					require.Len(t, kept, want.Len())
					for _, e := range kept {
						want.Check(t, e, open)
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

// TestAppendEncrypt checks the Fernet ring's AppendEncrypt against its
// Encrypt and Decrypt (lendtest.CheckAppendEncrypt), directly and through
// a KeyRing.
func TestAppendEncrypt(t *testing.T) {
	key, err := otelaudit.GenerateKey()
	require.NoError(t, err)
	m, err := otelaudit.NewEncryptionManager(key)
	require.NoError(t, err)
	lendtest.CheckAppendEncrypt(t, m, otelaudit.FernetPrefix)
	ring, err := otelaudit.NewKeyRing(context.Background(), otelaudit.StaticKeys{key})
	require.NoError(t, err)
	defer ring.Close()
	lendtest.CheckAppendEncrypt(t, ring, otelaudit.FernetPrefix)
}
