package exporter_test

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/genaijoin"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// joinViews runs a join over events and, when span is not nil, the span
// after them, and returns the views it writes.
func joinViews(t *testing.T, span *genaijoin.View, evs []genaijoin.Event) []exporter.SpanView {
	var mu sync.Mutex
	var out []exporter.SpanView
	j := genaijoin.New(50*time.Millisecond, genaijoin.DefaultMaxBytes, time.Minute, func(_ context.Context, vs []exporter.SpanView) error {
		mu.Lock()
		defer mu.Unlock()
		out = append(out, vs...)
		return nil
	})
	w := j.AddEvents(evs)
	if span != nil {
		_, held := j.Split([]*genaijoin.View{span})
		require.NoError(t, genaijoin.Wait(t.Context(), j.AddSpans(held)))
	}
	require.NoError(t, genaijoin.Wait(t.Context(), w))
	j.Close()
	mu.Lock()
	defer mu.Unlock()
	return out
}

// TestEventsReplayedAfterTheirJoin: a call's span and events were joined
// and written under the span's entry id; its events, delivered again
// without the span (a persistent logs queue replaying a push after a
// crash), make an entry from the events alone under another id. A write
// that looks entries up (dedupe: replay, retries) finds the span's entry
// by trace and span id and content and does not write them again; without
// the look-up, and for events whose content the stored entry lacks (they
// came after their span was written without content), they are written.
func TestEventsReplayedAfterTheirJoin(t *testing.T) {
	st, err := filestore.New(t.TempDir())
	require.NoError(t, err)
	l, err := otelaudit.NewLogger(st, otelaudit.WithStoreContent(true))
	require.NoError(t, err)
	e, err := exporter.New(l, exporter.WithCloseBackend(true))
	require.NoError(t, err)
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()

	start := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	call := func(sid byte) (*genaijoin.View, []genaijoin.Event) {
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{9, sid}, SpanID: trace.SpanID{sid}})
		span := &genaijoin.View{SC: sc, Start: start, End: start.Add(3 * time.Second), Attrs: []attribute.KeyValue{
			attribute.String("gen_ai.operation.name", "chat"), attribute.String("gen_ai.system", "openai")}}
		evs := []genaijoin.Event{{Name: "gen_ai.client.inference.operation.details", TraceID: sc.TraceID(), SpanID: sc.SpanID(),
			Time: start.Add(2 * time.Second), Attrs: map[string]any{
				"gen_ai.input.messages":  `[{"role":"user","parts":[{"type":"text","content":"q"}]}]`,
				"gen_ai.output.messages": `[{"role":"assistant","parts":[{"type":"text","content":"a"}]}]`}}}
		return span, evs
	}
	count := func(sid byte) int {
		es, err := st.ListEntries(t.Context(), time.Time{}, time.Now().Add(time.Hour))
		require.NoError(t, err)
		n := 0
		for _, x := range es {
			if x.SpanID == (trace.SpanID{sid}).String() {
				n++
			}
		}
		return n
	}

	// Joined, then its events again: not written under dedupe.
	span, evs := call(1)
	joined := joinViews(t, span, evs)
	require.Len(t, joined, 1)
	require.NoError(t, e.ExportViews(t.Context(), joined, false))
	alone := joinViews(t, nil, evs)
	require.Len(t, alone, 1)
	require.NotEqual(t, exporter.EntryID(joined[0]), exporter.EntryID(alone[0]), "the events' own id")
	require.NoError(t, e.ExportViews(t.Context(), alone, true))
	assert.Equal(t, 1, count(1), "the replayed events are stored in the span's entry already")
	assert.EqualValues(t, 1, e.Stats().EventsStored)

	// Without the look-up they are written (the exporter's normal path).
	span, evs = call(2)
	require.NoError(t, e.ExportViews(t.Context(), joinViews(t, span, evs), false))
	require.NoError(t, e.ExportViews(t.Context(), joinViews(t, nil, evs), false))
	assert.Equal(t, 2, count(2))

	// The span's entry without the content (its events came late): the
	// events' entry holds content stored nowhere else, written.
	span, evs = call(3)
	require.NoError(t, e.ExportViews(t.Context(), joinViews(t, span, nil), false))
	require.NoError(t, e.ExportViews(t.Context(), joinViews(t, nil, evs), true))
	assert.Equal(t, 2, count(3), "content the stored entry lacks is written")
	assert.EqualValues(t, 1, e.Stats().EventsStored)
}

// scanCounter counts the range reads of the store it wraps.
type scanCounter struct {
	*filestore.Store
	scans atomic.Int32
}

func (s *scanCounter) Entries(ctx context.Context, from, to time.Time) iter.Seq2[*storage.AuditEntry, error] {
	s.scans.Add(1)
	return s.Store.Entries(ctx, from, to)
}

// TestEventsReplayedBatchOneScan: a replayed logs push holds the events of
// many calls joined before: none is written again, and the look-up reads
// the store's range once for the batch, not once per call.
func TestEventsReplayedBatchOneScan(t *testing.T) {
	fs, err := filestore.New(t.TempDir())
	require.NoError(t, err)
	st := &scanCounter{Store: fs}
	l, err := otelaudit.NewLogger(st, otelaudit.WithStoreContent(true))
	require.NoError(t, err)
	e, err := exporter.New(l, exporter.WithCloseBackend(true))
	require.NoError(t, err)
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()

	start := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	var replay []exporter.SpanView
	const calls = 20
	for i := range calls {
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{7, byte(i)}, SpanID: trace.SpanID{byte(i + 1)}})
		span := &genaijoin.View{SC: sc, Start: start, End: start.Add(3 * time.Second), Attrs: []attribute.KeyValue{
			attribute.String("gen_ai.operation.name", "chat"), attribute.String("gen_ai.system", "openai")}}
		evs := []genaijoin.Event{{Name: "gen_ai.client.inference.operation.details", TraceID: sc.TraceID(), SpanID: sc.SpanID(),
			Time: start.Add(time.Duration(i) * time.Second), Attrs: map[string]any{
				"gen_ai.input.messages":  fmt.Sprintf(`[{"role":"user","parts":[{"type":"text","content":"q%d"}]}]`, i),
				"gen_ai.output.messages": `[{"role":"assistant","parts":[{"type":"text","content":"a"}]}]`}}}
		require.NoError(t, e.ExportViews(t.Context(), joinViews(t, span, evs), false))
		replay = append(replay, joinViews(t, nil, evs)...)
	}
	require.Len(t, replay, calls)
	st.scans.Store(0)
	require.NoError(t, e.ExportViews(t.Context(), replay, true))
	es, err := fs.ListEntries(t.Context(), time.Time{}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.Len(t, es, calls, "no call stored twice")
	assert.EqualValues(t, calls, e.Stats().EventsStored)
	assert.EqualValues(t, 1, st.scans.Load(), "one range read for the batch")
}
