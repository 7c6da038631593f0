package otelaudit

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fernet/fernet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/env"
)

var referenceDir = filepath.Join("..", "testdata", "reference-store")

type refEntry struct {
	ID            string  `json:"id"`
	File          string  `json:"file"`
	Line          int     `json:"line"`
	Input         string  `json:"input"`
	Output        string  `json:"output"`
	InputHash     string  `json:"input_hash"`
	OutputHash    string  `json:"output_hash"`
	InputContent  *string `json:"input_content"`
	OutputContent *string `json:"output_content"`
}

func loadRef(t *testing.T) (key string, sets map[string][]refEntry) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(referenceDir, "expected.json"))
	require.NoError(t, err)
	var doc struct {
		FernetKey string `json:"fernet_key"`
		Datasets  map[string]struct {
			Entries []refEntry `json:"entries"`
		} `json:"datasets"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	sets = map[string][]refEntry{}
	for name, ds := range doc.Datasets {
		sets[name] = ds.Entries
	}
	return doc.FernetKey, sets
}

func TestHashContentMatchesReference(t *testing.T) {
	_, sets := loadRef(t)
	n := 0
	for _, entries := range sets {
		for _, e := range entries {
			assert.Equal(t, e.InputHash, HashContent(e.Input), e.ID)
			assert.Equal(t, e.OutputHash, HashContent(e.Output), e.ID)
			n++
		}
	}
	assert.Equal(t, 26, n)
	assert.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", HashContent(""))
}

func TestDecryptReferenceCiphertext(t *testing.T) {
	key, sets := loadRef(t)
	fileKey, err := os.ReadFile(filepath.Join(referenceDir, "encrypted", "KEY.txt"))
	require.NoError(t, err)
	require.Equal(t, key, strings.TrimSpace(string(fileKey)))

	m, err := NewEncryptionManager(key)
	require.NoError(t, err)
	entries := sets["encrypted"]
	require.NotEmpty(t, entries)
	for _, e := range entries {
		require.NotNil(t, e.InputContent)
		in, err := m.Decrypt(*e.InputContent)
		require.NoError(t, err, e.ID)
		assert.Equal(t, e.Input, in, e.ID)
		out, err := m.Decrypt(*e.OutputContent)
		require.NoError(t, err, e.ID)
		assert.Equal(t, e.Output, out, e.ID)

		// The bare Fernet token (one base64 layer less) decrypts too.
		bare, err := base64.URLEncoding.DecodeString(*e.InputContent)
		require.NoError(t, err)
		in2, err := m.Decrypt(string(bare))
		require.NoError(t, err)
		assert.Equal(t, e.Input, in2)
	}
}

func TestEncryptionRoundTripAndRotation(t *testing.T) {
	oldKey, err := GenerateKey()
	require.NoError(t, err)
	newKey, err := GenerateKey()
	require.NoError(t, err)
	assert.Len(t, oldKey, 44)
	assert.NotEqual(t, oldKey, newKey)

	old, err := NewEncryptionManager(oldKey)
	require.NoError(t, err)
	ct, err := old.Encrypt("secret prompt 🎉")
	require.NoError(t, err)
	assert.NotContains(t, ct, "secret")
	oldID, err := KeyID(oldKey)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(ct, "fernet:"+oldID+":gAAAAA"), "ciphertext names its key, then the token text: %s", ct[:24])

	ring, err := NewEncryptionManager(newKey, oldKey)
	require.NoError(t, err)
	pt, err := ring.Decrypt(ct)
	require.NoError(t, err)
	assert.Equal(t, "secret prompt 🎉", pt)

	ct2, err := ring.Encrypt("x")
	require.NoError(t, err)
	_, err = old.Decrypt(ct2)
	assert.ErrorIs(t, err, ErrDecrypt, "the first key of the ring encrypts")

	empty, err := ring.Encrypt("")
	require.NoError(t, err)
	pt, err = ring.Decrypt(empty)
	require.NoError(t, err)
	assert.Equal(t, "", pt)
}

func TestDecryptBadInput(t *testing.T) {
	key, sets := loadRef(t)
	m, err := NewEncryptionManager(key)
	require.NoError(t, err)
	good := *sets["encrypted"][0].InputContent
	other, _ := GenerateKey()
	wrong, _ := NewEncryptionManager(other)

	flipped := []byte(good)
	flipped[len(flipped)/2] ^= 1
	for name, ct := range map[string]string{
		"empty":        "",
		"not base64":   "!!!!",
		"short token":  base64.URLEncoding.EncodeToString([]byte{0x80, 1, 2}),
		"short stored": base64.URLEncoding.EncodeToString([]byte(base64.URLEncoding.EncodeToString([]byte{0x80, 1, 2}))),
		"flipped byte": string(flipped),
		"truncated":    good[:len(good)-8],
		"plaintext":    "hello world",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := m.Decrypt(ct)
			require.ErrorIs(t, err, ErrDecrypt)
			if len(ct) > 8 {
				assert.NotContains(t, err.Error(), ct)
			}
		})
	}
	_, err = wrong.Decrypt(good)
	require.ErrorIs(t, err, ErrDecrypt)
	assert.NotContains(t, err.Error(), key)
}

// TestDecryptErrorQuotesNoPlaintext: content that is not Fernet
// ciphertext may be plaintext (an entry written before encryption was
// turned on), so the error about it quotes none of it, not even the part
// before a colon that looks like a scheme; the one other scheme of this
// module, KMS envelopes, is still named.
func TestDecryptErrorQuotesNoPlaintext(t *testing.T) {
	key, err := GenerateKey()
	require.NoError(t, err)
	m, err := NewEncryptionManager(key)
	require.NoError(t, err)
	for _, pt := range []string{"SECRET-PROMPT-7f3a: what is the answer?", "secret: value", "a:b"} {
		_, err := m.Decrypt(pt)
		require.ErrorIs(t, err, ErrDecrypt)
		require.ErrorIs(t, err, ErrOtherScheme)
		before, _, _ := strings.Cut(pt, ":")
		assert.NotContains(t, err.Error(), `"`+before+`"`)
		assert.NotContains(t, err.Error(), "SECRET")
	}
	_, err = m.Decrypt("kms:arn:aws:kms:eu-west-1:1:key/k:d3JhcHBlZA:c2VhbGVk")
	require.ErrorIs(t, err, ErrOtherScheme)
	assert.Contains(t, err.Error(), `"kms"`)
}

func TestNewEncryptionManagerRejectsBadKeys(t *testing.T) {
	_, err := NewEncryptionManager()
	assert.ErrorIs(t, err, ErrInvalidKey)
	_, err = NewEncryptionManager("short")
	assert.ErrorIs(t, err, ErrInvalidKey)
	good, _ := GenerateKey()
	_, err = NewEncryptionManager(good, "c2VjcmV0LWtleS10aGF0LWlzLXRvby1zaG9ydA==")
	require.ErrorIs(t, err, ErrInvalidKey)
	assert.Contains(t, err.Error(), "key 2 of 2")
	assert.NotContains(t, err.Error(), "c2VjcmV0")
}

func TestLoadKeys(t *testing.T) {
	k1, _ := GenerateKey()
	k2, _ := GenerateKey()
	t.Run("env", func(t *testing.T) {
		t.Setenv(env.KeyFile, "")
		t.Setenv(env.Key, k1+", "+k2)
		keys, err := LoadKeys("")
		require.NoError(t, err)
		assert.Equal(t, []string{k1, k2}, keys)
	})
	t.Run("file wins over env", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "keys")
		require.NoError(t, os.WriteFile(p, []byte("# ring\n"+k2+"\n\n"+k1+"\n"), 0o600))
		t.Setenv(env.Key, k1)
		m, err := LoadEncryptionManager(p)
		require.NoError(t, err)
		assert.Len(t, m.KeyIDs(), 2)
	})
	t.Run("reference key file", func(t *testing.T) {
		t.Setenv(env.Key, "")
		t.Setenv(env.KeyFile, copyKeyFile(t, filepath.Join(referenceDir, "encrypted", "KEY.txt")))
		_, err := LoadEncryptionManager("")
		require.NoError(t, err)
	})
	t.Run("none", func(t *testing.T) {
		t.Setenv(env.Key, "")
		t.Setenv(env.KeyFile, "")
		_, err := LoadKeys("")
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("empty file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "keys")
		require.NoError(t, os.WriteFile(p, []byte("# nothing\n"), 0o600))
		_, err := LoadKeys(p)
		assert.ErrorIs(t, err, ErrInvalidKey)
	})
}

// FuzzDecrypt feeds arbitrary ciphertext to the token decoder: it must
// never panic and must only ever return the plaintext of a real token.
func FuzzDecrypt(f *testing.F) {
	key := "0XSG7sw-bLJ167sCwZbXGLhdRH1ImFol7V7f5O5Me9w="
	m, err := NewEncryptionManager(key)
	if err != nil {
		f.Fatal(err)
	}
	fh, err := os.Open(filepath.Join(referenceDir, "encrypted", "audit_20250328.jsonl"))
	if err != nil {
		f.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e refEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.InputContent != nil {
			f.Add(*e.InputContent)
		}
	}
	f.Add("")
	f.Add("gAAAAA")
	f.Add(base64.URLEncoding.EncodeToString([]byte{0x80}))
	f.Fuzz(func(t *testing.T, ct string) {
		pt, err := m.Decrypt(ct)
		if err != nil {
			require.ErrorIs(t, err, ErrDecrypt)
			return
		}
		// Anything that decrypts must re-encrypt and decrypt to the same text.
		again, err := m.Encrypt(pt)
		require.NoError(t, err)
		back, err := m.Decrypt(again)
		require.NoError(t, err)
		require.Equal(t, pt, back)
	})
}

func TestKeyedHash(t *testing.T) {
	h, err := newKeyedHasher("k1", []byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	got := h.hash("hello")
	assert.True(t, strings.HasPrefix(got, "hmac-sha256:k1:"), got)
	assert.Len(t, got, len("hmac-sha256:k1:")+64)
	assert.NotContains(t, got, HashContent("hello"))
	h2, _ := newKeyedHasher("k1", []byte("another-key-another-key-another!"))
	assert.NotEqual(t, got, h2.hash("hello"), "the key changes the hash")

	for name, tc := range map[string]struct {
		id  string
		key []byte
	}{
		"short key":   {"k", []byte("short")},
		"empty id":    {"", []byte("0123456789abcdef")},
		"colon in id": {"a:b", []byte("0123456789abcdef")},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := newKeyedHasher(tc.id, tc.key)
			assert.ErrorIs(t, err, ErrInvalidKey)
		})
	}
}

// TestEncryptInteroperatesWithFernetGo checks the hand-built token against
// an independent Fernet implementation, for every padding length.
func TestEncryptInteroperatesWithFernetGo(t *testing.T) {
	key, err := GenerateKey()
	require.NoError(t, err)
	m, err := NewEncryptionManager(key)
	require.NoError(t, err)
	fk, err := fernet.DecodeKeys(key)
	require.NoError(t, err)
	lengths := []int{1024, 16 << 10}
	for n := 0; n <= 48; n++ {
		lengths = append(lengths, n)
	}
	for _, n := range lengths {
		pt := strings.Repeat("é", n/2) + strings.Repeat("x", n%2)
		stored, err := m.Encrypt(pt)
		require.NoError(t, err)
		tok, ok := strings.CutPrefix(stored, "fernet:"+m.KeyIDs()[0]+":")
		require.True(t, ok, "ciphertext is fernet:<key id>:<token>")
		got := fernet.VerifyAndDecrypt([]byte(tok), time.Minute, fk) // a TTL also checks the timestamp is now
		require.NotNil(t, got, "fernet-go rejects our token for length %d", n)
		assert.Equal(t, pt, string(got))
		again, err := m.Decrypt(stored)
		require.NoError(t, err)
		assert.Equal(t, pt, again)
	}
	a, _ := m.Encrypt("same")
	b, _ := m.Encrypt("same")
	assert.NotEqual(t, a, b, "a fresh IV per token")
}
