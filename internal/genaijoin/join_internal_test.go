package genaijoin

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	auditexporter "github.com/otelaudit/otelaudit-go/exporter"
)

// TestJoinMemoryCap: over its cap the join writes the oldest calls at
// once and counts them; nothing is lost, and every push returns.
func TestJoinMemoryCap(t *testing.T) {
	var mu sync.Mutex
	written := map[trace.SpanID]bool{}
	j := New(time.Hour, 4096, time.Minute, func(_ context.Context, vs []auditexporter.SpanView) error {
		mu.Lock()
		defer mu.Unlock()
		for _, v := range vs {
			written[v.SpanContext().SpanID()] = true
		}
		return nil
	})
	defer j.Close()
	var wg sync.WaitGroup
	const n = 200
	for i := range n {
		v := &View{
			SC:    trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{byte(i), byte(i >> 8), 1}}),
			Attrs: []attribute.KeyValue{attribute.String("gen_ai.operation.name", "chat"), attribute.String("pad", string(make([]byte, 100)))},
		}
		w := j.AddSpans([]*View{v})
		wg.Go(func() { assert.NoError(t, Wait(t.Context(), w)) })
	}
	j.mu.Lock()
	held, mem := len(j.calls), j.mem
	j.mu.Unlock()
	assert.LessOrEqual(t, mem, 4096, "memory stays under the cap")
	assert.Less(t, held, n)
	assert.Positive(t, j.Stats().OverCap)
	j.Close() // writes the rest
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, written, n, "every call is written, none lost")
}
