package filestore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Files planted or damaged by someone who can write the store directory
// (the hostile tests of the tamper evidence): each must give a finding or a
// clear error, never a hang, a crash, memory that grows with a file, or an
// accepted entry lost.

// hostileStore writes 30 entries, one an hour from verifyBase, with small
// parts (rotation), and closes the store.
func hostileStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	st, err := New(dir, WithRotationSize(4<<10))
	require.NoError(t, err)
	for i := range 30 {
		require.NoError(t, st.Write(t.Context(), testEntry(verifyBase.Add(time.Duration(i)*time.Hour))))
	}
	require.NoError(t, st.Close())
	return dir
}

func countOf(t *testing.T, dir string) int {
	t.Helper()
	st, err := New(dir, WithReadOnly())
	require.NoError(t, err)
	defer st.Close()
	n, err := st.Count(t.Context())
	require.NoError(t, err)
	return n
}

// within runs fn and fails the test if it has not returned after 5 s.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s blocks (a named pipe read for ever)", what)
	}
}

// TestNamedPipesInStore: a named pipe in place of a data file, of
// checkpoints.jsonl or of an index is reported (Verify) or refused with
// ErrNotRegular (New, Count), never opened for a read that waits for a
// writer for ever.
func TestNamedPipesInStore(t *testing.T) {
	t.Run("data file", func(t *testing.T) {
		dir := hostileStore(t)
		require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "audit_20250101.jsonl"), 0o600))
		within(t, "Verify", func() {
			rep, err := Verify(context.Background(), dir)
			require.NoError(t, err)
			require.Len(t, rep.Problems, 1, "%v", rep.Problems)
			assert.Equal(t, ProblemCorrupt, rep.Problems[0].Kind)
			assert.Equal(t, "audit_20250101.jsonl", rep.Problems[0].File)
			assert.Contains(t, rep.Problems[0].Detail, "named pipe")
		})
		within(t, "New", func() {
			_, err := New(dir)
			assert.ErrorIs(t, err, ErrNotRegular)
		})
		within(t, "Count", func() {
			st, err := New(dir, WithReadOnly())
			require.NoError(t, err)
			defer st.Close()
			_, err = st.Count(context.Background())
			assert.ErrorIs(t, err, ErrNotRegular)
		})
	})
	t.Run("checkpoints", func(t *testing.T) {
		dir := hostileStore(t)
		p := filepath.Join(dir, checkpointFileName)
		require.NoError(t, os.Remove(p))
		require.NoError(t, syscall.Mkfifo(p, 0o600))
		within(t, "Verify", func() {
			rep, err := Verify(context.Background(), dir)
			require.NoError(t, err)
			require.NotEmpty(t, rep.Problems)
			assert.Equal(t, ProblemCorrupt, rep.Problems[0].Kind)
			assert.Equal(t, checkpointFileName, rep.Problems[0].File)
		})
		within(t, "New", func() {
			_, err := New(dir)
			assert.ErrorIs(t, err, ErrNotRegular)
		})
	})
	t.Run("index", func(t *testing.T) {
		dir := hostileStore(t)
		name := dataFiles(t, dir)[0]
		require.NoError(t, os.Remove(indexPath(dir, name)))
		require.NoError(t, syscall.Mkfifo(indexPath(dir, name), 0o600))
		within(t, "Count", func() { assert.Equal(t, 30, countOf(t, dir)) })
	})
	t.Run("key file", func(t *testing.T) {
		dir := hostileStore(t)
		p := filepath.Join(dir, keyFileName)
		require.NoError(t, os.Remove(p))
		require.NoError(t, syscall.Mkfifo(p, 0o600))
		within(t, "Verify", func() {
			rep, err := Verify(context.Background(), dir)
			require.NoError(t, err)
			assert.Contains(t, kinds(rep.Problems), ProblemNoKey)
		})
	})
}

// TestDayFileLinkedToDevice: a day file replaced by a symbolic link to
// /dev/null would swallow every entry appended to it while Write reports
// success; the store refuses it instead.
func TestDayFileLinkedToDevice(t *testing.T) {
	dir := hostileStore(t)
	require.NoError(t, os.Symlink(os.DevNull, filepath.Join(dir, "audit_20250912.jsonl")))
	_, err := New(dir)
	require.ErrorIs(t, err, ErrNotRegular)
	assert.Contains(t, err.Error(), "audit_20250912.jsonl is a device")

	// Planted while the store is open: the Write that opens the day fails.
	dir = hostileStore(t)
	st, err := New(dir)
	require.NoError(t, err)
	require.NoError(t, os.Symlink(os.DevNull, filepath.Join(dir, "audit_20250912.jsonl")))
	err = st.Write(t.Context(), testEntry(time.Date(2025, 9, 12, 5, 0, 0, 0, time.UTC)))
	assert.ErrorIs(t, err, ErrNotRegular)
	require.NoError(t, st.Close())
}

// TestVerifyDataFileAlias: a data file given a second data file name (a
// hard or symbolic link) is read once by Verify (files are told apart by
// inode, for rotation) but counted under both names by every reader: it is
// a duplicate, named.
func TestVerifyDataFileAlias(t *testing.T) {
	for name, link := range map[string]func(old, new string) error{"hard": os.Link, "symbolic": os.Symlink} {
		t.Run(name, func(t *testing.T) {
			dir := hostileStore(t)
			first := dataFiles(t, dir)[0]
			alias := strings.TrimSuffix(first, ".jsonl")[:len("audit_20250910")] + "_777.jsonl"
			require.NoError(t, link(filepath.Join(dir, first), filepath.Join(dir, alias)))
			require.Greater(t, countOf(t, dir), 30, "readers count the file twice")
			rep, err := Verify(t.Context(), dir)
			require.NoError(t, err)
			require.Len(t, rep.Problems, 1, "%v", rep.Problems)
			assert.Equal(t, ProblemDuplicate, rep.Problems[0].Kind)
			assert.Equal(t, alias, rep.Problems[0].File)
			assert.Contains(t, rep.Problems[0].Detail, first)
		})
	}
}

// TestRotationWithoutPartNumber: a part numbered at the top of int leaves
// rotation no next number; it must fail the Write, not rename the active
// part to an overflowed name that no reader lists.
func TestRotationWithoutPartNumber(t *testing.T) {
	dir := hostileStore(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "audit_20250911_9223372036854775807.jsonl"), nil, 0o600))
	st, err := New(dir, WithRotationSize(4<<10))
	require.NoError(t, err)
	acked := 0
	var werr error
	for i := range 60 {
		if werr = st.Write(t.Context(), testEntry(time.Date(2025, 9, 11, 0, i, 0, 0, time.UTC))); werr != nil {
			break
		}
		acked++
	}
	require.NoError(t, st.Close())
	require.Error(t, werr)
	assert.Contains(t, werr.Error(), "no part number left")
	assert.Equal(t, 30+acked, countOf(t, dir), "every acknowledged entry is readable")
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, de := range des {
		assert.NotContains(t, de.Name(), "_-", "no part with an overflowed number")
	}
	rep, err := Verify(t.Context(), dir)
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Problems)
}

// TestOpenKeepsLineWithoutNewline: a last line that lost only its '\n'
// (a whole entry, or a whole signed note) is ended, not cut off as torn:
// opening the store for writing loses nothing.
func TestOpenKeepsLineWithoutNewline(t *testing.T) {
	t.Run("data file", func(t *testing.T) {
		dir := hostileStore(t)
		names := dataFiles(t, dir)
		last := filepath.Join(dir, names[len(names)-1])
		fi, err := os.Stat(last)
		require.NoError(t, err)
		require.NoError(t, os.Truncate(last, fi.Size()-1))
		st, err := New(dir)
		require.NoError(t, err)
		assert.Zero(t, st.Stats().TornTails)
		require.NoError(t, st.Close())
		assert.Equal(t, 30, countOf(t, dir))
		b, err := os.ReadFile(last)
		require.NoError(t, err)
		assert.Len(t, b, int(fi.Size()), "the newline is back")
		verifyOK(t, dir)
	})
	t.Run("checkpoints", func(t *testing.T) {
		dir := hostileStore(t)
		p := filepath.Join(dir, checkpointFileName)
		before, err := os.ReadFile(p)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, before[:len(before)-1], 0o600))
		st, err := New(dir)
		require.NoError(t, err)
		require.NoError(t, st.Close())
		after, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.True(t, bytes.HasPrefix(after, before), "every signed note kept")
		rep := verifyOK(t, dir)
		assert.Empty(t, rep.Warnings, "the first session is still closed")
	})
	t.Run("torn line still cut", func(t *testing.T) {
		dir := hostileStore(t)
		names := dataFiles(t, dir)
		last := filepath.Join(dir, names[len(names)-1])
		f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		_, err = f.WriteString(`{"id":"torn","timestamp":"2025-09-11`)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		st, err := New(dir)
		require.NoError(t, err)
		assert.Equal(t, uint64(1), st.Stats().TornTails)
		require.NoError(t, st.Close())
		assert.Equal(t, 30, countOf(t, dir))
		verifyOK(t, dir)
	})
}

// allocated returns the bytes fn allocates.
func allocated(fn func()) uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	fn()
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc - before
}

// TestLongLinesBoundedMemory: a data file of one 256 MiB line (a sparse
// file, with and without a final newline) costs Verify and New memory
// that does not grow with it; a genuine entry longer than the default
// limit (a store written WithMaxLineSize) is still checked, byte for
// byte, from the file.
func TestLongLinesBoundedMemory(t *testing.T) {
	for _, newline := range []bool{false, true} {
		dir := hostileStore(t)
		f, err := os.Create(filepath.Join(dir, "audit_20250101.jsonl"))
		require.NoError(t, err)
		require.NoError(t, f.Truncate(256<<20))
		if newline {
			_, err = f.WriteAt([]byte("\n"), 256<<20-1)
			require.NoError(t, err)
		}
		require.NoError(t, f.Close())
		var rep *VerifyReport
		n := allocated(func() {
			rep, err = Verify(t.Context(), dir)
			require.NoError(t, err)
		})
		assert.Less(t, n, uint64(64<<20), "newline %v: Verify allocated %d MiB", newline, n>>20)
		if newline {
			assert.Equal(t, []ProblemKind{ProblemCorrupt}, kinds(rep.Problems))
		} else {
			assert.True(t, rep.OK(), "%v", rep.Problems)
			assert.Equal(t, []ProblemKind{WarningTornTail}, kinds(rep.Warnings))
			n = allocated(func() {
				st, err := New(dir)
				require.NoError(t, err)
				require.NoError(t, st.Close())
			})
			assert.Less(t, n, uint64(64<<20), "New allocated %d MiB", n>>20)
		}
	}

	dir := t.TempDir()
	st, err := New(dir, WithMaxLineSize(32<<20))
	require.NoError(t, err)
	e := testEntry(verifyBase)
	big := strings.Repeat("x", 12<<20)
	e.InputContent = &big
	require.NoError(t, st.Write(t.Context(), e))
	require.NoError(t, st.Write(t.Context(), testEntry(verifyBase.Add(time.Minute))))
	require.NoError(t, st.Close())
	rep := verifyOK(t, dir)
	assert.Equal(t, int64(2), rep.Chained)
	path := filepath.Join(dir, dataFiles(t, dir)[0])
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	i := bytes.Index(b, []byte("xxxxxx")) + 6<<20
	b[i] = 'y'
	require.NoError(t, os.WriteFile(path, b, 0o600))
	rep, err = Verify(t.Context(), dir)
	require.NoError(t, err)
	require.NotEmpty(t, rep.Problems)
	assert.Equal(t, ProblemModified, rep.Problems[0].Kind)
	assert.Equal(t, 1, rep.Problems[0].Line)
}

// TestIndexBlockCountChecked: an index whose header claims more time-index
// blocks than its records make (header CRC fixed up) is not loaded; a
// range query reads the data instead of allocating for the claim.
func TestIndexBlockCountChecked(t *testing.T) {
	dir := hostileStore(t)
	name := dataFiles(t, dir)[0]
	p := indexPath(dir, name)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	binary.LittleEndian.PutUint32(b[52:], 0x7fffffff) // nblocks
	binary.LittleEndian.PutUint32(b[idxHeaderSize-4:], crc32.Checksum(b[:idxHeaderSize-4], castagnoli))
	require.NoError(t, os.WriteFile(p, b, 0o600))
	st, err := New(dir, WithReadOnly())
	require.NoError(t, err)
	defer st.Close()
	es, err := st.ListEntries(t.Context(), verifyBase, verifyBase.Add(100*time.Hour))
	require.NoError(t, err)
	assert.Len(t, es, 30)
	_, err = decodeHeader(b)
	assert.True(t, errors.Is(err, errBadIndex))
}

// forgeIndex replaces the index of data file name by one built from its
// lines as a forger would: edit changes the records (file order) and the
// skipped count, hdr the header and block the time blocks; every CRC is
// made right again, the data's included, so that only a comparison with
// the data can tell.
func forgeIndex(t *testing.T, dir, name string, edit func(recs []idxRec, skipped int) ([]idxRec, int), hdr func(h *idxHeader), block func(b []byte)) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, name))
	require.NoError(t, err)
	defer f.Close()
	fi, err := f.Stat()
	require.NoError(t, err)
	s := &Store{cfg: newConfig(nil)}
	recs, skipped, end, err := s.scanRecords(f, 0, fi.Size())
	require.NoError(t, err)
	require.Equal(t, fi.Size(), end)
	if edit != nil {
		recs, skipped = edit(recs, skipped)
	}
	crc, err := dataCRC(f, 0, 0, fi.Size())
	require.NoError(t, err)
	b := encodeIndex(recs, fi.Size(), crc, skipped)
	if hdr != nil {
		h, err := decodeHeader(b)
		require.NoError(t, err)
		hdr(&h)
		appendHeader(b[:0], &h)
	}
	if block != nil {
		bs := b[idxHeaderSize+len(recs)*idxRecSize : len(b)-4]
		block(bs)
		binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(bs, castagnoli))
	}
	require.NoError(t, os.WriteFile(indexPath(dir, name), b, 0o600))
}

// idsOf returns the ids of data file name, in file order.
func idsOf(t *testing.T, dir, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	var ids []string
	for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		id, _, err := storage.EntryKey(line)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	return ids
}

// TestVerifyForgedIndex: an index rewritten with the CRCs right (data CRC
// included) but records that do not describe its data file makes readers
// miss stored entries; Verify compares every index with the lines it
// reads and reports it (index-mismatch, naming the file and how to
// rebuild), and removing the index repairs the reads.
func TestVerifyForgedIndex(t *testing.T) {
	drop := func(recs []idxRec, skipped int) ([]idxRec, int) {
		// The first and the last entry go; counted as skipped lines, so
		// that the index still accounts for every line (see dataLines).
		return slices.Clone(recs[1 : len(recs)-1]), skipped + 2
	}
	cases := []struct {
		name   string
		edit   func([]idxRec, int) ([]idxRec, int)
		hdr    func(*idxHeader)
		block  func([]byte)
		detail string
		hidden func(t *testing.T, st *Store, ids []string) // the entries readers miss, shown
	}{
		{name: "entries omitted", edit: drop, detail: "lists 3 entries, the data file holds 5",
			hidden: func(t *testing.T, st *Store, ids []string) {
				n, err := st.Count(t.Context())
				require.NoError(t, err)
				assert.Equal(t, 28, n)
				_, err = st.Read(t.Context(), ids[0])
				assert.ErrorIs(t, err, storage.ErrNotFound)
			}},
		{name: "id changed", edit: func(recs []idxRec, skipped int) ([]idxRec, int) {
			recs[0].hash = idHash("someone else")
			return recs, skipped
		}, detail: "records do not match",
			hidden: func(t *testing.T, st *Store, ids []string) {
				_, err := st.Read(t.Context(), ids[0])
				assert.ErrorIs(t, err, storage.ErrNotFound)
			}},
		{name: "time range narrowed", hdr: func(h *idxHeader) { h.maxTs = h.minTs }, detail: "time range",
			hidden: func(t *testing.T, st *Store, ids []string) {
				es, err := st.ListEntries(t.Context(), verifyBase.Add(time.Minute), verifyBase.Add(100*time.Hour))
				require.NoError(t, err)
				assert.Len(t, es, 29-4, "the file's entries after its first")
			}},
		{name: "time block narrowed", block: func(b []byte) {
			copy(b[8:16], b[0:8]) // block 0: maxTs = minTs
		}, detail: "time index (block 0)"},
		{name: "fanout shifted", hdr: func(h *idxHeader) {
			for i := range 255 {
				if h.fanout[i] > 0 {
					h.fanout[i]--
					return
				}
			}
		}, detail: "fanout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := hostileStore(t)
			name := dataFiles(t, dir)[0]
			ids := idsOf(t, dir, name)
			require.Len(t, ids, 5)
			forgeIndex(t, dir, name, c.edit, c.hdr, c.block)
			if c.hidden != nil {
				st, err := New(dir, WithReadOnly())
				require.NoError(t, err)
				c.hidden(t, st, ids)
				require.NoError(t, st.Close())
			}

			rep, err := Verify(t.Context(), dir)
			require.NoError(t, err)
			require.Len(t, rep.Problems, 1, "%v", rep.Problems)
			p := rep.Problems[0]
			assert.Equal(t, ProblemIndexMismatch, p.Kind)
			assert.Equal(t, name, p.File)
			assert.Contains(t, p.Detail, filepath.Join(indexDirName, name+".idx"))
			assert.Contains(t, p.Detail, c.detail)
			assert.Contains(t, p.Detail, "remove the index file")

			// The repair the detail gives: the index goes; readers scan,
			// and the next writer rebuilds it.
			require.NoError(t, os.Remove(indexPath(dir, name)))
			assert.Equal(t, 30, countOf(t, dir))
			st, err := New(dir)
			require.NoError(t, err)
			require.NoError(t, st.Close())
			_, err = os.Stat(indexPath(dir, name))
			require.NoError(t, err, "rebuilt when the store opened")
			st, err = New(dir, WithReadOnly())
			require.NoError(t, err)
			defer st.Close()
			n, err := st.Count(t.Context())
			require.NoError(t, err)
			assert.Equal(t, 30, n)
			es, err := st.ListEntries(t.Context(), verifyBase, verifyBase.Add(100*time.Hour))
			require.NoError(t, err)
			assert.Len(t, es, 30)
			for _, id := range ids {
				_, err := st.Read(t.Context(), id)
				assert.NoError(t, err, id)
			}
			verifyOK(t, dir)
		})
	}
}

// TestForgedIndexNotAddingUpIgnored: an index that omits entries without
// accounting for their lines (as skipped) is ignored when it is loaded:
// readers scan the data and see every entry, and a writer opening the
// store rebuilds it. Verify has nothing to report then: no reader uses it.
func TestForgedIndexNotAddingUpIgnored(t *testing.T) {
	dir := hostileStore(t)
	name := dataFiles(t, dir)[0]
	ids := idsOf(t, dir, name)
	forgeIndex(t, dir, name, func(recs []idxRec, skipped int) ([]idxRec, int) {
		return slices.Clone(recs[1:]), skipped
	}, nil, nil)
	assert.Equal(t, 30, countOf(t, dir))
	st, err := New(dir, WithReadOnly())
	require.NoError(t, err)
	_, err = st.Read(t.Context(), ids[0])
	require.NoError(t, err)
	require.NoError(t, st.Close())
	verifyOK(t, dir)

	st, err = New(dir)
	require.NoError(t, err)
	require.NoError(t, st.Close())
	f, err := os.Open(filepath.Join(dir, name))
	require.NoError(t, err)
	defer f.Close()
	c := &indexCache{dir: dir, maxLine: storage.DefaultMaxLineSize}
	li, err := c.get(name, f)
	require.NoError(t, err)
	require.NotNil(t, li, "rebuilt when the store opened")
	assert.Equal(t, int64(5), li.hdr.count)
	c.release(li)
	c.closeAll()
}

// TestVerifyIndexesIntactOrMissing: a store whose indexes describe their
// data, and one whose index directory was removed (indexes are rebuilt
// by the next writer, and readers scan meanwhile), verify without a
// problem.
func TestVerifyIndexesIntactOrMissing(t *testing.T) {
	dir := hostileStore(t)
	for _, name := range dataFiles(t, dir) {
		_, err := os.Stat(indexPath(dir, name))
		require.NoError(t, err, "every data file has an index")
	}
	rep := verifyOK(t, dir)
	assert.Empty(t, rep.Warnings)

	require.NoError(t, os.RemoveAll(filepath.Join(dir, indexDirName)))
	rep = verifyOK(t, dir)
	assert.Empty(t, rep.Warnings)
	assert.Equal(t, 30, countOf(t, dir))
	st, err := New(dir)
	require.NoError(t, err)
	require.NoError(t, st.Close())
	for _, name := range dataFiles(t, dir) {
		_, err := os.Stat(indexPath(dir, name))
		require.NoError(t, err, "rebuilt when the store opened")
	}
	verifyOK(t, dir)
}

// TestIndexCountsSkippedLinesOfOpenedPart: a line that is not an entry,
// appended by another program to a day file before the writer opens it,
// is counted in the index the writer writes, so that the index still
// accounts for every line it covers and is used, not rebuilt, by the
// next reader.
func TestIndexCountsSkippedLinesOfOpenedPart(t *testing.T) {
	dir := hostileStore(t)
	st, err := New(dir, WithRotationSize(4<<10))
	require.NoError(t, err)
	names := dataFiles(t, dir)
	last := names[len(names)-1] // the unsuffixed file of the last day
	f, err := os.OpenFile(filepath.Join(dir, last), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString("not an entry\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, st.Write(t.Context(), testEntry(verifyBase.Add(29*time.Hour+time.Minute))))
	require.NoError(t, st.Close())

	df, err := os.Open(filepath.Join(dir, last))
	require.NoError(t, err)
	defer df.Close()
	c := &indexCache{dir: dir, maxLine: storage.DefaultMaxLineSize}
	li, err := c.get(last, df)
	require.NoError(t, err)
	require.NotNil(t, li, "the index accounts for every line")
	assert.Equal(t, 1, li.hdr.skipped)
	c.release(li)
	c.closeAll()
	assert.Equal(t, 31, countOf(t, dir))
}

// TestUnwritableIndexes: index files that cannot be written (the index
// directory read-only, or replaced by a file; an index file replaced by a
// directory) never fail New, Write, rotation, Delete or Close: indexes
// only make reads cheaper. Each failure is counted (IndexFailures) and
// reads scan the data instead, so they see every entry.
func TestUnwritableIndexes(t *testing.T) {
	cases := []struct {
		name  string
		spoil func(t *testing.T, dir string)
	}{
		{"index directory replaced by a file", func(t *testing.T, dir string) {
			p := filepath.Join(dir, indexDirName)
			require.NoError(t, os.RemoveAll(p))
			require.NoError(t, os.WriteFile(p, []byte("x"), 0o600))
		}},
		{"index file replaced by a directory", func(t *testing.T, dir string) {
			// Where rotations of the last day move the active part's
			// index to (its parts to come).
			for i := 1; i < 20; i++ {
				if _, err := os.Stat(filepath.Join(dir, partName("20250911", i))); err == nil {
					continue
				}
				require.NoError(t, os.MkdirAll(filepath.Join(indexPath(dir, partName("20250911", i)), "x"), 0o700))
			}
		}},
		{"index directory read-only", func(t *testing.T, dir string) {
			if os.Geteuid() == 0 {
				t.Skip("running as root, which permissions do not stop: the replaced-file cases make the same writes fail")
			}
			p := filepath.Join(dir, indexDirName)
			require.NoError(t, os.Chmod(p, 0o500))
			t.Cleanup(func() { os.Chmod(p, 0o700) })
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := hostileStore(t)
			c.spoil(t, dir)
			st, err := New(dir, WithRotationSize(4<<10))
			require.NoError(t, err)
			var ids []string
			for i := range 40 {
				e := testEntry(verifyBase.Add(29*time.Hour + time.Duration(i)*time.Minute))
				require.NoError(t, st.Write(t.Context(), e), "write %d", i)
				ids = append(ids, e.ID)
			}
			n, err := st.Count(t.Context())
			require.NoError(t, err)
			assert.Equal(t, 70, n)
			for _, id := range ids {
				_, err := st.Read(t.Context(), id)
				require.NoError(t, err, id)
			}
			ok, err := st.Delete(t.Context(), ids[3])
			require.NoError(t, err)
			assert.True(t, ok)
			require.NoError(t, st.Close())
			assert.NotZero(t, st.Stats().IndexFailures)

			assert.Equal(t, 69, countOf(t, dir))
			ro, err := New(dir, WithReadOnly())
			require.NoError(t, err)
			defer ro.Close()
			es, err := ro.ListEntries(t.Context(), verifyBase, verifyBase.Add(100*time.Hour))
			require.NoError(t, err)
			assert.Len(t, es, 69)
			_, err = ro.Read(t.Context(), ids[3])
			assert.ErrorIs(t, err, storage.ErrNotFound)
			_, err = ro.Read(t.Context(), ids[39])
			assert.NoError(t, err)
			verifyOK(t, dir)
		})
	}
}

// TestDataLinesCountsWhatIndexesList: the non-blank lines loading an
// index counts (dataLines) are the lines an index lists, as entries or
// skipped (scanRecords), whatever the lines: blank, white space only (a
// no-break space too), not entries, longer than the line limit, and
// across the reads' 1 MiB boundaries; its CRC is dataCRC's.
func TestDataLinesCountsWhatIndexesList(t *testing.T) {
	e, err := testEntry(verifyBase).AppendJSON(nil)
	require.NoError(t, err)
	var data []byte
	for i := 0; len(data) < 3<<20; i++ {
		switch i % 7 {
		case 0:
			data = append(data, '\n')
		case 1:
			data = append(data, " \t\n"...)
		case 2:
			data = append(data, "\u00a0 \n"...)
		case 3:
			data = append(data, "not an entry\n"...)
		case 4:
			data = append(data, bytes.Repeat([]byte(" "), 5000)...) // white space beyond the limit below
			data = append(data, '\n')
		default:
			data = append(append(data, e...), '\n')
		}
	}
	const maxLine = 4096
	s := &Store{cfg: newConfig([]Option{WithMaxLineSize(maxLine)})}
	r := bytes.NewReader(data)
	recs, skipped, _, err := s.scanRecords(r, 0, int64(len(data)))
	require.NoError(t, err)
	crc, lines, err := dataLines(r, int64(len(data)), maxLine)
	require.NoError(t, err)
	assert.Equal(t, int64(len(recs)+skipped), lines)
	want, err := dataCRC(r, 0, 0, int64(len(data)))
	require.NoError(t, err)
	assert.Equal(t, want, crc)
	_, _, err = dataLines(r, int64(len(data))-1, maxLine)
	assert.ErrorIs(t, err, errBadIndex, "the covered bytes must end a line")
}
