package otelauditexporter_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/grpc/status"

	"github.com/otelaudit/otelaudit-go/collector/internal/coltest"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// Memory bound of TestMemoryBoundedSlowStore: the built Collector's peak
// RSS stays under rssBoundMiB with memory_limiter at limitMiB and a
// sending queue of queueBytes, while senders offer more than that bound.
const (
	limitMiB    = 150
	queueBytes  = 40 << 20
	rssBoundMiB = 250
)

// floodAttrs are the attributes of the flood's spans: 4 KiB of prompt and
// of answer each, so that the flood's bytes cost the sender little.
var floodAttrs = func() []attribute.KeyValue {
	attrs := append([]attribute.KeyValue(nil), benchAttrs...)
	for i, kv := range attrs {
		switch kv.Key {
		case "gen_ai.input.messages":
			attrs[i] = attribute.String(string(kv.Key), `[{"role":"user","parts":[{"type":"text","content":"`+strings.Repeat("q", 4096)+`"}]}]`)
		case "gen_ai.output.messages":
			attrs[i] = attribute.String(string(kv.Key), `[{"role":"assistant","parts":[{"type":"text","content":"`+strings.Repeat("a", 4096)+`"}],"finish_reason":"stop"}]`)
		}
	}
	return attrs
}()

// TestMemoryBoundedSlowStore floods the built bin/otelcol-audit, whose S3
// store does not answer (a proxy in front of versitygw holds every
// request), from 4 OTLP/gRPC streams of 250-span requests (2 MiB each)
// until they offered twice the bound. The receiver refuses (the sending queue
// is full, or memory_limiter is over its limit) instead of growing: the
// Collector's peak RSS stays under rssBoundMiB, senders get errors. Then
// the store gets fast again and the Collector stops gracefully: every
// span the receiver acknowledged is an entry, none twice.
func TestMemoryBoundedSlowStore(t *testing.T) {
	bin := collectorBinary(t)
	bucket, srv, client := newS3Bucket(t)
	target, err := url.Parse(srv.Endpoint)
	require.NoError(t, err)
	release := make(chan struct{})
	var releaseOnce sync.Once
	unstall := func() { releaseOnce.Do(func() { close(release) }) }
	proxy := httputil.NewSingleHostReverseProxy(target) // keeps the Host header, so signatures hold
	var stall atomic.Bool                               // from the Collector's start (which checks the bucket) on
	stalled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stall.Load() {
			<-release
		}
		proxy.ServeHTTP(w, r)
	}))
	defer stalled.Close()
	defer unstall() // first: Close waits for the requests it holds

	port := coltest.FreePort(t)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:%d", max_recv_msg_size_mib: 16}
processors:
  memory_limiter: {check_interval: 100ms, limit_mib: %d, spike_limit_mib: 40}
exporters:
  otelaudit:
    s3: {bucket: %s, prefix: flood, endpoint: %q, region: us-east-1}
    sending_queue: {queue_size: %d, sizer: bytes, block_on_overflow: false, num_consumers: 2}
    retry_on_failure: {enabled: true, max_elapsed_time: 0}
service:
  telemetry:
    logs: {level: error}
    metrics: {level: none}
  pipelines:
    traces: {receivers: [otlp], processors: [memory_limiter], exporters: [otelaudit]}
`, port, limitMiB, bucket, stalled.URL, queueBytes)), 0o600))
	cmd := startBinary(t, bin, cfg, port)
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	pid := cmd.Process.Pid
	stall.Store(true)

	conn := rawConn(t, port)
	const senders, perRequest = 4, 250
	var next, accepted, refused, offeredBytes, acceptedBytes, maxRequest atomic.Int64
	codes := sync.Map{}
	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for range senders {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				first := int(next.Add(perRequest)) - perRequest
				body := otlpRequest(t, first, perRequest, start, floodAttrs)
				offeredBytes.Add(int64(len(body)))
				if n := int64(len(body)); n > maxRequest.Load() {
					maxRequest.Store(n) // the requests are all of one size
				}
				if err := exportRaw(t.Context(), conn, body); err != nil {
					refused.Add(perRequest)
					c, _ := codes.LoadOrStore(status.Code(err).String(), new(atomic.Int64))
					c.(*atomic.Int64).Add(1)
					continue
				}
				accepted.Add(perRequest)
				acceptedBytes.Add(int64(len(body)))
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if rss := vmHWM(t, pid); rss > peak.Load() {
					peak.Store(rss)
				}
			}
		}
	})
	// Flood until the senders offered twice the bound (or 30s passed).
	for deadline := time.Now().Add(30 * time.Second); offeredBytes.Load() < int64(rssBoundMiB)<<21 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	flood := time.Since(start)
	close(stop)
	wg.Wait()
	peakMiB := max(peak.Load(), vmHWM(t, pid)) >> 20
	var codeList []string
	codes.Range(func(k, v any) bool {
		codeList = append(codeList, fmt.Sprintf("%s x%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	t.Logf("offered %d MiB of OTLP in %s: %d spans accepted, %d refused (%s); peak RSS %d MiB (bound %d)",
		offeredBytes.Load()>>20, flood.Round(time.Millisecond), accepted.Load(), refused.Load(), strings.Join(codeList, ", "), peakMiB, rssBoundMiB)
	require.Greater(t, offeredBytes.Load()>>20, int64(rssBoundMiB), "the flood must offer more than the bound, or the bound proves nothing")
	assert.Positive(t, refused.Load(), "the receiver refuses when the store is behind")
	assert.Less(t, peakMiB, int64(rssBoundMiB), "peak RSS of the Collector")
	// While the store takes nothing, the Collector acknowledges no more
	// than its sending queue holds plus the requests in flight: a push
	// returns only when its entries are durable in S3.
	assert.LessOrEqual(t, acceptedBytes.Load(), int64(queueBytes)+(2+senders)*maxRequest.Load(),
		"acknowledged while the store was stalled")

	unstall()
	stopBinary(t, cmd, 3*time.Minute)
	st, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix("flood"), s3store.WithReadOnly())
	require.NoError(t, err)
	defer st.Close()
	n, err := st.Count(t.Context())
	require.NoError(t, err)
	assert.EqualValues(t, accepted.Load(), n, "every acknowledged span is one entry")
}

// vmHWM is the peak resident set size of process pid, in bytes, from
// /proc/pid/status (0 once the process is gone).
func vmHWM(t *testing.T, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	return 0
}
