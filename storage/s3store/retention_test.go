package s3store_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/storage/s3store"
	"github.com/otelaudit/otelaudit-go/storage/verify"
)

// dayKeys returns the keys of the batch objects of day date in snap.
func (sb *signedBucket) dayKeys(snap map[string][]byte, date string) []string {
	var out []string
	for k := range snap {
		if strings.HasPrefix(k, sb.prefix+date+"/") && strings.HasSuffix(k, ".jsonl") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// problemFiles returns the File of every problem of kind in rep, sorted.
func problemFiles(rep *verify.Report, kind verify.ProblemKind) []string {
	var out []string
	for _, p := range problems(rep, kind) {
		out = append(out, p.File)
	}
	slices.Sort(out)
	return out
}

// rels returns keys relative to the prefix.
func (sb *signedBucket) rels(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = strings.TrimPrefix(k, sb.prefix)
	}
	return out
}

// TestFindingDayRemovedByRetentionPutBack: a day that retention removed (a signing
// Store's DeleteBefore: a signed note naming the day, then, once the day
// is empty, a note naming the batches it deleted) put back from a copy
// of the bucket taken before: readers count its entries again, and Verify
// reports every batch object put back as restored, with and without the
// witness; so it does for a single object put back.
func TestFindingDayRemovedByRetentionPutBack(t *testing.T) {
	sb := newSignedBucket(t, "rp/")
	a := sb.store()
	sb.write([]*s3store.Store{a}, time.Date(2025, 7, 1, 10, 0, 0, 0, time.UTC), 100)
	require.NoError(t, a.Close())
	before := sb.snapshot()
	c := sb.store()
	sb.write([]*s3store.Store{c}, time.Date(2025, 7, 3, 10, 0, 0, 0, time.UTC), 50)
	n, err := c.DeleteBefore(t.Context(), time.Date(2025, 7, 2, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Equal(t, 100, n)
	require.NoError(t, c.Close())
	rep := sb.verify(true)
	require.True(t, rep.OK(), "%v", rep.Problems)
	assert.Empty(t, unfinishedRemovals(rep), "the removal finished: %v", rep.Warnings)

	day := sb.dayKeys(before, "2025-07-01")
	require.Len(t, day, 2, "100 entries in batches of 50")
	for _, k := range day {
		sb.put(k, before[k])
	}
	count, err := sb.v.Count(t.Context())
	require.NoError(t, err)
	require.Equal(t, 150, count, "the removed entries are back for readers (reads are not changed: Verify reports them)")
	for _, w := range []bool{true, false} {
		rep := sb.verify(w)
		assert.False(t, rep.OK(), "witness %v: the removed day put back passes", w)
		assert.Equal(t, sb.rels(day), problemFiles(rep, verify.ProblemRestored), "witness %v: names every object put back: %v", w, rep.Problems)
		if ps := problems(rep, verify.ProblemRestored); assert.NotEmpty(t, ps) {
			assert.Contains(t, ps[0].Detail, "retention")
		}
		assert.Empty(t, unfinishedRemovals(rep), "witness %v: not taken for an unfinished removal: %v", w, rep.Warnings)
	}

	// One object of the day put back is found as well.
	sb.del(day[0])
	for _, w := range []bool{true, false} {
		rep := sb.verify(w)
		assert.False(t, rep.OK(), "witness %v: one object of the removed day put back passes", w)
		assert.Equal(t, sb.rels(day[1:]), problemFiles(rep, verify.ProblemRestored), "witness %v: %v", w, rep.Problems)
	}
}

// TestRetainedDayWrittenAgain: entries written into a day after retention
// removed it (timestamps of that day arriving late) are new, not
// restored: from the Store that removed the day and from a session opened
// afterwards, the store verifies intact. Put back beside them, the
// removed batches are still found, and only they.
func TestRetainedDayWrittenAgain(t *testing.T) {
	sb := newSignedBucket(t, "rw/")
	a := sb.store()
	sb.write([]*s3store.Store{a}, time.Date(2025, 7, 1, 10, 0, 0, 0, time.UTC), 100)
	require.NoError(t, a.Flush(t.Context()))
	before := sb.snapshot()
	c := sb.store()
	sb.write([]*s3store.Store{c}, time.Date(2025, 7, 3, 10, 0, 0, 0, time.UTC), 50)
	n, err := c.DeleteBefore(t.Context(), time.Date(2025, 7, 2, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Equal(t, 100, n)
	// Late entries of the removed day: from a writer that was running
	// before the removal (a, still open, its next batch numbers), from the
	// writer that removed the day, and from a session opened afterwards.
	d := sb.store()
	sb.write([]*s3store.Store{a}, time.Date(2025, 7, 1, 11, 0, 0, 0, time.UTC), 30)
	sb.write([]*s3store.Store{c}, time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC), 20)
	sb.write([]*s3store.Store{d}, time.Date(2025, 7, 1, 13, 0, 0, 0, time.UTC), 10)
	for _, st := range []*s3store.Store{a, c, d} {
		require.NoError(t, st.Close())
	}
	count, err := sb.v.Count(t.Context())
	require.NoError(t, err)
	require.Equal(t, 50+30+20+10, count)
	for _, w := range []bool{true, false} {
		rep := sb.verify(w)
		require.True(t, rep.OK(), "witness %v: entries written into the day after its removal are new: %v", w, rep.Problems)
		assert.Empty(t, unfinishedRemovals(rep), "witness %v: %v", w, rep.Warnings)
		assert.Equal(t, int64(110), rep.Chained)
	}

	day := sb.dayKeys(before, "2025-07-01")
	require.Len(t, day, 2)
	for _, k := range day {
		sb.put(k, before[k])
	}
	rep := sb.verify(true)
	assert.False(t, rep.OK())
	assert.Equal(t, sb.rels(day), problemFiles(rep, verify.ProblemRestored), "only the batches the removal deleted: %v", rep.Problems)
}

// stopDeletes fails, while on, every DELETE request and multi-object
// delete: a retention then stops after its signed note, where a killed
// process would.
type stopDeletes struct {
	base http.RoundTripper
	on   atomic.Bool
}

func (f *stopDeletes) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.on.Load() && (r.Method == http.MethodDelete || r.Method == http.MethodPost && r.URL.Query().Has("delete")) {
		return nil, errors.New("injected: the process stopped before this delete")
	}
	return f.base.RoundTrip(r)
}

// TestRetentionStoppedBeforeTheDayWasEmpty: a retention that stopped
// between its signed note and the deletes leaves the day as it was, which
// verifies with an unfinished-removal warning naming the day, not as
// tampering (nor as restored entries); retention again, by another
// writer, finishes it, and the store verifies clean, also once late
// entries are written into the day; the day put back after that is
// restored.
func TestRetentionStoppedBeforeTheDayWasEmpty(t *testing.T) {
	sb := newSignedBucket(t, "rs/")
	stop := &stopDeletes{base: http.DefaultTransport.(*http.Transport).Clone()}
	st, _, obj := signedStoreThrough(t, sb, stop)
	before := sb.snapshot()
	cut := time.Date(2025, 7, 2, 0, 0, 0, 0, time.UTC)

	stop.on.Store(true)
	_, err := st.DeleteBefore(t.Context(), cut)
	stop.on.Store(false)
	require.Error(t, err, "the injected stop")

	for _, w := range []bool{true, false} {
		rep := sb.verify(w)
		require.True(t, rep.OK(), "witness %v: an unfinished retention is not tampering: %v", w, rep.Problems)
		assert.Equal(t, int64(20), rep.Chained, "the day still holds every entry")
		unfinished := unfinishedRemovals(rep)
		if assert.Len(t, unfinished, 1, "witness %v: %v", w, rep.Warnings) {
			assert.Equal(t, "2025-07-01/", unfinished[0].File)
			assert.Contains(t, unfinished[0].Detail, "1 objects")
		}
	}

	require.NoError(t, st.Close())
	other := sb.store()
	n, err := other.DeleteBefore(t.Context(), cut)
	require.NoError(t, err)
	assert.Equal(t, 20, n)
	rep := sb.verify(true)
	require.True(t, rep.OK(), "%v", rep.Problems)
	assert.Empty(t, unfinishedRemovals(rep), "a later finished removal of the day settles the stopped one: %v", rep.Warnings)
	sb.write([]*s3store.Store{other}, time.Date(2025, 7, 1, 18, 0, 0, 0, time.UTC), 5)
	require.NoError(t, other.Close())
	rep = sb.verify(true)
	require.True(t, rep.OK(), "%v", rep.Problems)
	assert.Empty(t, unfinishedRemovals(rep), "late entries after the day was emptied: %v", rep.Warnings)

	sb.put(obj, before[obj])
	rep = sb.verify(true)
	assert.False(t, rep.OK())
	assert.Equal(t, sb.rels([]string{obj}), problemFiles(rep, verify.ProblemRestored), "%v", rep.Problems)
	assert.Empty(t, unfinishedRemovals(rep), "%v", rep.Warnings)
}
