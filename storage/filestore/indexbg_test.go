package filestore

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
)

// TestFileIndexWrittenInBackground checks that once an active part's
// unindexed tail is due, its index file is written by the background
// goroutine (not by Write, which keeps appending meanwhile), that the
// in-memory tail then holds only what the index does not cover, and that
// reads, Count and a reopened store agree with everything written, with
// writes, reads and a Delete racing the background.
func TestFileIndexWrittenInBackground(t *testing.T) {
	dir := t.TempDir()
	st, err := New(dir, WithSyncInterval(time.Hour)) // only the kick can start the indexer
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ts := time.Date(2025, 4, 4, 0, 0, 0, 0, time.UTC)
	const n = 3 * 8192
	ids := make([]string, n)
	var readers sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		readers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := st.Count(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for i := range n {
		e := testEntry(ts.Add(time.Duration(i) * time.Millisecond))
		ids[i] = e.ID
		if err := st.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
		if i > 0 && i%5000 == 0 {
			if _, err := st.Read(ctx, ids[i/2]); err != nil {
				t.Fatalf("Read of entry %d while writing: %v", i/2, err)
			}
		}
	}
	// The background writes the index within a moment of the kick.
	name := partName("20250404", 0)
	deadline := time.Now().Add(10 * time.Second)
	var covered int64
	for time.Now().Before(deadline) {
		st.mu.Lock()
		p := st.active["20250404"]
		covered = p.covered
		tail := len(p.tail)
		st.mu.Unlock()
		if covered > 0 && tail < 8192 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if covered == 0 || st.bgIndexes.Load() == 0 {
		t.Fatalf("no index file was written in the background for the active part within 10 s of being due (covered %d)", covered)
	}
	ib, err := os.ReadFile(indexPath(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := decodeHeader(ib)
	if err != nil {
		t.Fatal(err)
	}
	if hdr.covered != covered {
		t.Errorf("index file covers %d bytes, the store thinks %d", hdr.covered, covered)
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, indexDirName, ".tmp-*"))
	if len(tmps) > 0 {
		t.Errorf("temp files left in the index directory: %v", tmps)
	}
	if ok, err := st.Delete(ctx, ids[7]); err != nil || !ok {
		t.Fatalf("Delete = %v, %v", ok, err)
	}
	close(stop)
	readers.Wait()
	check := func(st *Store) {
		t.Helper()
		if c, err := st.Count(ctx); err != nil || c != n-1 {
			t.Fatalf("Count = %d, %v; want %d", c, err, n-1)
		}
		for i, id := range ids {
			e, err := st.Read(ctx, id)
			if i == 7 {
				if !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("Read of the deleted entry: %v, want ErrNotFound", err)
				}
				continue
			}
			if err != nil || e.ID != id {
				t.Fatalf("Read(entry %d) = %v", i, err)
			}
		}
	}
	check(st)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = New(dir, WithReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	check(st)
	all, err := st.ListEntries(ctx, ts, ts.Add(time.Hour))
	if err != nil || len(all) != n-1 {
		t.Fatalf("ListEntries = %d entries, %v; want %d", len(all), err, n-1)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("verify after background indexing: %+v", rep)
	}
}

// TestWriteDayMatchesDayOf checks the write path's cached day name against
// dayOf around midnights, across a year end and back in time.
func TestWriteDayMatchesDayOf(t *testing.T) {
	s := &Store{}
	base := time.Date(2025, 12, 31, 23, 59, 59, 999_999_999, time.UTC)
	for _, d := range []time.Duration{0, 1, time.Hour, -time.Nanosecond, 24 * time.Hour, 1, -48 * time.Hour, 0, 24*time.Hour + 1} {
		ts := base.Add(d)
		if got, want := s.writeDay(ts), dayOf(ts); got != want {
			t.Errorf("writeDay(%v) = %s, want %s", ts, got, want)
		}
	}
	// The second call for a day returns the cached name.
	a, b := s.writeDay(base), s.writeDay(base.Add(-time.Hour))
	if a != b || a != "20251231" {
		t.Errorf("writeDay = %s, %s; want 20251231 twice", a, b)
	}
}
