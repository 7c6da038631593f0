package otelauditexporter_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelaudit/otelaudit-go/collector/internal/coltest"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// TestS3OutageNoDuplicates: the bucket refuses uploads (503) for 5s while
// a push of 3 spans is retried (retry_on_failure). The store accepted the
// entries at the first attempt and keeps them until a flush uploads them:
// the retries only flush. Before, each retry wrote the entries again and
// the bucket got each span three times.
func TestS3OutageNoDuplicates(t *testing.T) {
	bucket, srv, client := newS3Bucket(t)
	u, _ := url.Parse(srv.Endpoint)
	var failing atomic.Bool
	rp := httputil.NewSingleHostReverseProxy(u)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() && r.Method == http.MethodPut {
			http.Error(w, "<Error><Code>ServiceUnavailable</Code></Error>", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	logFile := filepath.Join(t.TempDir(), "log")
	port := coltest.FreePort(t)
	col := coltest.Start(t, fmt.Sprintf(`
receivers:
  otlp:
    protocols:
      http: {endpoint: "127.0.0.1:%d"}
exporters:
  otelaudit:
    s3: {bucket: %s, prefix: p, endpoint: %q, region: us-east-1}
    timeout: 2s
    join_wait: 500ms
    retry_on_failure: {enabled: true, initial_interval: 200ms, max_interval: 500ms, max_elapsed_time: 0}
service:
  telemetry:
    logs: {level: info, output_paths: [%s]}
    metrics: {level: none}
  pipelines:
    traces/audit: {receivers: [otlp], exporters: [otelaudit]}
`, port, bucket, proxy.URL, logFile))
	failing.Store(true)
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for range 3 {
		genAISpan(ss).Attributes().PutStr("gen_ai.input.messages", "x")
	}
	code, msg := postTraces(t, fmt.Sprintf("http://127.0.0.1:%d", port), td)
	require.Equal(t, 200, code, msg)
	time.Sleep(5 * time.Second)
	failing.Store(false)
	time.Sleep(3 * time.Second)
	require.NoError(t, col.Stop())
	st, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix("p"), s3store.WithReadOnly())
	require.NoError(t, err)
	defer st.Close()
	es, err := st.ListEntries(t.Context(), time.Time{}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	ids := map[string]int{}
	for _, e := range es {
		ids[e.ID]++
	}
	require.Len(t, es, 3, "one entry per span: %v", ids)
	assert.Len(t, ids, 3)
	assert.Contains(t, readLog(t, logFile), "Exporting failed. Will retry", "the push was retried")
}
