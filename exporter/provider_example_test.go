package exporter_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// ExampleProviderOptions is the README's first recipe: a service that
// builds its own TracerProvider, with its own exporter (here an in-memory
// one standing in for OTLP) and sampler, adds the audit with one call. It
// calls a model (here a local stand-in for the OpenAI API) through an
// http.Client with middleware.Transport, inside otelaudit.StartCall: the
// request carries the ctx StartCall returned, so the two spans of the call
// pair and give one entry. The service's exporter sees the spans without
// their content; the audit store holds the entry.
func ExampleProviderOptions() {
	ctx := context.Background()
	model := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-1","model":"gpt-4o","choices":[{"index":0,"finish_reason":"stop",`+
			`"message":{"role":"assistant","content":"Paris."}}],"usage":{"prompt_tokens":7,"completion_tokens":2}}`)
	}))
	defer model.Close()

	// The audit's own: its store (filestore.New or s3store.New in
	// production) and the Logger over it.
	store := storage.NewMemoryStorage(0)
	logger, _ := otelaudit.NewLogger(store)
	// The service's own exporter, e.g. otlptracegrpc.New(ctx).
	serviceExporter := tracetest.NewInMemoryExporter()

	opts, auditExp, err := exporter.ProviderOptions(logger,
		exporter.WithExporter(serviceExporter),                              // wrapped with exporter.Redact
		exporter.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())), // the service's sampler, wrapped
	)
	if err != nil {
		panic(err)
	}
	tp := sdktrace.NewTracerProvider(opts...) // plus the service's own options
	tracer := tp.Tracer("service")
	httpClient := &http.Client{Transport: middleware.Transport(nil,
		middleware.WithTracerProvider(tp),
		middleware.WithFilter(middleware.LLMOnly))} // audit model API calls only

	// A sampled request that calls a model.
	ctx, server := tracer.Start(ctx, "POST /ask")
	const prompt = "What is the capital of France?"
	callCtx, call := otelaudit.StartCall(ctx, otelaudit.Request{
		Provider: "openai", Model: "gpt-4o",
		Input: []otelaudit.Message{{Role: "user", Content: prompt}},
	}, otelaudit.WithTracerProvider(tp))
	// callCtx, not ctx: a request made with ctx would be a span of its
	// own beside the call's, and a second entry.
	httpReq, _ := http.NewRequestWithContext(callCtx, http.MethodPost, model.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"`+prompt+`"}]}`))
	httpReq.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(httpReq)
	if err != nil {
		call.SetError(err)
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		call.SetOutput(otelaudit.Message{Content: "Paris.", FinishReason: "stop"}) // what the service parsed
	}
	call.End()
	server.End()

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
	st := auditExp.Stats()
	fmt.Println("written:", st.Written, "same call, not stored again:", st.Layered)
	es, _ := store.ListEntries(ctx, time.Time{}, time.Now().Add(time.Hour))
	fmt.Println("audit entries:", len(es))
	for _, e := range es {
		fmt.Println("entry of the request's trace:", e.TraceID == server.SpanContext().TraceID().String())
		fmt.Println("stored under call.EntryID():", e.ID == call.EntryID())
		fmt.Println("input hash matches:", e.InputHash == otelaudit.HashContent(prompt))
	}
	// Output:
	// spans exported: 3
	// content in the exported spans: false
	// written: 1 same call, not stored again: 1
	// audit entries: 1
	// entry of the request's trace: true
	// stored under call.EntryID(): true
	// input hash matches: true
}
