package middleware_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"google.golang.org/genai"

	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// Bucket boundaries of semconv v1.41.0 docs/gen-ai/gen-ai-metrics.md,
// written out from the spec text rather than taken from the code.
var (
	specChunkBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
	specTTFTBuckets  = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0}
	specTPOTBuckets  = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5}
)

const chunkDelay = 15 * time.Millisecond

func newMeter(t *testing.T) (*sdkmetric.MeterProvider, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(t.Context()) })
	return mp, reader
}

// histogram returns the one data point of the float64 histogram name in
// reader, checking its unit and the scope's name, version and schema URL.
func histogram(t *testing.T, reader *sdkmetric.ManualReader, scope, name string) metricdata.HistogramDataPoint[float64] {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(t.Context(), &rm))
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			assert.Equal(t, scope, sm.Scope.Name)
			assert.Equal(t, otelaudit.Version, sm.Scope.Version)
			assert.Equal(t, semconv.SchemaURL, sm.Scope.SchemaURL)
			assert.Equal(t, "s", m.Unit)
			h := m.Data.(metricdata.Histogram[float64])
			require.Len(t, h.DataPoints, 1, "one attribute set")
			return h.DataPoints[0]
		}
	}
	t.Fatalf("no metric %s", name)
	return metricdata.HistogramDataPoint[float64]{}
}

func setOf(s attribute.Set) map[string]any {
	out := map[string]any{}
	for _, kv := range s.ToSlice() {
		out[string(kv.Key)] = kv.Value.AsInterface()
	}
	return out
}

// metricAttrs is the attribute set the spec lists for the streaming
// metrics, for a call to the fake at rawURL.
func metricAttrs(t *testing.T, rawURL, op, provider, reqModel, respModel string) map[string]any {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	host, port, err := net.SplitHostPort(u.Host)
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	m := map[string]any{"gen_ai.operation.name": op, "gen_ai.provider.name": provider, "gen_ai.request.model": reqModel,
		"server.address": host, "server.port": int64(p)}
	if respModel != "" {
		m["gen_ai.response.model"] = respModel
	}
	return m
}

// checkChunkMetrics checks the client streaming metrics of one streamed
// call whose SDK handed its caller chunks chunks.
func checkChunkMetrics(t *testing.T, reader *sdkmetric.ManualReader, chunks int, want map[string]any) {
	t.Helper()
	require.Greater(t, chunks, 2)
	first := histogram(t, reader, otelaudit.ScopeName, "gen_ai.client.operation.time_to_first_chunk")
	assert.Equal(t, specChunkBuckets, first.Bounds)
	assert.Equal(t, uint64(1), first.Count)
	assert.Greater(t, first.Sum, 0.0)
	assert.Equal(t, want, setOf(first.Attributes))

	per := histogram(t, reader, otelaudit.ScopeName, "gen_ai.client.operation.time_per_output_chunk")
	assert.Equal(t, specChunkBuckets, per.Bounds)
	assert.Equal(t, uint64(chunks-1), per.Count, "one per chunk after the first")
	assert.GreaterOrEqual(t, per.Sum, chunkDelay.Seconds(), "the fake sleeps between content chunks")
	assert.Equal(t, want, setOf(per.Attributes))
}

func TestStreamMetricsOpenAI(t *testing.T) {
	r := newRig(t)
	mp, reader := newMeter(t)
	s := fakellm.Start(fakellm.WithChunkDelay(chunkDelay))
	defer s.Close()
	c := openaiClient(r, s, middleware.WithMeterProvider(mp))
	p := chatParams
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	st := c.Chat.Completions.NewStreaming(t.Context(), p)
	n := 0
	for st.Next() {
		n++
	}
	require.NoError(t, st.Err())
	require.NoError(t, st.Close())
	checkChunkMetrics(t, reader, n, metricAttrs(t, s.URL, "chat", "openai", "gpt-4o-mini", "gpt-4o-mini"))

	// A call that does not stream records no chunk metric.
	_, err := c.Chat.Completions.New(t.Context(), chatParams)
	require.NoError(t, err)
	first := histogram(t, reader, otelaudit.ScopeName, "gen_ai.client.operation.time_to_first_chunk")
	assert.Equal(t, uint64(1), first.Count)
}

func TestStreamMetricsAnthropic(t *testing.T) {
	r := newRig(t)
	mp, reader := newMeter(t)
	s := fakellm.Start(fakellm.WithChunkDelay(chunkDelay), fakellm.WithResponseModel("claude-sonnet-4-5-20250929"))
	defer s.Close()
	c := anthropic.NewClient(aoption.WithBaseURL(s.AnthropicBaseURL()), aoption.WithAPIKey("test"),
		aoption.WithMaxRetries(0), aoption.WithHTTPClient(r.client(middleware.WithMeterProvider(mp))))
	st := c.Messages.NewStreaming(t.Context(), anthropic.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 64,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	n := 0
	for st.Next() {
		n++
	}
	require.NoError(t, st.Err())
	require.NoError(t, st.Close())
	checkChunkMetrics(t, reader, n, metricAttrs(t, s.URL, "chat", "anthropic", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929"))
}

func TestStreamMetricsGemini(t *testing.T) {
	r := newRig(t)
	mp, reader := newMeter(t)
	s := fakellm.Start(fakellm.WithChunkDelay(chunkDelay))
	defer s.Close()
	c, err := genai.NewClient(t.Context(), &genai.ClientConfig{APIKey: "test", Backend: genai.BackendGeminiAPI,
		HTTPClient: r.client(middleware.WithMeterProvider(mp)), HTTPOptions: genai.HTTPOptions{BaseURL: s.URL + "/"}})
	require.NoError(t, err)
	n := 0
	for _, err := range c.Models.GenerateContentStream(t.Context(), geminiModel, genai.Text("What is an audit trail?"), geminiConfig) {
		require.NoError(t, err)
		n++
	}
	checkChunkMetrics(t, reader, n, metricAttrs(t, s.URL, "generate_content", "gcp.gemini", geminiModel, geminiModel))
}

func TestStreamMetricsBedrockConverseStream(t *testing.T) {
	r := newRig(t)
	mp, reader := newMeter(t)
	s := fakellm.Start(fakellm.WithChunkDelay(chunkDelay))
	defer s.Close()
	c := bedrockruntime.New(bedrockruntime.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.URL), HTTPClient: r.client(middleware.WithMeterProvider(mp)),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDFAKE", "secretfake", ""), Retryer: aws.NopRetryer{},
	})
	out, err := c.ConverseStream(t.Context(), &bedrockruntime.ConverseStreamInput{ModelId: converseInput().ModelId,
		Messages: converseInput().Messages})
	require.NoError(t, err)
	st := out.GetStream()
	n := 0
	for range st.Events() {
		n++
	}
	require.NoError(t, st.Err())
	require.NoError(t, st.Close())
	// Converse names no response model.
	checkChunkMetrics(t, reader, n, metricAttrs(t, s.URL, "chat", "aws.bedrock", bedrockModel, ""))
}

// TestStreamMetricsHandler: a model server behind Handler records the
// server's time to first token and time per output token of a streamed
// reply, not the client chunk metrics.
func TestStreamMetricsHandler(t *testing.T) {
	r := newRig(t)
	mp, reader := newMeter(t)
	fake := fakellm.NewHandler(fakellm.WithChunkDelay(chunkDelay))
	srv := httptest.NewServer(middleware.Handler(fake, middleware.WithTracerProvider(r.tp), middleware.WithMeterProvider(mp)))
	defer srv.Close()
	c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0),
		option.WithHTTPClient(&http.Client{Transport: r.base}))
	p := chatParams
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	st := c.Chat.Completions.NewStreaming(t.Context(), p)
	for st.Next() {
	}
	require.NoError(t, st.Err())
	require.NoError(t, st.Close())
	srv.Close() // the handler has returned: its span and metrics are done

	want := metricAttrs(t, srv.URL, "chat", "openai", "gpt-4o-mini", "gpt-4o-mini")
	ttft := histogram(t, reader, middleware.ScopeName, "gen_ai.server.time_to_first_token")
	assert.Equal(t, specTTFTBuckets, ttft.Bounds)
	assert.Equal(t, uint64(1), ttft.Count)
	assert.Equal(t, want, setOf(ttft.Attributes))
	tpot := histogram(t, reader, middleware.ScopeName, "gen_ai.server.time_per_output_token")
	assert.Equal(t, specTPOTBuckets, tpot.Bounds)
	assert.Equal(t, uint64(1), tpot.Count)
	// 8 output tokens over several delayed chunks: (duration - ttft) / 7.
	assert.Greater(t, tpot.Sum, 0.0)
	assert.Equal(t, want, setOf(tpot.Attributes))

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(t.Context(), &rm))
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			assert.NotContains(t, m.Name, "gen_ai.client.", "the server side records server metrics only")
		}
	}
}
