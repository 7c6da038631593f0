package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/s3test"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// TestS3Verify: `otelaudit verify --s3-bucket` on an S3 store of 1,010
// entries from two writers over two days: intact gives exit 0 and names
// what it cannot rule out; a changed byte, a deleted line, two swapped
// lines and a batch object deleted from the middle of a writer's chain
// each give exit 1 naming the object; an empty prefix gives exit 2.
func TestS3Verify(t *testing.T) {
	client, endpoint, bucket, _ := s3CLI(t)
	const prefix = "verify/"
	var writers [2]*s3store.Store
	for i := range writers {
		st, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix(prefix), s3store.WithMaxBatchEntries(60))
		require.NoError(t, err)
		writers[i] = st
	}
	base := time.Date(2025, 6, 30, 22, 0, 0, 0, time.UTC) // crosses midnight
	const total = 1010
	for i := range total {
		e := &storage.AuditEntry{ID: storage.NewEntryID(), Timestamp: base.Add(time.Duration(i) * 13 * time.Second),
			InputHash: strings.Repeat("a", 64), OutputHash: strings.Repeat("b", 64), SafetyPassed: true, LatencyMS: 3}
		require.NoError(t, writers[i%2].Write(t.Context(), e))
	}
	for _, st := range writers {
		require.NoError(t, st.Close())
	}
	args := func(extra ...string) []string {
		return append([]string{"verify", "--s3-bucket", bucket, "--s3-prefix", prefix, "--s3-endpoint", endpoint, "--s3-region", "us-east-1"}, extra...)
	}

	r := runCLI(t, args()...)
	require.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, fmt.Sprintf("entries (%d chained in 2 writer sessions, 0 legacy without chain)", total))
	assert.Contains(t, r.stdout, "Cannot rule out")
	assert.Contains(t, r.stdout, "removal of a writer's newest entries")
	assert.Contains(t, r.stdout, "Result:       INTACT\n")

	// A batch object in the middle of a writer's chain: neither its first
	// nor its last object.
	type obj struct {
		key      string
		writer   string
		min, max uint64
	}
	var objs []obj
	for _, k := range s3test.Keys(t, client, bucket, prefix) {
		if strings.HasPrefix(k, prefix+"_ids/") {
			continue
		}
		o := obj{key: k, min: ^uint64(0)}
		for line := range bytes.Lines(s3test.Body(t, client, bucket, k)) {
			_, c, ok := storage.SplitChain(bytes.TrimSuffix(line, []byte("\n")))
			require.True(t, ok)
			o.writer, o.min, o.max = c.Writer, min(o.min, c.Seq), max(o.max, c.Seq)
		}
		objs = append(objs, o)
	}
	require.Greater(t, len(objs), 10)
	slices.SortFunc(objs, func(a, b obj) int {
		return strings.Compare(fmt.Sprint(a.writer, a.min+1e9), fmt.Sprint(b.writer, b.min+1e9))
	})
	mid := objs[len(objs)/4] // writer 1, well inside its chain
	require.Equal(t, objs[0].writer, mid.writer)
	require.Greater(t, mid.min, uint64(1))
	rel := strings.TrimPrefix(mid.key, prefix)
	orig := s3test.Body(t, client, bucket, mid.key)
	lines := bytes.SplitAfter(orig, []byte("\n"))
	require.Greater(t, len(lines), 4)

	for _, tc := range []struct {
		name   string
		body   []byte // nil: delete the object
		kind   string
		naming string // what the report must name
	}{
		{"changed byte", bytes.Replace(orig, []byte(`"input_hash":"aaaa`), []byte(`"input_hash":"aaab`), 1), "modified", rel + ":1: modified"},
		{"deleted line", slices.Concat(append(slices.Clone(lines[:2]), lines[3:]...)...), "missing", rel},
		{"reordered lines", slices.Concat(lines[0], lines[2], lines[1], slices.Concat(lines[3:]...)), "reordered", rel + ":3: reordered"},
		{"deleted object", nil, "missing", fmt.Sprintf("entries %s:%d..%d before this one are missing", mid.writer, mid.min, mid.max)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.body == nil {
				_, err := client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(mid.key)})
				require.NoError(t, err)
			} else {
				putBody(t, client, bucket, mid.key, tc.body)
			}
			defer putBody(t, client, bucket, mid.key, orig)
			r := runCLI(t, args()...)
			assert.Equal(t, 1, r.code, "%s%s", r.stdout, r.stderr)
			assert.Contains(t, r.stdout, tc.naming)
			assert.Contains(t, r.stdout, ": "+tc.kind+": ")
			assert.Contains(t, r.stdout, "Result:       TAMPERED or damaged\n")
			assert.Contains(t, r.stderr, "TAMPERED")

			r = runCLI(t, args("--format", "json")...)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stdout, `"kind": "`+tc.kind+`"`)
		})
	}
	r = runCLI(t, args()...)
	assert.Equal(t, 0, r.code, "restored: %s", r.stdout)

	r = runCLI(t, "verify", "--s3-bucket", bucket, "--s3-prefix", "empty/", "--s3-endpoint", endpoint)
	assert.Equal(t, 2, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, "no audit store here")
	assert.Empty(t, r.stdout)
}

func putBody(t *testing.T, client *s3.Client, bucket, key string, body []byte) {
	t.Helper()
	_, err := client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	require.NoError(t, err)
}

// TestS3VerifySigned: `otelaudit verify --s3-bucket` with the writers'
// checkpoint key and witness file on 1,000 entries from two signing
// writers: intact gives exit 0 (without the witness the report names what
// it cannot rule out); after Delete and DeleteBefore it still gives 0; the
// newest objects deleted together with the last digest give exit 1 naming
// the digest with the witness, and exit 0 without it; a signed store
// verified without the key gives exit 1 (its digests cannot be checked).
func TestS3VerifySigned(t *testing.T) {
	client, endpoint, bucket, _ := s3CLI(t)
	const prefix = "signed/"
	key := bytes.Repeat([]byte{0x5a}, 32)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "checkpoint.key")
	require.NoError(t, os.WriteFile(keyFile, []byte("ops1:"+hex.EncodeToString(key)+"\n"), 0o600))
	witnessFile := filepath.Join(dir, "witness.jsonl")
	wf, err := os.OpenFile(witnessFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(t, err)
	defer wf.Close()
	var ws lockedWriter
	ws.w = wf
	var writers [2]*s3store.Store
	for i := range writers {
		st, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix(prefix), s3store.WithMaxBatchEntries(60),
			s3store.WithCheckpointKey("ops1", key), s3store.WithWitness(&ws))
		require.NoError(t, err)
		writers[i] = st
	}
	base := time.Date(2025, 6, 30, 22, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 1000 {
		e := &storage.AuditEntry{ID: storage.NewEntryID(), Timestamp: base.Add(time.Duration(i) * 13 * time.Second),
			InputHash: strings.Repeat("a", 64), OutputHash: strings.Repeat("b", 64), SafetyPassed: true, LatencyMS: 3}
		ids = append(ids, e.ID)
		require.NoError(t, writers[i%2].Write(t.Context(), e))
	}
	ok, err := writers[0].Delete(t.Context(), ids[10])
	require.NoError(t, err)
	require.True(t, ok)
	_, err = writers[1].DeleteBefore(t.Context(), base.Add(2*time.Hour+30*time.Minute)) // into the second day
	require.NoError(t, err)
	for _, st := range writers {
		require.NoError(t, st.Close())
	}
	args := func(extra ...string) []string {
		return append([]string{"verify", "--s3-bucket", bucket, "--s3-prefix", prefix, "--s3-endpoint", endpoint, "--s3-region", "us-east-1"}, extra...)
	}
	r := runCLI(t, args("--checkpoint-key-file", keyFile, "--witness", witnessFile)...)
	require.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "Witness:      ")
	assert.Contains(t, r.stdout, "Result:       INTACT\n")
	r = runCLI(t, args("--checkpoint-key-file", keyFile)...)
	require.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "Cannot rule out")
	assert.Contains(t, r.stdout, "a witness")
	r = runCLI(t, args()...)
	assert.Equal(t, 2, r.code, "%s%s", r.stdout, r.stderr)
	assert.Empty(t, r.stdout, "without the key nothing is checked")
	assert.Contains(t, r.stderr, "is signed with checkpoint key id")
	assert.Contains(t, r.stderr, "--checkpoint-key-file")

	// A writer's last digest deleted together with the objects it lists.
	var lastDigest string
	for _, k := range s3test.Keys(t, client, bucket, prefix+"_digests/") {
		if strings.HasSuffix(k, "/_legacy.json") {
			continue // the legacy note, no writer's
		}
		if lastDigest == "" || k[:len(prefix+"_digests/")+16] == lastDigest[:len(prefix+"_digests/")+16] {
			lastDigest = k
		}
	}
	type digestObjects struct {
		Objects []struct{ Key string } `json:"objects"`
	}
	// The objects only the last digest lists: a rewritten generation it
	// lists as stored was signed before by its removal note, which stays,
	// so removing that one is caught without a witness.
	listedBefore := map[string]bool{}
	for _, k := range s3test.Keys(t, client, bucket, prefix+"_digests/") {
		if k == lastDigest {
			continue
		}
		var d digestObjects
		require.NoError(t, json.Unmarshal(s3test.Body(t, client, bucket, k), &d))
		for _, o := range d.Objects {
			listedBefore[o.Key] = true
		}
	}
	var digest digestObjects
	require.NoError(t, json.Unmarshal(s3test.Body(t, client, bucket, lastDigest), &digest))
	del := []string{lastDigest}
	for _, o := range digest.Objects {
		if !listedBefore[o.Key] {
			del = append(del, prefix+o.Key)
		}
	}
	for _, k := range del {
		_, err := client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		require.NoError(t, err)
	}
	r = runCLI(t, args("--checkpoint-key-file", keyFile, "--witness", witnessFile)...)
	assert.Equal(t, 1, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, strings.TrimPrefix(lastDigest, prefix)+":")
	assert.Contains(t, r.stdout, ": witnessed-missing: ")
	r = runCLI(t, args("--checkpoint-key-file", keyFile)...)
	assert.Equal(t, 0, r.code, "needs the witness (README): %s%s", r.stdout, r.stderr)
}

// lockedWriter serialises the writes of several Stores to one witness file.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestS3CleanupSigned: `otelaudit cleanup` on a signed S3 store with the
// writers' key writes signed removal notes, so verify still gives exit 0.
// Without the key it refuses (exit 2, naming --checkpoint-key-file and the
// key id) and removes nothing: it would leave removals no signed digest
// accounts for, which verify with the key reports as tampering. A dry run
// reads only and needs no key.
func TestS3CleanupSigned(t *testing.T) {
	client, endpoint, bucket, _ := s3CLI(t)
	key := bytes.Repeat([]byte{0x6b}, 32)
	keyFile := filepath.Join(t.TempDir(), "checkpoint.key")
	require.NoError(t, os.WriteFile(keyFile, []byte("ops1:"+hex.EncodeToString(key)+"\n"), 0o600))
	const prefix = "clean-signed/"
	s3args := writeAgedS3Store(t, client, endpoint, bucket, prefix, s3store.WithCheckpointKey("ops1", key))
	cleanup := append([]string{"cleanup", "--retention-days", "5"}, s3args...)
	snapshot := func() map[string]string {
		out := map[string]string{}
		for _, k := range s3test.Keys(t, client, bucket, prefix) {
			out[k] = string(s3test.Body(t, client, bucket, k))
		}
		return out
	}
	before := snapshot()

	r := runCLI(t, cleanup...)
	assert.Equal(t, 2, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, "--checkpoint-key-file")
	assert.Contains(t, r.stderr, `key id "ops1"`)
	assert.Contains(t, r.stderr, "nothing removed")
	assert.Equal(t, before, snapshot(), "a refused cleanup writes and removes nothing")

	r = runCLI(t, append(cleanup, "--dry-run")...)
	require.Equal(t, 0, r.code, "a dry run reads only: %s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "would remove")
	assert.Equal(t, before, snapshot())

	r = runCLI(t, append(cleanup, "--checkpoint-key-file", keyFile)...)
	require.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.Regexp(t, `Removed [1-9]\d* entries`, r.stdout)
	r = runCLI(t, append(append([]string{"verify"}, s3args...), "--checkpoint-key-file", keyFile)...)
	assert.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.NotContains(t, r.stdout+r.stderr, hex.EncodeToString(key))
}

// writeAgedS3Store writes 200 entries, one every 3 hours from 10 days ago
// (25 days: a 5-day retention removes the older half), to a store under
// prefix signed with sign, closes it, and returns the CLI's flags for it.
func writeAgedS3Store(t *testing.T, client *s3.Client, endpoint, bucket, prefix string, sign s3store.Option) []string {
	t.Helper()
	st, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix(prefix), s3store.WithMaxBatchEntries(40), sign)
	require.NoError(t, err)
	old := time.Now().UTC().Add(-10 * 24 * time.Hour)
	for i := range 200 {
		ts := old.Add(time.Duration(i) * 3 * time.Hour) // 25 days: the older half goes
		e := &storage.AuditEntry{ID: storage.NewEntryID(), Timestamp: ts, InputHash: strings.Repeat("a", 64), OutputHash: strings.Repeat("b", 64), SafetyPassed: true, LatencyMS: 3}
		require.NoError(t, st.Write(t.Context(), e))
	}
	require.NoError(t, st.Close())
	return []string{"--s3-bucket", bucket, "--s3-prefix", prefix, "--s3-endpoint", endpoint, "--s3-region", "us-east-1"}
}

// TestS3Ed25519: an S3 store whose writers sign their digests with
// Ed25519 (s3store.WithCheckpointSigner) verifies given only the public
// key (--checkpoint-public-key-file), is refused without a key (naming
// that flag), reports bad-signature under another public key, and cleanup
// with the private key (--checkpoint-signer-key-file) writes signed
// removal notes, so verify with the public key passes afterwards; a
// changed byte then gives exit 1.
func TestS3Ed25519(t *testing.T) {
	client, endpoint, bucket, _ := s3CLI(t)
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	pubFile := writeKeyLine(t, "checkpoint.pub", "ed-s3", pub, 0o644)
	signerFile := writeKeyLine(t, "signer.key", "ed-s3", priv, 0o600)
	const prefix = "ed25519/"
	s3args := writeAgedS3Store(t, client, endpoint, bucket, prefix, s3store.WithCheckpointSigner("ed-s3", priv))
	verifyArgs := func(extra ...string) []string { return append(append([]string{"verify"}, s3args...), extra...) }

	r := runCLI(t, verifyArgs("--checkpoint-public-key-file", pubFile)...)
	require.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "Key:          1 key(s) given: digest objects checked\n")
	assert.Contains(t, r.stdout, "Result:       INTACT\n")

	r = runCLI(t, verifyArgs()...)
	assert.Equal(t, 2, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, `key id "ed-s3"`)
	assert.Contains(t, r.stderr, "--checkpoint-public-key-file")

	otherPub, _, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	r = runCLI(t, verifyArgs("--checkpoint-public-key-file", writeKeyLine(t, "other.pub", "ed-s3", otherPub, 0o600))...)
	assert.Equal(t, 1, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "bad-signature")

	cleanup := append([]string{"cleanup", "--retention-days", "5"}, s3args...)
	r = runCLI(t, cleanup...)
	assert.Equal(t, 2, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, "--checkpoint-signer-key-file")
	assert.Contains(t, r.stderr, "nothing removed")
	r = runCLI(t, append(cleanup, "--checkpoint-signer-key-file", signerFile)...)
	require.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.Regexp(t, `Removed [1-9]\d* entries`, r.stdout)
	r = runCLI(t, verifyArgs("--checkpoint-public-key-file", pubFile)...)
	assert.Equal(t, 0, r.code, "the removal notes are signed with the writers' key: %s%s", r.stdout, r.stderr)
	assert.NotContains(t, r.stdout+r.stderr, hex.EncodeToString(priv.Seed()))

	// A changed byte in a batch object.
	var batch string
	var changed []byte
	for _, k := range s3test.Keys(t, client, bucket, prefix) {
		body := s3test.Body(t, client, bucket, k)
		if !strings.Contains(k, "/_") && bytes.Contains(body, []byte(`"latency_ms":3`)) {
			batch, changed = k, bytes.Replace(body, []byte(`"latency_ms":3`), []byte(`"latency_ms":4`), 1)
			break
		}
	}
	require.NotEmpty(t, batch, "a batch object")
	_, err = client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(batch), Body: bytes.NewReader(changed)})
	require.NoError(t, err)
	r = runCLI(t, verifyArgs("--checkpoint-public-key-file", pubFile)...)
	assert.Equal(t, 1, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, strings.TrimPrefix(batch, prefix)+":")
	assert.Contains(t, r.stdout, "modified")
}
