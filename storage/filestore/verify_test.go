package filestore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/reftest"
	"github.com/otelaudit/otelaudit-go/storage"
)

var verifyBase = time.Date(2025, 9, 10, 0, 0, 0, 0, time.UTC)

// The tamper suite's stores: two writer sessions of suitePerSession
// entries each (1,000 in all), one every suiteStep.
const (
	suitePerSession = 500
	suiteStep       = 5 * time.Minute
)

// buildChainedStore writes two writer sessions (1,000 entries) over
// three and a half days, with rotation, and closes the store.
func buildChainedStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for session := range 2 {
		st, err := New(dir, WithRotationSize(8<<10), WithCheckpointInterval(7, time.Hour))
		require.NoError(t, err)
		for i := range suitePerSession {
			ts := verifyBase.Add(time.Duration(session*suitePerSession+i) * suiteStep) // spans ~3.5 days
			require.NoError(t, st.Write(t.Context(), testEntry(ts)))
		}
		require.NoError(t, st.Close())
	}
	return dir
}

func verifyOK(t *testing.T, dir string) *VerifyReport {
	t.Helper()
	rep, err := Verify(t.Context(), dir)
	require.NoError(t, err)
	assert.True(t, rep.OK(), "problems: %v", rep.Problems)
	return rep
}

func kinds(ps []Problem) []ProblemKind {
	var out []ProblemKind
	for _, p := range ps {
		out = append(out, p.Kind)
	}
	return out
}

// editLines rewrites a data file through fn (lines without '\n').
func editLines(t *testing.T, path string, fn func([][]byte) [][]byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	lines = fn(lines)
	out := bytes.Join(lines, []byte("\n"))
	if len(lines) > 0 {
		out = append(out, '\n')
	}
	require.NoError(t, os.WriteFile(path, out, 0o600))
}

func dataFiles(t *testing.T, dir string) []string {
	t.Helper()
	refs, err := listDataFiles(dir)
	require.NoError(t, err)
	var out []string
	for _, r := range refs {
		out = append(out, r.name)
	}
	return out
}

func TestVerifyIntactStore(t *testing.T) {
	dir := buildChainedStore(t)
	var progress []VerifyProgress
	rep, err := Verify(t.Context(), dir, WithVerifyProgress(func(p VerifyProgress) { progress = append(progress, p) }))
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Problems)
	assert.Empty(t, rep.Warnings)
	assert.Equal(t, int64(2*suitePerSession), rep.Entries)
	assert.Equal(t, int64(2*suitePerSession), rep.Chained)
	assert.Equal(t, 2, rep.Writers)
	assert.Greater(t, len(dataFiles(t, dir)), 3, "rotation made several files")
	require.NotEmpty(t, progress)
	last := progress[len(progress)-1]
	assert.Equal(t, last.FilesTotal, last.FilesDone)
	assert.Equal(t, last.TotalBytes, last.Bytes)

	// A wrong key: every note fails.
	rep, err = Verify(t.Context(), dir, WithVerifyKey("local", bytes.Repeat([]byte{1}, 32)))
	require.NoError(t, err)
	assert.Contains(t, kinds(rep.Problems), ProblemBadSignature)
}

func TestVerifyAfterCleanupAndDelete(t *testing.T) {
	dir := buildChainedStore(t)
	st, err := New(dir)
	require.NoError(t, err)
	all, err := st.ListEntries(t.Context(), verifyBase, verifyBase.Add(100*time.Hour))
	require.NoError(t, err)
	total := 2 * suitePerSession
	require.Len(t, all, total)
	n, err := st.DeleteBefore(t.Context(), verifyBase.Add(30*time.Hour)) // one whole day and part of the next
	require.NoError(t, err)
	assert.Greater(t, n, 300)
	ok, err := st.Delete(t.Context(), all[total-20].ID)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = st.Delete(t.Context(), all[total-1].ID) // the last entry ever written
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, st.Write(t.Context(), testEntry(verifyBase.Add(71*time.Hour))))
	require.NoError(t, st.Close())
	rep := verifyOK(t, dir)
	assert.Equal(t, int64(total-n-2+1), rep.Entries)
}

func TestVerifyWhileAppending(t *testing.T) {
	dir := buildChainedStore(t)
	st, err := New(dir, WithCheckpointInterval(5, time.Hour))
	require.NoError(t, err)
	defer st.Close()
	for i := range 12 {
		require.NoError(t, st.Write(t.Context(), testEntry(verifyBase.Add(time.Duration(i)*time.Minute))))
	}
	rep := verifyOK(t, dir)
	assert.Contains(t, kinds(rep.Warnings), WarningUnconfirmed, "entries after the last checkpoint of a running writer")
	// A line being written right now (torn tail) is a warning, not tampering.
	f, err := os.OpenFile(filepath.Join(dir, "audit_20250910.jsonl"), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"id":"in-progress","timest`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	rep = verifyOK(t, dir)
	assert.Contains(t, kinds(rep.Warnings), WarningTornTail)
}

func TestVerifyLegacyStores(t *testing.T) {
	for name, ds := range reftest.Load(t) {
		t.Run(name, func(t *testing.T) {
			rep := verifyOK(t, filepath.Join(reftest.Dir, ds.Dir))
			assert.Equal(t, int64(ds.Count), rep.Legacy)
			assert.Contains(t, kinds(rep.Warnings), WarningLegacy)

			// Adopted by a writer: still clean, new entries chained.
			dir := copyDir(t, filepath.Join(reftest.Dir, ds.Dir))
			st, err := New(dir)
			require.NoError(t, err)
			require.NoError(t, st.Write(t.Context(), testEntry(time.Now())))
			require.NoError(t, st.Close())
			rep = verifyOK(t, dir)
			assert.Equal(t, int64(1), rep.Chained)

			// Cleanup of legacy entries keeps it clean (the removal note
			// carries their digest).
			var first storage.AuditEntry
			require.NoError(t, json.Unmarshal(ds.Entries[0], &first))
			st, err = New(dir)
			require.NoError(t, err)
			ok, err := st.Delete(t.Context(), first.ID)
			require.NoError(t, err)
			require.True(t, ok)
			require.NoError(t, st.Close())
			rep = verifyOK(t, dir)
			assert.Equal(t, int64(ds.Count-1), rep.Legacy)

			// An unchained line inserted afterwards is caught.
			files := dataFiles(t, dir)
			editLines(t, filepath.Join(dir, files[0]), func(ls [][]byte) [][]byte {
				return append(ls, bytes.Replace(ls[0], []byte(`"id": "`), []byte(`"id": "0`), 1))
			})
			rep, err = Verify(t.Context(), dir)
			require.NoError(t, err)
			assert.Contains(t, kinds(rep.Problems), ProblemLegacyChanged)
		})
	}
}

// TestVerifyDetectsTampering applies one kind of tampering per case to a
// copy of an intact closed store and checks that Verify names it.
func TestVerifyDetectsTampering(t *testing.T) {
	mid := func(dir string) string {
		// A file in the middle whose first three lines belong to one
		// writer, so that the cases below change one chain (which file
		// holds a session's end depends on the line sizes).
		refs, _ := listDataFiles(dir)
		for i := len(refs) / 2; i < len(refs); i++ {
			b, _ := os.ReadFile(filepath.Join(dir, refs[i].name))
			ls := bytes.SplitN(b, []byte("\n"), 4)
			if len(ls) < 4 {
				continue
			}
			_, c0, _ := storage.SplitChain(ls[0])
			_, c2, _ := storage.SplitChain(ls[2])
			if c0.Writer == c2.Writer {
				return refs[i].name
			}
		}
		panic("no file with three lines of one writer")
	}
	lastFile := func(dir string) string {
		refs, _ := listDataFiles(dir)
		return refs[len(refs)-1].name
	}
	cases := []struct {
		name   string
		tamper func(t *testing.T, dir string) string // returns the file expected in the report ("" = any)
		want   ProblemKind
	}{
		{"changed byte", func(t *testing.T, dir string) string {
			name := mid(dir)
			editLines(t, filepath.Join(dir, name), func(ls [][]byte) [][]byte {
				ls[1] = bytes.Replace(ls[1], []byte(`"latency_ms":12.5`), []byte(`"latency_ms":12.6`), 1)
				return ls
			})
			return name
		}, ProblemModified},
		{"changed chain hash", func(t *testing.T, dir string) string {
			name := mid(dir)
			editLines(t, filepath.Join(dir, name), func(ls [][]byte) [][]byte {
				i := bytes.LastIndex(ls[1], []byte(`"h":"`)) + 5
				ls[1][i] ^= 1
				return ls
			})
			return name
		}, ProblemModified},
		{"deleted line", func(t *testing.T, dir string) string {
			name := mid(dir)
			editLines(t, filepath.Join(dir, name), func(ls [][]byte) [][]byte { return slices.Delete(ls, 1, 2) })
			return name
		}, ProblemMissing},
		{"inserted forged line", func(t *testing.T, dir string) string {
			name := mid(dir)
			c := storage.NewChainer("feedfacefeedface")
			e := testEntry(verifyBase.Add(time.Hour))
			e.Timestamp = mustDay(name)
			b, _ := e.AppendPrefix(nil)
			line := bytes.TrimSuffix(c.AppendLine(nil, b), []byte("\n"))
			editLines(t, filepath.Join(dir, name), func(ls [][]byte) [][]byte { return slices.Insert(ls, 1, line) })
			return name
		}, ProblemUnknownWriter},
		{"duplicated line", func(t *testing.T, dir string) string {
			name := mid(dir)
			editLines(t, filepath.Join(dir, name), func(ls [][]byte) [][]byte { return slices.Insert(ls, 2, ls[1]) })
			return name
		}, ProblemDuplicate},
		{"duplicated line in another file of the day", func(t *testing.T, dir string) string {
			refs, _ := listDataFiles(dir)
			a, b := refs[0].name, refs[1].name
			require.Equal(t, refs[0].day, refs[1].day)
			first := firstLine(t, filepath.Join(dir, a))
			editLines(t, filepath.Join(dir, b), func(ls [][]byte) [][]byte { return slices.Insert(ls, 0, []byte(first)) })
			return b
		}, ProblemDuplicate},
		{"reordered lines", func(t *testing.T, dir string) string {
			name := mid(dir)
			editLines(t, filepath.Join(dir, name), func(ls [][]byte) [][]byte {
				ls[1], ls[2] = ls[2], ls[1]
				return ls
			})
			return name
		}, ProblemReordered},
		{"dropped last line", func(t *testing.T, dir string) string {
			// The newest entry of the second (closed) session.
			st, err := New(dir, WithReadOnly())
			require.NoError(t, err)
			all, err := st.ListEntries(t.Context(), verifyBase, verifyBase.Add(100*time.Hour))
			require.NoError(t, err)
			st.Close()
			newest := all[len(all)-1].ID
			name := lastFile(dir)
			editLines(t, filepath.Join(dir, name), func(ls [][]byte) [][]byte {
				require.Contains(t, string(ls[len(ls)-1]), newest)
				return ls[:len(ls)-1]
			})
			return ""
		}, ProblemMissing},
		{"truncated file", func(t *testing.T, dir string) string {
			name := mid(dir)
			editLines(t, filepath.Join(dir, name), func(ls [][]byte) [][]byte { return ls[:len(ls)/2] })
			return ""
		}, ProblemMissing},
		{"truncated mid-line", func(t *testing.T, dir string) string {
			name := mid(dir)
			path := filepath.Join(dir, name)
			fi, err := os.Stat(path)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(path, fi.Size()/2))
			return ""
		}, ProblemMissing},
		{"deleted file", func(t *testing.T, dir string) string {
			require.NoError(t, os.Remove(filepath.Join(dir, mid(dir))))
			return ""
		}, ProblemMissing},
		{"line moved to another day", func(t *testing.T, dir string) string {
			refs, _ := listDataFiles(dir)
			from, to := refs[0].name, refs[len(refs)-1].name
			require.NotEqual(t, refs[0].day, refs[len(refs)-1].day)
			var moved []byte
			editLines(t, filepath.Join(dir, from), func(ls [][]byte) [][]byte {
				moved = ls[len(ls)-1]
				return ls[:len(ls)-1]
			})
			editLines(t, filepath.Join(dir, to), func(ls [][]byte) [][]byte { return append(ls, moved) })
			return to
		}, ProblemWrongDay},
		{"chain removed from a line", func(t *testing.T, dir string) string {
			name := mid(dir)
			editLines(t, filepath.Join(dir, name), func(ls [][]byte) [][]byte {
				i := bytes.LastIndex(ls[1], []byte(`,"chain":`))
				ls[1] = append(ls[1][:i:i], '}')
				return ls
			})
			return ""
		}, ProblemMissing},
		{"checkpoint altered", func(t *testing.T, dir string) string {
			path := filepath.Join(dir, checkpointFileName)
			editLines(t, path, func(ls [][]byte) [][]byte {
				ls[len(ls)-1] = bytes.Replace(ls[len(ls)-1], []byte(`"n":`), []byte(`"n":1`), 1)
				return ls
			})
			return checkpointFileName
		}, ProblemBadSignature},
		{"checkpoint line removed", func(t *testing.T, dir string) string {
			path := filepath.Join(dir, checkpointFileName)
			editLines(t, path, func(ls [][]byte) [][]byte { return slices.Delete(ls, 2, 3) })
			return checkpointFileName
		}, ProblemBadSignature},
		{"checkpoints removed", func(t *testing.T, dir string) string {
			require.NoError(t, os.Remove(filepath.Join(dir, checkpointFileName)))
			return ""
		}, ProblemUnknownWriter},
		{"final checkpoint dropped, entries appended", func(t *testing.T, dir string) string {
			name := lastFile(dir)
			last := lastLine(t, filepath.Join(dir, name))
			_, c, ok := storage.SplitChain([]byte(last))
			require.True(t, ok)
			// A forger who knows the chain format appends a well-formed
			// successor; the final checkpoint says the session ended.
			ch := storage.ResumeChainer(c)
			e := testEntry(mustDay(name).Add(23 * time.Hour))
			b, _ := e.AppendPrefix(nil)
			line := bytes.TrimSuffix(ch.AppendLine(nil, b), []byte("\n"))
			editLines(t, filepath.Join(dir, name), func(ls [][]byte) [][]byte { return append(ls, line) })
			return name
		}, ProblemAfterClose},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := buildChainedStore(t)
			verifyOK(t, dir)
			file := tc.tamper(t, dir)
			rep, err := Verify(t.Context(), dir)
			require.NoError(t, err)
			require.False(t, rep.OK(), "tampering not detected")
			var hit *Problem
			for i, p := range rep.Problems {
				if p.Kind == tc.want {
					hit = &rep.Problems[i]
					break
				}
			}
			require.NotNil(t, hit, "want a %s problem, got %v", tc.want, rep.Problems)
			if file != "" {
				assert.Equal(t, file, hit.File, "%v", hit)
				if file != checkpointFileName && tc.want != ProblemUnknownWriter {
					assert.Positive(t, hit.Line, "%v", hit)
				}
			}
			for _, p := range rep.Problems {
				assert.NotContains(t, p.Detail, "gpt-test", "no entry content in reports")
			}
		})
	}
}

func mustDay(name string) time.Time {
	ref, _ := parseFileName(name)
	return dayStart(ref.day).Add(time.Hour)
}

func lastLine(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	ls := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	return ls[len(ls)-1]
}

// TestVerifyExternalKey: with a key held outside the store, no key file is
// written, Verify needs the key, and a forger with only the store cannot
// sign.
func TestVerifyExternalKey(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{7}, 32)
	st, err := New(dir, WithCheckpointKey("k2025", key))
	require.NoError(t, err)
	require.NoError(t, st.Write(t.Context(), testEntry(verifyBase)))
	require.NoError(t, st.Flush(t.Context()))
	require.NoError(t, st.Write(t.Context(), testEntry(verifyBase.Add(time.Minute))))
	require.NoError(t, st.Close())
	_, err = os.Stat(filepath.Join(dir, keyFileName))
	assert.ErrorIs(t, err, os.ErrNotExist, "no key file when the key is given")
	cp, err := os.ReadFile(filepath.Join(dir, checkpointFileName))
	require.NoError(t, err)
	assert.NotContains(t, string(cp), string(key))
	assert.Contains(t, string(cp), `"kid":"k2025"`)

	rep, err := Verify(t.Context(), dir, WithVerifyKey("k2025", key))
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Problems)
	assert.Equal(t, int64(2), rep.Chained)

	rep, err = Verify(t.Context(), dir)
	require.NoError(t, err)
	assert.Contains(t, kinds(rep.Problems), ProblemNoKey)

	rep, err = Verify(t.Context(), dir, WithVerifyKey("other", key))
	require.NoError(t, err)
	assert.Contains(t, kinds(rep.Problems), ProblemBadSignature)

	// Rotated keys: the old key id is still accepted next to a new one.
	st, err = New(dir, WithCheckpointKey("k2026", bytes.Repeat([]byte{9}, 32)))
	require.NoError(t, err)
	require.NoError(t, st.Write(t.Context(), testEntry(verifyBase.Add(2*time.Minute))))
	require.NoError(t, st.Close())
	rep, err = Verify(t.Context(), dir, WithVerifyKey("k2025", key), WithVerifyKey("k2026", bytes.Repeat([]byte{9}, 32)))
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Problems)
}

// TestOpenWithoutTheStoresKey: a store whose writers sign with a key of
// their own, opened for writing without it (a service deployed without
// its key file, a tool run without the flag), is refused: it would sign
// its notes with a new .checkpoint.key, which Verify with the real key
// reports as forged. Nothing in the directory changes; with the key, or
// read-only, it opens; a store signed with its own key still opens
// without one.
func TestOpenWithoutTheStoresKey(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{7}, 32)
	st, err := New(dir, WithCheckpointKey("ops-2026", key))
	require.NoError(t, err)
	require.NoError(t, st.Write(t.Context(), testEntry(verifyBase)))
	require.NoError(t, st.Close())
	kid, err := SigningKeyID(dir)
	require.NoError(t, err)
	assert.Equal(t, "ops-2026", kid)
	// A torn last line (a crash mid-note) is passed over.
	f, err := os.OpenFile(filepath.Join(dir, checkpointFileName), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"type":"checkpoint","w":"0123456789abcdef","kid":"loc`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	before := snapshotFiles(t, dir)

	_, err = New(dir)
	require.ErrorIs(t, err, ErrCheckpointKeyNeeded)
	assert.Contains(t, err.Error(), `"ops-2026"`)
	assert.Equal(t, before, snapshotFiles(t, dir), "a refused open changes nothing")
	_, err = os.Stat(filepath.Join(dir, keyFileName))
	assert.ErrorIs(t, err, os.ErrNotExist)

	ro, err := New(dir, WithReadOnly())
	require.NoError(t, err)
	n, err := ro.Count(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	require.NoError(t, ro.Close())

	st, err = New(dir, WithCheckpointKey("ops-2026", key))
	require.NoError(t, err)
	require.NoError(t, st.Write(t.Context(), testEntry(verifyBase.Add(time.Minute))))
	require.NoError(t, st.Close())
	rep, err := Verify(t.Context(), dir, WithVerifyKey("ops-2026", key))
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Problems)

	own := t.TempDir()
	st, err = New(own)
	require.NoError(t, err)
	require.NoError(t, st.Close())
	kid, err = SigningKeyID(own)
	require.NoError(t, err)
	assert.Equal(t, localKeyID, kid)
	st, err = New(own)
	require.NoError(t, err, "a store signed with its own key opens without one")
	require.NoError(t, st.Close())
	kid, err = SigningKeyID(t.TempDir())
	require.NoError(t, err)
	assert.Empty(t, kid, "no notes, no key id")
}

func TestVerifyCancelled(t *testing.T) {
	dir := buildChainedStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Verify(ctx, dir)
	assert.ErrorIs(t, err, context.Canceled)
	_, err = Verify(t.Context(), filepath.Join(dir, "missing"))
	assert.Error(t, err)
}

// TestVerifyConcurrentWriter verifies again and again while a writer
// appends, rotates and deletes: every pass must be free of problems.
func TestVerifyConcurrentWriter(t *testing.T) {
	dir := buildChainedStore(t)
	st, err := New(dir, WithRotationSize(16<<10), WithCheckpointInterval(50, time.Hour))
	require.NoError(t, err)
	stop := make(chan struct{})
	done := make(chan struct{})
	// Also when the test fails: the writer must not go on writing into the
	// TempDir while it is removed.
	t.Cleanup(func() {
		close(stop)
		<-done
		st.Close()
	})
	go func() {
		defer close(done)
		for i := range 1500 {
			select {
			case <-stop:
				return
			default:
			}
			e := testEntry(verifyBase.Add(time.Duration(i) * time.Minute))
			if !assert.NoError(t, st.Write(context.Background(), e)) {
				return
			}
			if i%300 == 299 { // cleanup while verifying
				ok, err := st.Delete(context.Background(), e.ID)
				if !assert.NoError(t, err) || !assert.True(t, ok) {
					return
				}
			}
		}
	}()
	passes := 0
	for {
		select {
		case <-done:
			require.NoError(t, st.Close())
			rep := verifyOK(t, dir)
			assert.Equal(t, int64(2*suitePerSession+1500-5), rep.Chained)
			assert.Empty(t, rep.Warnings)
			assert.Positive(t, passes)
			return
		default:
		}
		rep, err := Verify(t.Context(), dir)
		require.NoError(t, err)
		require.True(t, rep.OK(), "pass %d: %v", passes, rep.Problems)
		passes++
	}
}

// TestVerifyRewriteDuringPass replays, step by step, what a Delete does
// to a pass of Verify that reads the file it rewrites: the removal note
// is written before Verify starts, the file is replaced after Verify has
// read it. The rewritten copy then reaches Verify under a rotated name,
// and the pass must not hold the entries of both (duplicates): either
// the writer's next active part gets the inode number the replaced file
// had (filesystems reuse freed numbers at once: ext4 within
// milliseconds), or Verify lists the directory while rotation has
// renamed the copy and not yet created the next active part. Verify must
// find the pass overlapped, make it again, and report the store intact.
func TestVerifyRewriteDuringPass(t *testing.T) {
	day := dayOf(verifyBase)
	active := partName(day, 0)
	for _, tc := range []struct {
		name string
		// after runs once the rewrite is in place, while Verify waits
		// in its progress callback; oldIno is the replaced file's inode.
		after func(t *testing.T, st *Store, dir string, oldIno uint64)
	}{
		{"next active part gets the inode number", func(t *testing.T, st *Store, dir string, oldIno uint64) {
			// Write until rotation has renamed the rewritten file and a
			// new active part holds entries.
			parts := len(dayParts(t, dir, day))
			for i := 0; len(dayParts(t, dir, day)) == parts; i++ {
				require.NoError(t, st.Write(t.Context(), testEntry(verifyBase.Add(time.Duration(100+i)*time.Minute))))
			}
			fi, err := os.Stat(filepath.Join(dir, active))
			require.NoError(t, err)
			newIno := uint64(statID(fi).ino)
			ino := fileIno
			fileIno = func(fi os.FileInfo) uint64 {
				if n := ino(fi); n != newIno {
					return n
				}
				return oldIno
			}
			t.Cleanup(func() { fileIno = ino })
		}},
		{"rewritten file renamed, no active part yet", func(t *testing.T, st *Store, dir string, _ uint64) {
			// Rotation's rename, stopped before it opens the next part.
			require.NoError(t, st.Close())
			next := partName(day, len(dayParts(t, dir, day)))
			require.NoError(t, os.Rename(filepath.Join(dir, active), filepath.Join(dir, next)))
			require.NoError(t, os.Rename(indexPath(dir, active), indexPath(dir, next)))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			st, err := New(dir, WithRotationSize(4<<10), WithCheckpointInterval(1000, time.Hour))
			require.NoError(t, err)
			var last string
			for i := range 50 {
				e := testEntry(verifyBase.Add(time.Duration(i) * time.Minute))
				require.NoError(t, st.Write(t.Context(), e))
				last = e.ID
			}
			noted, release := make(chan struct{}), make(chan struct{})
			var releaseOnce sync.Once
			st.beforeSwap = func() {
				close(noted)
				<-release
			}
			deleted := make(chan error, 1)
			go func() {
				ok, err := st.Delete(context.Background(), last)
				if err == nil && !ok {
					err = storage.ErrNotFound
				}
				deleted <- err
			}()
			t.Cleanup(func() {
				releaseOnce.Do(func() { close(release) })
				st.Close()
			})
			<-noted // the removal note is written; the file not yet replaced
			passes, acted := 0, false
			rep, err := Verify(t.Context(), dir, WithVerifyProgress(func(p VerifyProgress) {
				if p.FilesDone == 1 {
					passes++
				}
				if acted || p.File != active {
					return
				}
				acted = true
				fi, err := os.Stat(filepath.Join(dir, active))
				require.NoError(t, err)
				releaseOnce.Do(func() { close(release) })
				require.NoError(t, <-deleted)
				tc.after(t, st, dir, uint64(statID(fi).ino))
			}))
			require.NoError(t, err)
			require.True(t, acted, "Verify never read %s", active)
			assert.True(t, rep.OK(), "%v", rep.Problems)
			assert.Equal(t, 2, passes, "the overlapped pass is made again, once")
			require.NoError(t, st.Close())
			want := verifyOK(t, dir)
			assert.Equal(t, want.Chained, rep.Chained, "every entry counted once")
		})
	}
}

// dayParts lists the data files of day in dir.
func dayParts(t *testing.T, dir, day string) []string {
	t.Helper()
	refs, err := listDataFiles(dir)
	require.NoError(t, err)
	var names []string
	for _, r := range refs {
		if r.day == day {
			names = append(names, r.name)
		}
	}
	return names
}

// TestVerifyGivesUpWhileRewritten: when every pass is overlapped by a
// Delete, Verify returns ErrStoreChanged, never the report of an
// interrupted pass, which lacks the checks across files and would call
// this tampered store (a line removed) intact.
func TestVerifyGivesUpWhileRewritten(t *testing.T) {
	dir := t.TempDir()
	st, err := New(dir, WithRotationSize(4<<10), WithCheckpointInterval(10, time.Hour))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	var ids []string
	for i := range 100 {
		e := testEntry(verifyBase.Add(time.Duration(i) * time.Minute))
		require.NoError(t, st.Write(t.Context(), e))
		ids = append(ids, e.ID)
	}
	require.NoError(t, st.Flush(t.Context()))
	day := dayOf(verifyBase)
	editLines(t, filepath.Join(dir, partName(day, 2)), func(ls [][]byte) [][]byte {
		return slices.Delete(ls, 1, 2)
	})
	passes := 0
	_, err = Verify(t.Context(), dir, WithVerifyProgress(func(p VerifyProgress) {
		if p.FilesDone != 1 {
			return
		}
		// Each pass: a Delete whose removal note comes after the notes
		// the pass read.
		ok, err := st.Delete(t.Context(), ids[len(ids)-1-passes])
		require.NoError(t, err)
		require.True(t, ok)
		passes++
	}))
	require.ErrorIs(t, err, ErrStoreChanged)
	assert.Equal(t, verifyPasses, passes)
	require.NoError(t, st.Close())
	rep, err := Verify(t.Context(), dir)
	require.NoError(t, err)
	assert.Contains(t, kinds(rep.Problems), ProblemMissing, "%v", rep.Problems)
}

// TestVerifyEd25519: a store signed with an Ed25519 key verifies with the
// public key alone; another public key, or an HMAC key under the same id,
// does not.
func TestVerifyEd25519(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	dir := t.TempDir()
	st, err := New(dir, WithCheckpointSigner("ed1", priv))
	require.NoError(t, err)
	for i := range 5 {
		require.NoError(t, st.Write(t.Context(), testEntry(verifyBase.Add(time.Duration(i)*time.Hour))))
	}
	require.NoError(t, st.Close())
	_, err = os.Stat(filepath.Join(dir, keyFileName))
	assert.ErrorIs(t, err, os.ErrNotExist)

	rep, err := Verify(t.Context(), dir, WithVerifyPublicKey("ed1", pub))
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Problems)
	assert.Equal(t, int64(5), rep.Chained)

	other, _, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	for name, opt := range map[string]VerifyOption{
		"other public key": WithVerifyPublicKey("ed1", other),
		"hmac key":         WithVerifyKey("ed1", bytes.Repeat([]byte{1}, 32)),
	} {
		rep, err := Verify(t.Context(), dir, opt)
		require.NoError(t, err, name)
		assert.Contains(t, kinds(rep.Problems), ProblemBadSignature, name)
	}
}

// TestShortKeyIsAnError: a checkpoint key that is too short (or has no id)
// fails New and Verify with storage.ErrBadKey; Verify never falls back to
// the key file kept in the store, so a store forged and re-signed with that
// file is not accepted under a mistyped key.
func TestShortKeyIsAnError(t *testing.T) {
	short := bytes.Repeat([]byte{1}, storage.MinHMACKeyLen-1)
	for name, opt := range map[string]Option{
		"short HMAC key":      WithCheckpointKey("k", short),
		"empty HMAC key":      WithCheckpointKey("k", nil),
		"HMAC key without id": WithCheckpointKey("", bytes.Repeat([]byte{1}, 32)),
		"short Ed25519 key":   WithCheckpointSigner("k", ed25519.PrivateKey(short)),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := New(dir, opt)
			require.ErrorIs(t, err, storage.ErrBadKey)
			assert.NotContains(t, err.Error(), string(short))
			_, err = os.Stat(filepath.Join(dir, keyFileName))
			assert.ErrorIs(t, err, os.ErrNotExist, "no fallback key file created")
		})
	}

	// A store signed with its own key file (what an attacker who can write
	// the directory re-signs with): verify under a short key is an error,
	// not a pass with the key file.
	dir := buildChainedStore(t)
	_, err := Verify(t.Context(), dir, WithVerifyKey("local", short))
	require.ErrorIs(t, err, storage.ErrBadKey)
	_, err = Verify(t.Context(), dir, WithVerifyKey("ops", bytes.Repeat([]byte{2}, 32)), WithVerifyPublicKey("ed", ed25519.PublicKey(short)))
	require.ErrorIs(t, err, storage.ErrBadKey)
}

// TestVerifyNoStore: a directory without a store is an error matching
// storage.ErrNoStore, never intact; a store whose data files and notes were
// all removed is a problem.
func TestVerifyNoStore(t *testing.T) {
	empty := t.TempDir()
	_, err := Verify(t.Context(), empty)
	require.ErrorIs(t, err, storage.ErrNoStore)

	other := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(other, "hosts"), []byte("127.0.0.1 localhost\n"), 0o600))
	_, err = Verify(t.Context(), other)
	require.ErrorIs(t, err, storage.ErrNoStore)

	dir := buildChainedStore(t)
	for _, f := range dataFiles(t, dir) {
		require.NoError(t, os.Remove(filepath.Join(dir, f)))
	}
	require.NoError(t, os.Remove(filepath.Join(dir, checkpointFileName)))
	rep, err := Verify(t.Context(), dir)
	require.NoError(t, err)
	assert.False(t, rep.OK())
	assert.Equal(t, []ProblemKind{ProblemMissing}, kinds(rep.Problems))
}

// TestVerifyChainFormatV1Store: a store written before chain format 2
// (testdata/chain-v1-store, two writer sessions of format-1 lines)
// verifies clean as it is, and after a session of this version appended
// format-2 lines to it; a changed byte in either kind of line, or a
// format-1 line relabelled as format 2, is still reported where it is.
func TestVerifyChainFormatV1Store(t *testing.T) {
	const fixture = "testdata/chain-v1-store"
	rep, err := Verify(t.Context(), fixture)
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Problems)
	assert.Equal(t, int64(12), rep.Chained)
	assert.Equal(t, 2, rep.Writers)

	build := func(t *testing.T) (dir string, v1, v2 int) {
		dir = copyDir(t, fixture)
		st, err := New(dir, WithRotationSize(2<<10))
		require.NoError(t, err)
		for i := range 6 {
			require.NoError(t, st.Write(t.Context(), testEntry(time.Date(2025, 8, 2, 12, i, 0, 0, time.UTC))))
		}
		all, err := st.ListEntries(t.Context(), time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 8, 3, 0, 0, 0, 0, time.UTC))
		require.NoError(t, err)
		require.Len(t, all, 18, "old and new entries read back")
		require.NoError(t, st.Close())
		for _, e := range all {
			switch e.Chain.Version {
			case 0:
				v1++
			case storage.ChainVersion:
				v2++
			}
		}
		return dir, v1, v2
	}
	dir, v1, v2 := build(t)
	assert.Equal(t, 12, v1, "fixture lines keep format 1")
	assert.Equal(t, 6, v2, "new lines are format 2")
	rep = verifyOK(t, dir)
	assert.Equal(t, int64(18), rep.Chained)
	assert.Equal(t, 3, rep.Writers)

	// editFirst changes the first line of a data file that holds old
	// in it and returns the file's name.
	editFirst := func(t *testing.T, dir, old, new string) string {
		for _, name := range dataFiles(t, dir) {
			path := filepath.Join(dir, name)
			hit := false
			editLines(t, path, func(ls [][]byte) [][]byte {
				for i, l := range ls {
					if !hit && bytes.Contains(l, []byte(old)) {
						ls[i] = bytes.Replace(l, []byte(old), []byte(new), 1)
						hit = true
					}
				}
				return ls
			})
			if hit {
				return name
			}
		}
		t.Fatalf("no line holds %q", old)
		return ""
	}
	for _, tc := range []struct {
		name     string
		old, new string
	}{
		{"v1 line: changed byte", `"latency_ms":12.5,"input_tokens":12,"output_tokens":null,"metadata":{"k":"v"},"trace_id":null,"span_id":null,"operation":null,"chain":{"w"`,
			`"latency_ms":12.6,"input_tokens":12,"output_tokens":null,"metadata":{"k":"v"},"trace_id":null,"span_id":null,"operation":null,"chain":{"w"`},
		{"v2 line: changed byte", `"latency_ms":12.5,"input_tokens":12,"output_tokens":null,"metadata":{"k":"v"},"trace_id":null,"span_id":null,"operation":null,"chain":{"v":2`,
			`"latency_ms":12.6,"input_tokens":12,"output_tokens":null,"metadata":{"k":"v"},"trace_id":null,"span_id":null,"operation":null,"chain":{"v":2`},
		{"v1 line claims v2", `"chain":{"w"`, `"chain":{"v":2,"w"`},
		{"v2 line claims v1", `"chain":{"v":2,"w"`, `"chain":{"w"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, _, _ := build(t)
			name := editFirst(t, dir, tc.old, tc.new)
			rep, err := Verify(t.Context(), dir)
			require.NoError(t, err)
			require.False(t, rep.OK(), "tampering not detected")
			require.NotEmpty(t, rep.Problems)
			assert.Equal(t, ProblemModified, rep.Problems[0].Kind, "%v", rep.Problems)
			assert.Equal(t, name, rep.Problems[0].File, "%v", rep.Problems)
			assert.Positive(t, rep.Problems[0].Line)
		})
	}
}

// TestVerifyKeyGivenNoNotes strips a signed store down to what the
// reference implementation writes (every chain removed, the checkpoints
// file deleted): only the key the caller gives can tell that from a
// legacy store.
func TestVerifyKeyGivenNoNotes(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{7}, 32)
	st, err := New(dir, WithCheckpointKey("k2025", key))
	require.NoError(t, err)
	for i := range 20 {
		require.NoError(t, st.Write(t.Context(), testEntry(verifyBase.Add(time.Duration(i)*time.Hour))))
	}
	require.NoError(t, st.Close())
	for _, name := range dataFiles(t, dir) {
		editLines(t, filepath.Join(dir, name), func(ls [][]byte) [][]byte {
			for i, l := range ls {
				prefix, _, ok := storage.SplitChain(l)
				require.True(t, ok, "line %d of %s is chained", i+1, name)
				ls[i] = append(bytes.Clone(prefix), '}')
			}
			return ls
		})
	}
	require.NoError(t, os.Remove(filepath.Join(dir, checkpointFileName)))

	rep, err := Verify(t.Context(), dir, WithVerifyKey("k2025", key))
	require.NoError(t, err)
	assert.Equal(t, int64(20), rep.Legacy)
	assert.Contains(t, kinds(rep.Problems), ProblemMissing)
	assert.False(t, rep.OK())

	// Without the key it is indistinguishable from a reference store:
	// legacy entries, a warning, nothing that can be checked one by one.
	rep = verifyOK(t, dir)
	assert.Contains(t, kinds(rep.Warnings), WarningLegacy)

	// A reference store verified with a key is reported the same way, and
	// the detail says how to verify it.
	for _, ds := range reftest.Load(t) {
		rep, err := Verify(t.Context(), filepath.Join(reftest.Dir, ds.Dir), WithVerifyKey("k2025", key))
		require.NoError(t, err)
		require.Contains(t, kinds(rep.Problems), ProblemMissing)
		assert.Contains(t, rep.Problems[0].Detail, "without a key")
		break
	}
}
