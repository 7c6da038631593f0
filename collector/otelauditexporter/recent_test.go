package otelauditexporter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	auditexporter "github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/genaijoin"
)

func testView(n byte, attrs ...attribute.KeyValue) *genaijoin.View {
	return &genaijoin.View{
		SC:    trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{n}, SpanID: trace.SpanID{n}}),
		Start: time.Unix(int64(n), 0), End: time.Unix(int64(n)+1, 0),
		Attrs: append([]attribute.KeyValue{attribute.String("gen_ai.operation.name", "chat")}, attrs...),
	}
}

func views(vs ...*genaijoin.View) []auditexporter.SpanView {
	out := make([]auditexporter.SpanView, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// The memory holds the last max spans: a span delivered again within it
// is left out, beyond it written again; a failed push frees its ids.
func TestRecentSpansWindow(t *testing.T) {
	r := newRecentSpans(2)
	out, ids, again, _ := r.sort(views(testView(1), testView(2), testView(1)))
	require.Len(t, out, 2)
	assert.Equal(t, 1, again, "the same span twice in one push")
	r.written(ids)

	out, _, again, _ = r.sort(views(testView(1), testView(2)))
	assert.Empty(t, out)
	assert.Equal(t, 2, again)

	out, ids, _, _ = r.sort(views(testView(3))) // forgets span 1
	require.Len(t, out, 1)
	r.written(ids)
	out, ids, again, _ = r.sort(views(testView(1)))
	assert.Len(t, out, 1, "beyond the window: written again")
	assert.Zero(t, again)
	r.release(ids) // its push failed
	out, _, _, _ = r.sort(views(testView(1)))
	assert.Len(t, out, 1, "the retry of a failed push is written")
}

// Two spans that claim one id: the first keeps it, the second is written
// under its own span's id with the claimed id in its metadata, whether
// the first is written, still being written, or earlier in the push.
func TestRecentSpansClaimedID(t *testing.T) {
	const id = "0190f0a0-0000-7000-8000-000000000001"
	claim := attribute.String("audit.entry_id", id)
	for _, written := range []bool{true, false} {
		r := newRecentSpans(10)
		out, ids, _, claimed := r.sort(views(testView(1, claim)))
		require.Len(t, out, 1)
		assert.Equal(t, []string{id}, ids)
		assert.Zero(t, claimed)
		if written {
			r.written(ids)
		}
		second := testView(2, claim)
		out, ids, again, claimed := r.sort(views(second))
		require.Len(t, out, 1)
		assert.Zero(t, again)
		assert.Equal(t, 1, claimed)
		own := auditexporter.EntryIDForSpan(second.SC, second.Start)
		assert.Equal(t, []string{own}, ids)
		assert.Equal(t, own, auditexporter.EntryID(second))
		assert.Contains(t, second.Attrs, attribute.String("audit.metadata.claimed_entry_id", id))
	}
	r := newRecentSpans(10)
	out, ids, _, claimed := r.sort(views(testView(1, claim), testView(2, claim)))
	require.Len(t, out, 2)
	assert.Equal(t, 1, claimed)
	assert.NotEqual(t, ids[0], ids[1])
}
