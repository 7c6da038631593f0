// Package genaimetrics holds the GenAI semantic-convention histograms
// (semconv v1.41.0, docs/gen-ai/gen-ai-metrics.md) that the exporter, the
// otelaudit call API and the middleware record, with the bucket boundaries
// the conventions advise, so that each boundary list is written once.
package genaimetrics

import (
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/semconv/v1.41.0/genaiconv"
)

// Bucket boundaries the conventions advise ("SHOULD be specified with
// ExplicitBucketBoundaries").
var (
	// TokenBuckets, in tokens: gen_ai.client.token.usage.
	TokenBuckets = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
	// DurationBuckets, in seconds: gen_ai.client.operation.duration,
	// gen_ai.server.request.duration,
	// gen_ai.client.operation.time_to_first_chunk and
	// gen_ai.client.operation.time_per_output_chunk.
	DurationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
	// ServerTTFTBuckets, in seconds: gen_ai.server.time_to_first_token.
	ServerTTFTBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0}
	// ServerTPOTBuckets, in seconds: gen_ai.server.time_per_output_token.
	ServerTPOTBuckets = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5}
)

// Streams are the histograms of streamed calls: the client's chunk timings
// and the model server's token timings.
type Streams struct {
	FirstChunk genaiconv.ClientOperationTimeToFirstChunk
	PerChunk   genaiconv.ClientOperationTimePerOutputChunk
	FirstToken genaiconv.ServerTimeToFirstToken
	PerToken   genaiconv.ServerTimePerOutputToken
}

type key struct {
	mp    metric.MeterProvider
	scope string
}

// cache holds one Streams per provider and scope: the instruments are
// made once, not per call.
var cache sync.Map // key -> *Streams

// For returns the stream histograms of the meter named scope (reporting
// version and the semconv v1.41.0 schema URL) of mp; nil mp means the
// global MeterProvider. An instrument that cannot be made is reported
// through otel.Handle and records nothing. The instruments are kept for
// the life of the process, one set per provider and scope: pass
// long-lived providers.
func For(mp metric.MeterProvider, scope, version string) *Streams {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	k := key{mp, scope}
	if s, ok := cache.Load(k); ok {
		return s.(*Streams)
	}
	m := mp.Meter(scope, metric.WithInstrumentationVersion(version), metric.WithSchemaURL(semconv.SchemaURL))
	s := &Streams{}
	var err error
	report := func() {
		if err != nil {
			otel.Handle(err)
		}
	}
	s.FirstChunk, err = genaiconv.NewClientOperationTimeToFirstChunk(m, metric.WithExplicitBucketBoundaries(DurationBuckets...))
	report()
	s.PerChunk, err = genaiconv.NewClientOperationTimePerOutputChunk(m, metric.WithExplicitBucketBoundaries(DurationBuckets...))
	report()
	s.FirstToken, err = genaiconv.NewServerTimeToFirstToken(m, metric.WithExplicitBucketBoundaries(ServerTTFTBuckets...))
	report()
	s.PerToken, err = genaiconv.NewServerTimePerOutputToken(m, metric.WithExplicitBucketBoundaries(ServerTPOTBuckets...))
	report()
	got, _ := cache.LoadOrStore(k, s)
	return got.(*Streams)
}
