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
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
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

// warmup calls of each kind run before the measured ones (connections,
// pools).
const warmup = 20

func p50(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// benchPipeline is the audit pipeline of the overhead benchmarks, as a
// service runs it: the one-call setup into a filestore.Store (hash-only,
// default durability). An in-memory store that keeps its entries would
// make the benchmark's heap, and so every GC cycle, grow with the run.
func benchPipeline(b *testing.B) (*sdktrace.TracerProvider, *filestore.Store) {
	st, err := filestore.New(b.TempDir())
	require.NoError(b, err)
	l, err := otelaudit.NewLogger(st)
	require.NoError(b, err)
	tp, _, err := exporter.NewTracerProvider(l)
	require.NoError(b, err)
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()); _ = st.Close() })
	return tp, st
}

// requireAudited fails b unless st holds n entries once tp is flushed: the
// audited side of a benchmark must really have been audited.
func requireAudited(b *testing.B, tp *sdktrace.TracerProvider, st *filestore.Store, n int) {
	require.NoError(b, tp.ForceFlush(context.Background()))
	got, err := st.Count(context.Background())
	require.NoError(b, err)
	require.Equal(b, n, got)
}

// benchAPIs are the 1 KiB calls of the transport benchmark, one per wire
// format: path, request and reply.
var benchAPIs = []struct {
	name, path     string
	request, reply []byte
}{
	{"openai", "/v1/chat/completions", benchRequest, benchReply},
	{"gemini", "/v1beta/models/gemini-2.5-flash:generateContent",
		[]byte(`{"contents":[{"role":"user","parts":[{"text":"` + strings.Repeat("audit ", 150) + `"}]}],` +
			`"systemInstruction":{"parts":[{"text":"You are terse."}]}}`),
		[]byte(`{"candidates":[{"content":{"role":"model","parts":[{"text":"` + strings.Repeat("trail ", 140) + `"}]},` +
			`"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":151,"candidatesTokenCount":140,"totalTokenCount":291},` +
			`"modelVersion":"gemini-2.5-flash","responseId":"resp-bench"}`)},
	{"bedrock", "/model/anthropic.claude-3-5-haiku-20241022-v1:0/converse",
		[]byte(`{"messages":[{"role":"user","content":[{"text":"` + strings.Repeat("audit ", 150) + `"}]}],` +
			`"system":[{"text":"You are terse."}],"inferenceConfig":{"maxTokens":512}}`),
		[]byte(`{"output":{"message":{"role":"assistant","content":[{"text":"` + strings.Repeat("trail ", 140) + `"}]}},` +
			`"stopReason":"end_turn","usage":{"inputTokens":151,"outputTokens":140,"totalTokens":291},"metrics":{"latencyMs":9}}`)},
}

// BenchmarkTransportOverhead alternates a bare and an audited 1 KiB
// non-streaming call against a loopback server in the same run and reports
// both p50 latencies, the p50 added by the transport and their ratio, for
// each wire format (OpenAI Chat Completions, Gemini generateContent,
// Bedrock Converse).
func BenchmarkTransportOverhead(b *testing.B) {
	for _, api := range benchAPIs {
		b.Run(api.name, func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(api.reply)
			}))
			defer srv.Close()
			base := &http.Transport{MaxIdleConnsPerHost: 4}
			defer base.CloseIdleConnections()
			tp, st := benchPipeline(b)

			bare := &http.Client{Transport: base}
			audited := &http.Client{Transport: middleware.Transport(base, middleware.WithTracerProvider(tp))}
			call := func(c *http.Client) time.Duration {
				start := time.Now()
				req, _ := http.NewRequest(http.MethodPost, srv.URL+api.path, bytes.NewReader(api.request))
				req.Header.Set("Content-Type", "application/json")
				resp, err := c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				return time.Since(start)
			}
			measureOverhead(b, tp, func() time.Duration { return call(bare) }, func() time.Duration { return call(audited) })
			requireAudited(b, tp, st, warmup+b.N+9*64)
		})
	}
}

// measureOverhead runs warmup calls of each kind, then b.N of each,
// alternating which goes first so that neither always follows the other,
// and reports both p50 latencies, the p50 added and their ratio. Then it
// reports bare-allocs/op and audited-allocs/op: the allocations of the
// whole process per call (the loopback server's and, for the audited
// call, the audit worker's and the store's included), counted over chunks
// of calls each followed by a flush of tp; figures that do not depend on
// the machine's load.
func measureOverhead(b *testing.B, tp *sdktrace.TracerProvider, bare, audited func() time.Duration) {
	for range warmup {
		bare()
		audited()
	}
	bareD := make([]time.Duration, 0, b.N)
	audD := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			bareD = append(bareD, bare())
			audD = append(audD, audited())
		} else {
			audD = append(audD, audited())
			bareD = append(bareD, bare())
		}
	}
	b.StopTimer()
	pb, pa := p50(bareD), p50(audD)
	b.ReportMetric(float64(pb.Nanoseconds())/1e3, "bare-p50-us")
	b.ReportMetric(float64(pa.Nanoseconds())/1e3, "audited-p50-us")
	b.ReportMetric(float64((pa-pb).Nanoseconds())/1e3, "added-p50-us")
	b.ReportMetric(float64(pa)/float64(pb), "ratio-p50")
	const chunk = 64
	for _, k := range []struct {
		name string
		f    func() time.Duration
	}{{"bare", bare}, {"audited", audited}} {
		n := testing.AllocsPerRun(8, func() {
			for range chunk {
				k.f()
			}
			_ = tp.ForceFlush(context.Background())
		})
		b.ReportMetric(n/chunk, k.name+"-allocs/op")
	}
}

// BenchmarkHandlerOverhead alternates the bare handler and the wrapped one
// (direct ServeHTTP on a recorder, so only the middleware's own cost is
// measured) on a 1 KiB chat request and reply.
func BenchmarkHandlerOverhead(b *testing.B) {
	tp, st := benchPipeline(b)

	bare := http.HandlerFunc(benchServer)
	wrapped := middleware.Handler(bare, middleware.WithTracerProvider(tp))
	call := func(h http.Handler) time.Duration {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", bytes.NewReader(benchRequest))
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		return time.Since(start)
	}
	measureOverhead(b, tp, func() time.Duration { return call(bare) }, func() time.Duration { return call(wrapped) })
	requireAudited(b, tp, st, warmup+b.N+9*64)
}
