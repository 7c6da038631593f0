package otelauditexporter_test

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/collector/internal/coltest"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// TestCrashMidJoinNotStoredTwice: one logs push carries the events of two
// calls, A and B (as an SDK's log batch does); A's span comes and A is
// written joined (span + events, under the span's entry id), while the
// logs push still waits for B's span. The Collector is killed in that
// window (persistent queues, as config.example.yaml). After the restart
// the logs queue delivers the push again: A's events, without their span
// now, are found stored beside A's joined entry (same trace and span id,
// same content) and not written again; B gets its one entry.
func TestCrashMidJoinNotStoredTwice(t *testing.T) {
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
      http: {endpoint: "127.0.0.1:%d"}
exporters:
  otelaudit:
    directory: %s
    content: plaintext
    join_wait: 4s
    timeout: 10s
    sending_queue: {storage: file_storage}
    retry_on_failure: {enabled: true, max_elapsed_time: 0}
service:
  extensions: [file_storage]
  telemetry:
    logs: {level: warn}
    metrics: {level: none}
  pipelines:
    traces: {receivers: [otlp], exporters: [otelaudit]}
    logs: {receivers: [otlp], exporters: [otelaudit]}
`, filepath.Join(work, "queue"), port, dir)), 0o600))
	cmd := startBinary(t, bin, cfg, port)
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	start := time.Now().Add(-2 * time.Second).UTC().Truncate(time.Millisecond)
	a, b := joinCall{i: 1, form: "events"}, joinCall{i: 2, form: "events"}
	for _, c := range []*joinCall{&a, &b} {
		_, _ = rand.Read(c.tid[:])
		_, _ = rand.Read(c.sid[:])
	}
	logs := `{"resourceLogs":[{"resource":{},"scopeLogs":[{"scope":{"name":"openai"},"logRecords":[` +
		strings.Join(append(a.events(start), b.events(start)...), ",") + `]}]}]}`
	post(t, base+"/v1/logs", logs) // acknowledged once queued
	post(t, base+"/v1/traces", `{"resourceSpans":[{"resource":{},"scopeSpans":[{"scope":{"name":"openai"},"spans":[`+a.span(start)+`]}]}]}`)

	entriesOf := func(c joinCall) int {
		st, err := filestore.New(dir, filestore.WithReadOnly())
		if err != nil {
			return -1
		}
		defer st.Close()
		es, err := st.ListEntries(t.Context(), time.Time{}, time.Now().Add(time.Hour))
		if err != nil {
			return -1
		}
		n := 0
		for _, e := range es {
			if e.TraceID == c.tid.String() && e.SpanID == c.sid.String() {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(3 * time.Second)
	for entriesOf(a) < 1 {
		require.True(t, time.Now().Before(deadline), "call A was not written joined")
		time.Sleep(20 * time.Millisecond)
	}
	require.Equal(t, 0, entriesOf(b), "B still waits for its span: the logs push is in flight")
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_, _ = cmd.Process.Wait()

	cmd = startBinary(t, bin, cfg, port)
	// The replayed logs push: B's events wait join_wait, then are written
	// alone, after A's (its events came first in the push).
	deadline = time.Now().Add(60 * time.Second)
	for entriesOf(b) < 1 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	stopBinary(t, cmd, time.Minute)

	assert.Equal(t, 1, entriesOf(b), "B: its events, replayed, written once")
	assert.Equal(t, 1, entriesOf(a), "A: one call, one entry (got the joined entry plus one from its replayed events)")
}
