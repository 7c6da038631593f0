package logaudit_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
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
	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/internal/handletest"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// TestProcessorBurstLosesNothing: the burst the batcher wiring lost (3000
// calls without content, their events never coming) gives 3000 entries
// through the processor wiring, none dropped, and OnEnd does not wait the
// window out for each span.
func TestProcessorBurstLosesNothing(t *testing.T) {
	const calls = 3000
	ctx := context.Background()
	mem, e := newExporter(t)
	a, err := logaudit.New(e, logaudit.WithJoinWait(200*time.Millisecond))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(a))
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(a))

	tr := tp.Tracer("instr")
	start := time.Now()
	for i := range calls {
		_, span := tr.Start(ctx, "chat gpt-4o", trace.WithAttributes(metaAttrs(i)...))
		span.End()
		// An OnEnd that waited for the window would take calls × 200 ms
		// (10 minutes); fail early instead.
		require.Less(t, time.Since(start), 30*time.Second, "OnEnd does not wait for the window (%d spans ended)", i+1)
	}
	require.NoError(t, tp.Shutdown(ctx))
	require.NoError(t, lp.Shutdown(ctx))

	n, err := mem.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, calls, n, "one entry per call")
	assert.Zero(t, e.Stats().Dropped)
	st := a.Stats()
	assert.Zero(t, st.Dropped)
	assert.EqualValues(t, calls, st.SpansWithoutEvents, "each span waited for its events, then was written alone")
}

// TestProcessorUnsampledParent: a call under an incoming request whose
// traceparent says not sampled, from an instrumentation whose content
// capture is off (the span, no events). With exporter.Sampler, the span is
// recorded (not sampled) and the processor audits it; without it, the SDK
// never records the span and nothing can audit it, which is why the
// package doc requires exporter.Sampler.
func TestProcessorUnsampledParent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sampler sdktrace.Sampler
		want    int
	}{
		{"exporter.Sampler", exporter.Sampler(sdktrace.ParentBased(sdktrace.AlwaysSample())), 1},
		{"bare ParentBased", sdktrace.ParentBased(sdktrace.AlwaysSample()), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			mem, e := newExporter(t)
			a, err := logaudit.New(e, logaudit.WithJoinWait(200*time.Millisecond))
			require.NoError(t, err)
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(a), sdktrace.WithSampler(tc.sampler))
			lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(a))

			remote := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, Remote: true})
			_, span := tp.Tracer("instr").Start(trace.ContextWithRemoteSpanContext(ctx, remote), "chat gpt-4o",
				trace.WithAttributes(metaAttrs(0)...))
			assert.False(t, span.SpanContext().IsSampled())
			span.End()
			require.NoError(t, tp.Shutdown(ctx))
			require.NoError(t, lp.Shutdown(ctx))

			n, err := mem.Count(ctx)
			require.NoError(t, err)
			assert.Equal(t, tc.want, n)
		})
	}
}

// TestProcessorEventsAfterSpan: the span ends first, without content, and
// its content events come through the LoggerProvider afterwards: one
// entry, with the hashes of the same call recorded with its content on
// the span.
func TestProcessorEventsAfterSpan(t *testing.T) {
	ctx := context.Background()
	mem, e := newExporter(t)
	a, err := logaudit.New(e, logaudit.WithJoinWait(5*time.Second))
	require.NoError(t, err)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(a), sdktrace.WithSpanProcessor(rec))
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(a))

	cctx, span := tp.Tracer("instr").Start(ctx, "chat gpt-4o", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(metaAttrs(0)...))
	span.End()
	emitEvents(cctx, lp.Logger("instr"), 0) // after End, in the span's context

	// Complete (span and answer): written well before the 5 s window ends.
	require.Eventually(t, func() bool {
		n, err := mem.Count(ctx)
		return err == nil && n == 1
	}, 3*time.Second, 10*time.Millisecond, "the joined call is written without waiting the window out")
	require.NoError(t, tp.Shutdown(ctx))
	require.NoError(t, lp.Shutdown(ctx))

	got, err := mem.ListEntries(ctx, time.Time{}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, got, 1, "span and events are one entry")
	want := reference(t, rec.Ended())[got[0].SpanID]
	require.NotNil(t, want)
	assert.Equal(t, want.InputHash, got[0].InputHash, "the events' content")
	assert.Equal(t, want.OutputHash, got[0].OutputHash)
	assert.NotEqual(t, otelaudit.HashContent(""), got[0].InputHash)
	assert.EqualValues(t, 1, a.Stats().Joined)
}

// blockingBackend is a memory store whose writes wait until release is
// closed, as a stalled backend does.
type blockingBackend struct {
	*storage.MemoryStorage
	release chan struct{}
	entered chan struct{} // closed at the first write
	once    sync.Once
	opened  sync.Once
}

// open lets the writes through.
func (b *blockingBackend) open() { b.opened.Do(func() { close(b.release) }) }

func (b *blockingBackend) wait(ctx context.Context) error {
	b.once.Do(func() { close(b.entered) })
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *blockingBackend) Write(ctx context.Context, e *storage.AuditEntry) error {
	if err := b.wait(ctx); err != nil {
		return err
	}
	return b.MemoryStorage.Write(ctx, e)
}

func (b *blockingBackend) WriteBatch(ctx context.Context, es []*storage.AuditEntry) error {
	if err := b.wait(ctx); err != nil {
		return err
	}
	return b.MemoryStorage.WriteBatch(ctx, es)
}

// TestProcessorOnEndDoesNotBlock: while the backend does not return, OnEnd
// of spans with their content (written at once) and without (held for
// events) returns promptly; the entries are written once the backend
// returns.
func TestProcessorOnEndDoesNotBlock(t *testing.T) {
	ctx := context.Background()
	b := &blockingBackend{MemoryStorage: storage.NewMemoryStorage(0), release: make(chan struct{}), entered: make(chan struct{})}
	l, err := otelaudit.NewLogger(b)
	require.NoError(t, err)
	e, err := exporter.New(l)
	require.NoError(t, err)
	a, err := logaudit.New(e, logaudit.WithJoinWait(50*time.Millisecond))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(a))
	t.Cleanup(b.open) // a failed test must not leave OnEnd or Shutdown stuck

	const calls = 20
	// end ends span i, with its content when i is even, and fails the test
	// unless End returns within a second: a liveness check, not a timing.
	end := func(i int) {
		attrs := metaAttrs(i)
		if i%2 == 0 {
			attrs = append(attrs, attribute.String("gen_ai.input.messages", fmt.Sprintf(`[{"role":"user","parts":[{"type":"text","content":"q%d"}]}]`, i)))
		}
		_, span := tp.Tracer("instr").Start(ctx, "chat gpt-4o", trace.WithAttributes(attrs...))
		ended := make(chan struct{})
		go func() {
			span.End()
			close(ended)
		}()
		select {
		case <-ended:
		case <-time.After(time.Second):
			t.Fatalf("OnEnd of span %d waits for the blocked backend", i)
		}
	}
	end(0)
	select {
	case <-b.entered: // the join's goroutine is now stuck in the backend
	case <-time.After(10 * time.Second):
		t.Fatal("the span with content was not written")
	}
	for i := 1; i < calls; i++ {
		end(i)
	}
	time.Sleep(100 * time.Millisecond) // the window of the spans without content ends meanwhile

	b.open()
	require.NoError(t, tp.Shutdown(ctx))
	n, err := b.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, calls, n)
}

// auditedProvider is an Auditor on an exporter into a memory store, and a
// TracerProvider with the Auditor as its span processor.
func auditedProvider(t *testing.T) (*storage.MemoryStorage, *logaudit.Auditor, *sdktrace.TracerProvider) {
	t.Helper()
	mem, e := newExporter(t)
	a, err := logaudit.New(e)
	require.NoError(t, err)
	return mem, a, sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(a))
}

// TestProcessorOnEndAfterShutdown: a GenAI span that ends after Shutdown
// is counted as dropped and reported to otel.Handle once, by span id and
// never with its content; other spans are not counted.
func TestProcessorOnEndAfterShutdown(t *testing.T) {
	ctx := context.Background()
	_, a, tp := auditedProvider(t)
	require.NoError(t, tp.Shutdown(ctx))

	reported := handletest.Capture(t)

	const secret = "the secret prompt"
	span := func(id byte, attrs ...attribute.KeyValue) sdktrace.ReadOnlySpan {
		return tracetest.SpanStub{
			Name:        "chat gpt-4o",
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{7}, SpanID: trace.SpanID{id}, TraceFlags: trace.FlagsSampled}),
			StartTime:   time.Now(), EndTime: time.Now(),
			Attributes: attrs,
		}.Snapshot()
	}
	content := attribute.String("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"`+secret+`"}]}]`)
	a.OnEnd(span(1, append(metaAttrs(0), content)...))
	a.OnEnd(span(2, metaAttrs(1)...))
	a.OnEnd(span(3, attribute.String("http.route", "/"))) // not GenAI

	assert.EqualValues(t, 2, a.Stats().Dropped)
	reports := reported()
	require.Len(t, reports, 1, "reported once")
	assert.Contains(t, reports[0], trace.SpanID{1}.String())
	assert.NotContains(t, reports[0], secret)
	assert.False(t, strings.Contains(reports[0], "gen_ai.input.messages"))
}

// TestProcessorOnEmitAfterShutdown: an Auditor shut down by its
// TracerProvider while the LoggerProvider still emits refuses the GenAI
// content events and counts each in Stats().DroppedEvents; nothing is
// written for them. The first is refused with an error matching
// ErrShutdown (the log SDK hands it to otel.Handle, by event name and span
// id, never with the content), the later ones are only counted: a service
// stopping under load would otherwise flood its error handler, one report
// per event. Other records, and content events without a span, stay
// no-ops.
func TestProcessorOnEmitAfterShutdown(t *testing.T) {
	ctx := context.Background()
	mem, a, tp := auditedProvider(t)
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(a))
	defer lp.Shutdown(ctx)
	sctx, span := tp.Tracer("instr").Start(ctx, "chat gpt-4o", trace.WithAttributes(metaAttrs(0)...))
	span.End()
	require.NoError(t, tp.Shutdown(ctx))
	require.EqualValues(t, 1, a.Stats().SpansWithoutEvents, "the span before Shutdown is written")

	reported := handletest.Capture(t)
	for range 50 {
		emitEvents(sctx, lp.Logger("instr"), 0) // three content events
	}

	assert.EqualValues(t, 150, a.Stats().DroppedEvents, "every refused event is counted")
	reports := reported()
	require.Equal(t, 1, len(reports), "the first refused event is reported, by the log SDK; the others are counted")
	sys, user, answer := texts(0)
	assert.Contains(t, reports[0], span.SpanContext().SpanID().String())
	assert.Contains(t, reports[0], "Stats().DroppedEvents", "the report says where the total is")
	for _, secret := range []string{sys, user, answer} {
		assert.NotContains(t, reports[0], secret)
	}

	// Called directly: refused and counted, with no error after the
	// first; other records cost nothing.
	var rec sdklog.Record
	rec.SetEventName("gen_ai.user.message")
	rec.SetTraceID(span.SpanContext().TraceID())
	rec.SetSpanID(span.SpanContext().SpanID())
	assert.NoError(t, a.OnEmit(ctx, &rec), "reported already")
	var other sdklog.Record
	other.SetEventName("http.request")
	other.SetTraceID(span.SpanContext().TraceID())
	other.SetSpanID(span.SpanContext().SpanID())
	assert.NoError(t, a.OnEmit(ctx, &other), "not a GenAI content event")
	var noSpan sdklog.Record
	noSpan.SetEventName("gen_ai.user.message")
	assert.NoError(t, a.OnEmit(ctx, &noSpan), "no span: ignored, as before Shutdown")
	assert.EqualValues(t, 151, a.Stats().DroppedEvents)

	n, err := mem.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the span's entry only")
}

// TestAuditorBesideProcessor: a service on exporter.ProviderOptions adds
// the Auditor for an instrumentation that sends its content as events.
// otelaudit's own spans reach both; the processor, which took their
// content, writes their entries, and the Auditor leaves them: one entry
// per call, holding the prompt, under the caller's id (the Auditor's
// would have claimed an empty prompt under the same id). Without any
// audit processor, the Auditor writes them, marked as without content.
func TestAuditorBesideProcessor(t *testing.T) {
	srv := fakellm.Start(fakellm.WithReply("the answer"))
	defer srv.Close()
	mem := storage.NewMemoryStorage(0)
	l, err := otelaudit.NewLogger(mem, otelaudit.WithStoreContent(true))
	require.NoError(t, err)
	opts, _, err := exporter.ProviderOptions(l)
	require.NoError(t, err)
	e, err := exporter.New(l)
	require.NoError(t, err)
	a, err := logaudit.New(e, logaudit.WithJoinWait(50*time.Millisecond))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(append(opts, sdktrace.WithSpanProcessor(a))...)
	httpc := &http.Client{Transport: middleware.Transport(nil, middleware.WithTracerProvider(tp))}

	ctx, call := otelaudit.StartCall(context.Background(), otelaudit.Request{Provider: "openai", Model: "gpt-4o",
		Input: []otelaudit.Message{{Content: "the question"}}}, otelaudit.WithTracerProvider(tp))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.OpenAIBaseURL()+"chat/completions",
		strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"the question"}]}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	res, err := httpc.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	require.NoError(t, res.Body.Close())
	call.End()
	require.NoError(t, tp.Shutdown(context.Background()))

	n, err := mem.Count(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, n, "one call, one entry")
	en, err := mem.Read(context.Background(), call.EntryID())
	require.NoError(t, err)
	assert.Equal(t, otelaudit.HashContent("the question"), en.InputHash, "the entry under call.EntryID() hashes the prompt")

	t.Run("no audit processor", func(t *testing.T) {
		mem := storage.NewMemoryStorage(0)
		l, err := otelaudit.NewLogger(mem)
		require.NoError(t, err)
		e, err := exporter.New(l)
		require.NoError(t, err)
		a, err := logaudit.New(e, logaudit.WithJoinWait(50*time.Millisecond))
		require.NoError(t, err)
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(a))
		_, call := otelaudit.StartCall(context.Background(), otelaudit.Request{Provider: "openai", Model: "gpt-4o",
			Input: []otelaudit.Message{{Content: "the question"}}}, otelaudit.WithTracerProvider(tp))
		call.End()
		require.NoError(t, tp.Shutdown(context.Background()))
		en, err := mem.Read(context.Background(), call.EntryID())
		require.NoError(t, err)
		assert.Equal(t, true, en.Metadata[exporter.MetadataContentUnavailable])
	})
}

// TestOnEmitAfterShutdownEnabled: an instrumentation that asks
// Logger.Enabled before it builds an event (as the Logs API suggests)
// still emits its GenAI content events after the TracerProvider shut the
// Auditor down, so that OnEmit refuses, reports and counts them: with
// Enabled false they were never emitted, and their content reached no
// entry silently, the loss TestProcessorOnEmitAfterShutdown reports.
func TestOnEmitAfterShutdownEnabled(t *testing.T) {
	ctx := context.Background()
	_, e := newExporter(t)
	a, err := logaudit.New(e)
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(a))
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(a))
	defer lp.Shutdown(ctx)
	sctx, span := tp.Tracer("instr").Start(ctx, "chat gpt-4o", trace.WithAttributes(metaAttrs(0)...))
	span.End()
	require.NoError(t, tp.Shutdown(ctx))

	logger := lp.Logger("instr")
	if logger.Enabled(sctx, log.EnabledParameters{EventName: "gen_ai.user.message"}) {
		var r log.Record
		r.SetEventName("gen_ai.user.message")
		r.SetBody(attribute.MapValue(attribute.String("content", "the question")))
		logger.Emit(sctx, r)
	}
	assert.EqualValues(t, 1, a.Stats().DroppedEvents, "the event is emitted, refused and counted")
	assert.False(t, logger.Enabled(sctx, log.EnabledParameters{EventName: "http.request"}), "other events stay disabled")
}
