package logaudit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/exporter/logaudit"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// metaAttrs are a call's span attributes without content, as Go
// instrumentations that emit events record them.
func metaAttrs(i int) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("gen_ai.operation.name", "chat"),
		attribute.String("gen_ai.provider.name", "openai"),
		attribute.String("gen_ai.request.model", "gpt-4o"),
		attribute.Int("gen_ai.usage.input_tokens", 10+i),
		attribute.Int("gen_ai.usage.output_tokens", 3),
	}
}

func texts(i int) (system, user, answer string) {
	return fmt.Sprintf("be brief %d", i), fmt.Sprintf("question %d: é ✓ \"quoted\"", i), fmt.Sprintf("answer %d", i)
}

// emitEvents emits call i's content as the semconv message events, in
// the span's context.
func emitEvents(ctx context.Context, l log.Logger, i int) { emitEventsAs(ctx, l, i, false) }

// emitEventsAs is emitEvents, naming the events by the older event.name
// attribute when legacy is set.
func emitEventsAs(ctx context.Context, l log.Logger, i int, legacy bool) {
	sys, user, answer := texts(i)
	emit := func(name string, body attribute.Value) {
		var r log.Record
		if legacy {
			r.AddAttributes(attribute.String("event.name", name))
		} else {
			r.SetEventName(name)
		}
		r.SetTimestamp(time.Now())
		r.SetBody(body)
		r.AddAttributes(attribute.String("gen_ai.provider.name", "openai"))
		l.Emit(ctx, r)
	}
	emit("gen_ai.system.message", attribute.MapValue(attribute.String("content", sys)))
	emit("gen_ai.user.message", attribute.MapValue(attribute.String("content", user)))
	emit("gen_ai.choice", attribute.MapValue(attribute.Int("index", 0), attribute.String("finish_reason", "stop"),
		attribute.Map("message", attribute.String("role", "assistant"), attribute.String("content", answer))))
}

// TestEventsJoinTheirSpan: 50 calls whose spans carry no content and whose
// prompt and answer come as log events through the Go SDK's log pipeline;
// each is one entry, equal (hashes, content, tokens, ids) to the entry the
// exporter writes for the same call with the content on the span.
func TestEventsJoinTheirSpan(t *testing.T) {
	ctx := context.Background()
	mem, e := newExporter(t)
	a, err := logaudit.New(e, logaudit.WithJoinWait(2*time.Second))
	require.NoError(t, err)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(a, sdktrace.WithBatchTimeout(10*time.Millisecond)), sdktrace.WithSpanProcessor(rec))
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(a))
	tracer, logger := tp.Tracer("instr"), lp.Logger("instr")

	const n = 50
	for i := range n {
		cctx, span := tracer.Start(ctx, "chat gpt-4o", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(metaAttrs(i)...))
		emitEvents(cctx, logger, i)
		span.End()
	}
	start := time.Now()
	require.NoError(t, tp.Shutdown(ctx))
	require.NoError(t, lp.Shutdown(ctx))
	assert.Less(t, time.Since(start), 2*time.Second, "calls with span and answer are written without waiting the window out")

	got, err := mem.ListEntries(ctx, time.Time{}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, got, n, "one entry per call")
	want := reference(t, rec.Ended())
	for _, g := range got {
		w, ok := want[g.SpanID]
		if !assert.True(t, ok, "entry for span %s", g.SpanID) {
			continue
		}
		assert.Equal(t, w.InputHash, g.InputHash, "span %s: input hash as with content on the span", g.SpanID)
		assert.Equal(t, w.OutputHash, g.OutputHash, "span %s", g.SpanID)
		assert.Equal(t, w.InputContent, g.InputContent, "span %s", g.SpanID)
		assert.Equal(t, w.OutputContent, g.OutputContent, "span %s", g.SpanID)
		assert.Equal(t, w.InputTokens, g.InputTokens, "span %s", g.SpanID)
		assert.Equal(t, w.TraceID, g.TraceID, "span %s", g.SpanID)
		assert.NotEqual(t, otelaudit.HashContent(""), g.InputHash, "span %s: content was joined", g.SpanID)
	}
}

// newExporter returns a memory store and an exporter writing into it
// through a Logger that keeps content in clear, so that entries can be
// compared content and all.
func newExporter(t *testing.T) (*storage.MemoryStorage, *exporter.Exporter) {
	t.Helper()
	mem := storage.NewMemoryStorage(0)
	l, err := otelaudit.NewLogger(mem, otelaudit.WithStoreContent(true))
	require.NoError(t, err)
	e, err := exporter.New(l)
	require.NoError(t, err)
	return mem, e
}

// reference writes the same calls with their content on the span through
// exporter.New and returns the entries by span id.
func reference(t *testing.T, spans []sdktrace.ReadOnlySpan) map[string]*storage.AuditEntry {
	t.Helper()
	ctx := context.Background()
	mem, e := newExporter(t)
	var withContent []sdktrace.ReadOnlySpan
	for i, s := range spans {
		sys, user, answer := texts(i)
		in := fmt.Sprintf(`[{"role":"system","parts":[{"type":"text","content":%q}]},{"role":"user","parts":[{"type":"text","content":%q}]}]`, sys, user)
		out := fmt.Sprintf(`[{"role":"assistant","parts":[{"type":"text","content":%q}],"finish_reason":"stop"}]`, answer)
		stub := tracetest.SpanStubFromReadOnlySpan(s)
		stub.Attributes = append(append([]attribute.KeyValue(nil), s.Attributes()...),
			attribute.String("gen_ai.input.messages", in), attribute.String("gen_ai.output.messages", out))
		withContent = append(withContent, stub.Snapshot())
	}
	require.NoError(t, e.ExportSpans(ctx, withContent))
	require.NoError(t, e.Shutdown(ctx))
	es, err := mem.ListEntries(ctx, time.Time{}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	out := map[string]*storage.AuditEntry{}
	for _, en := range es {
		out[en.SpanID] = en
	}
	return out
}

// TestSpanAloneAndEventsAlone: a span whose events never come and events
// whose span never comes are each written when the window ends (or at
// ForceFlush); non-GenAI spans and other log records are ignored.
func TestSpanAloneAndEventsAlone(t *testing.T) {
	ctx := context.Background()
	mem, e := newExporter(t)
	a, err := logaudit.New(e, logaudit.WithJoinWait(100*time.Millisecond))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(a))
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(a))

	_, alone := tp.Tracer("i").Start(ctx, "chat gpt-4o", trace.WithAttributes(metaAttrs(1)...))
	alone.End() // waits out the window: no events
	_, plain := tp.Tracer("i").Start(ctx, "GET /")
	plain.End()
	orphan := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{9}, SpanID: trace.SpanID{9}}))
	emitEventsAs(orphan, lp.Logger("i"), 2, true) // named by the event.name attribute
	var other log.Record
	other.SetBody(attribute.StringValue("not an event"))
	lp.Logger("i").Emit(orphan, other)
	require.NoError(t, a.ForceFlush(ctx))

	es, err := mem.ListEntries(ctx, time.Time{}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, es, 2)
	bySpan := map[string]*storage.AuditEntry{}
	for _, en := range es {
		bySpan[en.SpanID] = en
	}
	span := bySpan[alone.SpanContext().SpanID().String()]
	if assert.NotNil(t, span, "the span without events") {
		assert.Equal(t, otelaudit.HashContent(""), span.InputHash)
	}
	ev := bySpan[trace.SpanID{9}.String()]
	if assert.NotNil(t, ev, "the events without span") {
		_, user, answer := texts(2)
		assert.Contains(t, *ev.InputContent, user)
		assert.Contains(t, *ev.OutputContent, answer)
		assert.Equal(t, "chat", ev.Operation)
	}
	require.NoError(t, tp.Shutdown(ctx))
	require.NoError(t, lp.Shutdown(ctx))
	assert.ErrorIs(t, a.ExportSpans(ctx, nil), logaudit.ErrShutdown)
}

// TestEvaluationsKept: the evaluations recorded on a call (its
// gen_ai.evaluation.result span events) reach its entry as they do through
// exporter.New, whether the span is written at once (content on it) or
// after the join's window.
func TestEvaluationsKept(t *testing.T) {
	ctx := context.Background()
	mem, e := newExporter(t)
	a, err := logaudit.New(e, logaudit.WithJoinWait(50*time.Millisecond))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(a))
	for _, onSpan := range []bool{true, false} {
		_, call := otelaudit.StartCall(ctx, otelaudit.Request{Model: "m", Input: []otelaudit.Message{{Content: "q"}}},
			otelaudit.WithTracerProvider(tp), otelaudit.WithContentOnSpan(onSpan))
		call.RecordEvaluation(otelaudit.Evaluation{Name: "toxicity", Label: "pass"})
		call.End()
	}
	require.NoError(t, a.ForceFlush(ctx))
	require.NoError(t, tp.Shutdown(ctx))
	es, err := mem.ListEntries(ctx, time.Time{}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, es, 2)
	for _, en := range es {
		assert.Equal(t, []any{map[string]any{"name": "toxicity", "label": "pass"}}, en.Metadata["gen_ai.evaluation.results"])
		assert.Equal(t, []string{"evaluation:toxicity=pass"}, en.Alerts)
	}
}
