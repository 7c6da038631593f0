package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/s3test"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// wrongKeyCase is a store signed one way and a cleanup given another key:
// the cleanup must refuse before it deletes or signs anything, naming the
// key id the store is signed with and the one given, never a key.
type wrongKeyCase struct {
	name     string
	storeKID string   // key id the store is signed with
	givenKID string   // key id of the key cleanup is given
	flag     string   // --checkpoint-key-file or --checkpoint-signer-key-file
	given    []byte   // the key cleanup is given
	verify   []string // verify's key flags for the right key
}

// wrongKeyCases returns the cases for a store whose writers sign with
// HMAC key ("ops-1", hmacKey) or Ed25519 key ("ed-1", priv), and the key
// files verify needs.
func wrongKeyCases(t *testing.T, hmacKey []byte, priv ed25519.PrivateKey) (hmacCases, edCases []wrongKeyCase) {
	hmacFile := writeKeyLine(t, "ckpt.key", "ops-1", hmacKey, 0o600)
	pubFile := writeKeyLine(t, "ckpt.pub", "ed-1", priv.Public().(ed25519.PublicKey), 0o644)
	_, otherPriv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	other := bytes.Repeat([]byte{0x99}, 32)
	hv := []string{"--checkpoint-key-file", hmacFile}
	ev := []string{"--checkpoint-public-key-file", pubFile}
	hmacCases = []wrongKeyCase{
		{"another store's HMAC key", "ops-1", "ops-2", "--checkpoint-key-file", other, hv},
		{"another HMAC key under the same id", "ops-1", "ops-1", "--checkpoint-key-file", other, hv},
		{"an Ed25519 key for an HMAC store", "ops-1", "ops-1", "--checkpoint-signer-key-file", otherPriv, hv},
	}
	edCases = []wrongKeyCase{
		{"an HMAC key for an Ed25519 store", "ed-1", "ed-1", "--checkpoint-key-file", other, ev},
		{"another HMAC key id for an Ed25519 store", "ed-1", "ops-1", "--checkpoint-key-file", other, ev},
		{"another Ed25519 key under the same id", "ed-1", "ed-1", "--checkpoint-signer-key-file", otherPriv, ev},
	}
	return hmacCases, edCases
}

// checkRefused checks the result of a cleanup given the wrong key.
func checkRefused(t *testing.T, tc wrongKeyCase, r result) {
	t.Helper()
	assert.Equal(t, 2, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, `key id "`+tc.storeKID+`"`)
	if tc.givenKID != tc.storeKID {
		assert.Contains(t, r.stderr, `key id "`+tc.givenKID+`"`)
	}
	assert.Contains(t, r.stderr, "nothing removed")
	assert.NotContains(t, r.stdout, "Removed")
	assert.NotContains(t, r.stdout+r.stderr, hex.EncodeToString(tc.given[:16]), "keys are never printed")
}

// dirSnapshot returns the data and checkpoint files of a store directory.
func dirSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	names, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	require.NoError(t, err)
	for _, n := range names {
		b, err := os.ReadFile(n)
		require.NoError(t, err)
		out[filepath.Base(n)] = string(b)
	}
	return out
}

// TestCleanupRefusesAWrongKey: cleanup given a key other than the one the
// directory's notes are signed with (another store's, another key under
// the same id, an HMAC key for an Ed25519 store or the reverse) refuses
// before it deletes anything: without that, its removal note would be
// signed with a key verify does not accept and a legitimate cleanup would
// make the store look TAMPERED. The store stays as it was: verify with
// the right key still passes and no entry is gone.
func TestCleanupRefusesAWrongKey(t *testing.T) {
	hmacKey := bytes.Repeat([]byte{0x42}, 32)
	_, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	hmacCases, edCases := wrongKeyCases(t, hmacKey, priv)
	now := verifyBase.Add(24*time.Hour + 30*time.Hour) // retention 1 day removes the first day
	run := func(t *testing.T, tc wrongKeyCase, opt filestore.Option) {
		dir := buildChainedStore(t, opt)
		before := dirSnapshot(t, dir)
		keyFile := writeKeyLine(t, "given.key", tc.givenKID, tc.given, 0o600)
		r := runAt(t, now, "cleanup", "--dir", dir, "--retention-days", "1", tc.flag, keyFile)
		checkRefused(t, tc, r)
		assert.Equal(t, before, dirSnapshot(t, dir), "a refused cleanup changes nothing")
		assert.NoFileExists(t, filepath.Join(dir, ".checkpoint.key"))
		assert.Equal(t, "60\n", runCLI(t, "count", "--dir", dir).stdout)
		r = runCLI(t, append([]string{"verify", "--dir", dir}, tc.verify...)...)
		assert.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	}
	for _, tc := range hmacCases {
		t.Run(tc.name, func(t *testing.T) { run(t, tc, filestore.WithCheckpointKey("ops-1", hmacKey)) })
	}
	for _, tc := range edCases {
		t.Run(tc.name, func(t *testing.T) { run(t, tc, filestore.WithCheckpointSigner("ed-1", priv)) })
	}

	// A store signed with its own .checkpoint.key (key id "local"): a key
	// of one's own would sign a note verify without it cannot check, and
	// with it only alongside the old key. Cleanup without a key signs with
	// the store's own, as its writers do.
	t.Run("a key of one's own for a store signed with its own key file", func(t *testing.T) {
		dir := buildChainedStore(t)
		before := dirSnapshot(t, dir)
		keyFile := writeKeyLine(t, "given.key", "ops-1", hmacKey, 0o600)
		r := runAt(t, now, "cleanup", "--dir", dir, "--retention-days", "1", "--checkpoint-key-file", keyFile)
		checkRefused(t, wrongKeyCase{storeKID: "local", givenKID: "ops-1", given: hmacKey}, r)
		assert.Equal(t, before, dirSnapshot(t, dir))
		assert.Equal(t, 0, runCLI(t, "verify", "--dir", dir).code)
	})
}

// TestCleanupSignsAnUnsignedStore: a directory that holds no signed note
// (entries the reference implementation wrote) takes a key, as a writer
// given one does: the cleanup's removal note is the store's first, signed
// with that key, and verify with it passes.
func TestCleanupSignsAnUnsignedStore(t *testing.T) {
	dir := t.TempDir()
	w := make([]*storage.AuditEntry, 0, 60)
	for i := range 60 {
		w = append(w, chainEntry(i))
	}
	writeStore(t, dir, w)
	key := bytes.Repeat([]byte{0x42}, 32)
	keyFile := writeKeyLine(t, "ckpt.key", "ops-1", key, 0o600)
	now := verifyBase.Add(24*time.Hour + 30*time.Hour)
	r := runAt(t, now, "cleanup", "--dir", dir, "--retention-days", "1", "--checkpoint-key-file", keyFile)
	require.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.Regexp(t, `Removed [1-9]\d* entries`, r.stdout)
	r = runCLI(t, "verify", "--dir", dir, "--checkpoint-key-file", keyFile)
	assert.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
}

// TestS3CleanupRefusesAWrongKey: as TestCleanupRefusesAWrongKey, on S3:
// cleanup given a key other than the one the prefix's digests are signed
// with refuses, writing and removing nothing, and verify with the right
// key still passes.
func TestS3CleanupRefusesAWrongKey(t *testing.T) {
	client, endpoint, bucket, _ := s3CLI(t)
	hmacKey := bytes.Repeat([]byte{0x6b}, 32)
	_, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	hmacCases, edCases := wrongKeyCases(t, hmacKey, priv)
	hmacArgs := writeAgedS3Store(t, client, endpoint, bucket, "wrong-hmac/", s3store.WithCheckpointKey("ops-1", hmacKey))
	edArgs := writeAgedS3Store(t, client, endpoint, bucket, "wrong-ed/", s3store.WithCheckpointSigner("ed-1", priv))
	run := func(t *testing.T, tc wrongKeyCase, prefix string, s3args []string) {
		before := s3Snapshot(t, client, bucket, prefix)
		keyFile := writeKeyLine(t, "given.key", tc.givenKID, tc.given, 0o600)
		r := runCLI(t, append(append([]string{"cleanup", "--retention-days", "5"}, s3args...), tc.flag, keyFile)...)
		checkRefused(t, tc, r)
		assert.Equal(t, before, s3Snapshot(t, client, bucket, prefix), "a refused cleanup writes and removes nothing")
		r = runCLI(t, append(append([]string{"verify"}, s3args...), tc.verify...)...)
		assert.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	}
	for _, tc := range hmacCases {
		t.Run(tc.name, func(t *testing.T) { run(t, tc, "wrong-hmac/", hmacArgs) })
	}
	for _, tc := range edCases {
		t.Run(tc.name, func(t *testing.T) { run(t, tc, "wrong-ed/", edArgs) })
	}
}

// s3Snapshot returns every object under prefix with its body.
func s3Snapshot(t *testing.T, client *s3.Client, bucket, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range s3test.Keys(t, client, bucket, prefix) {
		out[k] = string(s3test.Body(t, client, bucket, k))
	}
	return out
}
