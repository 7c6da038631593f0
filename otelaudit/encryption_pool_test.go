package otelaudit

import (
	"fmt"
	"sync"
	"testing"

	"github.com/fernet/fernet-go"
)

// TestEncryptReusedCBCStateIsPerToken checks that tokens made from many
// goroutines at once, with the CBC encrypters reused through the pool,
// each carry their own IV and decrypt (with fernet-go too) to their own
// plaintext: a reused encrypter that kept the previous token's IV or
// chaining value would make equal plaintexts encrypt alike or fail to
// decrypt.
func TestEncryptReusedCBCStateIsPerToken(t *testing.T) {
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewEncryptionManager(key)
	if err != nil {
		t.Fatal(err)
	}
	k := fernet.MustDecodeKeys(key)
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]bool{}
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				pt := fmt.Sprintf("same text %d", i%3)
				if i%2 == 1 {
					pt = fmt.Sprintf("goroutine %d entry %d %0200d", g, i, i)
				}
				ct, err := m.Encrypt(pt)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := m.Decrypt(ct)
				if err != nil || got != pt {
					t.Errorf("Decrypt = %q, %v; want %q", got, err, pt)
					return
				}
				tok, err := tokenBytes(ct[len(FernetPrefix)+9:])
				if err != nil {
					t.Error(err)
					return
				}
				body := tok[25 : len(tok)-32]
				if string(fernet.VerifyAndDecrypt([]byte(ct[len(FernetPrefix)+9:]), 0, k)) != pt {
					t.Error("fernet-go does not decrypt the token to its plaintext")
					return
				}
				mu.Lock()
				if seen[string(body)] {
					t.Error("two tokens have the same ciphertext")
				}
				seen[string(body)] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
