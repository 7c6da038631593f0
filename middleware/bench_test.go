package middleware_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

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

// benchAPI is a call of one wire format: path, request and reply, and the
// operation, provider and model a call of the API is recorded with.
type benchAPI struct {
	name, path          string
	request, reply      []byte
	op, provider, model string
}

// benchAPIs are the 1 KiB calls of the transport benchmark, one per wire
// format.
var benchAPIs = []benchAPI{
	{"openai", "/v1/chat/completions", benchRequest, benchReply, "chat", "openai", "gpt-4o-mini"},
	{"gemini", "/v1beta/models/gemini-2.5-flash:generateContent",
		[]byte(`{"contents":[{"role":"user","parts":[{"text":"` + strings.Repeat("audit ", 150) + `"}]}],` +
			`"systemInstruction":{"parts":[{"text":"You are terse."}]}}`),
		[]byte(`{"candidates":[{"content":{"role":"model","parts":[{"text":"` + strings.Repeat("trail ", 140) + `"}]},` +
			`"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":151,"candidatesTokenCount":140,"totalTokenCount":291},` +
			`"modelVersion":"gemini-2.5-flash","responseId":"resp-bench"}`),
		"generate_content", "gcp.gemini", "gemini-2.5-flash"},
	{"bedrock", "/model/anthropic.claude-3-5-haiku-20241022-v1:0/converse",
		[]byte(`{"messages":[{"role":"user","content":[{"text":"` + strings.Repeat("audit ", 150) + `"}]}],` +
			`"system":[{"text":"You are terse."}],"inferenceConfig":{"maxTokens":512}}`),
		[]byte(`{"output":{"message":{"role":"assistant","content":[{"text":"` + strings.Repeat("trail ", 140) + `"}]}},` +
			`"stopReason":"end_turn","usage":{"inputTokens":151,"outputTokens":140,"totalTokens":291},"metrics":{"latencyMs":9}}`),
		"chat", "aws.bedrock", "anthropic.claude-3-5-haiku-20241022-v1:0"},
}

// BenchmarkTransportOverhead alternates a bare and an audited 1 KiB
// non-streaming call against a loopback server in the same run and reports
// both p50 latencies, the p50 added by the transport and their ratio, for
// each wire format (OpenAI Chat Completions, Gemini generateContent,
// Bedrock Converse). BenchmarkTransportSpanFloor gives the part of it that
// is the audited span itself.
func BenchmarkTransportOverhead(b *testing.B) {
	benchTransport(b, func(base http.RoundTripper, tp trace.TracerProvider, _ benchAPI) overheadKind {
		return overheadKind{name: "audited", rt: middleware.Transport(base, middleware.WithTracerProvider(tp))}
	})
}

// BenchmarkTransportSpanFloor is BenchmarkTransportOverhead with, in place
// of the audited call, the floor under it: the same audited GenAI span
// (StartCall with the attributes the Transport gives at start, one
// SetAttributes with the reply's when the body ends, End, and the audit
// worker's entry) around the bare call, with no body captured or parsed.
// Its ratio-p50 is what no work on capture and parsing can go below.
func BenchmarkTransportSpanFloor(b *testing.B) {
	benchTransport(b, func(base http.RoundTripper, tp trace.TracerProvider, api benchAPI) overheadKind {
		return overheadKind{name: "span", rt: spanOnlyTransport{base: base, tp: tp, op: api.op, provider: api.provider, model: api.model}}
	})
}

// BenchmarkTransportPlainSpan is BenchmarkTransportSpanFloor's span on a
// plain SDK provider with no audit: a BatchSpanProcessor and an exporter
// that discards what it gets, the least any OpenTelemetry instrumentation
// of the call costs. Its ratio-p50, beside the other two in the same run,
// shows how much of the Transport's overhead is the SDK span itself.
func BenchmarkTransportPlainSpan(b *testing.B) {
	benchTransport(b, func(base http.RoundTripper, _ trace.TracerProvider, api benchAPI) overheadKind {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardSpans{}))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		rt := spanOnlyTransport{base: base, tp: tp, op: api.op, provider: api.provider, model: api.model}
		return overheadKind{name: "plain", rt: rt, unaudited: true}
	})
}

// discardSpans is a span exporter that drops every span.
type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }

// benchTransport runs measureOverhead for each of benchAPIs, with the
// round tripper kind gives against a loopback server replying the API's
// reply, beside the bare base.
func benchTransport(b *testing.B, kind func(base http.RoundTripper, tp trace.TracerProvider, api benchAPI) overheadKind) {
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
			k := kind(base, tp, api)
			bare, other := &http.Client{Transport: base}, &http.Client{Transport: k.rt}
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
			measureOverhead(b, tp, func() time.Duration { return call(bare) }, k.name, func() time.Duration { return call(other) })
			if !k.unaudited {
				requireAudited(b, tp, st, warmup+b.N+9*64)
			}
		})
	}
}

// spanOnlyTransport is the floor of BenchmarkTransportOverhead: the
// audited span of a call as the Transport records it (start attributes,
// the reply's attributes in one SetAttributes when the body ends, End),
// with fixed values and no capture or parse of either body.
type spanOnlyTransport struct {
	base                http.RoundTripper
	tp                  trace.TracerProvider
	op, provider, model string
}

func (t spanOnlyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	h, p, _ := net.SplitHostPort(r.URL.Host)
	port, _ := strconv.Atoi(p)
	ctx, call := otelaudit.StartCall(r.Context(), otelaudit.Request{Operation: t.op, Provider: t.provider, Model: t.model},
		otelaudit.WithTracerProvider(t.tp), otelaudit.WithStartTime(start),
		otelaudit.WithAttributes(semconv.GenAIRequestStreamKey.Bool(false), semconv.ServerAddress(h), semconv.ServerPort(port)))
	resp, err := t.base.RoundTrip(r.WithContext(ctx))
	if err != nil {
		call.SetError(err)
		call.End()
		return resp, err
	}
	resp.Body = &spanOnlyBody{ReadCloser: resp.Body, call: call, status: resp.StatusCode, model: t.model}
	return resp, nil
}

type spanOnlyBody struct {
	io.ReadCloser
	call   *otelaudit.Call
	status int
	model  string
	ended  bool
}

func (b *spanOnlyBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.end()
	}
	return n, err
}

func (b *spanOnlyBody) Close() error {
	err := b.ReadCloser.Close()
	b.end()
	return err
}

func (b *spanOnlyBody) end() {
	if b.ended {
		return
	}
	b.ended = true
	b.call.Span().SetAttributes(semconv.HTTPResponseStatusCode(b.status), semconv.GenAIResponseID("resp-bench"),
		semconv.GenAIResponseModel(b.model), semconv.GenAIUsageInputTokens(151), semconv.GenAIUsageOutputTokens(140),
		semconv.GenAIResponseFinishReasons("stop"))
	b.call.End()
}

// overheadKind is the round tripper a transport benchmark compares with
// the bare one, and the name its figures are reported under.
type overheadKind struct {
	name string
	rt   http.RoundTripper
	// unaudited says rt records nothing in the benchmark's store.
	unaudited bool
}

// measureOverhead runs warmup calls of each kind, then b.N of each,
// alternating which goes first so that neither always follows the other
// (nor the left-over work of the other, such as the audit worker's), and
// reports both p50 latencies (bare-p50-us, name-p50-us), the p50 added and
// their ratio (added-p50-us, ratio-p50). Then it reports bare-allocs/op
// and name-allocs/op: the allocations of the whole process per call (the
// loopback server's and, for an audited call, the audit worker's and the
// store's included), counted over chunks of calls each followed by a
// flush of tp; figures that do not depend on the machine's load.
func measureOverhead(b *testing.B, tp *sdktrace.TracerProvider, bare func() time.Duration, name string, other func() time.Duration) {
	for range warmup {
		bare()
		other()
	}
	bareD := make([]time.Duration, 0, b.N)
	otherD := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			bareD = append(bareD, bare())
			otherD = append(otherD, other())
		} else {
			otherD = append(otherD, other())
			bareD = append(bareD, bare())
		}
	}
	b.StopTimer()
	pb, po := p50(bareD), p50(otherD)
	b.ReportMetric(float64(pb.Nanoseconds())/1e3, "bare-p50-us")
	b.ReportMetric(float64(po.Nanoseconds())/1e3, name+"-p50-us")
	b.ReportMetric(float64((po-pb).Nanoseconds())/1e3, "added-p50-us")
	b.ReportMetric(float64(po)/float64(pb), "ratio-p50")
	const chunk = 64
	for _, k := range []struct {
		name string
		f    func() time.Duration
	}{{"bare", bare}, {name, other}} {
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
	measureOverhead(b, tp, func() time.Duration { return call(bare) }, "audited", func() time.Duration { return call(wrapped) })
	requireAudited(b, tp, st, warmup+b.N+9*64)
}
