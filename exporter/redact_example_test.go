package exporter_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// ExampleRedact puts Redact in front of an ordinary exporter: a span from
// any GenAI instrumentation that put the prompt on the span reaches that
// exporter without it.
func ExampleRedact() {
	other := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter.Redact(other)))
	_, span := tp.Tracer("thirdparty").Start(context.Background(), "chat gpt-4o", trace.WithAttributes(
		semconv.GenAIOperationNameChat,
		semconv.GenAIRequestModel("gpt-4o"),
		semconv.GenAIInputMessagesKey.String(`[{"role":"user","parts":[{"type":"text","content":"my password is hunter2"}]}]`),
	))
	span.End()
	for _, s := range other.GetSpans() {
		for _, kv := range s.Attributes {
			fmt.Println(kv.Key)
		}
	}
	// Output:
	// gen_ai.operation.name
	// gen_ai.request.model
}

// ExampleNewProcessor wires the audit exporter into a TracerProvider by
// hand (exporter.NewTracerProvider does this in one call): every GenAI span
// becomes an entry, and Shutdown returns once all of them are stored.
func ExampleNewProcessor() {
	ctx := context.Background()
	st := storage.NewMemoryStorage(0)
	logger, _ := otelaudit.NewLogger(st) // hash-only
	exp, err := exporter.New(logger)
	if err != nil {
		fmt.Println(err)
		return
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(exporter.NewProcessor(exp)))

	_, call := otelaudit.StartCall(ctx, otelaudit.Request{Provider: "anthropic", Model: "claude-sonnet-4",
		Input: []otelaudit.Message{{Role: "user", Content: "Summarise this contract."}}}, otelaudit.WithTracerProvider(tp))
	call.SetOutput(otelaudit.Message{Content: "It is a lease.", FinishReason: "stop"})
	call.SetUsage(12, 5)
	call.End()
	if err := tp.Shutdown(ctx); err != nil { // drains the processor
		fmt.Println(err)
		return
	}

	e, err := st.Read(ctx, call.EntryID())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(*e.Provider, *e.Model, *e.InputTokens, *e.OutputTokens)
	fmt.Println("content kept:", e.InputContent != nil, "hash matches:", e.OutputHash == otelaudit.HashContent("It is a lease."))
	// Output:
	// anthropic claude-sonnet-4 12 5
	// content kept: false hash matches: true
}
