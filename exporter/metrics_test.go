package exporter_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// The tables of semconv v1.41.0 docs/gen-ai/gen-ai-metrics.md, written out
// here rather than taken from the code under test.
var (
	specTokenBuckets    = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
	specDurationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
)

// genAIMetrics collects reader's metrics by name.
func genAIMetrics(t *testing.T, reader *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(t.Context(), &rm))
	got := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name == exporter.ScopeName {
			assert.Equal(t, otelaudit.Version, sm.Scope.Version)
			assert.Equal(t, semconv.SchemaURL, sm.Scope.SchemaURL)
		}
		for _, m := range sm.Metrics {
			got[m.Name] = m
		}
	}
	return got
}

func attrMap(s attribute.Set) map[string]any {
	out := map[string]any{}
	for _, kv := range s.ToSlice() {
		out[string(kv.Key)] = kv.Value.AsInterface()
	}
	return out
}

// newMetricsPipeline is newPipeline over b with an SDK MeterProvider
// whose ManualReader the test reads.
func newMetricsPipeline(t *testing.T, b *fakeBackend) (*pipeline, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return newPipeline(t, b, []exporter.Option{exporter.WithMeterProvider(mp)}), reader
}

func TestGenAIMetricsFollowTheSpecTables(t *testing.T) {
	p, reader := newMetricsPipeline(t, newFakeBackend())
	tr := p.tp.Tracer("test")
	common := []attribute.KeyValue{
		attribute.String("gen_ai.operation.name", "chat"), attribute.String("gen_ai.provider.name", "openai"),
		attribute.String("gen_ai.request.model", "gpt-4o"), attribute.String("gen_ai.response.model", "gpt-4o-2024-08-06"),
		attribute.String("server.address", "api.openai.com"), attribute.Int("server.port", 443),
	}
	// A successful client call with usage, a failed one, and a model
	// server's own span (kind SERVER).
	_, ok := tr.Start(t.Context(), "chat gpt-4o", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(common...),
		trace.WithAttributes(attribute.Int("gen_ai.usage.input_tokens", 100), attribute.Int("gen_ai.usage.output_tokens", 20)))
	ok.End()
	_, failed := tr.Start(t.Context(), "chat gpt-4o", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(common...),
		trace.WithAttributes(attribute.String("error.type", "rate_limit_exceeded")))
	failed.End()
	_, srv := tr.Start(t.Context(), "chat gpt-4o", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(common...),
		trace.WithAttributes(attribute.Int("gen_ai.usage.input_tokens", 7)))
	srv.End()
	require.NoError(t, p.tp.ForceFlush(t.Context()))
	got := genAIMetrics(t, reader)

	base := map[string]any{"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
		"gen_ai.response.model": "gpt-4o-2024-08-06", "server.address": "api.openai.com", "server.port": int64(443)}
	with := func(k string, v any) map[string]any {
		m := map[string]any{k: v}
		for bk, bv := range base {
			m[bk] = bv
		}
		return m
	}

	dur := got["gen_ai.client.operation.duration"]
	assert.Equal(t, "s", dur.Unit)
	h := dur.Data.(metricdata.Histogram[float64])
	require.Len(t, h.DataPoints, 2, "client spans only: the SERVER span is not a client operation")
	var sets []map[string]any
	for _, dp := range h.DataPoints {
		assert.Equal(t, specDurationBuckets, dp.Bounds)
		assert.Equal(t, uint64(1), dp.Count)
		sets = append(sets, attrMap(dp.Attributes))
	}
	assert.ElementsMatch(t, []map[string]any{base, with("error.type", "rate_limit_exceeded")}, sets)

	usage := got["gen_ai.client.token.usage"]
	assert.Equal(t, "{token}", usage.Unit)
	hu := usage.Data.(metricdata.Histogram[int64])
	require.Len(t, hu.DataPoints, 2, "input and output of the one client call with usage")
	sums := map[string]int64{}
	for _, dp := range hu.DataPoints {
		assert.Equal(t, specTokenBuckets, dp.Bounds)
		a := attrMap(dp.Attributes)
		tt := a["gen_ai.token.type"].(string)
		delete(a, "gen_ai.token.type")
		assert.Equal(t, base, a, "token usage has no error.type")
		sums[tt] = dp.Sum
	}
	assert.Equal(t, map[string]int64{"input": 100, "output": 20}, sums)

	srvDur := got["gen_ai.server.request.duration"]
	assert.Equal(t, "s", srvDur.Unit)
	hs := srvDur.Data.(metricdata.Histogram[float64])
	require.Len(t, hs.DataPoints, 1)
	assert.Equal(t, specDurationBuckets, hs.DataPoints[0].Bounds)
	assert.Equal(t, base, attrMap(hs.DataPoints[0].Attributes))
	require.NoError(t, p.tp.Shutdown(t.Context()))
}

// TestGenAIMetricsManyCombinations: more model and error combinations than
// the processor keeps attribute sets for, recorded from several goroutines,
// each still counted under its own attributes (the duration with its
// error.type, the token usage without it).
func TestGenAIMetricsManyCombinations(t *testing.T) {
	p, reader := newMetricsPipeline(t, newFakeBackend())
	tr := p.tp.Tracer("test")
	const models, rounds = 300, 2
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < models*rounds; i += 4 {
				attrs := []attribute.KeyValue{
					attribute.String("gen_ai.operation.name", "chat"), attribute.String("gen_ai.provider.name", "openai"),
					attribute.String("gen_ai.request.model", fmt.Sprintf("m-%d", i%models)),
					attribute.Int("gen_ai.usage.input_tokens", i%models),
				}
				if i%models%3 == 0 {
					attrs = append(attrs, attribute.String("error.type", fmt.Sprintf("e-%d", i%models)))
				}
				_, s := tr.Start(t.Context(), "chat", trace.WithAttributes(attrs...))
				s.End()
			}
		})
	}
	wg.Wait()
	require.NoError(t, p.tp.ForceFlush(t.Context()))
	got := genAIMetrics(t, reader)
	dur := got["gen_ai.client.operation.duration"].Data.(metricdata.Histogram[float64]).DataPoints
	require.Len(t, dur, models)
	for _, dp := range dur {
		a := attrMap(dp.Attributes)
		var i int
		_, err := fmt.Sscanf(a["gen_ai.request.model"].(string), "m-%d", &i)
		require.NoError(t, err)
		want := map[string]any{"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": fmt.Sprintf("m-%d", i)}
		if i%3 == 0 {
			want["error.type"] = fmt.Sprintf("e-%d", i)
		}
		assert.Equal(t, want, a)
		assert.Equal(t, uint64(rounds), dp.Count, "model %d", i)
	}
	usage := got["gen_ai.client.token.usage"].Data.(metricdata.Histogram[int64]).DataPoints
	require.Len(t, usage, models)
	for _, dp := range usage {
		a := attrMap(dp.Attributes)
		assert.NotContains(t, a, "error.type")
		assert.Equal(t, "input", a["gen_ai.token.type"])
		var i int
		_, err := fmt.Sscanf(a["gen_ai.request.model"].(string), "m-%d", &i)
		require.NoError(t, err)
		assert.Equal(t, int64(rounds*i), dp.Sum)
	}
	require.NoError(t, p.tp.Shutdown(t.Context()))
}
