package storage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/storagetest"
)

func TestMemoryStorageConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		return storage.NewMemoryStorage(0)
	})
}

func TestBoundedMemoryStorageConformance(t *testing.T) {
	// A bound larger than any subtest writes must not change behaviour.
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		return storage.NewMemoryStorage(100_000)
	})
}

var memBase = time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)

func memEntry(id string, ts time.Time) *storage.AuditEntry {
	return &storage.AuditEntry{ID: id, Timestamp: ts, SafetyPassed: true}
}

func memIDs(t *testing.T, m *storage.MemoryStorage) []string {
	t.Helper()
	es, err := m.ListEntries(t.Context(), time.Time{}, memBase.AddDate(100, 0, 0))
	require.NoError(t, err)
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func TestMemoryStorageEvictsOldestWritten(t *testing.T) {
	ctx := t.Context()
	m := storage.NewMemoryStorage(3)
	// Timestamps deliberately out of write order: eviction follows write
	// order, not timestamps.
	offsets := map[string]time.Duration{"a": 5, "b": 1, "c": 4, "d": 2, "e": 3}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		require.NoError(t, m.Write(ctx, memEntry(id, memBase.Add(offsets[id]*time.Minute))))
	}
	n, err := m.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.Equal(t, uint64(2), m.Stats().Evicted)
	assert.Equal(t, []string{"d", "e", "c"}, memIDs(t, m), "the last three written, oldest timestamp first")
	for _, id := range []string{"a", "b"} {
		_, err := m.Read(ctx, id)
		assert.ErrorIs(t, err, storage.ErrNotFound, "evicted %s", id)
	}

	// Deleting makes room: no eviction until the bound is reached again.
	ok, err := m.Delete(ctx, "d")
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, m.Write(ctx, memEntry("f", memBase)))
	assert.Equal(t, uint64(2), m.Stats().Evicted)
	assert.Equal(t, []string{"f", "e", "c"}, memIDs(t, m))

	// A batch larger than the bound keeps its last entries.
	var batch []*storage.AuditEntry
	for i := range 5 {
		batch = append(batch, memEntry(fmt.Sprint("g", i), memBase.Add(-time.Duration(i)*time.Hour)))
	}
	require.NoError(t, m.WriteBatch(ctx, batch))
	assert.Equal(t, []string{"g4", "g3", "g2"}, memIDs(t, m))
	assert.Equal(t, uint64(7), m.Stats().Evicted)

	require.NoError(t, m.Close())
	assert.Equal(t, uint64(7), m.Stats().Evicted, "Evicted works after Close")
}

func TestMemoryStorageReplacesDuplicateID(t *testing.T) {
	ctx := t.Context()
	m := storage.NewMemoryStorage(2)
	require.NoError(t, m.Write(ctx, memEntry("x", memBase)))
	require.NoError(t, m.Write(ctx, memEntry("y", memBase.Add(time.Hour))))
	second := memEntry("x", memBase.Add(2*time.Hour))
	second.LatencyMS = 9
	require.NoError(t, m.Write(ctx, second)) // replaces x, becomes the newest write
	n, err := m.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Zero(t, m.Stats().Evicted, "replacing is not evicting")
	got, err := m.Read(ctx, "x")
	require.NoError(t, err)
	assert.Equal(t, 9.0, got.LatencyMS)
	assert.Equal(t, []string{"y", "x"}, memIDs(t, m))
	require.NoError(t, m.Write(ctx, memEntry("z", memBase)))
	assert.Equal(t, []string{"z", "x"}, memIDs(t, m), "y was the oldest write")
}

// TestMemoryStorageLargeBounded exercises eviction and index compaction at
// 20k entries (20 times the bound): the bound holds, the survivors are the newest writes, in
// order, and ranges still find exactly what they should.
func TestMemoryStorageLargeBounded(t *testing.T) {
	const total, bound = 20_000, 1_000
	ctx := t.Context()
	m := storage.NewMemoryStorage(bound)
	for i := range total {
		require.NoError(t, m.Write(ctx, memEntry(fmt.Sprint(i), memBase.Add(time.Duration(i)*time.Millisecond))))
	}
	n, err := m.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, bound, n)
	assert.Equal(t, uint64(total-bound), m.Stats().Evicted)
	ids := memIDs(t, m)
	require.Len(t, ids, bound)
	assert.Equal(t, fmt.Sprint(total-bound), ids[0])
	assert.Equal(t, fmt.Sprint(total-1), ids[bound-1])

	// Delete every other survivor (dead index slots), then query ranges.
	for i := total - bound; i < total; i += 2 {
		ok, err := m.Delete(ctx, fmt.Sprint(i))
		require.NoError(t, err)
		require.True(t, ok)
	}
	at := func(i int) time.Time { return memBase.Add(time.Duration(i) * time.Millisecond) }
	es, err := m.ListEntries(ctx, at(total-10), at(total-1))
	require.NoError(t, err)
	var got []string
	for _, e := range es {
		got = append(got, e.ID)
	}
	assert.Equal(t, []string{"19991", "19993", "19995", "19997", "19999"}, got)
	removed, err := m.DeleteBefore(ctx, at(total-bound/2))
	require.NoError(t, err)
	assert.Equal(t, bound/4, removed)
	n, err = m.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, bound/4, n)
}

// TestMemoryStorageOutOfOrderAndCompaction writes timestamps in a scrambled
// order and deletes enough to trigger index compaction, checking order
// throughout.
func TestMemoryStorageOutOfOrderAndCompaction(t *testing.T) {
	const total = 5000
	ctx := t.Context()
	m := storage.NewMemoryStorage(0)
	for i := range total {
		j := (i * 7919) % total // a permutation: 7919 is prime and does not divide 5000
		require.NoError(t, m.Write(ctx, memEntry(fmt.Sprint(j), memBase.Add(time.Duration(j)*time.Second))))
	}
	for i := 0; i < total; i++ {
		if i%5 != 0 {
			ok, err := m.Delete(ctx, fmt.Sprint(i))
			require.NoError(t, err)
			require.True(t, ok)
		}
	}
	ids := memIDs(t, m)
	require.Len(t, ids, total/5)
	for k, id := range ids {
		assert.Equal(t, fmt.Sprint(k*5), id)
	}
	var streamed []string
	for e, err := range m.Entries(ctx, time.Time{}, memBase.AddDate(1, 0, 0)) {
		require.NoError(t, err)
		streamed = append(streamed, e.ID)
	}
	assert.Equal(t, ids, streamed)
}

func TestMemoryStorageReturnsCopies(t *testing.T) {
	ctx := t.Context()
	m := storage.NewMemoryStorage(0)
	e := memEntry("c", memBase)
	e.Metadata = map[string]any{"list": []any{"a", map[string]any{"k": "v"}}, "typed": []string{"s"}}
	e.Alerts = []string{"one"}
	require.NoError(t, m.Write(ctx, e))
	// Mutate the caller's entry, including values inside metadata.
	e.Metadata["typed"].([]string)[0] = "changed"
	e.Metadata["list"].([]any)[1].(map[string]any)["k"] = "changed"
	e.Alerts[0] = "changed"

	for range 2 {
		got, err := m.Read(ctx, "c")
		require.NoError(t, err)
		assert.Equal(t, []string{"one"}, got.Alerts)
		assert.Equal(t, []any{"s"}, got.Metadata["typed"])
		assert.Equal(t, "v", got.Metadata["list"].([]any)[1].(map[string]any)["k"])
		// Mutate what was returned; the second Read must not see it.
		got.Alerts[0] = "mutated"
		got.Metadata["list"].([]any)[1].(map[string]any)["k"] = "mutated"
		got.Metadata["typed"].([]any)[0] = "mutated"
	}
	for e, err := range m.Entries(ctx, memBase, memBase) {
		require.NoError(t, err)
		e.Alerts[0] = "mutated"
	}
	got, err := m.Read(ctx, "c")
	require.NoError(t, err)
	assert.Equal(t, []string{"one"}, got.Alerts)
}

func TestMemoryStorageEntriesStopsOnCancel(t *testing.T) {
	m := storage.NewMemoryStorage(0)
	for i := range 1000 {
		require.NoError(t, m.Write(t.Context(), memEntry(fmt.Sprint(i), memBase.Add(time.Duration(i)))))
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var n int
	var errs []error
	for _, err := range m.Entries(ctx, time.Time{}, memBase.AddDate(1, 0, 0)) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n++
		if n == 10 {
			cancel()
		}
	}
	assert.Equal(t, 10, n, "no entry after the cancel")
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], context.Canceled)
}

func TestMemoryStorageNegativeBoundIsUnbounded(t *testing.T) {
	m := storage.NewMemoryStorage(-1)
	for i := range 10 {
		require.NoError(t, m.Write(t.Context(), memEntry(fmt.Sprint(i), memBase)))
	}
	n, err := m.Count(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 10, n)
	assert.Zero(t, m.Stats().Evicted)
}

// BenchmarkMemoryStorageWriteEvict measures a write that evicts (bound
// 10k, so every write past warm-up evicts one entry).
func BenchmarkMemoryStorageWriteEvict(b *testing.B) {
	ctx := context.Background()
	m := storage.NewMemoryStorage(10_000)
	es := make([]*storage.AuditEntry, 1<<16)
	for i := range es {
		es[i] = memEntry(storage.NewEntryID(), memBase.Add(time.Duration(i)*time.Millisecond))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		e := es[i%len(es)]
		if err := m.Write(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkMemoryStorageListRange measures a 100-entry range query in a
// store of 100k entries.
func BenchmarkMemoryStorageListRange(b *testing.B) {
	ctx := context.Background()
	m := storage.NewMemoryStorage(0)
	const total = 100_000
	for i := range total {
		if err := m.Write(ctx, memEntry(fmt.Sprint(i), memBase.Add(time.Duration(i)*time.Second))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		start := memBase.Add(time.Duration(i*7919%(total-100)) * time.Second)
		es, err := m.ListEntries(ctx, start, start.Add(99*time.Second))
		if err != nil || len(es) != 100 {
			b.Fatalf("got %d entries, err %v", len(es), err)
		}
	}
}
