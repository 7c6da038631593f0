package otelaudit_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// ExampleStartCall records one chat call as a GenAI span. The span carries
// no content: the prompt and the answer go to the audit processor of the
// provider (here there is none, so they are dropped, and the span says
// audit.content_unavailable, which an audit exporter behind another span
// processor records in the entry). In production the provider is built
// with exporter.ProviderOptions or exporter.NewTracerProvider, and the
// span has no audit.content_unavailable.
func ExampleStartCall() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))

	_, call := otelaudit.StartCall(context.Background(), otelaudit.Request{
		Provider: "openai",
		Model:    "gpt-4o",
		Input:    []otelaudit.Message{{Role: "user", Content: "Hi"}},
	}, otelaudit.WithTracerProvider(tp))
	call.SetResponse("chatcmpl-1", "gpt-4o-2024-08-06")
	call.SetUsage(5, 2)
	call.SetOutput(otelaudit.Message{Content: "Hello!", FinishReason: "stop"})
	call.End()

	s := rec.Ended()[0]
	fmt.Println(s.Name(), s.SpanKind())
	for _, kv := range s.Attributes() {
		if kv.Key == otelaudit.AuditEntryIDKey {
			fmt.Println(kv.Key, "=", kv.Value.AsString() == call.EntryID())
			continue
		}
		fmt.Println(kv.Key, "=", kv.Value.String())
	}
	// Output:
	// chat gpt-4o client
	// gen_ai.operation.name = chat
	// audit.entry_id = true
	// gen_ai.provider.name = openai
	// gen_ai.request.model = gpt-4o
	// audit.content_unavailable = true
	// gen_ai.response.id = chatcmpl-1
	// gen_ai.response.model = gpt-4o-2024-08-06
	// gen_ai.usage.input_tokens = 5
	// gen_ai.usage.output_tokens = 2
	// gen_ai.response.finish_reasons = ["stop"]
}

// ExampleWithContentOnSpan puts the content on the span too, for users who
// want prompts in their trace backend.
func ExampleWithContentOnSpan() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	_, call := otelaudit.StartCall(context.Background(), otelaudit.Request{
		Model: "gpt-4o",
		Input: []otelaudit.Message{{Content: "Hi"}},
	}, otelaudit.WithTracerProvider(tp), otelaudit.WithContentOnSpan(true))
	call.SetOutput(otelaudit.Message{Content: "Hello!", FinishReason: "stop"})
	call.End()
	for _, kv := range rec.Ended()[0].Attributes() {
		if otelaudit.IsContentKey(kv.Key) {
			fmt.Println(kv.Key, "=", kv.Value.String())
		}
	}
	// Output:
	// gen_ai.input.messages = [{"role":"user","parts":[{"type":"text","content":"Hi"}]}]
	// gen_ai.output.messages = [{"role":"assistant","parts":[{"type":"text","content":"Hello!"}],"finish_reason":"stop"}]
}

// ExampleCall_Block records a request that a safety check stopped before it
// reached the model; it is audited like any other call.
func ExampleCall_Block() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	_, call := otelaudit.StartCall(context.Background(), otelaudit.Request{Model: "gpt-4o"}, otelaudit.WithTracerProvider(tp))
	call.Block("PII in prompt", "ssn")
	call.End()
	for _, kv := range rec.Ended()[0].Attributes() {
		if kv.Key == otelaudit.AuditSafetyPassedKey || kv.Key == otelaudit.AuditBlockReasonKey || kv.Key == otelaudit.AuditDetectorsTriggeredKey {
			fmt.Println(kv.Key, "=", kv.Value.String())
		}
	}
	// Output:
	// audit.safety_passed = false
	// audit.detectors_triggered = ["ssn"]
	// audit.block_reason = PII in prompt
}
