package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// writeKeyLine writes "id:hex(key)\n" to a new file of mode perm.
func writeKeyLine(t *testing.T, name, id string, key []byte, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte("# "+name+"\n"+id+":"+hex.EncodeToString(key)+"\n"), 0o600))
	require.NoError(t, os.Chmod(path, perm))
	return path
}

// TestVerifyEd25519PublicKey: a directory whose writers sign with
// filestore.WithCheckpointSigner (the README's production set-up) is
// verified given only the public key: intact exits 0, a changed byte 1,
// another public key under the same id 1 with bad-signature (as a wrong
// HMAC key), no key 2 naming the flag. The public key file is not secret
// (read whatever its mode); a private key in it is refused, unprinted.
func TestVerifyEd25519PublicKey(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	dir := buildChainedStore(t, filestore.WithCheckpointSigner("ed-1", priv))
	pubFile := writeKeyLine(t, "checkpoint.pub", "ed-1", pub, 0o644)

	r := runCLI(t, "verify", "--dir", dir, "--checkpoint-public-key-file", pubFile)
	require.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "Checked:      3 files, 60 entries")
	assert.Contains(t, r.stdout, "Key:          1 key(s) given\n")
	assert.Contains(t, r.stdout, "Result:       INTACT\n")
	assert.Empty(t, r.stderr, "a public key file others can read is fine")

	// Without a key: exit 2, naming the key id and the flag to give.
	r = runCLI(t, "verify", "--dir", dir)
	assert.Equal(t, 2, r.code, "%s%s", r.stdout, r.stderr)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, `is signed with checkpoint key id "ed-1"`)
	assert.Contains(t, r.stderr, "--checkpoint-public-key-file")

	// Another key pair's public key under the same id: the signatures do
	// not match, reported as for a wrong HMAC key.
	otherPub, _, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	wrong := writeKeyLine(t, "other.pub", "ed-1", otherPub, 0o600)
	r = runCLI(t, "verify", "--dir", dir, "--checkpoint-public-key-file", wrong)
	assert.Equal(t, 1, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "bad-signature")
	assert.Contains(t, r.stderr, "is TAMPERED or damaged")

	// The private key given as the public one: refused, never printed.
	privFile := writeKeyLine(t, "signer.key", "ed-1", priv, 0o600)
	r = runCLI(t, "verify", "--dir", dir, "--checkpoint-public-key-file", privFile)
	assert.Equal(t, 2, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, privFile)
	assert.Contains(t, r.stderr, "private key")
	assert.NotContains(t, r.stderr, hex.EncodeToString(priv[:ed25519.SeedSize]))
	for name, text := range map[string]string{
		"empty.pub":  "# nothing\n",
		"short.pub":  "ed-1:" + strings.Repeat("ab", 20) + "\n",
		"nothex.pub": "ed-1:" + strings.Repeat("zz", 32) + "\n",
	} {
		path := filepath.Join(t.TempDir(), name)
		require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
		r = runCLI(t, "verify", "--dir", dir, "--checkpoint-public-key-file", path)
		assert.Equal(t, 2, r.code, "%s: %s%s", name, r.stdout, r.stderr)
		assert.Contains(t, r.stderr, "checkpoint public key file", name)
		assert.Contains(t, r.stderr, path, name)
	}
	r = runCLI(t, "verify", "--dir", dir, "--checkpoint-public-key-file", filepath.Join(t.TempDir(), "absent.pub"))
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "read checkpoint public key file")

	// A changed byte in an entry.
	files := dataFiles(t, dir)
	editLines(t, filepath.Join(dir, files[1]), func(ls [][]byte) [][]byte {
		ls[3] = bytes.Replace(ls[3], []byte(`"model":"gpt-4o"`), []byte(`"model":"gpt-4O"`), 1)
		return ls
	})
	r = runCLI(t, "verify", "--dir", dir, "--checkpoint-public-key-file", pubFile)
	assert.Equal(t, 1, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, files[1]+":")
	assert.Contains(t, r.stdout, "Result:       TAMPERED or damaged\n")
}

// TestCleanupEd25519Signer: cleanup of a directory whose writers sign with
// Ed25519 refuses without their private key (naming the flag), and given
// it with --checkpoint-signer-key-file (the 32-byte seed or the 64-byte
// key) signs its removal note so that verify with the public key still
// passes. The private key file is a secret: refused when others can read
// it, unless --allow-insecure-key-file.
func TestCleanupEd25519Signer(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	pubFile := writeKeyLine(t, "checkpoint.pub", "ed-1", pub, 0o644)
	now := verifyBase.Add(24*time.Hour + 30*time.Hour) // retention 1 day removes the first day

	for _, form := range []struct {
		name string
		key  []byte
	}{{"64-byte private key", priv}, {"32-byte seed", priv.Seed()}} {
		t.Run(form.name, func(t *testing.T) {
			dir := buildChainedStore(t, filestore.WithCheckpointSigner("ed-1", priv))
			keyFile := writeKeyLine(t, "signer.key", "ed-1", form.key, 0o600)

			r := runAt(t, now, "cleanup", "--dir", dir, "--retention-days", "1")
			assert.Equal(t, 2, r.code, "%s%s", r.stdout, r.stderr)
			assert.Contains(t, r.stderr, `key id "ed-1"`)
			assert.Contains(t, r.stderr, "--checkpoint-signer-key-file")
			assert.Contains(t, r.stderr, "nothing removed")
			assert.Equal(t, "60\n", runCLI(t, "count", "--dir", dir).stdout)

			require.NoError(t, os.Chmod(keyFile, 0o640))
			r = runAt(t, now, "cleanup", "--dir", dir, "--retention-days", "1", "--checkpoint-signer-key-file", keyFile)
			assert.Equal(t, 2, r.code, "%s%s", r.stdout, r.stderr)
			assert.Contains(t, r.stderr, keyFile+" has mode 0640")
			assert.Contains(t, r.stderr, "(--allow-insecure-key-file)")
			assert.Equal(t, "60\n", runCLI(t, "count", "--dir", dir).stdout)
			require.NoError(t, os.Chmod(keyFile, 0o600))

			r = runAt(t, now, "cleanup", "--dir", dir, "--retention-days", "1", "--checkpoint-signer-key-file", keyFile)
			require.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
			assert.Regexp(t, `Removed [1-9]\d* entries`, r.stdout)
			assert.NotEqual(t, "60\n", runCLI(t, "count", "--dir", dir).stdout)
			assert.NoFileExists(t, filepath.Join(dir, ".checkpoint.key"), "no store key was made")
			r = runCLI(t, "verify", "--dir", dir, "--checkpoint-public-key-file", pubFile)
			assert.Equal(t, 0, r.code, "the removal note is signed with the writers' key: %s%s", r.stdout, r.stderr)
			assert.Contains(t, r.stdout, "Result:       INTACT\n")
			assert.NotContains(t, r.stdout+r.stderr, hex.EncodeToString(priv.Seed()))
		})
	}

	dir := buildChainedStore(t, filestore.WithCheckpointSigner("ed-1", priv))
	broken := append(ed25519.PrivateKey{}, priv...)
	broken[63] ^= 1 // the public half no longer belongs to the seed
	for _, tc := range []struct {
		name string
		key  []byte
		msg  string
	}{
		{"not a key pair", broken, "not the public key"},
		{"wrong size", bytes.Repeat([]byte{7}, 40), "is 40 bytes, want an Ed25519 private key"},
	} {
		keyFile := writeKeyLine(t, "bad.key", "ed-1", tc.key, 0o600)
		r := runAt(t, now, "cleanup", "--dir", dir, "--retention-days", "1", "--checkpoint-signer-key-file", keyFile)
		assert.Equal(t, 2, r.code, "%s: %s%s", tc.name, r.stdout, r.stderr)
		assert.Contains(t, r.stderr, keyFile, tc.name)
		assert.Contains(t, r.stderr, tc.msg, tc.name)
		assert.NotContains(t, r.stderr, hex.EncodeToString(tc.key[:32]), tc.name)
	}
	hmacFile := writeKeyLine(t, "hmac.key", "h", bytes.Repeat([]byte{1}, 32), 0o600)
	signer := writeKeyLine(t, "signer.key", "ed-1", priv, 0o600)
	r := runAt(t, now, "cleanup", "--dir", dir, "--retention-days", "1", "--checkpoint-key-file", hmacFile, "--checkpoint-signer-key-file", signer)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "give the one the store's writers sign with")
	assert.Equal(t, "60\n", runCLI(t, "count", "--dir", dir).stdout)
}

// TestKeygenEd25519: keygen --ed25519 ID prints the private key line on
// stdout and the public key line on stderr; written to files as its help
// says, they are what the writers, cleanup --checkpoint-signer-key-file
// and verify --checkpoint-public-key-file take. The default output of
// keygen (a Fernet key) is unchanged.
func TestKeygenEd25519(t *testing.T) {
	r := runCLI(t, "keygen", "--ed25519", "ckpt-1")
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, `^ckpt-1:[0-9a-f]{128}\n$`, r.stdout)
	require.Regexp(t, `^ckpt-1:[0-9a-f]{64}\n$`, r.stderr)
	privBytes, err := hex.DecodeString(strings.TrimSpace(strings.TrimPrefix(r.stdout, "ckpt-1:")))
	require.NoError(t, err)
	priv := ed25519.PrivateKey(privBytes)
	assert.Equal(t, strings.TrimSpace(r.stderr), "ckpt-1:"+hex.EncodeToString(priv.Public().(ed25519.PublicKey)), "the pair belongs together")
	again := runCLI(t, "keygen", "--ed25519", "ckpt-1")
	assert.NotEqual(t, r.stdout, again.stdout, "a new key each time")

	keys := t.TempDir()
	signerFile, pubFile := filepath.Join(keys, "checkpoint-signer.key"), filepath.Join(keys, "checkpoint.pub")
	require.NoError(t, os.WriteFile(signerFile, []byte(r.stdout), 0o600))
	require.NoError(t, os.WriteFile(pubFile, []byte(r.stderr), 0o644))

	dir := buildChainedStore(t, filestore.WithCheckpointSigner("ckpt-1", priv))
	r = runCLI(t, "verify", "--dir", dir, "--checkpoint-public-key-file", pubFile)
	assert.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	now := verifyBase.Add(24*time.Hour + 30*time.Hour)
	r = runAt(t, now, "cleanup", "--dir", dir, "--retention-days", "1", "--checkpoint-signer-key-file", signerFile)
	require.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.Regexp(t, `Removed [1-9]\d* entries`, r.stdout)
	r = runCLI(t, "verify", "--dir", dir, "--checkpoint-public-key-file", pubFile)
	assert.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "Result:       INTACT\n")

	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"keygen", "--ed25519", ""}, "give the key id"},
		{[]string{"keygen", "--ed25519", "a b"}, "no spaces"},
		{[]string{"keygen", "--ed25519", "local"}, ".checkpoint.key"},
		{[]string{"keygen", "--ed25519", strings.Repeat("k", 65)}, "at most 64"},
		{[]string{"keygen", "--ed25519"}, "flag needs an argument"},
	} {
		r := runCLI(t, tc.args...)
		assert.Equal(t, 2, r.code, "%q", tc.args)
		assert.Empty(t, r.stdout, "%q", tc.args)
		assert.Contains(t, r.stderr, tc.msg, "%q", tc.args)
	}
}
