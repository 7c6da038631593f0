package otelauditexporter_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelaudit/otelaudit-go/collector/otelauditexporter"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// The otelaudit exporter as a Collector pipeline runs it, driven by hand:
// one GenAI span in OTLP form goes in; one audit entry comes out in the
// file store, with the prompt's hash and without its text (content: hash,
// the default).
func ExampleNewFactory() {
	dir, err := os.MkdirTemp("", "otelaudit-collector-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	f := otelauditexporter.NewFactory()
	cfg := f.CreateDefaultConfig().(*otelauditexporter.Config)
	cfg.Directory = dir
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	ctx := context.Background()
	exp, err := f.CreateTraces(ctx, exportertest.NewNopSettings(f.Type()), cfg)
	if err != nil {
		panic(err)
	}
	if err := exp.Start(ctx, componenttest.NewNopHost()); err != nil {
		panic(err)
	}

	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	td := ptrace.NewTraces()
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName("chat gpt-4o")
	span.SetKind(ptrace.SpanKindClient)
	span.SetTraceID(pcommon.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36})
	span.SetSpanID(pcommon.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7})
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(850 * time.Millisecond)))
	span.Attributes().PutStr("gen_ai.operation.name", "chat")
	span.Attributes().PutStr("gen_ai.provider.name", "openai")
	span.Attributes().PutStr("gen_ai.request.model", "gpt-4o")
	span.Attributes().PutInt("gen_ai.usage.input_tokens", 12)
	span.Attributes().PutStr("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"my secret"}]}]`)
	if err := exp.ConsumeTraces(ctx, td); err != nil {
		panic(err)
	}
	if err := exp.Shutdown(ctx); err != nil { // written and durable
		panic(err)
	}

	st, err := filestore.New(dir, filestore.WithReadOnly())
	if err != nil {
		panic(err)
	}
	defer st.Close()
	es, err := st.ListEntries(ctx, start, start)
	if err != nil {
		panic(err)
	}
	for _, e := range es {
		fmt.Println(*e.Provider, *e.Model, e.Operation, *e.InputTokens, e.TraceID)
		fmt.Println("latency ms:", e.LatencyMS, "prompt stored:", e.InputContent != nil, "hash length:", len(e.InputHash))
	}
	// Output:
	// openai gpt-4o chat 12 4bf92f3577b34da6a3ce929d0e0e4736
	// latency ms: 850 prompt stored: false hash length: 64
}
