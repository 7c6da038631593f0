package exporter_test

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// ExampleNewTracerProvider audits a call while an ordinary exporter gets
// the span without its content.
func ExampleNewTracerProvider() {
	ctx := context.Background()
	st := storage.NewMemoryStorage(0)
	logger, _ := otelaudit.NewLogger(st) // hash-only
	other := tracetest.NewInMemoryExporter()
	tp, exp, err := exporter.NewTracerProvider(logger, exporter.WithExporter(other))
	if err != nil {
		fmt.Println(err)
		return
	}

	_, call := otelaudit.StartCall(ctx, otelaudit.Request{Provider: "openai", Model: "gpt-4o",
		Input: []otelaudit.Message{{Content: "What is 2+2?"}}}, otelaudit.WithTracerProvider(tp))
	call.SetUsage(8, 1)
	call.SetOutput(otelaudit.Message{Content: "4", FinishReason: "stop"})
	call.End()

	_ = tp.ForceFlush(ctx) // every ended span is now a durable entry
	for _, s := range other.GetSpans() {
		_, hasPrompt := attr(s, semconv.GenAIInputMessagesKey)
		fmt.Println("exported:", s.Name, "prompt attribute:", hasPrompt)
	}
	e, _ := st.Read(ctx, call.EntryID())
	fmt.Println("entry:", *e.Model, *e.InputTokens, e.InputHash == otelaudit.HashContent("What is 2+2?"))
	fmt.Println("written:", exp.Stats().Written)
	_ = tp.Shutdown(ctx)
	// Output:
	// exported: chat gpt-4o prompt attribute: false
	// entry: gpt-4o 8 true
	// written: 1
}

// ExampleSampler keeps GenAI spans for the audit when the trace sampler
// drops them; they are recorded but not sampled.
func ExampleSampler() {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(exporter.Sampler(sdktrace.NeverSample())))
	_, call := otelaudit.StartCall(context.Background(), otelaudit.Request{Model: "m"}, otelaudit.WithTracerProvider(tp))
	fmt.Println("recording:", call.Span().IsRecording(), "sampled:", call.Span().SpanContext().IsSampled())
	call.End()
	_, plain := tp.Tracer("app").Start(context.Background(), "not genai")
	fmt.Println("other span recording:", plain.IsRecording())
	plain.End()
	// Output:
	// recording: true sampled: false
	// other span recording: false
}

// ExampleEntryIDForSpan finds the entry of a span that had no
// audit.entry_id, from its trace.
func ExampleEntryIDForSpan() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	_, s := tp.Tracer("thirdparty").Start(context.Background(), "chat",
		trace.WithTimestamp(start), trace.WithAttributes(semconv.GenAIOperationNameChat))
	s.End()
	id := exporter.EntryIDForSpan(s.SpanContext(), start)
	fmt.Println(len(id), id[:15])
	// Output:
	// 36 019b7ca9-8c88-7
}

func attr(s tracetest.SpanStub, k attribute.Key) (string, bool) {
	for _, kv := range s.Attributes {
		if kv.Key == k {
			return kv.Value.String(), true
		}
	}
	return "", false
}

// IsContentAttribute is the one redaction rule: the same answers for the
// SDK's Redact and the Collector's otelauditredact processor.
func ExampleIsContentAttribute() {
	fmt.Println(exporter.IsContentAttribute("", "gen_ai.input.messages"))
	fmt.Println(exporter.IsContentAttribute("", "gen_ai.request.model"))
	fmt.Println(exporter.IsContentAttribute("gen_ai.user.message", "content"))
	fmt.Println(exporter.IsContentAttribute("exception", "exception.message"))
	// Output:
	// true
	// false
	// true
	// false
}
