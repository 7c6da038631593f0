package logaudit_test

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/exporter/logaudit"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// An instrumentation that records the call's metadata on its span and the
// prompt and answer as log events: the Auditor, a span processor of the
// TracerProvider and the processor of the LoggerProvider, writes one entry
// with both. The sampler is wrapped by exporter.Sampler, so that GenAI
// spans are recorded (and audited) even where the base sampler drops them.
func ExampleNew() {
	ctx := context.Background()
	store := storage.NewMemoryStorage(0)
	logger, _ := otelaudit.NewLogger(store, otelaudit.WithStoreContent(true)) // plaintext, for the example
	exp, _ := exporter.New(logger)
	a, err := logaudit.New(exp)
	if err != nil {
		panic(err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(a), // not WithBatcher(a): the batcher drops spans when its queue is full
		sdktrace.WithSampler(exporter.Sampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.1)))))
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(a))

	cctx, span := tp.Tracer("instr").Start(ctx, "chat gpt-4o",
		trace.WithAttributes( // no content on the span
			attribute.String("gen_ai.operation.name", "chat"), attribute.String("gen_ai.provider.name", "openai"),
			attribute.String("gen_ai.request.model", "gpt-4o")))
	emit := func(name string, body attribute.Value) {
		var r log.Record
		r.SetEventName(name)
		r.SetBody(body)
		lp.Logger("instr").Emit(cctx, r)
	}
	emit("gen_ai.user.message", attribute.MapValue(attribute.String("content", "Is the sky blue?")))
	emit("gen_ai.choice", attribute.MapValue(attribute.String("finish_reason", "stop"),
		attribute.Map("message", attribute.String("role", "assistant"), attribute.String("content", "Yes."))))
	span.End()

	_ = tp.Shutdown(ctx) // first: the last spans meet the events already held
	_ = lp.Shutdown(ctx)

	es, _ := store.ListEntries(ctx, time.Time{}, time.Now().Add(time.Hour))
	for _, e := range es {
		fmt.Println(*e.Model, e.Operation)
		fmt.Println(*e.InputContent)
		fmt.Println(*e.OutputContent)
	}
	// Output:
	// gpt-4o chat
	// Is the sky blue?
	// Yes.
}
