package filestore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/storage"
)

// TestSigningKeyIDPastOtherLines: more than a read's worth (keyIDChunk)
// of lines that are no signed note after the last signed one (unsigned
// notes, one very long line, a torn tail) do not hide it. Were the store
// taken for unsigned, a writer without the key would sign on with a new
// .checkpoint.key (a downgrade); it is refused instead, and nothing in the
// directory changes.
func TestSigningKeyIDPastOtherLines(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	for _, tc := range []struct {
		name string
		opts []Option
		kid  string
	}{
		{"own key", nil, localKeyID},
		{"user key", []Option{WithCheckpointKey("ops-2026", key)}, "ops-2026"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			st, err := New(dir, tc.opts...)
			require.NoError(t, err)
			require.NoError(t, st.Write(t.Context(), testEntry(verifyBase)))
			require.NoError(t, st.Close())

			var other bytes.Buffer
			for i := 0; other.Len() < keyIDChunk+keyIDChunk/2; i++ {
				fmt.Fprintf(&other, `{"type":"checkpoint","w":"0123456789abcdef","n":%d,"t":"2025-09-10T00:00:00Z","pn":""}`+"\n", i)
			}
			other.WriteString(`{"type":"removal","w":"0123456789abcdef","pad":"` + strings.Repeat("x", keyIDChunk+10) + `"}` + "\n")
			other.WriteString(`{"type":"checkpoint","w":"0123456789abcdef","kid":"loc`) // torn
			f, err := os.OpenFile(filepath.Join(dir, checkpointFileName), os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			_, err = f.Write(other.Bytes())
			require.NoError(t, err)
			require.NoError(t, f.Close())
			// The own key's file is gone (see ErrCheckpointKeyNeeded): a
			// writer that took the store for unsigned would make a new one.
			if err := os.Remove(filepath.Join(dir, keyFileName)); !errors.Is(err, os.ErrNotExist) {
				require.NoError(t, err)
			}
			before := snapshotFiles(t, dir)

			kid, err := SigningKeyID(dir)
			require.NoError(t, err)
			assert.Equal(t, tc.kid, kid)
			_, err = New(dir)
			require.ErrorIs(t, err, ErrCheckpointKeyNeeded)
			assert.Contains(t, err.Error(), `"`+tc.kid+`"`)
			assert.Equal(t, before, snapshotFiles(t, dir), "a refused open changes nothing")
		})
	}
}

// TestLastSignedKeyIDChunks: whatever the chunk size, so wherever lines
// cross chunk boundaries, the backward read finds the key id a forward
// read of every line does.
func TestLastSignedKeyIDChunks(t *testing.T) {
	note := func(kid string) string {
		s, err := storage.NewHMACSigner(kid, bytes.Repeat([]byte{1}, 32))
		require.NoError(t, err)
		b, err := storage.EncodeNote(&storage.Note{Type: "checkpoint", Writer: "0123456789abcdef"}, s)
		require.NoError(t, err)
		return string(b)
	}
	for _, tc := range []struct {
		name, data, kid string
		maxLine         int
	}{
		{"empty", "", "", 100},
		{"first line", note("a"), "a", 200},
		{"last signed wins", note("a") + note("b") + "garbage\n\n{}\n", "b", 200},
		{"torn tail", note("a") + note("b")[:40], "a", 200},
		{"torn signed tail", note("a") + strings.TrimSuffix(note("b"), "\n"), "a", 200},
		{"no newline at all", strings.TrimSuffix(note("a"), "\n"), "", 200},
		{"long line skipped", note("a") + strings.Repeat("y", 300) + strings.TrimPrefix(note("b"), "{"), "a", 200},
		{"garbled kid", note("a") + `{"x":1,"kid":"\u00zz","sig":"00"}` + "\n" + `,"kid":` + "\n", "a", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.kid, forwardKeyID(t, []byte(tc.data), tc.maxLine), "the reference disagrees with the case")
			for chunk := 1; chunk <= len(tc.data)+1; chunk++ {
				kid, err := lastSignedKeyID(strings.NewReader(tc.data), int64(len(tc.data)), chunk, tc.maxLine)
				require.NoError(t, err)
				require.Equal(t, tc.kid, kid, "chunk %d", chunk)
			}
		})
	}
}

// FuzzLastSignedKeyID: lastSignedKeyID never panics on any content of
// checkpoints.jsonl and agrees with a forward read of every line, for any
// chunk size and line limit.
func FuzzLastSignedKeyID(f *testing.F) {
	s, err := storage.NewHMACSigner("k1", bytes.Repeat([]byte{1}, 32))
	if err != nil {
		f.Fatal(err)
	}
	n, err := storage.EncodeNote(&storage.Note{Type: "open", Writer: "0123456789abcdef"}, s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(n, uint16(7), uint16(300))
	f.Add(append(bytes.Clone(n), n[:len(n)/2]...), uint16(1), uint16(300))
	f.Add(append([]byte("garbage\n"), n...), uint16(64), uint16(10))
	f.Add([]byte(`{"kid":"a","sig":"b"}`+"\n"+`,"kid":"\u00`+"\n"), uint16(3), uint16(100))
	f.Add([]byte("\n\n\n"), uint16(2), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, chunk, maxLine uint16) {
		got, err := lastSignedKeyID(bytes.NewReader(data), int64(len(data)), int(chunk)+1, int(maxLine)+1)
		if err != nil {
			t.Fatal(err)
		}
		if want := forwardKeyID(t, data, int(maxLine)+1); got != want {
			t.Fatalf("chunk %d, maxLine %d: got key id %q, a forward read finds %q", int(chunk)+1, int(maxLine)+1, got, want)
		}
	})
}

// forwardKeyID is the reference for lastSignedKeyID: the key id of the
// last complete line of data of at most maxLine (> 0) bytes that is a
// signed note.
func forwardKeyID(t testing.TB, data []byte, maxLine int) string {
	kid := ""
	_, err := scanBounded(bytes.NewReader(data), 0, int64(len(data)), maxLine, func(_ int64, line []byte) error {
		if k, ok := storage.NoteKeyID(line); ok {
			kid = k
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return kid
}

// TestNoteAfterLongNote: a retention over a store written by many writer
// sessions records every session's removed range in one removal note, of
// more than the 64 KiB the previous note's digest was read from. The next
// session's notes must link to that whole note: read from its tail alone,
// every later note's link was wrong and Verify reported the store broken.
func TestNoteAfterLongNote(t *testing.T) {
	dir := t.TempDir()
	const sessions = 600 // a range of about 150 bytes each
	for i := range sessions {
		st, err := New(dir)
		require.NoError(t, err)
		require.NoError(t, st.Write(t.Context(), testEntry(verifyBase.Add(time.Duration(i)*time.Second))))
		require.NoError(t, st.Close())
	}
	st, err := New(dir)
	require.NoError(t, err)
	n, err := st.DeleteBefore(t.Context(), verifyBase.Add(24*time.Hour))
	require.NoError(t, err)
	require.Equal(t, sessions, n)
	require.NoError(t, st.Close())
	// The process dies before its close note: the removal note is the
	// file's last line, as a crash after the cleanup leaves it.
	path := filepath.Join(dir, checkpointFileName)
	notes, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := bytes.SplitAfter(notes, []byte("\n"))
	lines = lines[:len(lines)-2] // the empty rest after the last '\n', the close note
	require.Greater(t, len(lines[len(lines)-1]), 64<<10, "the removal note is longer than the old read window")
	require.NoError(t, os.WriteFile(path, bytes.Join(lines, nil), 0o600))

	st, err = New(dir) // a new session links its first note to the removal note
	require.NoError(t, err)
	require.NoError(t, st.Write(t.Context(), testEntry(verifyBase.Add(48*time.Hour))))
	require.NoError(t, st.Close())
	verifyOK(t, dir)
}
