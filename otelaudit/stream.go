package otelaudit

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/semconv/v1.41.0/genaiconv"

	"github.com/otelaudit/otelaudit-go/internal/genaimetrics"
)

// WithMeterProvider makes [Call.RecordChunk] record the streaming metrics
// with mp instead of the global MeterProvider (otel.GetMeterProvider() at
// the first chunk). nil is ignored.
func WithMeterProvider(mp metric.MeterProvider) CallOption {
	return callOptionFunc(func(c *callConfig) {
		if mp != nil {
			c.mp = mp
		}
	})
}

// chunkState is what a streamed call keeps between chunks; it is made at
// the first chunk, so calls that do not stream pay nothing for it.
type chunkState struct {
	inst  *genaimetrics.Streams
	op    genaiconv.OperationNameAttr
	prov  genaiconv.ProviderNameAttr
	attrs []attribute.KeyValue // request model, server address and port
	last  time.Time
	// set is the measurements' attribute set, made for response model
	// setModel.
	set      attribute.Set
	setModel string
	setMade  bool
}

// RecordChunk records that a chunk of a streamed reply has just been
// received, as the GenAI semantic conventions (v1.41.0) define for
// streaming calls: the first call records
// gen_ai.client.operation.time_to_first_chunk (seconds since the call
// started: [WithStartTime], else the span's start), each later call
// gen_ai.client.operation.time_per_output_chunk (seconds since the
// previous chunk). Both histograms use the advised bucket boundaries
// [0.01, ..., 81.92] and carry gen_ai.operation.name,
// gen_ai.provider.name and, when known, gen_ai.request.model,
// server.address, server.port (from [WithAttributes]) and
// gen_ai.response.model (from [Call.SetResponse] before the chunk).
// The MeterProvider is [WithMeterProvider]'s, else the global one.
//
// Call it once per chunk, as the chunk arrives; do not call it for calls
// that do not stream. It is safe for concurrent use and does nothing on a
// nil Call, after End, or when the span is not recording.
func (c *Call) RecordChunk() {
	if c == nil || !c.span.IsRecording() {
		return
	}
	now := time.Now()
	c.streamMu.Lock()
	defer c.streamMu.Unlock()
	st := c.chunks
	if st == nil {
		st = c.newChunkState()
		c.chunks = st
		start := c.start
		if start.IsZero() {
			if s, ok := c.span.(interface{ StartTime() time.Time }); ok {
				start = s.StartTime()
			}
		}
		if !start.IsZero() {
			st.inst.FirstChunk.RecordSet(context.Background(), now.Sub(start).Seconds(), c.chunkSet(st))
		}
	} else {
		st.inst.PerChunk.RecordSet(context.Background(), now.Sub(st.last).Seconds(), c.chunkSet(st))
	}
	st.last = now
}

// chunkSet returns the attribute set of a chunk measurement, made once per
// response model rather than per chunk.
func (c *Call) chunkSet(st *chunkState) attribute.Set {
	if !st.setMade || st.setModel != c.respModel {
		kv := append(c.chunkAttrs(st), semconv.GenAIOperationNameKey.String(string(st.op)), semconv.GenAIProviderNameKey.String(string(st.prov)))
		st.set, st.setModel, st.setMade = attribute.NewSet(kv...), c.respModel, true
	}
	return st.set
}

// newChunkState reads the metric attributes from the span's start
// attributes.
func (c *Call) newChunkState() *chunkState {
	st := &chunkState{inst: genaimetrics.For(c.mp, ScopeName, Version)}
	for _, kv := range c.startAttrs {
		switch kv.Key {
		case semconv.GenAIOperationNameKey:
			st.op = genaiconv.OperationNameAttr(kv.Value.AsString())
		case semconv.GenAIProviderNameKey:
			st.prov = genaiconv.ProviderNameAttr(kv.Value.AsString())
		case semconv.GenAIRequestModelKey, semconv.ServerAddressKey, semconv.ServerPortKey:
			st.attrs = setAttr(st.attrs, kv)
		}
	}
	return st
}

// chunkAttrs returns the optional attributes of a chunk measurement: the
// start ones and the response model once SetResponse gave it.
func (c *Call) chunkAttrs(st *chunkState) []attribute.KeyValue {
	if c.respModel == "" {
		return st.attrs[:len(st.attrs):len(st.attrs)]
	}
	return append(st.attrs[:len(st.attrs):len(st.attrs)], semconv.GenAIResponseModelKey.String(c.respModel))
}

// setAttr puts kv in attrs, replacing an earlier value of its key (a later
// WithAttributes overrides, as on the span).
func setAttr(attrs []attribute.KeyValue, kv attribute.KeyValue) []attribute.KeyValue {
	for i := range attrs {
		if attrs[i].Key == kv.Key {
			attrs[i] = kv
			return attrs
		}
	}
	return append(attrs, kv)
}

// streamFields are the fields of a Call that RecordChunk uses.
type streamFields struct {
	mp         metric.MeterProvider // nil: the global one
	start      time.Time            // WithStartTime's; zero: the span's start
	startAttrs []attribute.KeyValue // the span's start attributes (read only)
	streamMu   sync.Mutex
	chunks     *chunkState
	respModel  string // guarded by streamMu
}
