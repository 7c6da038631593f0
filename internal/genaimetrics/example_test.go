package genaimetrics_test

import (
	"context"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/semconv/v1.41.0/genaiconv"

	"github.com/otelaudit/otelaudit-go/internal/genaimetrics"
)

// A streamed call's time to first chunk lands in the bucket the
// conventions advise: 0.3 s falls in (0.16, 0.32].
func ExampleFor() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	s := genaimetrics.For(mp, "example", "v0.0.1")
	s.FirstChunk.Record(context.Background(), 0.3, genaiconv.OperationNameChat, genaiconv.ProviderNameOpenAI)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		fmt.Println(err)
		return
	}
	m := rm.ScopeMetrics[0].Metrics[0]
	dp := m.Data.(metricdata.Histogram[float64]).DataPoints[0]
	for i, n := range dp.BucketCounts {
		if n > 0 {
			fmt.Println(m.Name, m.Unit, dp.Bounds[i-1], dp.Bounds[i], n)
		}
	}
	// Output:
	// gen_ai.client.operation.time_to_first_chunk s 0.16 0.32 1
}
