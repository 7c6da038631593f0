package filestore

import (
	"os"
	"testing"
	"time"
)

// rotateWithIndexerHeld writes entries to one day until its active part
// has a background index, then holds the indexer back and writes until
// the part rotates, and returns the store, the ids written and the closed
// part's name. It fails unless the closed part's index file then still
// covers only the prefix indexed before rotation: rotation itself no
// longer writes it.
func rotateWithIndexerHeld(t *testing.T, dir string) (*Store, []string, string) {
	t.Helper()
	st, err := New(dir, WithSyncInterval(time.Hour), WithRotationSize(-1))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ts := time.Date(2025, 5, 5, 0, 0, 0, 0, time.UTC)
	var ids []string
	write := func() {
		e := testEntry(ts.Add(time.Duration(len(ids)) * time.Millisecond))
		ids = append(ids, e.ID)
		if err := st.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for range 9000 {
		write()
	}
	var covered, size int64
	for deadline := time.Now().Add(10 * time.Second); covered == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		st.mu.Lock()
		covered = st.active["20250505"].covered
		st.mu.Unlock()
	}
	if covered == 0 {
		t.Fatal("no background index within 10 s")
	}
	st.holdIndexer.Store(true)
	st.mu.Lock()
	size = st.active["20250505"].size
	st.cfg.rotationSize = size + 200*(size/int64(len(ids))) // rotate after about 200 more
	st.mu.Unlock()
	for range 400 {
		write()
	}
	st.mu.Lock()
	closing := len(st.closing)
	var name string
	if closing == 1 {
		name = st.closing[0].closedName
	}
	st.mu.Unlock()
	if closing != 1 {
		t.Fatalf("%d parts wait for their index after one rotation, want 1", closing)
	}
	li, _, err := st.idx.getPath(name, dir+"/"+name)
	if err != nil || li == nil {
		t.Fatalf("closed part %s has no index of its prefix: %v", name, err)
	}
	got := li.hdr.covered
	st.idx.release(li)
	if got != covered {
		t.Fatalf("closed part's index covers %d bytes right after rotation, want the %d indexed before it (the rest is the indexer's job)", got, covered)
	}
	return st, ids, name
}

func readAll(t *testing.T, st *Store, ids []string) {
	t.Helper()
	for i, id := range ids {
		e, err := st.Read(t.Context(), id)
		if err != nil || e.ID != id {
			t.Fatalf("Read of entry %d (%s): %v", i, id, err)
		}
	}
	if n, err := st.Count(t.Context()); err != nil || n != len(ids) {
		t.Fatalf("Count = %d, %v; want %d", n, err, len(ids))
	}
	n := 0
	for _, err := range st.Entries(t.Context(), time.Time{}, time.Now()) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != len(ids) {
		t.Fatalf("Entries yields %d, want %d", n, len(ids))
	}
}

// indexCovers fails unless the index file of data file name covers all of it.
func indexCovers(t *testing.T, st *Store, name string) {
	t.Helper()
	fi, err := os.Stat(st.dir + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	li, _, err := st.idx.getPath(name, st.dir+"/"+name)
	if err != nil || li == nil {
		t.Fatalf("no valid index of %s: %v", name, err)
	}
	defer st.idx.release(li)
	if li.hdr.covered != fi.Size() {
		t.Fatalf("index of %s covers %d of %d bytes", name, li.hdr.covered, fi.Size())
	}
}

// TestFileRotationIndexDeferred checks that every entry is readable by id
// (and counted and listed) right after a rotation whose closed part's
// index the indexer has not written yet, and that the indexer then writes
// it in full.
func TestFileRotationIndexDeferred(t *testing.T) {
	dir := t.TempDir()
	st, ids, name := rotateWithIndexerHeld(t, dir)
	defer st.Close()
	readAll(t, st, ids)
	// A crash now leaves the closed part with the index of its prefix:
	// a copy of the directory opens with every entry readable, and the
	// rest of that part indexed.
	crashed := t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	cst, err := New(crashed)
	if err != nil {
		t.Fatal(err)
	}
	indexCovers(t, cst, name)
	readAll(t, cst, ids)
	if err := cst.Close(); err != nil {
		t.Fatal(err)
	}
	st.holdIndexer.Store(false)
	for deadline := time.Now().Add(10 * time.Second); ; {
		st.indexKick <- struct{}{}
		st.mu.Lock()
		n := len(st.closing)
		st.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the indexer did not write the closed part's index within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	indexCovers(t, st, name)
	readAll(t, st, ids)
}

// TestFileCloseWithUnwrittenRotationIndex checks that Close writes the
// index of a rotated part the indexer has not indexed, and that the
// reopened store reads every entry, also when that index is lost.
func TestFileCloseWithUnwrittenRotationIndex(t *testing.T) {
	dir := t.TempDir()
	st, ids, name := rotateWithIndexerHeld(t, dir)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	indexCovers(t, st, name) // written at Close
	readAll(t, st, ids)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash before any index write: the prefix's index only.
	if err := os.Remove(indexPath(dir, name)); err != nil {
		t.Fatal(err)
	}
	st, err = New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	indexCovers(t, st, name) // rebuilt on open
	readAll(t, st, ids)
}
