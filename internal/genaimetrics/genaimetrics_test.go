package genaimetrics

import (
	"context"
	"slices"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/semconv/v1.41.0/genaiconv"
)

// Each stream histogram is recorded under its semconv name, in the named
// scope with the schema URL, with the advised bucket boundaries; For gives
// the same instruments for the same provider and scope.
func TestForRecordsWithAdvisedBuckets(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	s := For(mp, "test/scope", "v1.2.3")
	if again := For(mp, "test/scope", "v1.2.3"); again != s {
		t.Fatal("For made a second set of instruments for the same provider and scope")
	}
	if other := For(mp, "other/scope", "v1.2.3"); other == s {
		t.Fatal("For shared instruments across scopes")
	}
	ctx := context.Background()
	op, prov := genaiconv.OperationNameChat, genaiconv.ProviderNameOpenAI
	s.FirstChunk.Record(ctx, 0.3, op, prov)
	s.PerChunk.Record(ctx, 0.05, op, prov)
	s.FirstToken.Record(ctx, 0.2, op, prov)
	s.PerToken.Record(ctx, 0.02, op, prov)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	if len(rm.ScopeMetrics) != 1 {
		t.Fatalf("%d scopes with data, want 1", len(rm.ScopeMetrics))
	}
	sm := rm.ScopeMetrics[0]
	if sm.Scope.Name != "test/scope" || sm.Scope.Version != "v1.2.3" || sm.Scope.SchemaURL != semconv.SchemaURL {
		t.Errorf("scope = %+v, want test/scope v1.2.3 %s", sm.Scope, semconv.SchemaURL)
	}
	want := map[string]struct {
		bounds []float64
		value  float64
	}{
		"gen_ai.client.operation.time_to_first_chunk":   {DurationBuckets, 0.3},
		"gen_ai.client.operation.time_per_output_chunk": {DurationBuckets, 0.05},
		"gen_ai.server.time_to_first_token":             {ServerTTFTBuckets, 0.2},
		"gen_ai.server.time_per_output_token":           {ServerTPOTBuckets, 0.02},
	}
	for _, m := range sm.Metrics {
		w, ok := want[m.Name]
		if !ok {
			t.Errorf("unexpected metric %s", m.Name)
			continue
		}
		delete(want, m.Name)
		h, ok := m.Data.(metricdata.Histogram[float64])
		if !ok || len(h.DataPoints) != 1 {
			t.Errorf("%s: data %T with points %v, want one float64 histogram point", m.Name, m.Data, h.DataPoints)
			continue
		}
		dp := h.DataPoints[0]
		if !slices.Equal(dp.Bounds, w.bounds) {
			t.Errorf("%s: bounds %v, want %v", m.Name, dp.Bounds, w.bounds)
		}
		if dp.Count != 1 || dp.Sum != w.value {
			t.Errorf("%s: count %d sum %v, want 1 and %v", m.Name, dp.Count, dp.Sum, w.value)
		}
	}
	for name := range want {
		t.Errorf("metric %s not recorded", name)
	}
}

// The advised boundaries are strictly increasing, as explicit bucket
// boundaries must be.
func TestBucketsIncrease(t *testing.T) {
	for name, b := range map[string][]float64{
		"TokenBuckets": TokenBuckets, "DurationBuckets": DurationBuckets,
		"ServerTTFTBuckets": ServerTTFTBuckets, "ServerTPOTBuckets": ServerTPOTBuckets,
	} {
		if len(b) == 0 {
			t.Errorf("%s is empty", name)
		}
		for i := 1; i < len(b); i++ {
			if b[i] <= b[i-1] {
				t.Errorf("%s[%d] = %v does not exceed %v", name, i, b[i], b[i-1])
			}
		}
	}
}
