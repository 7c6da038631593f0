package otelaudit_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// specChunkBuckets is the boundary list semconv v1.41.0
// (docs/gen-ai/gen-ai-metrics.md) advises for
// gen_ai.client.operation.time_to_first_chunk and time_per_output_chunk,
// written out here rather than taken from the code under test.
var specChunkBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}

// histograms collects reader's float64 histograms by name, checking the
// scope's version and schema URL on the way.
func histograms(t *testing.T, reader *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(t.Context(), &rm))
	got := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		assert.Equal(t, otelaudit.ScopeName, sm.Scope.Name)
		assert.Equal(t, otelaudit.Version, sm.Scope.Version)
		assert.Equal(t, semconv.SchemaURL, sm.Scope.SchemaURL)
		for _, m := range sm.Metrics {
			got[m.Name] = m
		}
	}
	return got
}

func attrsOf(s attribute.Set) map[string]any {
	out := map[string]any{}
	for _, kv := range s.ToSlice() {
		out[string(kv.Key)] = kv.Value.AsInterface()
	}
	return out
}

func TestRecordChunkFollowsTheSpecTables(t *testing.T) {
	_, tp := newRecorder(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(t.Context()) }()

	start := time.Now().Add(-50 * time.Millisecond)
	_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Provider: "openai", Model: "gpt-4o"},
		otelaudit.WithTracerProvider(tp), otelaudit.WithMeterProvider(mp), otelaudit.WithStartTime(start),
		otelaudit.WithAttributes(semconv.ServerAddress("api.openai.com"), semconv.ServerPort(443)))
	call.SetResponse("", "gpt-4o-2024-08-06")
	call.RecordChunk()
	time.Sleep(20 * time.Millisecond)
	call.RecordChunk()
	time.Sleep(20 * time.Millisecond)
	call.RecordChunk()
	call.End()
	call.RecordChunk() // after End: nothing

	// A call that does not stream records no chunk metric.
	_, plain := otelaudit.StartCall(t.Context(), otelaudit.Request{Provider: "openai", Model: "gpt-4o"},
		otelaudit.WithTracerProvider(tp), otelaudit.WithMeterProvider(mp))
	plain.End()

	got := histograms(t, reader)
	want := map[string]any{"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
		"gen_ai.response.model": "gpt-4o-2024-08-06", "server.address": "api.openai.com", "server.port": int64(443)}

	first := got["gen_ai.client.operation.time_to_first_chunk"]
	assert.Equal(t, "s", first.Unit)
	h := first.Data.(metricdata.Histogram[float64])
	require.Len(t, h.DataPoints, 1)
	assert.Equal(t, specChunkBuckets, h.DataPoints[0].Bounds)
	assert.Equal(t, uint64(1), h.DataPoints[0].Count)
	assert.GreaterOrEqual(t, h.DataPoints[0].Sum, 0.05, "measured from the call's start")
	assert.Less(t, h.DataPoints[0].Sum, 0.05+20.0)
	assert.Equal(t, want, attrsOf(h.DataPoints[0].Attributes))

	per := got["gen_ai.client.operation.time_per_output_chunk"]
	assert.Equal(t, "s", per.Unit)
	hp := per.Data.(metricdata.Histogram[float64])
	require.Len(t, hp.DataPoints, 1)
	assert.Equal(t, specChunkBuckets, hp.DataPoints[0].Bounds)
	assert.Equal(t, uint64(2), hp.DataPoints[0].Count, "one per chunk after the first; none after End")
	assert.GreaterOrEqual(t, hp.DataPoints[0].Sum, 0.04)
	assert.Equal(t, want, attrsOf(hp.DataPoints[0].Attributes))
}

func TestRecordChunkOnNilCall(t *testing.T) {
	var c *otelaudit.Call
	c.RecordChunk() // no panic
}

// BenchmarkRecordChunk is the cost of one chunk of a stream with an SDK
// MeterProvider: the figure per chunk the transport adds to a streamed
// reply for the chunk metrics.
func BenchmarkRecordChunk(b *testing.B) {
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(b.Context()) }()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer func() { _ = mp.Shutdown(b.Context()) }()
	_, call := otelaudit.StartCall(b.Context(), otelaudit.Request{Provider: "openai", Model: "gpt-4o"},
		otelaudit.WithTracerProvider(tp), otelaudit.WithMeterProvider(mp),
		otelaudit.WithAttributes(semconv.ServerAddress("api.openai.com"), semconv.ServerPort(443)))
	call.SetResponse("", "gpt-4o-2024-08-06")
	call.RecordChunk()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		call.RecordChunk()
	}
	call.End()
}
