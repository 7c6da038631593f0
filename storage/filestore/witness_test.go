package filestore

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// witnessedStore writes two writer sessions with a witness file in another
// directory and returns the store directory, a copy of it taken after the
// first session, and the witness path.
func witnessedStore(t *testing.T) (dir, afterFirst, witness string) {
	t.Helper()
	dir = t.TempDir()
	afterFirst = t.TempDir()
	witness = filepath.Join(t.TempDir(), "witness.jsonl")
	wf, err := os.OpenFile(witness, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	require.NoError(t, err)
	defer wf.Close()
	for session := range 2 {
		st, err := New(dir, WithRotationSize(8<<10), WithCheckpointInterval(7, time.Hour), WithWitness(wf))
		require.NoError(t, err)
		for i := range suitePerSession {
			ts := verifyBase.Add(time.Duration(session*suitePerSession+i) * suiteStep)
			require.NoError(t, st.Write(t.Context(), testEntry(ts)))
		}
		require.NoError(t, st.Close())
		if session == 0 {
			copyStore(t, dir, afterFirst)
		}
	}
	return dir, afterFirst, witness
}

// copyStore copies the regular files of a store directory.
func copyStore(t *testing.T, from, to string) {
	t.Helper()
	des, err := os.ReadDir(from)
	require.NoError(t, err)
	for _, de := range des {
		if !de.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, de.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(to, de.Name()), b, 0o600))
	}
}

// dropLines removes from a file every line that contains sub.
func dropLines(t *testing.T, path, sub string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []byte
	for line := range strings.Lines(string(b)) {
		if !strings.Contains(line, sub) {
			out = append(out, line...)
		}
	}
	require.NoError(t, os.WriteFile(path, out, 0o600))
}

func verifyWitness(t *testing.T, dir, witness string) *VerifyReport {
	t.Helper()
	f, err := os.Open(witness)
	require.NoError(t, err)
	defer f.Close()
	rep, err := Verify(t.Context(), dir, WithVerifyWitness(f))
	require.NoError(t, err)
	return rep
}

// TestVerifyWitness: the witness holds every note the store wrote; given
// it, Verify catches what the store alone cannot show (the newest entries
// removed with their last checkpoint, a deleted writer session, a rollback
// to an older copy), and an intact store still verifies.
func TestVerifyWitness(t *testing.T) {
	dir, afterFirst, witness := witnessedStore(t)
	wb, err := os.ReadFile(witness)
	require.NoError(t, err)
	nb, err := os.ReadFile(filepath.Join(dir, checkpointFileName))
	require.NoError(t, err)
	require.Equal(t, string(nb), string(wb), "the witness holds exactly the store's notes")

	rep := verifyWitness(t, dir, witness)
	assert.True(t, rep.OK(), "%v", rep.Problems)
	assert.True(t, rep.Witness)
	assert.Equal(t, strings.Count(string(wb), "\n"), rep.Witnessed)

	lastWriter := func(t *testing.T, dir string) string {
		b, err := os.ReadFile(filepath.Join(dir, checkpointFileName))
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		_, rest, ok := strings.Cut(lines[len(lines)-1], `"w":"`)
		require.True(t, ok)
		w, _, _ := strings.Cut(rest, `"`)
		return w
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"newest entries and their last checkpoint removed", func(t *testing.T, dir string) {
			files := dataFiles(t, dir)
			last := filepath.Join(dir, files[len(files)-1])
			editLines(t, last, func(ls [][]byte) [][]byte { return ls[:len(ls)-2] })
			// Every trailing note that covers the removed entries goes too:
			// the final checkpoint, and a periodic one if the background
			// tick signed the same head before Close (it does when the
			// machine is slow, as under -race).
			cp := filepath.Join(dir, checkpointFileName)
			editLines(t, cp, func(ls [][]byte) [][]byte {
				var head uint64
				for _, l := range ls {
					var n storage.Note
					require.NoError(t, json.Unmarshal(l, &n))
					head = max(head, n.Seq)
				}
				for len(ls) > 0 {
					var n storage.Note
					require.NoError(t, json.Unmarshal(ls[len(ls)-1], &n))
					if n.Seq+2 <= head {
						break
					}
					ls = ls[:len(ls)-1]
				}
				return ls
			})
		}},
		{"last writer session deleted", func(t *testing.T, dir string) {
			w := lastWriter(t, dir)
			for _, f := range dataFiles(t, dir) {
				dropLines(t, filepath.Join(dir, f), `"w":"`+w+`"`)
			}
			dropLines(t, filepath.Join(dir, checkpointFileName), `"w":"`+w+`"`)
		}},
		{"forged and re-signed with the key file found in the store", func(t *testing.T, dir string) {
			// Keep .checkpoint.key, replace the data and the notes with a
			// history written by a new Store using that key.
			for _, f := range dataFiles(t, dir) {
				require.NoError(t, os.Remove(filepath.Join(dir, f)))
			}
			require.NoError(t, os.Remove(filepath.Join(dir, checkpointFileName)))
			st, err := New(dir)
			require.NoError(t, err)
			for i := range 60 {
				require.NoError(t, st.Write(t.Context(), testEntry(verifyBase.Add(time.Duration(i)*time.Minute))))
			}
			require.NoError(t, st.Close())
		}},
		{"rolled back to an older copy", func(t *testing.T, dir string) {
			require.NoError(t, os.RemoveAll(dir))
			require.NoError(t, os.Mkdir(dir, 0o700))
			copyStore(t, afterFirst, dir)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			copyStore(t, dir, d)
			tc.damage(t, d)
			rep := verifyWitness(t, d, witness)
			require.False(t, rep.OK())
			assert.Contains(t, kinds(rep.Problems), ProblemWitnessed)
			for _, p := range rep.Problems {
				if p.Kind == ProblemWitnessed {
					assert.Contains(t, p.Detail, "witness line")
				}
			}
			// Without the witness the store alone looks consistent: the
			// README lists these cases as needing a witness (update it
			// if this starts to fail because Verify learned more).
			noWitness, err := Verify(t.Context(), d)
			require.NoError(t, err)
			assert.True(t, noWitness.OK(), "%v", noWitness.Problems)
		})
	}

	t.Run("witness line that is not a note", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "w.jsonl")
		require.NoError(t, os.WriteFile(bad, append(bytes.Clone(wb), "not a note\n"...), 0o600))
		rep := verifyWitness(t, dir, bad)
		assert.Equal(t, []ProblemKind{ProblemWitnessed}, kinds(rep.Problems))
	})
	t.Run("emptied store", func(t *testing.T) {
		d := t.TempDir()
		rep := verifyWitness(t, d, witness)
		assert.False(t, rep.OK(), "a witness says a store was here")
		assert.Contains(t, kinds(rep.Problems), ProblemWitnessed)
	})
}
