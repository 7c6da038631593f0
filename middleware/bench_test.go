package middleware_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// 1 KiB request and reply bodies in the Chat Completions shape.
var (
	benchRequest = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"` +
		strings.Repeat("audit ", 150) + `"}]}`)
	benchReply = []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":1767225600,"model":"gpt-4o-mini",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"` + strings.Repeat("trail ", 140) +
		`"},"finish_reason":"stop"}],"usage":{"prompt_tokens":151,"completion_tokens":140,"total_tokens":291}}`)
)

func benchServer(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(benchReply)
}

func p50(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// BenchmarkTransportOverhead alternates a bare and an audited 1 KiB
// non-streaming call against a loopback server in the same run and reports
// both p50 latencies, the p50 added by the transport and their ratio.
func BenchmarkTransportOverhead(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(benchServer))
	defer srv.Close()
	base := &http.Transport{MaxIdleConnsPerHost: 4}
	defer base.CloseIdleConnections()
	mem := storage.NewMemoryStorage(10000)
	l, err := otelaudit.NewLogger(mem)
	require.NoError(b, err)
	tp, _, err := exporter.NewTracerProvider(l)
	require.NoError(b, err)
	defer func() { _ = tp.Shutdown(context.Background()); _ = mem.Close() }()

	bare := &http.Client{Transport: base}
	audited := &http.Client{Transport: middleware.Transport(base, middleware.WithTracerProvider(tp))}
	call := func(c *http.Client) time.Duration {
		start := time.Now()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions", bytes.NewReader(benchRequest))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return time.Since(start)
	}
	// Warm both paths (connections, pools).
	for range 20 {
		call(bare)
		call(audited)
	}
	bareD := make([]time.Duration, 0, b.N)
	audD := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			bareD = append(bareD, call(bare))
			audD = append(audD, call(audited))
		} else {
			audD = append(audD, call(audited))
			bareD = append(bareD, call(bare))
		}
	}
	b.StopTimer()
	pb, pa := p50(bareD), p50(audD)
	b.ReportMetric(float64(pb.Nanoseconds())/1e3, "bare-p50-us")
	b.ReportMetric(float64(pa.Nanoseconds())/1e3, "audited-p50-us")
	b.ReportMetric(float64((pa-pb).Nanoseconds())/1e3, "added-p50-us")
	b.ReportMetric(float64(pa)/float64(pb), "ratio-p50")
	require.NoError(b, tp.ForceFlush(context.Background()))
}

// BenchmarkHandlerOverhead alternates the bare handler and the wrapped one
// (direct ServeHTTP on a recorder, so only the middleware's own cost is
// measured) on a 1 KiB chat request and reply.
func BenchmarkHandlerOverhead(b *testing.B) {
	mem := storage.NewMemoryStorage(10000)
	l, err := otelaudit.NewLogger(mem)
	require.NoError(b, err)
	tp, _, err := exporter.NewTracerProvider(l)
	require.NoError(b, err)
	defer func() { _ = tp.Shutdown(context.Background()); _ = mem.Close() }()

	bare := http.HandlerFunc(benchServer)
	wrapped := middleware.Handler(bare, middleware.WithTracerProvider(tp))
	call := func(h http.Handler) time.Duration {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", bytes.NewReader(benchRequest))
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		return time.Since(start)
	}
	for range 20 {
		call(bare)
		call(wrapped)
	}
	bareD := make([]time.Duration, 0, b.N)
	wrapD := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bareD = append(bareD, call(bare))
		wrapD = append(wrapD, call(wrapped))
	}
	b.StopTimer()
	pb, pw := p50(bareD), p50(wrapD)
	b.ReportMetric(float64(pb.Nanoseconds())/1e3, "bare-p50-us")
	b.ReportMetric(float64(pw.Nanoseconds())/1e3, "audited-p50-us")
	b.ReportMetric(float64((pw-pb).Nanoseconds())/1e3, "added-p50-us")
	require.NoError(b, tp.ForceFlush(context.Background()))
}
