package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/reftest"
	"github.com/otelaudit/otelaudit-go/storage"
)

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	des, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, de := range des {
		if de.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, de.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, de.Name()), b, 0o600))
	}
	return dst
}

func testEntry(ts time.Time) *storage.AuditEntry {
	in := int64(12)
	model := "gpt-test"
	return &storage.AuditEntry{ID: storage.NewEntryID(), Timestamp: ts, InputHash: strings.Repeat("a", 64), OutputHash: strings.Repeat("b", 64),
		Model: &model, SafetyPassed: true, LatencyMS: 12.5, InputTokens: &in, Metadata: map[string]any{"k": "v"}}
}

// TestFileReadsReferenceStores reads the three reference stores through
// Store (read-only in place, and writable on a copy, which builds
// indexes) and checks every entry against expected.json, by Read and by
// range query, in order.
func TestFileReadsReferenceStores(t *testing.T) {
	for name, ds := range reftest.Load(t) {
		for _, mode := range []string{"readonly", "writable"} {
			t.Run(name+"/"+mode, func(t *testing.T) {
				dir := filepath.Join(reftest.Dir, ds.Dir)
				var opts []Option
				if mode == "readonly" {
					opts = append(opts, WithReadOnly())
				} else {
					dir = copyDir(t, dir)
				}
				st, err := New(dir, opts...)
				require.NoError(t, err)
				defer st.Close()
				ctx := t.Context()
				n, err := st.Count(ctx)
				require.NoError(t, err)
				assert.Equal(t, ds.Count, n)

				var wantOrder []string
				var wantTS []time.Time
				for _, raw := range ds.Entries {
					want := reftest.DecodeNumbers(t, raw)
					got, err := st.Read(ctx, want["id"].(string))
					require.NoError(t, err)
					reftest.AssertMatches(t, want, got)
					wantOrder = append(wantOrder, got.ID)
					wantTS = append(wantTS, got.Timestamp)
				}
				all, err := st.ListEntries(ctx, time.Time{}, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))
				require.NoError(t, err)
				var gotOrder []string
				for i, e := range all {
					gotOrder = append(gotOrder, e.ID)
					if i > 0 {
						assert.False(t, e.Timestamp.Before(all[i-1].Timestamp), "oldest first")
					}
				}
				// expected.json lists entries in file order, which for these
				// stores (rotated parts _001 then unsuffixed) is time order.
				assert.Equal(t, wantOrder, gotOrder)
				// A one-entry range query.
				one, err := st.ListEntries(ctx, wantTS[1], wantTS[1])
				require.NoError(t, err)
				require.Len(t, one, 1)
				assert.Equal(t, wantOrder[1], one[0].ID)
				assert.Zero(t, st.Stats().SkippedLines)
			})
		}
	}
	// Read-only opening must not have created anything in testdata.
	_, err := os.Stat(filepath.Join(reftest.Dir, "hashonly", indexDirName))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestFileRotationNaming checks the reference convention: _001 is the
// oldest part, the unsuffixed file the newest, and reads see all parts.
func TestFileRotationNaming(t *testing.T) {
	dir := t.TempDir()
	st, err := New(dir, WithRotationSize(2048))
	require.NoError(t, err)
	base := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 20 {
		e := testEntry(base.Add(time.Duration(i) * time.Minute))
		ids = append(ids, e.ID)
		require.NoError(t, st.Write(t.Context(), e))
	}
	require.NoError(t, st.Close())
	refs, err := listDataFiles(dir)
	require.NoError(t, err)
	require.Greater(t, len(refs), 3)
	// The first line of _001 is the first entry written; the last line of
	// the unsuffixed file the last one.
	first := firstLine(t, filepath.Join(dir, "audit_20250501_001.jsonl"))
	assert.Contains(t, first, ids[0])
	b, err := os.ReadFile(filepath.Join(dir, "audit_20250501.jsonl"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	assert.Contains(t, lines[len(lines)-1], ids[len(ids)-1])
	for _, r := range refs {
		fi, err := os.Stat(filepath.Join(dir, r.name))
		require.NoError(t, err)
		assert.LessOrEqual(t, fi.Size(), int64(2048), r.name)
		assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm(), r.name)
	}
	di, err := os.Stat(filepath.Join(dir, indexDirName))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o700), di.Mode().Perm())

	ro, err := New(dir, WithReadOnly())
	require.NoError(t, err)
	defer ro.Close()
	got, err := ro.ListEntries(t.Context(), base, base.Add(time.Hour))
	require.NoError(t, err)
	var gotIDs []string
	for _, e := range got {
		gotIDs = append(gotIDs, e.ID)
	}
	assert.Equal(t, ids, gotIDs)
	for _, id := range ids {
		_, err := ro.Read(t.Context(), id)
		require.NoError(t, err)
	}
}

func firstLine(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	l, _, _ := strings.Cut(string(b), "\n")
	return l
}

// TestFileLock: a second writer gets ErrLocked; read-only opens work
// meanwhile; after Close the lock is free.
func TestFileLock(t *testing.T) {
	dir := t.TempDir()
	a, err := New(dir)
	require.NoError(t, err)
	_, err = New(dir)
	require.ErrorIs(t, err, ErrLocked)
	ro, err := New(dir, WithReadOnly())
	require.NoError(t, err)
	require.ErrorIs(t, ro.Write(t.Context(), testEntry(time.Now())), ErrReadOnly)
	_, err = ro.Delete(t.Context(), "x")
	require.ErrorIs(t, err, ErrReadOnly)
	_, err = ro.DeleteBefore(t.Context(), time.Now())
	require.ErrorIs(t, err, ErrReadOnly)
	require.NoError(t, ro.Close())
	require.NoError(t, a.Close())
	b, err := New(dir)
	require.NoError(t, err)
	require.NoError(t, b.Close())
	_, err = New(filepath.Join(dir, "missing"), WithReadOnly())
	require.Error(t, err)
}

// TestFileTornTailRecovery: a file whose last line is incomplete (crash
// mid-write) is cut back to its last complete line when opened for
// writing; the cut is counted, logged without content and noted; the next
// append starts on a clean line.
func TestFileTornTailRecovery(t *testing.T) {
	dir := t.TempDir()
	st, err := New(dir)
	require.NoError(t, err)
	ts := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	e1 := testEntry(ts)
	require.NoError(t, st.Write(t.Context(), e1))
	require.NoError(t, st.Close())
	path := filepath.Join(dir, "audit_20250102.jsonl")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"id":"torn","timestamp":"2025-01-02T03:04:06Z","input_content":"SECRET-PROMPT`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	// A read-only reader skips the torn tail and counts it.
	ro, err := New(dir, WithReadOnly())
	require.NoError(t, err)
	all, err := ro.ListEntries(t.Context(), ts, ts.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, all, 1)
	assert.Equal(t, uint64(1), ro.Stats().TornTails)
	require.NoError(t, ro.Close())

	var logs bytes.Buffer
	st, err = New(dir, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	assert.Equal(t, uint64(1), st.Stats().TornTails)
	assert.Contains(t, logs.String(), "torn")
	assert.NotContains(t, logs.String(), "SECRET")
	e2 := testEntry(ts.Add(time.Second))
	require.NoError(t, st.Write(t.Context(), e2))
	require.NoError(t, st.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	require.Len(t, lines, 2)
	assert.Contains(t, lines[0], e1.ID)
	assert.Contains(t, lines[1], e2.ID)
	cp, err := os.ReadFile(filepath.Join(dir, checkpointFileName))
	require.NoError(t, err)
	assert.Contains(t, string(cp), `"type":"recovery"`)
	assert.NotContains(t, string(cp), "SECRET")
}

// TestFileInvalidLinesSkipped: invalid lines in the middle of a file are
// skipped, counted and logged without content; the others are read.
func TestFileInvalidLinesSkipped(t *testing.T) {
	dir := t.TempDir()
	ts := time.Date(2025, 2, 3, 0, 0, 0, 0, time.UTC)
	var buf []byte
	var ids []string
	for i := range 5 {
		e := testEntry(ts.Add(time.Duration(i) * time.Minute))
		ids = append(ids, e.ID)
		b, err := e.AppendJSON(nil)
		require.NoError(t, err)
		buf = append(append(buf, b...), '\n')
		if i == 1 {
			buf = append(buf, "{not json SECRET\n"...)
		}
		if i == 3 {
			buf = append(buf, `{"id":"x","timestamp":"garbage"}`+"\n"...)
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "audit_20250203.jsonl"), buf, 0o600))
	var logs bytes.Buffer
	for _, opts := range [][]Option{{WithReadOnly()}, nil} {
		st, err := New(dir, append(opts, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))...)
		require.NoError(t, err)
		all, err := st.ListEntries(t.Context(), ts, ts.Add(time.Hour))
		require.NoError(t, err)
		require.Len(t, all, 5)
		for i, e := range all {
			assert.Equal(t, ids[i], e.ID)
		}
		n, err := st.Count(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 5, n)
		assert.Equal(t, uint64(2), st.Stats().SkippedLines)
		for _, id := range ids {
			_, err := st.Read(t.Context(), id)
			require.NoError(t, err)
		}
		require.NoError(t, st.Close())
	}
	assert.Contains(t, logs.String(), "skipped")
	assert.NotContains(t, logs.String(), "SECRET")
}

// TestFileReadOnlyWhileWriting: a read-only store reads what a writer in
// "another process" (another Store) appended, including entries not
// yet covered by an index file.
func TestFileReadOnlyWhileWriting(t *testing.T) {
	dir := t.TempDir()
	w, err := New(dir)
	require.NoError(t, err)
	defer w.Close()
	ro, err := New(dir, WithReadOnly())
	require.NoError(t, err)
	defer ro.Close()
	ts := time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)
	ctx := t.Context()
	var wg sync.WaitGroup
	var ids []string
	for i := range 300 {
		e := testEntry(ts.Add(time.Duration(i) * time.Second))
		ids = append(ids, e.ID)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, id := range ids {
			e := testEntry(ts.Add(time.Duration(i) * time.Second))
			e.ID = id
			assert.NoError(t, w.Write(ctx, e))
		}
	}()
	for range 20 {
		all, err := ro.ListEntries(ctx, ts, ts.Add(time.Hour))
		require.NoError(t, err)
		for i, e := range all {
			require.Equal(t, ids[i], e.ID, "a prefix of what was written, in order")
		}
	}
	wg.Wait()
	all, err := ro.ListEntries(ctx, ts, ts.Add(time.Hour))
	require.NoError(t, err)
	assert.Len(t, all, len(ids))
	got, err := ro.Read(ctx, ids[len(ids)-1])
	require.NoError(t, err)
	assert.Equal(t, ids[len(ids)-1], got.ID)
	n, err := ro.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, len(ids), n)
}

// TestFileIndexes: after reopen, Read and range queries use the index files;
// a stale index (data changed behind its back) is detected and not used.
func TestFileIndexes(t *testing.T) {
	dir := t.TempDir()
	st, err := New(dir)
	require.NoError(t, err)
	ts := time.Date(2025, 4, 4, 0, 0, 0, 0, time.UTC)
	var es []*storage.AuditEntry
	for i := range 1000 {
		e := testEntry(ts.Add(time.Duration(i) * time.Minute)) // spans 17 h
		es = append(es, e)
	}
	require.NoError(t, st.WriteBatch(t.Context(), es))
	require.NoError(t, st.Close())
	name := "audit_20250404.jsonl"
	ib, err := os.ReadFile(indexPath(dir, name))
	require.NoError(t, err)
	hdr, err := decodeHeader(ib)
	require.NoError(t, err)
	assert.Equal(t, int64(1000), hdr.count)
	assert.True(t, hdr.sorted)
	assert.Equal(t, (1000+indexBlock-1)/indexBlock, hdr.nblocks)

	// Damage in the middle of an indexed file makes its index stale (the
	// index's CRC covers all the data it indexes): Count, range queries and
	// Read agree with what is readable.
	data, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	broken := bytes.Clone(data)
	broken[0] = 'X' // first line no longer parses
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), broken, 0o600))
	st, err = New(dir, WithReadOnly())
	require.NoError(t, err)
	got, err := st.ListEntries(t.Context(), es[500].Timestamp, es[510].Timestamp)
	require.NoError(t, err)
	assert.Len(t, got, 11)
	all, err := st.ListEntries(t.Context(), ts, ts.Add(24*time.Hour))
	require.NoError(t, err)
	assert.Len(t, all, 999)
	n, err := st.Count(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 999, n, "Count agrees with the readable entries")
	_, err = st.Read(t.Context(), es[0].ID)
	assert.ErrorIs(t, err, storage.ErrNotFound)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	for _, i := range []int{0, 499, 999} {
		e, err := st.Read(t.Context(), es[i].ID)
		require.NoError(t, err)
		assert.Equal(t, es[i].ID, e.ID)
	}
	require.NoError(t, st.Close())

	// A damaged records section makes the index unusable (ignored, reads
	// scan instead) rather than hiding entries.
	good, err := os.ReadFile(indexPath(dir, name))
	require.NoError(t, err)
	bad := bytes.Clone(good)
	bad[idxHeaderSize+5*idxRecSize+9] ^= 0xff // an offset
	require.NoError(t, os.WriteFile(indexPath(dir, name), bad, 0o600))
	st, err = New(dir, WithReadOnly())
	require.NoError(t, err)
	for _, e := range es {
		got, err := st.Read(t.Context(), e.ID)
		require.NoError(t, err)
		require.Equal(t, e.ID, got.ID)
	}
	require.NoError(t, st.Close())
	require.NoError(t, os.WriteFile(indexPath(dir, name), good, 0o600))

	// Change the data behind the index's back (same size, different bytes
	// near the end): the index no longer matches and is not used; reads
	// still find everything by scanning.
	mod := bytes.Replace(data, []byte(es[999].ID), []byte(strings.Repeat("0", len(es[999].ID))), 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), mod, 0o600))
	st, err = New(dir, WithReadOnly())
	require.NoError(t, err)
	f, err := os.Open(filepath.Join(dir, name))
	require.NoError(t, err)
	li, err := st.idx.get(name, f)
	require.NoError(t, err)
	assert.Nil(t, li, "stale index must be rejected")
	f.Close()
	e, err := st.Read(t.Context(), es[998].ID)
	require.NoError(t, err)
	assert.Equal(t, es[998].ID, e.ID)
	_, err = st.Read(t.Context(), es[999].ID)
	assert.ErrorIs(t, err, storage.ErrNotFound)
	require.NoError(t, st.Close())
	// A writer rebuilds it.
	st, err = New(dir)
	require.NoError(t, err)
	require.NoError(t, st.Close())
	ib, err = os.ReadFile(indexPath(dir, name))
	require.NoError(t, err)
	hdr, err = decodeHeader(ib)
	require.NoError(t, err)
	assert.Equal(t, int64(len(mod)), hdr.covered)
}

// TestFileDeleteBefore: whole days go as files, the cut day is rewritten,
// and the result is correct after reopen.
func TestFileDeleteBefore(t *testing.T) {
	dir := t.TempDir()
	st, err := New(dir, WithRotationSize(8<<10))
	require.NoError(t, err)
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	var es []*storage.AuditEntry
	for i := range 96 { // 4 days, one per hour
		es = append(es, testEntry(base.Add(time.Duration(i)*time.Hour)))
	}
	require.NoError(t, st.WriteBatch(t.Context(), es))
	cut := base.Add(50*time.Hour + 30*time.Minute) // day 3, 02:30
	n, err := st.DeleteBefore(t.Context(), cut)
	require.NoError(t, err)
	assert.Equal(t, 51, n)
	refs, err := listDataFiles(dir)
	require.NoError(t, err)
	for _, r := range refs {
		assert.GreaterOrEqual(t, r.day, "20250603", r.name)
	}
	require.NoError(t, st.Close())
	st, err = New(dir)
	require.NoError(t, err)
	defer st.Close()
	left, err := st.ListEntries(t.Context(), time.Time{}, base.Add(1000*time.Hour))
	require.NoError(t, err)
	require.Len(t, left, 45)
	assert.Equal(t, es[51].ID, left[0].ID)
	c, err := st.Count(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 45, c)
	cp, err := os.ReadFile(filepath.Join(dir, checkpointFileName))
	require.NoError(t, err)
	assert.Contains(t, string(cp), `"reason":"retention"`)
}

// TestFileWriteConcurrentNothingLost writes from many goroutines under both
// durability levels and checks every acknowledged entry is stored once.
func TestFileWriteConcurrentNothingLost(t *testing.T) {
	for _, d := range []Durability{DurabilityOS, DurabilitySync} {
		t.Run(fmt.Sprint(d), func(t *testing.T) {
			dir := t.TempDir()
			st, err := New(dir, WithDurability(d), WithRotationSize(64<<10))
			require.NoError(t, err)
			ts := time.Date(2025, 7, 7, 0, 0, 0, 0, time.UTC)
			var wg sync.WaitGroup
			var mu sync.Mutex
			seen := map[string]bool{}
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 100 {
						e := testEntry(ts.Add(time.Duration(w*100+i) * time.Second))
						if assert.NoError(t, st.Write(context.Background(), e)) {
							mu.Lock()
							seen[e.ID] = true
							mu.Unlock()
						}
					}
				}()
			}
			wg.Wait()
			require.NoError(t, st.Flush(t.Context()))
			require.NoError(t, st.Close())
			ro, err := New(dir, WithReadOnly())
			require.NoError(t, err)
			defer ro.Close()
			all, err := ro.ListEntries(t.Context(), ts, ts.Add(24*time.Hour))
			require.NoError(t, err)
			require.Len(t, all, 800)
			for _, e := range all {
				assert.True(t, seen[e.ID])
				delete(seen, e.ID)
			}
			assert.Empty(t, seen)
		})
	}
}

func TestFileNoPlaintextInErrors(t *testing.T) {
	st, err := New(t.TempDir())
	require.NoError(t, err)
	defer st.Close()
	secret := "SECRET-PROMPT"
	e := testEntry(time.Now())
	e.InputContent = &secret
	e.Extra = map[string]json.RawMessage{"x": json.RawMessage(`{"bad":` + secret)}
	err = st.Write(t.Context(), e)
	require.ErrorIs(t, err, storage.ErrInvalidEntry)
	assert.NotContains(t, err.Error(), secret)
}

// TestAppendReqAwait checks the hand-off between a group append's leader
// and a waiting request: a request signalled while it yields gets the
// state, one left waiting parks only after yielding for awaitSpin and is
// woken with the state (fails if a signal to a parked request is lost, if
// the waiter returns before it is signalled, or if it parks without
// yielding first).
func TestAppendReqAwait(t *testing.T) {
	for _, tc := range []struct {
		name  string
		park  bool          // wait until the request has parked, then signal
		delay time.Duration // otherwise signal after this long
		state uint32
	}{
		{name: "signalled at once", state: reqDone},
		{name: "signalled while yielding", delay: awaitSpin / 10, state: reqLead},
		{name: "signalled after parking", park: true, state: reqDone},
		{name: "lead after parking", park: true, state: reqLead},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := &appendReq{}
			got := make(chan uint32, 1)
			start := time.Now()
			go func() { got <- req.await() }()
			if tc.park {
				for req.state.Load() != reqParked {
					require.Less(t, time.Since(start), 10*time.Second, "the request never parked")
					time.Sleep(awaitSpin / 10)
				}
				assert.GreaterOrEqual(t, time.Since(start), awaitSpin, "parked before yielding for awaitSpin")
			} else {
				time.Sleep(tc.delay)
			}
			select {
			case st := <-got:
				t.Fatalf("await returned %d before it was signalled", st)
			default:
			}
			req.signal(tc.state)
			assert.Equal(t, tc.state, <-got)
		})
	}
}
