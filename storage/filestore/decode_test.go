package filestore

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/storage"
)

// TestEntriesParallelDecodeOrder: lines are decoded in parallel batches,
// yet Entries yields every valid entry exactly once, oldest first and, for
// equal timestamps, in the order written, and counts each invalid line
// once, in every region kind: indexed blocks of a file written in time
// order (streamed as read) or out of it (sorted after decoding), more than
// one batch of them, and a tail no index covers with invalid lines in it.
func TestEntriesParallelDecodeOrder(t *testing.T) {
	for _, sorted := range []bool{true, false} {
		name := map[bool]string{true: "sorted", false: "unsorted"}[sorted]
		t.Run(name, func(t *testing.T) { testParallelDecodeOrder(t, sorted) })
	}
}

func testParallelDecodeOrder(t *testing.T, sorted bool) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	dir := t.TempDir()
	st, err := New(dir)
	require.NoError(t, err)
	day := time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC)
	pad := strings.Repeat("x", 900) // 3,000 lines: more than one 1 MiB batch
	const n = 3000
	order := rand.Perm(n)
	if sorted {
		slices.Sort(order)
	}
	// Ten entries per second: w, the position written, orders equal
	// timestamps.
	es := make([]*storage.AuditEntry, n)
	for i, k := range order {
		e := testEntry(day.Add(time.Duration(k/10) * time.Second))
		e.Metadata = map[string]any{"pad": pad, "w": i}
		es[i] = e
	}
	require.NoError(t, st.WriteBatch(t.Context(), es))
	require.NoError(t, st.Close())

	// A tail the index does not cover: valid entries between invalid lines.
	path := filepath.Join(dir, partName("20250304", 0))
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	const tail, bad = 100, 7
	for i := range tail {
		e := testEntry(day.Add(time.Duration(n/10+i) * time.Second))
		e.Metadata = map[string]any{"w": n + i}
		line, err := e.MarshalJSON()
		require.NoError(t, err)
		if i%15 == 0 && i/15 < bad {
			_, err = f.WriteString("{not an entry}\n")
			require.NoError(t, err)
		}
		_, err = f.Write(append(line, '\n'))
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())

	ro, err := New(dir, WithReadOnly())
	require.NoError(t, err)
	defer ro.Close()
	got, err := ro.ListEntries(t.Context(), time.Time{}, day.Add(48*time.Hour))
	require.NoError(t, err)
	require.Len(t, got, n+tail)
	w := func(e *storage.AuditEntry) int {
		v, err := e.Metadata["w"].(json.Number).Int64()
		require.NoError(t, err)
		return int(v)
	}
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		require.True(t, a.Timestamp.Before(b.Timestamp) || a.Timestamp.Equal(b.Timestamp) && w(a) < w(b),
			"entry %d (%v, written %d) after entry %d (%v, written %d)", i, b.Timestamp, w(b), i-1, a.Timestamp, w(a))
	}
	assert.Equal(t, uint64(bad), ro.Stats().SkippedLines)

	// A range inside the indexed part reads only what it asks for.
	part, err := ro.ListEntries(t.Context(), day.Add(100*time.Second), day.Add(199*time.Second))
	require.NoError(t, err)
	require.Len(t, part, 1000)
	assert.Equal(t, day.Add(100*time.Second), part[0].Timestamp)
}

// TestEntriesOwnTheirBytes: a scan decodes lines out of a batch buffer it
// reuses for the next batch (and the next scan), and entries keep copies
// of their fields in blocks shared with other entries. Entries of every
// size (empty, small, around and beyond the decoder's 16 KiB blocks, and
// enough of them for several 1 MiB batches) must read back exactly as Read
// decodes them one by one, after further scans have reused every buffer.
func TestEntriesOwnTheirBytes(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	st, err := New(t.TempDir())
	require.NoError(t, err)
	defer st.Close()
	day := time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC)
	const block = 16 << 10
	sizes := []int{0, 10, block / 2, block - 700, block, block + 1, 3 * block, 5, block / 3, 900, 1400}
	var written []*storage.AuditEntry
	for i := range 400 {
		e := testEntry(day.Add(time.Duration(i) * time.Second))
		e.Metadata = map[string]any{"pad": strings.Repeat(string(rune('a'+i%26)), sizes[i%len(sizes)]), "i": i}
		model := fmt.Sprintf("model-%d", i/3) // shared with the entry before, or not
		e.Model = &model
		written = append(written, e)
	}
	require.NoError(t, st.WriteBatch(t.Context(), written))
	first, err := st.ListEntries(t.Context(), time.Time{}, day.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, first, len(written))
	for range 2 { // reuse the pooled batch buffers and decoders
		_, err := st.ListEntries(t.Context(), time.Time{}, day.Add(time.Hour))
		require.NoError(t, err)
	}
	for i, e := range first {
		one, err := st.Read(t.Context(), written[i].ID)
		require.NoError(t, err)
		require.Equal(t, one, e, "entry %d", i)
		require.Equal(t, written[i].Metadata["pad"], e.Metadata["pad"], "entry %d", i)
	}
}
