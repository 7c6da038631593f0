package otelauditexporter_test

import (
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otelaudit/otelaudit-go/collector/internal/coltest"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// BenchmarkCollectorFileThroughput sends b.N GenAI spans (made by
// otelaudit.StartCall with content on the span, 1 KiB of prompt and
// answer) over OTLP/gRPC from the Go SDK into an in-process Collector
// whose otelaudit exporter writes a file store (hash-only), and stops the
// clock when the Collector has shut down, that is when every entry is
// written and fsynced. It reports spans/s and checks the count.
func BenchmarkCollectorFileThroughput(b *testing.B) {
	dir := b.TempDir() + "/audit"
	port := coltest.FreePort(b)
	col := coltest.Start(b, fmt.Sprintf(`
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:%d", max_recv_msg_size_mib: 64}
exporters:
  otelaudit:
    directory: %s
    sending_queue: {queue_size: 100000, sizer: items, block_on_overflow: true, num_consumers: 4}
service:
  telemetry:
    logs: {level: warn}
    metrics: {level: none}
  pipelines:
    traces: {receivers: [otlp], exporters: [otelaudit]}
`, port, dir))
	exp, err := otlptracegrpc.New(b.Context(), otlptracegrpc.WithEndpoint(fmt.Sprintf("127.0.0.1:%d", port)), otlptracegrpc.WithInsecure())
	if err != nil {
		b.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp,
		sdktrace.WithMaxQueueSize(1<<16), sdktrace.WithMaxExportBatchSize(2048), sdktrace.WithBlocking()))
	in := []otelaudit.Message{{Content: fmt.Sprintf("%0512d", 7)}}
	out := otelaudit.Message{Content: fmt.Sprintf("%0512d", 8)}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		_, call := otelaudit.StartCall(b.Context(), otelaudit.Request{Provider: "openai", Model: "gpt-4o", Input: in},
			otelaudit.WithTracerProvider(tp), otelaudit.WithContentOnSpan(true))
		call.SetOutput(out)
		call.SetUsage(100, 20)
		call.End()
	}
	if err := tp.Shutdown(b.Context()); err != nil {
		b.Fatal(err)
	}
	if err := col.Stop(); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	st, err := filestore.New(dir, filestore.WithReadOnly())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if n, err := st.Count(b.Context()); err != nil || n != b.N {
		b.Fatalf("count %d (%v), want %d", n, err, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "spans/s")
}
