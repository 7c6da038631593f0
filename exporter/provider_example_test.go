package exporter_test

import (
	"context"
	"fmt"
	"strings"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// ExampleProviderOptions is the README's first recipe: a service that
// builds its own TracerProvider, with its own exporter (here an in-memory
// one standing in for OTLP) and sampler, adds the audit with one call. The
// service's exporter sees the GenAI span without its content; the audit
// store holds the entry.
func ExampleProviderOptions() {
	ctx := context.Background()
	store := storage.NewMemoryStorage(0) // filestore.New or s3store.New in production
	logger, _ := otelaudit.NewLogger(store)
	serviceExporter := tracetest.NewInMemoryExporter() // e.g. otlptracegrpc.New(ctx)

	opts, auditExp, err := exporter.ProviderOptions(logger,
		exporter.WithExporter(serviceExporter),                              // wrapped with exporter.Redact
		exporter.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())), // the service's sampler, wrapped
	)
	if err != nil {
		panic(err)
	}
	tp := sdktrace.NewTracerProvider(opts...) // plus the service's own options
	tracer := tp.Tracer("service")

	// A sampled request that calls a model.
	ctx, req := tracer.Start(ctx, "POST /ask")
	_, call := otelaudit.StartCall(ctx, otelaudit.Request{
		Provider: "openai", Model: "gpt-4o",
		Input: []otelaudit.Message{{Content: "What is the capital of France?"}},
	}, otelaudit.WithTracerProvider(tp))
	call.SetOutput(otelaudit.Message{Content: "Paris.", FinishReason: "stop"})
	call.End()
	req.End()

	_ = tp.ForceFlush(ctx)
	leaked := false
	for _, s := range serviceExporter.GetSpans() {
		for _, kv := range s.Attributes {
			leaked = leaked || strings.Contains(kv.Value.String(), "France") || strings.Contains(kv.Value.String(), "Paris")
		}
	}
	fmt.Println("spans exported:", len(serviceExporter.GetSpans()))
	fmt.Println("content in the exported spans:", leaked)
	_ = tp.Shutdown(ctx) // drains the audit into the store
	n, _ := store.Count(ctx)
	e, _ := store.Read(ctx, call.EntryID())
	fmt.Println("audit entries:", n, "written:", auditExp.Stats().Written)
	fmt.Println("input hash matches:", e.InputHash == otelaudit.HashContent("What is the capital of France?"))
	// Output:
	// spans exported: 2
	// content in the exported spans: false
	// audit entries: 1 written: 1
	// input hash matches: true
}
