package exporter

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// TestOpenSpansDoNotAccumulate: every span the processor holds from start
// to end (content hand-offs, GenAI spans that may pair, pairs in either
// end order, bridges: spans directly under an open GenAI span) is released
// at its end, and other spans are never held.
func TestOpenSpansDoNotAccumulate(t *testing.T) {
	l, err := otelaudit.NewLogger(storage.NewMemoryStorage(0))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(l)
	if err != nil {
		t.Fatal(err)
	}
	p := NewProcessor(e).(*processor)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tr := tp.Tracer("t")
	for i := range 50 {
		ctx, outer := tr.Start(t.Context(), "chat m") // an instrumentation's GenAI span
		_, call := otelaudit.StartCall(ctx, otelaudit.Request{Model: "m", Input: []otelaudit.Message{{Content: "x"}}},
			otelaudit.WithTracerProvider(tp))
		_, bridge := tr.Start(ctx, "POST") // may stand between the pair's spans
		_, plain := tr.Start(t.Context(), "GET /")
		if got := p.open.n.Load(); got != 3 {
			t.Fatalf("round %d: %d spans held while a pair and a bridge are open, want 3 (the plain span is not held)", i, got)
		}
		plain.End()
		bridge.End()
		if got := p.open.n.Load(); got != 2 {
			t.Fatalf("round %d: %d spans held after the bridge ended, want 2", i, got)
		}
		if i%2 == 0 {
			call.End()
			outer.End()
		} else {
			outer.End()
			call.End()
		}
		if got := p.open.n.Load(); got != 0 {
			t.Fatalf("round %d: %d spans still held after all ended", i, got)
		}
	}
	if err := tp.ForceFlush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := e.Stats(); st.Written != 50 || st.Layered != 50 {
		t.Fatalf("written %d, layered %d; want one entry per pair (50, 50)", st.Written, st.Layered)
	}
}

// TestEndAfterDrainNotHeld: once Shutdown has drained the held spans, a
// span of a pair that ends while its partner is open is returned to be
// audited alone, not held where no drain will find it.
func TestEndAfterDrainNotHeld(t *testing.T) {
	var o openSpans
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tr := tp.Tracer("t")
	ctx, outer := tr.Start(t.Context(), "chat m")
	o.start(trace.SpanFromContext(t.Context()), outer.(sdktrace.ReadWriteSpan), nil)
	_, inner := tr.Start(ctx, "chat m")
	o.start(outer, inner.(sdktrace.ReadWriteSpan), nil)
	inner.End()
	if held := o.drain(); len(held) != 0 {
		t.Fatalf("drained %d spans before any ended", len(held))
	}
	if got, _, _ := o.end(inner.(sdktrace.ReadOnlySpan)); got == nil {
		t.Fatal("a span ending after the drain was held for its open partner")
	}
	outer.End()
	if got, _, _ := o.end(outer.(sdktrace.ReadOnlySpan)); got == nil {
		t.Fatal("the partner, ending later, was not returned")
	}
}

// TestBridgesDroppedWithTheirSpan: a span that never ends, started under
// a GenAI span (a bridge it could pair through), is not held once that
// GenAI span ended: nothing can pair through it any more.
func TestBridgesDroppedWithTheirSpan(t *testing.T) {
	var o openSpans
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tr := tp.Tracer("t")
	for range 100 {
		ctx, call := tr.Start(t.Context(), "chat m")
		o.start(trace.SpanFromContext(t.Context()), call.(sdktrace.ReadWriteSpan), nil)
		_, leaked := tr.Start(ctx, "POST") // never ended
		o.start(call, leaked.(sdktrace.ReadWriteSpan), nil)
		call.End()
		o.end(call.(sdktrace.ReadOnlySpan))
	}
	if got := o.n.Load(); got != 0 {
		t.Fatalf("%d spans held after every GenAI span ended", got)
	}
}
