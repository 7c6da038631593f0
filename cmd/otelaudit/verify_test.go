package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

var verifyBase = time.Date(2025, 9, 10, 0, 0, 0, 0, time.UTC)

func chainEntry(i int) *storage.AuditEntry {
	in, out := int64(10+i), int64(20+i)
	return &storage.AuditEntry{
		ID: storage.NewEntryID(), Timestamp: verifyBase.Add(time.Duration(i) * 50 * time.Minute),
		InputHash: otelaudit.HashContent("in" + itoa(i)), OutputHash: otelaudit.HashContent("out" + itoa(i)),
		Provider: ptr("openai"), Model: ptr("gpt-4o"), SafetyPassed: true, LatencyMS: 12.5,
		InputTokens: &in, OutputTokens: &out,
	}
}

// buildChainedStore writes 60 entries over three UTC days in two writer
// sessions with filestore.Store, with opts, and closes the store.
func buildChainedStore(t *testing.T, opts ...filestore.Option) string {
	t.Helper()
	dir := t.TempDir()
	opts = append([]filestore.Option{filestore.WithCheckpointInterval(7, time.Hour)}, opts...)
	for session := range 2 {
		st, err := filestore.New(dir, opts...)
		require.NoError(t, err)
		for i := range 30 {
			require.NoError(t, st.Write(t.Context(), chainEntry(session*30+i)))
		}
		require.NoError(t, st.Close())
	}
	return dir
}

// dataFiles lists the store's data files in name order.
func dataFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "audit_*.jsonl"))
	require.NoError(t, err)
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	slices.Sort(names)
	require.NotEmpty(t, names)
	return names
}

// editLines rewrites a data file through fn (lines without '\n').
func editLines(t *testing.T, path string, fn func([][]byte) [][]byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := fn(bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")))
	out := bytes.Join(lines, []byte("\n"))
	if len(lines) > 0 {
		out = append(out, '\n')
	}
	require.NoError(t, os.WriteFile(path, out, 0o600))
}

func TestVerifyIntactStores(t *testing.T) {
	dir := buildChainedStore(t)
	r := runCLI(t, "verify", "--dir", dir)
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "Checked:      3 files, 60 entries (60 chained in 2 writer sessions, 0 legacy without chain)")
	assert.Contains(t, r.stdout, "Result:       INTACT\n")
	assert.Contains(t, r.stdout, "the store's own .checkpoint.key")
	assert.Empty(t, r.stderr)

	// One of each is said in the singular.
	one := t.TempDir()
	st, err := filestore.New(one)
	require.NoError(t, err)
	require.NoError(t, st.Write(t.Context(), chainEntry(0)))
	require.NoError(t, st.Close())
	r = runCLI(t, "verify", "--dir", one)
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Regexp(t, `Checked:      1 file, 1 entry \(1 chained in 1 writer session, 0 legacy without chain\), \d+ signed notes\n`, r.stdout)

	// Reference stores have no chain: legacy warnings, not tampering.
	for _, name := range []string{"plaintext", "encrypted", "hashonly"} {
		r := runCLI(t, "verify", "--dir", refDir(name))
		require.Equal(t, 0, r.code, "%s: %s%s", name, r.stdout, r.stderr)
		assert.Contains(t, r.stdout, "legacy", name)
		assert.Regexp(t, `Result:       INTACT as far as verifiable \(\d+ legacy entries have no chain\)\n`, r.stdout, name)
	}
}

func TestVerifyAfterCleanup(t *testing.T) {
	dir := buildChainedStore(t)
	now := verifyBase.Add(24*time.Hour + 30*time.Hour) // retention 1 day removes the first day
	r := runAt(t, now, "cleanup", "--dir", dir, "--retention-days", "1")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `Removed [1-9]\d* entries`, r.stdout)
	r = runCLI(t, "verify", "--dir", dir)
	assert.Equal(t, 0, r.code, "a store verifies after cleanup:\n%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "Result:       INTACT\n")
}

func TestVerifyWhileAppending(t *testing.T) {
	dir := buildChainedStore(t)
	st, err := filestore.New(dir, filestore.WithCheckpointInterval(1000, time.Hour))
	require.NoError(t, err)
	defer st.Close()
	for i := range 5 {
		require.NoError(t, st.Write(t.Context(), chainEntry(60+i)))
	}
	r := runCLI(t, "verify", "--dir", dir)
	assert.Equal(t, 0, r.code, "a store being appended to verifies:\n%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "Unconfirmed:  5 entries")
}

func TestVerifyDetectsTampering(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(t *testing.T, dir string, files []string) string // returns the file the report must name
		line   bool                                                  // the report names a line of that file
	}{
		{"changed byte", func(t *testing.T, dir string, files []string) string {
			editLines(t, filepath.Join(dir, files[1]), func(ls [][]byte) [][]byte {
				ls[3] = bytes.Replace(ls[3], []byte(`"model":"gpt-4o"`), []byte(`"model":"gpt-4O"`), 1)
				return ls
			})
			return files[1]
		}, true},
		{"deleted line", func(t *testing.T, dir string, files []string) string {
			editLines(t, filepath.Join(dir, files[1]), func(ls [][]byte) [][]byte { return slices.Delete(ls, 4, 5) })
			return files[1]
		}, true},
		{"inserted line", func(t *testing.T, dir string, files []string) string {
			editLines(t, filepath.Join(dir, files[1]), func(ls [][]byte) [][]byte {
				forged := bytes.Replace(ls[2], []byte(`"latency_ms":12.5`), []byte(`"latency_ms":1`), 1)
				return slices.Insert(ls, 3, forged)
			})
			return files[1]
		}, true},
		{"duplicated line", func(t *testing.T, dir string, files []string) string {
			editLines(t, filepath.Join(dir, files[1]), func(ls [][]byte) [][]byte { return slices.Insert(ls, 6, ls[5]) })
			return files[1]
		}, true},
		{"reordered lines", func(t *testing.T, dir string, files []string) string {
			editLines(t, filepath.Join(dir, files[1]), func(ls [][]byte) [][]byte {
				ls[2], ls[3] = ls[3], ls[2]
				return ls
			})
			return files[1]
		}, true},
		{"dropped last line", func(t *testing.T, dir string, files []string) string {
			last := files[len(files)-1]
			editLines(t, filepath.Join(dir, last), func(ls [][]byte) [][]byte { return ls[:len(ls)-1] })
			return ""
		}, false},
		{"truncated file", func(t *testing.T, dir string, files []string) string {
			path := filepath.Join(dir, files[0])
			fi, err := os.Stat(path)
			require.NoError(t, err)
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			cut := bytes.LastIndexByte(b[:fi.Size()/2], '\n') + 1
			require.NoError(t, os.Truncate(path, int64(cut)))
			return ""
		}, false},
		{"deleted file", func(t *testing.T, dir string, files []string) string {
			require.NoError(t, os.Remove(filepath.Join(dir, files[1])))
			return ""
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := buildChainedStore(t)
			files := dataFiles(t, dir)
			require.Len(t, files, 3)
			require.Equal(t, 0, runCLI(t, "verify", "--dir", dir).code, "intact before tampering")
			file := tc.tamper(t, dir, files)
			r := runCLI(t, "verify", "--dir", dir)
			assert.Equal(t, 1, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			assert.Contains(t, r.stdout, "Result:       TAMPERED or damaged\n")
			assert.Contains(t, r.stderr, "is TAMPERED or damaged")
			if file != "" {
				if tc.line {
					assert.Regexp(t, regexp.QuoteMeta(file)+`:\d+: `, r.stdout, "the report names file and line")
				} else {
					assert.Contains(t, r.stdout, file)
				}
			}
		})
	}
}

func TestVerifyCheckpointKeys(t *testing.T) {
	key := bytes.Repeat([]byte{0x5a}, 32)
	dir := buildChainedStore(t, filestore.WithCheckpointKey("ops-2026", key))
	keyHex := hex.EncodeToString(key)
	keyFile := filepath.Join(t.TempDir(), "ckpt.key")
	require.NoError(t, os.WriteFile(keyFile, []byte("# verify key\nops-2026:"+keyHex+"\n"), 0o600))

	r := runCLI(t, "verify", "--dir", dir, "--checkpoint-key-file", keyFile)
	assert.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "Key:          1 key(s) given\n")
	r = runCLI(t, "verify", "--dir", dir, "--checkpoint-key", "ops-2026:"+keyHex)
	assert.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.NotContains(t, r.stdout+r.stderr, keyHex, "keys are never printed")

	// Without the key the signatures cannot be checked (exit 2, the key id
	// named); with another key they do not match (exit 1): both are
	// failures, not passes.
	r = runCLI(t, "verify", "--dir", dir)
	assert.Equal(t, 2, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, `key id "ops-2026"`)
	other := hex.EncodeToString(bytes.Repeat([]byte{0x11}, 32))
	r = runCLI(t, "verify", "--dir", dir, "--checkpoint-key", "ops-2026:"+other)
	assert.Equal(t, 1, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "bad-signature")
	assert.NotContains(t, r.stdout+r.stderr, other)

	// A checkpoint key file others can read is refused as encryption key
	// files are (the same reader), unless allowed, with a warning.
	require.NoError(t, os.Chmod(keyFile, 0o644))
	r = runCLI(t, "verify", "--dir", dir, "--checkpoint-key-file", keyFile)
	assert.Equal(t, 2, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, keyFile)
	assert.Contains(t, r.stderr, "mode 0644")
	assert.Contains(t, r.stderr, "allow it explicitly (--allow-insecure-key-file)", "the error names the flag that allows it")
	r = runCLI(t, "verify", "--dir", dir, "--checkpoint-key-file", keyFile, "--allow-insecure-key-file")
	assert.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, "group or others can access")
	assert.NotContains(t, r.stdout+r.stderr, keyHex)

	for _, bad := range []string{"ops:zz", "ops:0011", ":" + keyHex, "not hex at all"} {
		r = runCLI(t, "verify", "--dir", dir, "--checkpoint-key", bad)
		assert.Equal(t, 2, r.code, bad)
		assert.Contains(t, r.stderr, "--checkpoint-key #1")
		assert.NotContains(t, r.stderr, bad, "the key value is not echoed")
	}
}

func TestVerifyJSONAndErrors(t *testing.T) {
	dir := buildChainedStore(t)
	r := runCLI(t, "verify", "--dir", dir, "--format", "json")
	require.Equal(t, 0, r.code, r.stderr)
	var rep filestore.VerifyReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	assert.Equal(t, int64(60), rep.Entries)
	assert.Empty(t, rep.Problems)
	// The help's `--format json | jq '.problems[]'` needs arrays, not null.
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &raw))
	assert.Equal(t, []any{}, raw["problems"], r.stdout)
	assert.Equal(t, []any{}, raw["warnings"], r.stdout)

	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"missing dir", []string{"verify", "--dir", filepath.Join(t.TempDir(), "absent")}, "does not exist"},
		{"no store here", []string{"verify", "--dir", t.TempDir()}, "no audit store here"},
		{"short key", []string{"verify", "--dir", dir, "--checkpoint-key", "local:" + strings.Repeat("ab", 15)}, "the key is 15 bytes, want at least 16"},
		{"dir is a file", []string{"verify", "--dir", filepath.Join(refRoot, "expected.json")}, "not a directory"},
		{"no dir", []string{"verify"}, "no store given"},
		{"bad format", []string{"verify", "--dir", dir, "--format", "xml"}, `--format "xml"`},
		{"missing key file", []string{"verify", "--dir", dir, "--checkpoint-key-file", filepath.Join(t.TempDir(), "nope")}, "read checkpoint key file"},
		{"S3 flags without a bucket", []string{"verify", "--s3-prefix", "p/"}, "need --s3-bucket"},
		{"S3 and dir", []string{"verify", "--dir", dir, "--s3-bucket", "b"}, "give one"},
		{"S3 with a missing witness", []string{"verify", "--s3-bucket", "b", "--witness", filepath.Join(t.TempDir(), "nope")}, "witness:"},
		{"S3 with a short key", []string{"verify", "--s3-bucket", "b", "--checkpoint-key", "k:" + strings.Repeat("ab", 15)}, "the key is 15 bytes, want at least 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.args...)
			assert.Equal(t, 2, r.code)
			assert.Empty(t, r.stdout)
			assert.Contains(t, r.stderr, tc.msg)
			// Each thing said once: no package prefixes, no path twice.
			assert.NotContains(t, r.stderr, "filestore:")
			assert.NotContains(t, r.stderr, "verify "+tc.args[len(tc.args)-1]+": ")
		})
	}
}

// TestVerifyEmptiedStore: a store whose data files and checkpoints were all
// deleted is tampered (exit 1), not intact.
func TestVerifyEmptiedStore(t *testing.T) {
	dir := buildChainedStore(t)
	for _, f := range dataFiles(t, dir) {
		require.NoError(t, os.Remove(filepath.Join(dir, f)))
	}
	require.NoError(t, os.Remove(filepath.Join(dir, "checkpoints.jsonl")))
	r := runCLI(t, "verify", "--dir", dir)
	assert.Equal(t, 1, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "emptied")
	assert.Contains(t, r.stdout, "TAMPERED")
}

// TestVerifyWitness: --witness catches a store cut back to an earlier state
// (its newest entries and their last checkpoints removed) that verifies
// without one; the report says what cannot be ruled out without a witness.
func TestVerifyWitness(t *testing.T) {
	witness := filepath.Join(t.TempDir(), "witness.jsonl")
	wf, err := os.OpenFile(witness, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	require.NoError(t, err)
	dir := buildChainedStore(t, filestore.WithWitness(wf))
	require.NoError(t, wf.Close())

	r := runCLI(t, "verify", "--dir", dir, "--witness", witness)
	require.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.Regexp(t, `Witness: +\d+ notes, each required in the store`, r.stdout)
	r = runCLI(t, "verify", "--dir", dir)
	require.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "cannot be ruled out")

	// Cut the second session: its lines and its notes.
	cp := filepath.Join(dir, "checkpoints.jsonl")
	b, err := os.ReadFile(cp)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	_, rest, _ := strings.Cut(lines[len(lines)-1], `"w":"`)
	w, _, _ := strings.Cut(rest, `"`)
	require.NotEmpty(t, w)
	drop := func(ls [][]byte) [][]byte {
		var out [][]byte
		for _, l := range ls {
			if !bytes.Contains(l, []byte(`"w":"`+w+`"`)) {
				out = append(out, l)
			}
		}
		return out
	}
	for _, f := range dataFiles(t, dir) {
		editLines(t, filepath.Join(dir, f), drop)
	}
	editLines(t, cp, drop)

	r = runCLI(t, "verify", "--dir", dir)
	assert.Equal(t, 0, r.code, "without a witness the cut store looks whole: %s", r.stdout)
	r = runCLI(t, "verify", "--dir", dir, "--witness", witness)
	assert.Equal(t, 1, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "witnessed-missing")
	assert.Contains(t, r.stdout, "witness line")

	r = runCLI(t, "verify", "--dir", dir, "--witness", filepath.Join(t.TempDir(), "absent"))
	assert.Equal(t, 2, r.code, "%s%s", r.stdout, r.stderr)
}

// TestVerifyChainFormatV1Store: a store whose lines have the chain format
// written before format 2 (no "v" in the chain object) verifies INTACT,
// alone and after a session of this version appended format-2 lines to
// it; a changed byte in an old line is exit 1.
func TestVerifyChainFormatV1Store(t *testing.T) {
	const fixture = "../../storage/filestore/testdata/chain-v1-store"
	dir := t.TempDir()
	des, err := os.ReadDir(fixture)
	require.NoError(t, err)
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(fixture, de.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, de.Name()), b, 0o600))
	}
	r := runCLI(t, "verify", "--dir", dir)
	require.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "12 entries (12 chained in 2 writer sessions")
	assert.Contains(t, r.stdout, "Result:       INTACT\n")

	st, err := filestore.New(dir)
	require.NoError(t, err)
	for i := range 3 {
		require.NoError(t, st.Write(t.Context(), chainEntry(i)))
	}
	require.NoError(t, st.Close())
	r = runCLI(t, "verify", "--dir", dir)
	require.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "15 entries (15 chained in 3 writer sessions")
	assert.Contains(t, r.stdout, "Result:       INTACT\n")

	old := filepath.Join(dir, "audit_20250801.jsonl")
	editLines(t, old, func(ls [][]byte) [][]byte {
		require.NotContains(t, string(ls[0]), `"v":2`, "the fixture's lines are format 1")
		ls[0] = bytes.Replace(ls[0], []byte(`"latency_ms":12.5`), []byte(`"latency_ms":12.6`), 1)
		return ls
	})
	r = runCLI(t, "verify", "--dir", dir)
	assert.Equal(t, 1, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "audit_20250801.jsonl:1")
}

// TestCleanupNeedsTheWritersKey: cleanup of a directory whose writers sign
// with a key of their own (the README's production set-up) refuses without
// that key, removing and creating nothing, because a removal note signed
// with a new .checkpoint.key makes verify with the writers' key report
// tampering; given the key, it removes and the store verifies.
func TestCleanupNeedsTheWritersKey(t *testing.T) {
	keyHex := hex.EncodeToString(bytes.Repeat([]byte{0x42}, 32))
	keyFile := filepath.Join(t.TempDir(), "ckpt.key")
	require.NoError(t, os.WriteFile(keyFile, []byte("ops-1:"+keyHex+"\n"), 0o600))
	key, err := hex.DecodeString(keyHex)
	require.NoError(t, err)
	dir := buildChainedStore(t, filestore.WithCheckpointKey("ops-1", key))
	now := verifyBase.Add(24*time.Hour + 30*time.Hour) // retention 1 day removes the first day

	r := runAt(t, now, "cleanup", "--dir", dir, "--retention-days", "1")
	assert.Equal(t, 2, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, `key id "ops-1"`)
	assert.Contains(t, r.stderr, "--checkpoint-key-file")
	assert.Contains(t, r.stderr, "nothing removed")
	assert.NoFileExists(t, filepath.Join(dir, ".checkpoint.key"), "no store key was made")
	assert.Equal(t, "60\n", runCLI(t, "count", "--dir", dir).stdout)

	r = runAt(t, now, "cleanup", "--dir", dir, "--retention-days", "1", "--dry-run")
	assert.Equal(t, 0, r.code, "a dry run signs nothing and needs no key: %s", r.stderr)

	r = runAt(t, now, "cleanup", "--dir", dir, "--retention-days", "1", "--checkpoint-key-file", keyFile)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `Removed [1-9]\d* entries`, r.stdout)
	r = runCLI(t, "verify", "--dir", dir, "--checkpoint-key-file", keyFile)
	assert.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.NotContains(t, r.stdout+r.stderr, keyHex)
	// Without the key, verify says which one it needs and checks nothing,
	// as gpg does without the public key: not "TAMPERED".
	r = runCLI(t, "verify", "--dir", dir)
	assert.Equal(t, 2, r.code, "%s%s", r.stdout, r.stderr)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, `is signed with checkpoint key id "ops-1"`)
	assert.Contains(t, r.stderr, "--checkpoint-key-file")

	// A store signed with its own .checkpoint.key still cleans up without a key.
	dir = buildChainedStore(t)
	r = runAt(t, now, "cleanup", "--dir", dir, "--retention-days", "1")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, 0, runCLI(t, "verify", "--dir", dir).code)
}

// TestVerifyWithoutItsOwnKeyFile: a directory signed with its own
// .checkpoint.key (key id "local") whose key file was moved out, as the
// Production advice suggests, or lost by a copy that skipped dotfiles, is
// not reported TAMPERED: verify checks nothing and exits 2 naming the key
// id, the file and the flag (no-key), as for a store signed with a key of
// one's own; cleanup refuses and creates no new key. Given the moved key
// file, both work. A store that a writer had re-keyed under "local"
// before writers refused to (two keys, one id) verifies given both.
func TestVerifyWithoutItsOwnKeyFile(t *testing.T) {
	dir := buildChainedStore(t)
	keyPath := filepath.Join(dir, ".checkpoint.key")
	moved := filepath.Join(t.TempDir(), "old.key")
	require.NoError(t, os.Rename(keyPath, moved))
	oldHex, err := os.ReadFile(moved)
	require.NoError(t, err)

	r := runCLI(t, "verify", "--dir", dir)
	assert.Equal(t, 2, r.code, "%s%s", r.stdout, r.stderr)
	assert.Empty(t, r.stdout, "nothing checked, no report")
	assert.Contains(t, r.stderr, `is signed with checkpoint key id "local"`)
	assert.Contains(t, r.stderr, keyPath+" is missing (no-key)")
	assert.Contains(t, r.stderr, "--checkpoint-key-file")
	assert.NotContains(t, r.stderr, "TAMPERED")
	for _, f := range []string{"text", "json"} {
		r = runCLI(t, "verify", "--dir", dir, "--format", f, "--checkpoint-key-file", moved)
		assert.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
		assert.NotContains(t, r.stdout+r.stderr, strings.TrimSpace(string(oldHex)), "keys are never printed")
	}

	now := verifyBase.Add(24*time.Hour + 30*time.Hour)
	r = runAt(t, now, "cleanup", "--dir", dir, "--retention-days", "1")
	assert.Equal(t, 2, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, keyPath+" is missing")
	assert.Contains(t, r.stderr, "nothing removed")
	assert.NoFileExists(t, keyPath, "no new key was made")
	assert.Equal(t, "60\n", runCLI(t, "count", "--dir", dir).stdout)

	// What writers did before they refused: a new key under "local".
	newKey := bytes.Repeat([]byte{0x6b}, 32)
	require.NoError(t, os.WriteFile(keyPath, []byte(hex.EncodeToString(newKey)+"\n"), 0o600))
	st, err := filestore.New(dir)
	require.NoError(t, err)
	require.NoError(t, st.Write(t.Context(), chainEntry(60)))
	require.NoError(t, st.Close())
	r = runCLI(t, "verify", "--dir", dir)
	assert.Equal(t, 1, r.code, "the new key alone: %s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "bad-signature")
	r = runCLI(t, "verify", "--dir", dir, "--checkpoint-key-file", moved, "--checkpoint-key-file", keyPath)
	assert.Equal(t, 0, r.code, "both keys of the id: %s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "Result:       INTACT")
}

// TestVerifyAfterMovingToOwnKey: the README's move to a key of one's own.
// After it, notes are signed with that key and the ones before with
// .checkpoint.key (key id "local"); a key given replaces the store's key
// file, so verify needs both, and passes given both.
func TestVerifyAfterMovingToOwnKey(t *testing.T) {
	dir := buildChainedStore(t)
	localCopy := filepath.Join(t.TempDir(), "local.key")
	b, err := os.ReadFile(filepath.Join(dir, ".checkpoint.key"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(localCopy, b, 0o600))
	key := bytes.Repeat([]byte{0x3c}, 32)
	keyFile := filepath.Join(t.TempDir(), "checkpoint.key")
	require.NoError(t, os.WriteFile(keyFile, []byte("ckpt-1:"+hex.EncodeToString(key)+"\n"), 0o600))
	st, err := filestore.New(dir, filestore.WithCheckpointKey("ckpt-1", key))
	require.NoError(t, err)
	require.NoError(t, st.Write(t.Context(), chainEntry(60)))
	require.NoError(t, st.Close())

	r := runCLI(t, "verify", "--dir", dir, "--checkpoint-key-file", keyFile)
	assert.Equal(t, 1, r.code, "the new key alone: %s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, `unknown key id "local"`)
	r = runCLI(t, "verify", "--dir", dir, "--checkpoint-key-file", keyFile, "--checkpoint-key-file", localCopy)
	assert.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
}
