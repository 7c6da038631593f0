package otelauditexporter_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/collector/internal/coltest"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// ackRecorder passes spans to next and records the span ids of every
// export that next acknowledged (returned nil): what the receiver accepted.
type ackRecorder struct {
	next sdktrace.SpanExporter
	mu   sync.Mutex
	ids  map[trace.SpanID]bool
	n    atomic.Int64
}

func (r *ackRecorder) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := r.next.ExportSpans(ctx, spans); err != nil {
		return err
	}
	r.mu.Lock()
	for _, s := range spans {
		r.ids[s.SpanContext().SpanID()] = true
	}
	r.mu.Unlock()
	r.n.Add(int64(len(spans)))
	return nil
}

func (r *ackRecorder) Shutdown(ctx context.Context) error { return r.next.Shutdown(ctx) }

// TestCrashSIGKILL streams 20,000 GenAI spans into the built
// bin/otelcol-audit (persistent sending queue through file_storage, file
// store) and kills it with SIGKILL part way; after a restart every span
// the receiver acknowledged is an entry, and none is stored twice. Then
// it stops the collector gracefully at once: a graceful stop does not
// drain a persistent queue but leaves what is queued on disk, so the test
// starts it a third time and gives it time to write the rest (under load
// the SIGTERM comes with thousands of spans still queued; a quiet machine
// may have none left, which the test logs).
func TestCrashSIGKILL(t *testing.T) {
	bin := collectorBinary(t)
	work := t.TempDir()
	dir := filepath.Join(work, "audit")
	port := coltest.FreePort(t)
	cfg := filepath.Join(work, "config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
extensions:
  file_storage:
    directory: %s
    create_directory: true
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:%d"}
exporters:
  otelaudit:
    directory: %s
    sending_queue: {storage: file_storage, queue_size: 100000}
    retry_on_failure: {enabled: true, max_elapsed_time: 0}
service:
  extensions: [file_storage]
  telemetry:
    logs: {level: warn}
    metrics: {level: none}
  pipelines:
    traces: {receivers: [otlp], exporters: [otelaudit]}
`, filepath.Join(work, "queue"), port, dir)), 0o600))

	start := func() *exec.Cmd { return startBinary(t, bin, cfg, port) }
	cmd := start()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })

	exp, err := otlptracegrpc.New(t.Context(), otlptracegrpc.WithEndpoint(fmt.Sprintf("127.0.0.1:%d", port)), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: true, InitialInterval: 50 * time.Millisecond, MaxInterval: time.Second, MaxElapsedTime: 2 * time.Minute}))
	require.NoError(t, err)
	rec := &ackRecorder{next: exp, ids: map[trace.SpanID]bool{}}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(rec, sdktrace.WithBlocking(), sdktrace.WithMaxExportBatchSize(200),
		sdktrace.WithBatchTimeout(10*time.Millisecond)))
	tracer := tp.Tracer("crash")

	const total = 20000
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for rec.n.Load() < total/4 {
			time.Sleep(time.Millisecond)
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_, _ = cmd.Process.Wait()
		cmd = start()
	}()
	for i := range total {
		_, s := tracer.Start(t.Context(), "chat m", trace.WithAttributes(
			attribute.String("gen_ai.operation.name", "chat"), attribute.String("gen_ai.provider.name", "openai"),
			attribute.String("gen_ai.request.model", "m"), attribute.Int("n", i)))
		s.End()
		if i%1000 == 0 {
			time.Sleep(5 * time.Millisecond) // stream, do not burst
		}
	}
	<-killed
	require.NoError(t, tp.Shutdown(t.Context()))

	st, err := filestore.New(dir, filestore.WithReadOnly())
	require.NoError(t, err)
	defer st.Close()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	// A graceful stop does not drain a persistent queue (Collector v0.165):
	// it stops reading it and keeps what is left on disk for the next start.
	stopBinary(t, cmd, 2*time.Minute)
	es, err := st.ListEntries(t.Context(), time.Time{}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	t.Logf("after the graceful stop: %d acknowledged spans, %d entries, %d still queued",
		len(rec.ids), len(es), countMissing(rec.ids, es))
	// Start it again on the same queue and wait (up to drainTimeout) until
	// it has written every acknowledged span, or until the store has not
	// grown for drainStall, then stop it; the assertions below still fail
	// if an acknowledged span never becomes an entry.
	cmd = start()
	const drainTimeout, drainStall = 3 * time.Minute, 30 * time.Second
	waited, grew, last := time.Now(), time.Now(), -1
	for {
		es, err := st.ListEntries(t.Context(), time.Time{}, time.Now().Add(time.Hour))
		if err == nil && countMissing(rec.ids, es) == 0 {
			t.Logf("the third start had written every acknowledged span after %s", time.Since(waited).Round(time.Millisecond))
			break
		}
		if len(es) != last {
			grew, last = time.Now(), len(es)
		}
		if time.Since(waited) > drainTimeout || time.Since(grew) > drainStall {
			t.Logf("the store lacks acknowledged spans %s after the third start, %s after it last grew (last error: %v)",
				time.Since(waited).Round(time.Second), time.Since(grew).Round(time.Second), err)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopBinary(t, cmd, 2*time.Minute)

	es, err = st.ListEntries(t.Context(), time.Time{}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	seen := map[string]int{}
	for _, e := range es {
		seen[e.SpanID]++
	}
	t.Logf("acknowledged %d spans, %d entries", len(rec.ids), len(es))
	require.Greater(t, len(rec.ids), total/4, "the kill happened while spans streamed")
	missing, twice := countMissing(rec.ids, es), 0
	for _, n := range seen {
		if n > 1 {
			twice++
		}
	}
	assert.Zero(t, missing, "acknowledged spans without an entry")
	assert.Zero(t, twice, "entries stored twice")
}

// countMissing returns how many of ids have no entry in es.
func countMissing(ids map[trace.SpanID]bool, es []*storage.AuditEntry) int {
	has := make(map[string]bool, len(es))
	for _, e := range es {
		has[e.SpanID] = true
	}
	n := 0
	for id := range ids {
		if !has[id.String()] {
			n++
		}
	}
	return n
}
