package otelauditexporter_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/collector/internal/coltest"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// envFleetSpans overrides the number of spans TestReplicasOneBucket sends
// (default [defaultFleetSpans]), for a longer run by hand.
const envFleetSpans = "OTELAUDIT_FLEET_SPANS"

const defaultFleetSpans = 30000

// TestReplicasOneBucket runs three processes of the built bin/otelcol-audit
// writing into one S3 bucket and prefix at the same time, and sends 30,000
// GenAI spans spread over them over OTLP/gRPC, one Go SDK sender per
// replica. Every span is one entry, no id twice, each replica is its own
// writer (its own chain) in the bucket, and `otelaudit verify --s3-bucket
// --checkpoint-key-file` passes on the bucket, checking the replicas'
// signed digests.
func TestReplicasOneBucket(t *testing.T) {
	total := defaultFleetSpans
	if v := os.Getenv(envFleetSpans); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "%s", envFleetSpans)
		total = n
	}
	bin := collectorBinary(t)
	cli := buildCLI(t)
	bucket, srv, client := newS3Bucket(t) // exports the AWS credentials the processes inherit
	const replicas = 3
	work := t.TempDir()
	// The replicas sign their digests with one checkpoint key; verify
	// checks the signatures with it.
	keyFile := filepath.Join(work, "ckpt.key")
	require.NoError(t, os.WriteFile(keyFile, []byte("fleet1:00112233445566778899aabbccddeeff\n"), 0o600))
	ports := make([]int, replicas)
	cmds := make([]*exec.Cmd, replicas)
	for r := range replicas {
		ports[r] = coltest.FreePort(t)
		cfg := filepath.Join(work, fmt.Sprintf("replica%d.yaml", r))
		require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:%d"}
exporters:
  otelaudit:
    s3: {bucket: %s, prefix: fleet, endpoint: %q, region: us-east-1}
    checkpoint_key_file: %s
    sending_queue: {queue_size: 100000, sizer: items, block_on_overflow: true, num_consumers: 4}
    retry_on_failure: {enabled: true, max_elapsed_time: 0}
service:
  telemetry:
    logs: {level: warn}
    metrics: {level: none}
  pipelines:
    traces: {receivers: [otlp], exporters: [otelaudit]}
`, ports[r], bucket, srv.Endpoint, keyFile)), 0o600))
		cmds[r] = startBinary(t, bin, cfg, ports[r])
		cmd := cmds[r]
		t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	}

	begin := time.Now()
	var wg sync.WaitGroup
	for r := range replicas {
		n := total / replicas
		if r < total%replicas {
			n++
		}
		wg.Go(func() { sendFleet(t, ports[r], r, n) })
	}
	wg.Wait()
	for _, cmd := range cmds {
		stopBinary(t, cmd, 2*time.Minute)
	}
	t.Logf("%d spans through %d replicas into S3 in %s", total, replicas, time.Since(begin).Round(time.Millisecond))

	st, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix("fleet"), s3store.WithReadOnly())
	require.NoError(t, err)
	defer st.Close()
	es, err := st.ListEntries(t.Context(), time.Time{}, time.Now().Add(24*time.Hour))
	require.NoError(t, err)
	ids := map[string]bool{}
	spans := map[string]bool{}
	writers := map[string]int{}
	for _, e := range es {
		assert.False(t, ids[e.ID], "entry %s twice", e.ID)
		ids[e.ID] = true
		spans[e.SpanID] = true
		if assert.NotNil(t, e.Chain, "entry %s is chained", e.ID) {
			writers[e.Chain.Writer]++
		}
	}
	assert.Len(t, ids, total, "one entry per span")
	assert.Len(t, spans, total, "every span has its own entry")
	assert.Len(t, writers, replicas, "one writer per replica: %v", writers)

	out, err := exec.Command(cli, "verify", "--s3-bucket", bucket, "--s3-prefix", "fleet",
		"--s3-endpoint", srv.Endpoint, "--s3-region", "us-east-1", "--checkpoint-key-file", keyFile).CombinedOutput()
	require.NoError(t, err, "otelaudit verify on the bucket:\n%s", out)
	assert.Contains(t, string(out), "INTACT")
	assert.NotContains(t, string(out), " 0 signed", "the replicas' digests are signed and checked")
	t.Logf("otelaudit verify:\n%s", out)
}

// buildCLI builds cmd/otelaudit of this checkout into a temporary
// directory; a build failure fails the test.
func buildCLI(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "otelaudit")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/otelaudit")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/otelaudit:\n%s", out)
	return bin
}

// sendFleet sends n GenAI spans with content on the span (distinct per
// replica and span) to the Collector on port, through the Go SDK's
// OTLP/gRPC exporter, and returns when the SDK has exported them all.
func sendFleet(t *testing.T, port, replica, n int) {
	exp, err := otlptracegrpc.New(t.Context(), otlptracegrpc.WithEndpoint(fmt.Sprintf("127.0.0.1:%d", port)), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBlocking(), sdktrace.WithMaxExportBatchSize(1000)))
	tracer := tp.Tracer("fleet")
	for i := range n {
		_, s := tracer.Start(t.Context(), "chat gpt-4o", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
			attribute.String("gen_ai.operation.name", "chat"),
			attribute.String("gen_ai.provider.name", "openai"),
			attribute.String("gen_ai.request.model", "gpt-4o"),
			attribute.Int("gen_ai.usage.input_tokens", 10+i%50),
			attribute.Int("gen_ai.usage.output_tokens", i%13),
			attribute.String("gen_ai.input.messages", fmt.Sprintf(`[{"role":"user","parts":[{"type":"text","content":"replica %d question %d"}]}]`, replica, i)),
			attribute.String("gen_ai.output.messages", fmt.Sprintf(`[{"role":"assistant","parts":[{"type":"text","content":"answer %d"}],"finish_reason":"stop"}]`, i)),
		))
		s.End()
	}
	require.NoError(t, tp.Shutdown(t.Context()))
}
