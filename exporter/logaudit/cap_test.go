package logaudit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/exporter/logaudit"
)

// TestProcessorCapBurstSplitsNoCall: a burst from 8 goroutines, half the
// calls' events before the span, half without events, over a 32 KiB cap:
// every call one entry, none twice. Over the cap the join writes the
// calls whose span is here first (those without events gain nothing by
// waiting), not the calls whose events wait for their span a moment away.
func TestProcessorCapBurstSplitsNoCall(t *testing.T) {
	ctx := context.Background()
	mem, e := newExporter(t)
	a, err := logaudit.New(e, logaudit.WithJoinWait(time.Second), logaudit.WithJoinMaxBytes(32<<10))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(a), sdktrace.WithSampler(exporter.Sampler(sdktrace.AlwaysSample())))
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(a))
	const per, g = 500, 8
	var wg sync.WaitGroup
	for w := range g {
		wg.Go(func() {
			for i := range per {
				cctx, span := tp.Tracer("instr").Start(ctx, "chat gpt-4o", trace.WithSpanKind(trace.SpanKindClient),
					trace.WithAttributes(metaAttrs(i)...))
				if (i+w)%2 == 0 {
					emitEvents(cctx, lp.Logger("instr"), i)
				}
				span.End()
			}
		})
	}
	wg.Wait()
	require.NoError(t, tp.Shutdown(ctx))
	require.NoError(t, lp.Shutdown(ctx))
	es, err := mem.ListEntries(ctx, time.Time{}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	spans := map[string]int{}
	for _, en := range es {
		spans[en.SpanID]++
	}
	dups := 0
	for _, c := range spans {
		if c > 1 {
			dups++
		}
	}
	t.Logf("join stats %+v", a.Stats())
	assert.Equal(t, g*per, len(spans), "every call has an entry")
	assert.Zero(t, dups, "no call has two entries")
}
