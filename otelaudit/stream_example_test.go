package otelaudit_test

import (
	"context"
	"encoding/json"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// ExampleCall_RecordChunk records the streaming metrics of a call whose
// reply arrives in three chunks: one time to first chunk, and a time per
// output chunk for each later one.
func ExampleCall_RecordChunk() {
	ctx := context.Background()
	tp := sdktrace.NewTracerProvider()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	_, call := otelaudit.StartCall(ctx, otelaudit.Request{Provider: "openai", Model: "gpt-4o"},
		otelaudit.WithTracerProvider(tp), otelaudit.WithMeterProvider(mp))
	for range 3 { // for each chunk of the stream, as it arrives
		call.RecordChunk()
	}
	call.End()

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(ctx, &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		h := m.Data.(metricdata.Histogram[float64])
		fmt.Println(m.Name, m.Unit, h.DataPoints[0].Count)
	}
	// Output:
	// gen_ai.client.operation.time_to_first_chunk s 1
	// gen_ai.client.operation.time_per_output_chunk s 2
}

// ExampleToolDefinitionsJSON shows the gen_ai.tool.definitions value that
// Request.Tools are recorded as.
func ExampleToolDefinitionsJSON() {
	fmt.Println(otelaudit.ToolDefinitionsJSON([]otelaudit.ToolDefinition{{
		Name:        "get_weather",
		Description: "Current weather in a city",
		Parameters:  json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}}}`),
	}}))
	// Output:
	// [{"type":"function","name":"get_weather","description":"Current weather in a city","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]
}
