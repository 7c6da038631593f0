package handoff_test

import (
	"context"
	"fmt"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/internal/handoff"
)

// auditProcessor is a minimal audit span processor: it claims the slot in
// OnStart and takes it back in OnEnd to read the content.
type auditProcessor struct {
	mu    sync.Mutex
	slots map[trace.SpanID]*handoff.Slot
}

func (p *auditProcessor) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	if sl := handoff.Claim(parent, s); sl != nil {
		p.mu.Lock()
		p.slots[s.SpanContext().SpanID()] = sl
		p.mu.Unlock()
	}
}

func (p *auditProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	p.mu.Lock()
	id := s.SpanContext().SpanID()
	sl := p.slots[id] // nil (no content) for a span it did not claim
	delete(p.slots, id)
	p.mu.Unlock()
	for _, kv := range sl.Attributes() {
		fmt.Printf("audit gets %s=%s\n", kv.Key, kv.Value.String())
	}
}

func (p *auditProcessor) Shutdown(context.Context) error   { return nil }
func (p *auditProcessor) ForceFlush(context.Context) error { return nil }

// The content goes to the audit processor that claimed the slot; the span,
// and so every ordinary exporter, gets none of it.
func Example() {
	audit := &auditProcessor{slots: map[trace.SpanID]*handoff.Slot{}}
	exported := tracetest.NewSpanRecorder() // stands for any other exporter
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(audit), sdktrace.WithSpanProcessor(exported))
	defer tp.Shutdown(context.Background())

	ctx, slot := handoff.Begin(context.Background())
	_, span := tp.Tracer("example").Start(ctx, "chat gpt-4o-mini")
	sink := handoff.NewSink(span, slot, false)
	fmt.Println("audited:", sink.Audited(), "on span:", sink.OnSpan())
	sink.SetText("gen_ai.prompt", "Capital of France?")
	sink.Set(attribute.String("gen_ai.completion", "Paris."))
	span.SetAttributes(attribute.String("gen_ai.request.model", "gpt-4o-mini"))
	span.End()

	for _, kv := range exported.Ended()[0].Attributes() {
		fmt.Printf("span has %s=%s\n", kv.Key, kv.Value.String())
	}
	// Output:
	// audited: true on span: false
	// audit gets gen_ai.prompt=["Capital of France?"]
	// audit gets gen_ai.completion=Paris.
	// span has gen_ai.request.model=gpt-4o-mini
}
