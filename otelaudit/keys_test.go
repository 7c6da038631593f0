package otelaudit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/storage"
)

// copyKeyFile copies a key file fixture into a 0600 file of the test's own
// (checked-out fixtures are 0644, which KeyFile refuses).
func copyKeyFile(t *testing.T, src string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(p, data, 0o600))
	return p
}

func TestKeyFileRefusesGroupOrOtherPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits")
	}
	key, err := GenerateKey()
	require.NoError(t, err)
	dir := t.TempDir()
	for _, mode := range []os.FileMode{0o644, 0o640, 0o660, 0o666, 0o777, 0o604, 0o610} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			p := filepath.Join(dir, fmt.Sprintf("key-%04o", mode))
			require.NoError(t, os.WriteFile(p, []byte(key+"\n"), 0o600))
			require.NoError(t, os.Chmod(p, mode))
			_, err := KeyFile{Path: p}.Keys(t.Context())
			require.ErrorIs(t, err, ErrInsecureKeyFile)
			assert.Contains(t, err.Error(), p, "the error names the file")
			assert.Contains(t, err.Error(), fmt.Sprintf("%04o", mode), "the error names the mode")
			assert.NotContains(t, err.Error(), key)

			// The same file through the environment and LoadKeys.
			_, err = LoadKeys(p)
			require.ErrorIs(t, err, ErrInsecureKeyFile)

			// Allowed explicitly: read, with a warning naming file and mode.
			var logged bytes.Buffer
			prev := slog.Default()
			slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
			defer slog.SetDefault(prev)
			keys, err := KeyFile{Path: p, AllowInsecure: true}.Keys(t.Context())
			require.NoError(t, err)
			assert.Equal(t, []string{key}, keys)
			assert.Contains(t, logged.String(), "level=WARN")
			assert.Contains(t, logged.String(), p)
			assert.Contains(t, logged.String(), fmt.Sprintf("%04o", mode))
			assert.NotContains(t, logged.String(), key)
		})
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		p := filepath.Join(dir, fmt.Sprintf("ok-%04o", mode))
		require.NoError(t, os.WriteFile(p, []byte("# ring\n"+key+"\n"), 0o600))
		require.NoError(t, os.Chmod(p, mode))
		keys, err := KeyFile{Path: p}.Keys(t.Context())
		require.NoError(t, err, "mode %04o", mode)
		assert.Equal(t, []string{key}, keys)
	}
}

// TestNamedKeyFiles: hash and checkpoint key files (ID:HEX lines) are read
// by the same reader as encryption key files, with the same permission
// check and option; the line parser is the one the CLI and the Collector
// use.
func TestNamedKeyFiles(t *testing.T) {
	hex32 := strings.Repeat("5a", 32)
	dir := t.TempDir()
	p := filepath.Join(dir, "ckpt.key")
	require.NoError(t, os.WriteFile(p, []byte("# checkpoint keys\n\nops-2026:"+hex32+"\n"+hex32[:40]+"\n"), 0o600))
	keys, err := KeyFile{Path: p}.NamedKeys(t.Context())
	require.NoError(t, err)
	require.Len(t, keys, 2)
	assert.Equal(t, "ops-2026", keys[0].ID)
	assert.Equal(t, bytes.Repeat([]byte{0x5a}, 32), keys[0].Key)
	assert.Equal(t, DefaultNamedKeyID, keys[1].ID, "a bare HEX line is key id local")
	assert.Len(t, keys[1].Key, 20)

	if runtime.GOOS != "windows" {
		require.NoError(t, os.Chmod(p, 0o640))
		_, err = KeyFile{Path: p}.NamedKeys(t.Context())
		require.ErrorIs(t, err, ErrInsecureKeyFile)
		assert.Contains(t, err.Error(), p)
		assert.Contains(t, err.Error(), "0640")
		var logged bytes.Buffer
		keys, err = KeyFile{Path: p, AllowInsecure: true, Logger: slog.New(slog.NewTextHandler(&logged, nil))}.NamedKeys(t.Context())
		require.NoError(t, err)
		assert.Len(t, keys, 2)
		assert.Contains(t, logged.String(), "level=WARN")
		assert.NotContains(t, logged.String(), hex32)
	}

	for name, tc := range map[string]struct{ text, msg string }{
		"empty":       {"# nothing\n\n", "holds no key"},
		"short":       {"k:" + hex32[:30], "line 1: otelaudit: invalid key: the key is 15 bytes, want at least 16"},
		"not hex":     {"\nk:" + strings.Repeat("zz", 16), "line 2: otelaudit: invalid key: the key is not hex"},
		"empty id":    {":" + hex32, "key id before ':' must be non-empty"},
		"space in id": {"a b:" + hex32, "key id before ':' must be non-empty"},
	} {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "k")
			require.NoError(t, os.WriteFile(f, []byte(tc.text), 0o600))
			_, err := KeyFile{Path: f}.NamedKeys(t.Context())
			require.ErrorIs(t, err, ErrInvalidKey)
			assert.Contains(t, err.Error(), tc.msg)
			assert.Contains(t, err.Error(), f, "the error names the file")
			assert.NotContains(t, err.Error(), hex32[:30], "the error never quotes the key")
		})
	}
	_, err = KeyFile{Path: filepath.Join(dir, "absent")}.NamedKeys(t.Context())
	require.ErrorIs(t, err, os.ErrNotExist)

	// One minimum for every named key: what the Logger's hash keys and
	// the stores' HMAC checkpoint keys accept.
	assert.Equal(t, MinNamedKeyLen, MinHashKeyLen)
	assert.Equal(t, MinNamedKeyLen, storage.MinHMACKeyLen)
	k, err := ParseNamedKey("  h1:" + hex32 + " ")
	require.NoError(t, err)
	_, err = NewLogger(storage.NewMemoryStorage(0), WithHashKey(k.ID, k.Key))
	require.NoError(t, err)
}

func TestKeyEnvAndStaticKeys(t *testing.T) {
	k1, _ := GenerateKey()
	k2, _ := GenerateKey()
	t.Setenv("OTELAUDIT_TEST_RING", " "+k1+" ,"+k2+",")
	keys, err := KeyEnv{Name: "OTELAUDIT_TEST_RING"}.Keys(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{k1, k2}, keys)

	t.Setenv("OTELAUDIT_TEST_RING", " ")
	_, err = KeyEnv{Name: "OTELAUDIT_TEST_RING"}.Keys(t.Context())
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "OTELAUDIT_TEST_RING")

	keys, err = StaticKeys{k2, k1}.Keys(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{k2, k1}, keys)
	_, err = StaticKeys{}.Keys(t.Context())
	require.ErrorIs(t, err, ErrInvalidKey)
}

func TestCiphertextNamesItsKey(t *testing.T) {
	oldKey, _ := GenerateKey()
	newKey, _ := GenerateKey()
	oldID, err := KeyID(oldKey)
	require.NoError(t, err)
	newID, err := KeyID(newKey)
	require.NoError(t, err)
	require.Len(t, oldID, 8)
	require.NotEqual(t, oldID, newID)
	assert.NotContains(t, oldKey, oldID)

	old, _ := NewEncryptionManager(oldKey)
	ring, _ := NewEncryptionManager(newKey, oldKey)
	assert.Equal(t, []string{newID, oldID}, ring.KeyIDs())
	ctOld, err := old.Encrypt("before rotation")
	require.NoError(t, err)
	ctNew, err := ring.Encrypt("after rotation")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(ctNew, "fernet:"+newID+":"), ctNew[:20])

	pt, err := ring.Decrypt(ctOld)
	require.NoError(t, err)
	assert.Equal(t, "before rotation", pt)

	// The old key was revoked: the error says which key is missing.
	_, err = old.Decrypt(ctNew)
	require.ErrorIs(t, err, ErrDecrypt)
	require.ErrorIs(t, err, ErrUnknownKey)
	assert.Contains(t, err.Error(), newID)
	assert.Contains(t, err.Error(), oldID, "and which keys the ring holds")

	// A key id that matches but a token altered: a plain decrypt error.
	bad := []byte(ctNew)
	bad[len(bad)-10] ^= 1
	_, err = ring.Decrypt(string(bad))
	require.ErrorIs(t, err, ErrDecrypt)
	assert.NotErrorIs(t, err, ErrUnknownKey)

	// Another scheme's ciphertext is named, not tried.
	_, err = ring.Decrypt("kms:arn:aws:kms:eu-west-1:111122223333:key/x:AAAA:BBBB")
	require.ErrorIs(t, err, ErrDecrypt)
	assert.Contains(t, err.Error(), `"kms"`)

	// A forged key id with terminal escapes is sanitised in the error.
	_, err = ring.Decrypt("fernet:\x1b[31m:gAAAAA")
	require.ErrorIs(t, err, ErrUnknownKey)
	assert.NotContains(t, err.Error(), "\x1b")
}

// rotatingSource is a KeySource whose keys a test changes, and which can
// be made to fail.
type rotatingSource struct {
	mu    sync.Mutex
	keys  []string
	err   error
	calls int
}

func (s *rotatingSource) Keys(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return nil, s.err
	}
	return append([]string(nil), s.keys...), nil
}

func (s *rotatingSource) set(err error, keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys, s.err = keys, err
}

func TestKeyRingRotationAndFailures(t *testing.T) {
	k1, _ := GenerateKey()
	k2, _ := GenerateKey()
	id1, _ := KeyID(k1)
	id2, _ := KeyID(k2)
	src := &rotatingSource{keys: []string{k1}}
	var mu sync.Mutex
	var reported []error
	ring, err := NewKeyRing(t.Context(), src,
		WithRefreshInterval(20*time.Millisecond),
		WithRefreshErrorHandler(func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() }))
	require.NoError(t, err)
	defer ring.Close()

	l, err := NewLogger(storage.NewMemoryStorage(0), WithCipher(ring), WithIDGenerator(seqIDs()))
	require.NoError(t, err)
	ctx := t.Context()
	id, err := l.Log(ctx, Interaction{Input: "first prompt", Output: "first answer"})
	require.NoError(t, err)
	first, err := l.GetEntry(ctx, id)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(*first.InputContent, "fernet:"+id1+":"))

	// Rotation at the source: new key first, old kept for decryption.
	src.set(nil, k2, k1)
	require.Eventually(t, func() bool { return ring.KeyIDs()[0] == id2 }, 5*time.Second, 5*time.Millisecond,
		"the running ring picks up the rotated key within its refresh interval")
	id, err = l.Log(ctx, Interaction{Input: "second prompt", Output: "second answer"})
	require.NoError(t, err)
	second, err := l.GetEntry(ctx, id)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(*second.OutputContent, "fernet:"+id2+":"))
	for _, e := range []*storage.AuditEntry{first, second} {
		in, out, err := l.DecryptContent(e)
		require.NoError(t, err)
		assert.Contains(t, in, "prompt")
		assert.Contains(t, out, "answer")
	}

	// The source fails: the last good ring stays, failures are reported.
	src.set(errors.New("secret store unreachable"))
	require.Eventually(t, func() bool { return ring.RefreshFailures() >= 2 }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, []string{id2, id1}, ring.KeyIDs())
	_, err = l.Log(ctx, Interaction{Input: "during outage"})
	require.NoError(t, err, "encryption goes on with the last good ring")
	mu.Lock()
	require.NotEmpty(t, reported)
	assert.Contains(t, reported[0].Error(), "secret store unreachable")
	mu.Unlock()

	// Keys that are not Fernet keys are a failure too, not a swap.
	src.set(nil, "not-a-key")
	err = ring.Refresh(ctx)
	require.ErrorIs(t, err, ErrInvalidKey)
	assert.Equal(t, []string{id2, id1}, ring.KeyIDs())

	// The old key is revoked: its entries no longer decrypt, clearly.
	src.set(nil, k2)
	require.NoError(t, ring.Refresh(ctx))
	_, _, err = l.DecryptContent(first)
	require.ErrorIs(t, err, ErrUnknownKey)
	assert.Contains(t, err.Error(), id1)

	require.NoError(t, ring.Close())
	require.NoError(t, ring.Close(), "Close is idempotent")
	src.mu.Lock()
	calls := src.calls
	src.mu.Unlock()
	time.Sleep(60 * time.Millisecond)
	src.mu.Lock()
	assert.Equal(t, calls, src.calls, "no reloads after Close")
	src.mu.Unlock()
	_, err = ring.Encrypt("still works after Close")
	require.NoError(t, err)
}

func TestNewKeyRingNeedsItsFirstLoad(t *testing.T) {
	_, err := NewKeyRing(t.Context(), &rotatingSource{err: os.ErrNotExist})
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = NewKeyRing(t.Context(), StaticKeys{"short"})
	require.ErrorIs(t, err, ErrInvalidKey)
	_, err = NewKeyRing(t.Context(), nil)
	require.ErrorIs(t, err, ErrInvalidKey)

	k, _ := GenerateKey()
	p := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(p, []byte(k), 0o644))
	require.NoError(t, os.Chmod(p, 0o644))
	_, err = NewKeyRing(t.Context(), KeyFile{Path: p}, WithRefreshInterval(-1))
	require.ErrorIs(t, err, ErrInsecureKeyFile)
}

func seqIDs() func() string {
	var mu sync.Mutex
	n := 0
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		n++
		return fmt.Sprintf("entry-%d", n)
	}
}

func TestParseKeys(t *testing.T) {
	k1, _ := GenerateKey()
	k2, _ := GenerateKey()
	for name, text := range map[string]string{
		"json list": `["` + k1 + `", " ` + k2 + `"]`,
		"lines":     "# current first\n" + k1 + "\n\n  " + k2 + "  \n",
	} {
		keys, err := ParseKeys([]byte(text))
		require.NoError(t, err, name)
		assert.Equal(t, []string{k1, k2}, keys, name)
	}
	for name, text := range map[string]string{
		"empty":      "",
		"comments":   "# none\n",
		"empty list": "[]",
		"bad json":   `["` + k1 + `",`,
		"not string": `[1, 2]`,
	} {
		_, err := ParseKeys([]byte(text))
		require.ErrorIs(t, err, ErrInvalidKey, name)
		assert.NotContains(t, err.Error(), k1, name)
	}
}

// schemeCipher is a Cipher of a made-up "rot" scheme for MultiCipher.
type schemeCipher struct{}

func (schemeCipher) Encrypt(p string) (string, error) { return "rot:" + strings.ToUpper(p), nil }
func (schemeCipher) Decrypt(c string) (string, error) {
	if rest, ok := strings.CutPrefix(c, "rot:"); ok {
		return strings.ToLower(rest), nil
	}
	return "", fmt.Errorf("%w: %w: not rot", ErrDecrypt, ErrOtherScheme)
}

func TestMultiCipher(t *testing.T) {
	k1, _ := GenerateKey()
	k2, _ := GenerateKey()
	ring, _ := NewEncryptionManager(k1)
	other, _ := NewEncryptionManager(k2)
	fernetCT, _ := ring.Encrypt("from the ring")
	otherCT, _ := other.Encrypt("from another ring")

	m := MultiCipher(schemeCipher{}, nil, ring)
	ct, err := m.Encrypt("new")
	require.NoError(t, err)
	assert.Equal(t, "rot:NEW", ct, "the first cipher encrypts")
	for want, ct := range map[string]string{"new": ct, "from the ring": fernetCT} {
		got, err := m.Decrypt(ct)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	// A Fernet token of an unknown key: the ring's answer, not "not rot".
	_, err = m.Decrypt(otherCT)
	require.ErrorIs(t, err, ErrUnknownKey)
	// A scheme nobody handles.
	_, err = m.Decrypt("kms:k:a:b")
	require.ErrorIs(t, err, ErrOtherScheme)

	assert.Nil(t, MultiCipher(nil))
	assert.Equal(t, Cipher(ring), MultiCipher(ring, nil))
}

// TestKeyErrorsNameTheirFile: a key file that holds something other than
// Fernet keys (here the ID:HEX line of a checkpoint key file, a likely
// mix-up) makes LoadEncryptionManager and NewKeyRing fail with an error
// that names the file, as KeySource errors must, and a missing key file
// says how to make one; neither quotes the key.
func TestKeyErrorsNameTheirFile(t *testing.T) {
	t.Setenv("OTELAUDIT_KEY", "")
	t.Setenv("OTELAUDIT_KEY_FILE", "")
	const line = "ckpt-1:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	p := filepath.Join(t.TempDir(), "checkpoint.key")
	require.NoError(t, os.WriteFile(p, []byte(line+"\n"), 0o600))

	_, err := LoadEncryptionManager(p)
	require.ErrorIs(t, err, ErrInvalidKey)
	assert.Contains(t, err.Error(), "key file "+p)
	assert.Contains(t, err.Error(), "otelaudit keygen")
	assert.NotContains(t, err.Error(), "00112233")

	_, err = NewKeyRing(context.Background(), KeyFile{Path: p})
	require.ErrorIs(t, err, ErrInvalidKey)
	assert.Contains(t, err.Error(), "key file "+p)

	t.Setenv("OTELAUDIT_KEY", line)
	_, err = LoadEncryptionManager("")
	require.ErrorIs(t, err, ErrInvalidKey)
	assert.Contains(t, err.Error(), "environment variable OTELAUDIT_KEY")
	assert.NotContains(t, err.Error(), "00112233")

	missing := filepath.Join(t.TempDir(), "audit.key")
	_, err = LoadEncryptionManager(missing)
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "otelaudit keygen > "+missing)
}
