package logaudit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/exporter/logaudit"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// TestLongCallOneEntry: a call longer than the join window, whose
// instrumentation emits its input event when the request is sent and its
// answer event and span at the end (as the event-based GenAI
// instrumentations do), is one entry. In process, events reach the join
// at once and the span only at its end: the input event waited the
// window (10 s by default) for a span still open and was written as an
// entry of its own, and the span with the answer event was a second one,
// so any model call longer than the window (long generations, reasoning
// models, streams) split its prompt and answer over two entries. Events
// emitted in their recording span now wait for its end. A span that
// never ends does not hold its events for good: Shutdown writes them;
// nor does one the Auditor does not audit: the window runs once it ended.
func TestLongCallOneEntry(t *testing.T) {
	ctx := context.Background()
	mem, e := newExporter(t)
	a, err := logaudit.New(e, logaudit.WithJoinWait(50*time.Millisecond))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(a))
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(a))
	tr := tp.Tracer("instr")
	emit := func(ctx context.Context, name string, body attribute.Value) {
		var r log.Record
		r.SetEventName(name)
		r.SetBody(body)
		lp.Logger("instr").Emit(ctx, r)
	}
	question := func(q string) attribute.Value { return attribute.MapValue(attribute.String("content", q)) }
	answer := func(a string) attribute.Value {
		return attribute.MapValue(attribute.Int("index", 0), attribute.String("finish_reason", "stop"),
			attribute.Map("message", attribute.String("content", a)))
	}
	// Events emitted in a span that is not a GenAI one (an instrumentation
	// that makes no span of its own) wait for it only while it records:
	// once it ended, the window writes them, as before.
	actx, app := tr.Start(ctx, "handle request")
	emit(actx, "gen_ai.user.message", question("app question"))
	emit(actx, "gen_ai.choice", answer("app answer"))
	app.End()
	require.Eventually(t, func() bool { n, _ := mem.Count(ctx); return n == 1 }, 5*time.Second, 5*time.Millisecond,
		"the events of an ended span that is not audited are written once the window ended")

	sctx, span := tr.Start(ctx, "chat gpt-4o", trace.WithAttributes(metaAttrs(0)...))
	emit(sctx, "gen_ai.user.message", question("the question"))
	// A span never ended: its events are written at Shutdown.
	lctx, leaked := tr.Start(ctx, "chat gpt-4o", trace.WithAttributes(metaAttrs(1)...))
	emit(lctx, "gen_ai.user.message", question("leaked question"))
	time.Sleep(200 * time.Millisecond) // a call longer than the window
	emit(sctx, "gen_ai.choice", answer("the answer"))
	span.End()
	require.NoError(t, tp.Shutdown(ctx))
	require.NoError(t, lp.Shutdown(ctx))

	got := map[trace.SpanID][]string{}
	for en, err := range mem.Entries(ctx, time.Time{}, time.Now().Add(time.Hour)) {
		require.NoError(t, err)
		sid, err := trace.SpanIDFromHex(en.SpanID)
		require.NoError(t, err)
		got[sid] = append(got[sid], en.InputHash+" "+en.OutputHash)
	}
	assert.Equal(t, []string{otelaudit.HashContent("the question") + " " + otelaudit.HashContent("the answer")},
		got[span.SpanContext().SpanID()], "one entry with the prompt and the answer; stats %+v", a.Stats())
	assert.Equal(t, []string{otelaudit.HashContent("leaked question") + " " + otelaudit.HashContent("")},
		got[leaked.SpanContext().SpanID()], "the never-ended span's events")
}
