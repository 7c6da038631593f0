package filestore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/storage"
)

// snapshotFiles returns the bytes of every regular file at the top of dir.
func snapshotFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, de := range des {
		if de.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join(dir, de.Name()))
			require.NoError(t, err)
			out[de.Name()] = b
		}
	}
	return out
}

// TestVerifyRestoredEntries puts back data files copied before a Delete
// or a retention cleanup: entries that a finished, signed removal
// removed must not pass as intact.
func TestVerifyRestoredEntries(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remove func(t *testing.T, st *Store, ids []string)
	}{
		{"delete", func(t *testing.T, st *Store, ids []string) {
			ok, err := st.Delete(t.Context(), ids[len(ids)/2])
			require.NoError(t, err)
			require.True(t, ok)
		}},
		{"retention of whole days", func(t *testing.T, st *Store, _ []string) {
			n, err := st.DeleteBefore(t.Context(), verifyBase.Add(24*time.Hour))
			require.NoError(t, err)
			require.Equal(t, 24, n)
		}},
		{"retention inside a day", func(t *testing.T, st *Store, _ []string) {
			n, err := st.DeleteBefore(t.Context(), verifyBase.Add(30*time.Hour))
			require.NoError(t, err)
			require.Equal(t, 30, n)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			st, err := New(dir)
			require.NoError(t, err)
			var ids []string
			for i := range 48 { // two days, one entry an hour
				e := testEntry(verifyBase.Add(time.Duration(i) * time.Hour))
				ids = append(ids, e.ID)
				require.NoError(t, st.Write(t.Context(), e))
			}
			require.NoError(t, st.Flush(t.Context()))
			before := snapshotFiles(t, dir)
			tc.remove(t, st, ids)
			require.NoError(t, st.Close())
			verifyOK(t, dir)

			// Every data file the removal rewrote or removed put back as
			// it was before.
			restored := 0
			for name, b := range before {
				if _, ok := parseFileName(name); !ok {
					continue
				}
				if cur, err := os.ReadFile(filepath.Join(dir, name)); err == nil && bytes.Equal(cur, b) {
					continue
				}
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o600))
				restored++
			}
			require.Positive(t, restored)
			rep, err := Verify(t.Context(), dir)
			require.NoError(t, err)
			assert.Contains(t, kinds(rep.Problems), ProblemRestored, "problems: %v", rep.Problems)
			assert.False(t, rep.OK())
		})
	}
}

// tenEntries opens a store in a new directory and writes ten entries, a
// minute apart; last is the id of the last one.
func tenEntries(t *testing.T, opts ...Option) (dir string, st *Store, last string) {
	t.Helper()
	dir = t.TempDir()
	st, err := New(dir, opts...)
	require.NoError(t, err)
	for i := range 10 {
		e := testEntry(verifyBase.Add(time.Duration(i) * time.Minute))
		last = e.ID
		require.NoError(t, st.Write(t.Context(), e))
	}
	return dir, st, last
}

// TestVerifyRemovalCutShort copies the store while a Delete has signed
// its removal note but not yet replaced the file, as a crash would leave
// it: the entry is still there, which is no tampering.
func TestVerifyRemovalCutShort(t *testing.T) {
	dir, st, last := tenEntries(t)
	require.NoError(t, st.Flush(t.Context()))
	var crashed string
	st.beforeSwap = func() { crashed = copyDir(t, dir) }
	ok, err := st.Delete(context.Background(), last)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, st.Close())
	require.NotEmpty(t, crashed)
	verifyOK(t, dir)
	rep := verifyOK(t, crashed)
	assert.Equal(t, int64(10), rep.Chained)
	require.Contains(t, kinds(rep.Warnings), WarningUnfinishedRemoval, "the operator is told to delete again")

	// Deleting again finishes it.
	st, err = New(crashed)
	require.NoError(t, err)
	ok, err = st.Delete(t.Context(), last)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, st.Close())
	rep = verifyOK(t, crashed)
	assert.Equal(t, int64(9), rep.Chained)
	assert.NotContains(t, kinds(rep.Warnings), WarningUnfinishedRemoval)
}

// TestRemovalNoteLastOfItsWriter checks that no checkpoint of the deleting
// store lands between a removal note and the file's replacement, where a
// crash would leave the removed entry in place after a later note of its
// writer, which Verify takes as proof that the removal finished (and the
// entry as restored). A Flush whose checkpoint has fsynced and is about
// to sign when the Delete starts must sign before the removal note.
func TestRemovalNoteLastOfItsWriter(t *testing.T) {
	dir, st, last := tenEntries(t, WithCheckpointInterval(1000, time.Hour))
	inHook, deleting := make(chan struct{}), make(chan struct{})
	var hookOnce sync.Once
	hook := func() {
		hookOnce.Do(func() {
			close(inHook)
			select { // the Delete's removal note, or a Delete that waits for this checkpoint
			case <-deleting:
			case <-time.After(300 * time.Millisecond):
			}
		})
	}
	st.beforeCheckpointNote.Store(&hook)
	var crashed string
	st.beforeSwap = func() {
		close(deleting)
		time.Sleep(200 * time.Millisecond) // a checkpoint let through would sign now
		crashed = copyDir(t, dir)          // what a crash before the replacement leaves
	}
	flushed := make(chan error, 1)
	go func() { flushed <- st.Flush(context.Background()) }()
	<-inHook
	ok, err := st.Delete(t.Context(), last)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, <-flushed)
	require.NoError(t, st.Close())
	require.NotEmpty(t, crashed)
	rep, err := Verify(t.Context(), crashed)
	require.NoError(t, err)
	assert.True(t, rep.OK(), "a crash right after the removal note: %v", rep.Problems)
	verifyOK(t, dir)
}

// TestRemovalRefusesOverlongLine plants a line far over the store's line
// limit in a data file: Delete and DeleteBefore of that file fail with
// storage.ErrLineTooLong before signing or changing anything, instead of
// holding the line in memory.
func TestRemovalRefusesOverlongLine(t *testing.T) {
	dir := t.TempDir()
	st, err := New(dir, WithMaxLineSize(4096))
	require.NoError(t, err)
	var ids []string
	for i := range 48 {
		e := testEntry(verifyBase.Add(time.Duration(i) * time.Hour))
		ids = append(ids, e.ID)
		require.NoError(t, st.Write(t.Context(), e))
	}
	require.NoError(t, st.Close())
	first := dataFiles(t, dir)[0]
	editLines(t, filepath.Join(dir, first), func(ls [][]byte) [][]byte {
		planted := append([]byte(`{"id":"planted","pad":"`), bytes.Repeat([]byte("x"), 1<<20)...)
		return append(ls[:3:3], append([][]byte{append(planted, `"}`...)}, ls[3:]...)...)
	})
	before := snapshotFiles(t, dir)

	st, err = New(dir, WithMaxLineSize(4096))
	require.NoError(t, err)
	defer st.Close()
	_, err = st.Delete(t.Context(), ids[0])
	require.ErrorIs(t, err, storage.ErrLineTooLong)
	assert.Contains(t, err.Error(), first)
	_, err = st.DeleteBefore(t.Context(), verifyBase.Add(30*time.Hour))
	require.ErrorIs(t, err, storage.ErrLineTooLong)
	after := snapshotFiles(t, dir)
	assert.Equal(t, before[first], after[first], "the file is untouched")
	assert.Equal(t, before[checkpointFileName], after[checkpointFileName][:len(before[checkpointFileName])], "no removal note signed")
	assert.NotContains(t, string(after[checkpointFileName][len(before[checkpointFileName]):]), `"removal"`)
}
