package exporter

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otelaudit/otelaudit-go/internal/handoff"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// slotRecorder claims content slots as the audit processor does and keeps
// the last span that ended with its slot.
type slotRecorder struct {
	slot *handoff.Slot
	span sdktrace.ReadOnlySpan
}

func (r *slotRecorder) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	if sl := handoff.Claim(parent, s); sl != nil {
		r.slot = sl
	}
}
func (r *slotRecorder) OnEnd(s sdktrace.ReadOnlySpan)    { r.span = s }
func (r *slotRecorder) Shutdown(context.Context) error   { return nil }
func (r *slotRecorder) ForceFlush(context.Context) error { return nil }

// BenchmarkWorkerEntry is the audit worker's work for one audited call,
// alone on one goroutine: the span of BenchmarkCallerCost's audited call
// (StartCall with 1 KiB of input and 1 KiB of output handed over beside
// the span, a response id and model, usage, a finish reason) turned into
// its hash-only entry, as the worker's convert stage does it
// (InteractionFromSpan, Logger.Entry with its two SHA-256 and Validate,
// the GenAI metrics on a no-op MeterProvider). It is what each audited
// call adds to the process beside the caller's own work; on two cores
// it reaches the caller through CPU time taken and GC work. allocs/op
// and B/op do not depend on the machine's load.
func BenchmarkWorkerEntry(b *testing.B) {
	b.Run("noop-metrics", func(b *testing.B) { benchmarkWorkerEntry(b) })
	b.Run("sdk-metrics", func(b *testing.B) {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		defer func() { _ = mp.Shutdown(context.Background()) }()
		benchmarkWorkerEntry(b, WithMeterProvider(mp))
	})
}

func benchmarkWorkerEntry(b *testing.B, opts ...Option) {
	rec := &slotRecorder{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	text := strings.Repeat("the quick brown fox jumps over the lazy dog ", 24)[:1024]
	benchCall(tp, text)
	if rec.slot == nil || rec.span == nil {
		b.Fatal("the span's content slot was not claimed")
	}
	logger, err := otelaudit.NewLogger(storage.NewMemoryStorage(0))
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(logger, opts...)
	if err != nil {
		b.Fatal(err)
	}
	view := new(contentSpan)
	ctx := context.Background()
	if en, _ := e.entry(ctx, view.wrap(rec.span, rec.slot), false); en == nil || en.InputHash != otelaudit.HashContent(text) ||
		en.OutputHash != en.InputHash || en.Metadata["gen_ai.response.id"] != "resp-1" {
		b.Fatalf("entry %+v: not the call's", en)
	}
	b.ReportAllocs()
	for b.Loop() {
		if en, _ := e.entry(ctx, view.wrap(rec.span, rec.slot), false); en == nil {
			b.Fatal("no entry")
		}
	}
}

// gateBackend discards what it is given, but each write waits while gate
// is locked: a backend write that has not returned.
type gateBackend struct {
	*storage.MemoryStorage
	gate sync.Mutex
}

func (g *gateBackend) WriteBatch(context.Context, []*storage.AuditEntry) error {
	g.gate.Lock()
	defer g.gate.Unlock()
	return nil
}

// gatedPipeline is an audit pipeline whose backend writes wait while
// backend.gate is locked: a processor writing batches of one entry, and a
// provider with it, shut down when the test ends.
type gatedPipeline struct {
	backend *gateBackend
	e       *Exporter
	p       *processor
	tp      *sdktrace.TracerProvider
}

func newGatedPipeline(tb testing.TB) *gatedPipeline {
	tb.Helper()
	backend := &gateBackend{MemoryStorage: storage.NewMemoryStorage(0)}
	logger, err := otelaudit.NewLogger(backend)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := New(logger)
	if err != nil {
		tb.Fatal(err)
	}
	p := NewProcessor(e, WithMaxBatchSize(1)).(*processor)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p))
	tb.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return &gatedPipeline{backend: backend, e: e, p: p, tp: tp}
}

// benchCall ends one audited call like BenchmarkCallerCost's (text, 1 KiB,
// in and out, handed over beside the span; a response id and model,
// usage, a finish reason) on tp.
func benchCall(tp *sdktrace.TracerProvider, text string) {
	_, call := otelaudit.StartCall(context.Background(), otelaudit.Request{
		Provider: "openai", Model: "gpt-4o", ConversationID: "conv-1",
		Input: []otelaudit.Message{{Content: text}},
	}, otelaudit.WithTracerProvider(tp))
	call.SetResponse("resp-1", "gpt-4o-2024-08-06")
	call.SetUsage(12, 1)
	call.SetOutput(otelaudit.Message{Content: text, FinishReason: "stop"})
	call.End()
}

// BenchmarkQueuedSpan measures what an audited call keeps alive while its
// span waits in the audit processor's queue, that is whenever the callers
// end spans faster than the worker converts them (on two busy cores, most
// of the time): queued-B/span is the live heap per queued span after a
// GC, with 1,024 spans queued behind a backend write that has not
// returned. The GC marks all of it in every cycle while it waits. The
// content strings are the caller's own and not counted. The figure does
// not depend on the machine's load. Each iteration queues 1,024 spans,
// measures, then lets the worker write them.
func BenchmarkQueuedSpan(b *testing.B) {
	pl := newGatedPipeline(b)
	text := strings.Repeat("the quick brown fox jumps over the lazy dog ", 24)[:1024]
	const n = 1024
	var bytes, queued float64
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	for b.Loop() {
		pl.backend.gate.Lock()
		before := heap()
		for range n {
			benchCall(pl.tp, text)
		}
		after := heap()
		bytes += float64(after) - float64(before)
		queued += float64(len(pl.p.queue))
		pl.backend.gate.Unlock()
		if err := pl.tp.ForceFlush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	if queued < n/2 {
		b.Fatalf("%v spans queued of %d: the worker was not held back", queued/float64(b.N), n)
	}
	b.ReportMetric(bytes/queued, "queued-B/span")
}
