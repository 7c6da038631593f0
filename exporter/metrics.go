package exporter

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/semconv/v1.41.0/genaiconv"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/internal/genaimetrics"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// ScopeName is the instrumentation scope of the exporter's metrics.
const ScopeName = "github.com/otelaudit/otelaudit-go/exporter"

// Metric names of the pipeline health metrics. The counters count audit
// entries and mirror [Stats]; the GenAI client metrics
// gen_ai.client.token.usage and gen_ai.client.operation.duration are
// recorded per audited span as the semantic conventions define them.
const (
	MetricEntriesWritten  = "otelaudit.exporter.entries.written"  // counter, {entry}
	MetricEntriesFailed   = "otelaudit.exporter.entries.failed"   // counter, {entry}: in failed write attempts
	MetricEntriesRetried  = "otelaudit.exporter.entries.retried"  // counter, {entry}
	MetricEntriesSpooled  = "otelaudit.exporter.entries.spooled"  // counter, {entry}
	MetricEntriesReplayed = "otelaudit.exporter.entries.replayed" // counter, {entry}: from the spool
	MetricEntriesDropped  = "otelaudit.exporter.entries.dropped"  // counter, {entry}: lost; 0 in normal operation
	MetricEntriesInvalid  = "otelaudit.exporter.entries.invalid"  // counter, {entry}: spans that could not become entries
	// MetricEntriesContentUnavailable counts entries written without their
	// content, never captured (Stats.ContentUnavailable); counter, {entry}.
	MetricEntriesContentUnavailable = "otelaudit.exporter.entries.content_unavailable"
	// MetricEntriesContentTruncated counts entries whose span content the
	// attribute value length limit most likely cut (Stats.ContentTruncated);
	// counter, {entry}.
	MetricEntriesContentTruncated = "otelaudit.exporter.entries.content_truncated"
	MetricQueueDepth              = "otelaudit.exporter.queue.depth"    // gauge, {span}
	MetricWriteDuration           = "otelaudit.exporter.write.duration" // histogram, s: one backend write call
)

type instruments struct {
	sets          metricSets
	reg           metric.Registration
	writeDuration metric.Float64Histogram
	tokenUsage    genaiconv.ClientTokenUsage
	opDuration    genaiconv.ClientOperationDuration
	srvDuration   genaiconv.ServerRequestDuration
}

var (
	attrWriteOK    = metric.WithAttributes(attribute.String("outcome", "ok"))
	attrWriteError = metric.WithAttributes(attribute.String("outcome", "error"))
)

func newInstruments(mp metric.MeterProvider, e *Exporter) (*instruments, error) {
	m := mp.Meter(ScopeName, metric.WithInstrumentationVersion(otelaudit.Version), metric.WithSchemaURL(semconv.SchemaURL))
	var errs []error
	counter := func(name, desc string) metric.Int64ObservableCounter {
		c, err := m.Int64ObservableCounter(name, metric.WithUnit("{entry}"), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	written := counter(MetricEntriesWritten, "Audit entries stored in the backend.")
	failed := counter(MetricEntriesFailed, "Audit entries in backend writes that failed (per attempt).")
	retried := counter(MetricEntriesRetried, "Audit entries written again after a failed attempt.")
	spooled := counter(MetricEntriesSpooled, "Audit entries written to the local spool because the queue was full.")
	replayed := counter(MetricEntriesReplayed, "Spooled audit entries written to the backend.")
	dropped := counter(MetricEntriesDropped, "Accepted audit entries that were lost.")
	invalid := counter(MetricEntriesInvalid, "GenAI spans that could not become audit entries.")
	unavailable := counter(MetricEntriesContentUnavailable, "Audit entries written without their content, which was never captured.")
	truncated := counter(MetricEntriesContentTruncated, "Audit entries whose span content the attribute value length limit most likely cut.")
	depth, err := m.Int64ObservableGauge(MetricQueueDepth, metric.WithUnit("{span}"),
		metric.WithDescription("Spans waiting in the audit processor's queue."))
	errs = append(errs, err)
	in := &instruments{}
	in.writeDuration, err = m.Float64Histogram(MetricWriteDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of one backend write call."))
	errs = append(errs, err)
	in.tokenUsage, err = genaiconv.NewClientTokenUsage(m, metric.WithExplicitBucketBoundaries(genaimetrics.TokenBuckets...))
	errs = append(errs, err)
	in.opDuration, err = genaiconv.NewClientOperationDuration(m, metric.WithExplicitBucketBoundaries(genaimetrics.DurationBuckets...))
	errs = append(errs, err)
	in.srvDuration, err = genaiconv.NewServerRequestDuration(m, metric.WithExplicitBucketBoundaries(genaimetrics.DurationBuckets...))
	errs = append(errs, err)
	in.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(written, e.written.Load())
		o.ObserveInt64(failed, e.failed.Load())
		o.ObserveInt64(retried, e.retried.Load())
		o.ObserveInt64(spooled, e.spooled.Load())
		o.ObserveInt64(replayed, e.replayed.Load())
		o.ObserveInt64(dropped, e.dropped.Load())
		o.ObserveInt64(invalid, e.invalid.Load())
		o.ObserveInt64(unavailable, e.contentUnavailable.Load())
		o.ObserveInt64(truncated, e.contentTruncated.Load())
		if f := e.queueDepth.Load(); f != nil {
			o.ObserveInt64(depth, (*f)())
		}
		return nil
	}, written, failed, retried, spooled, replayed, dropped, invalid, unavailable, truncated, depth)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return in, nil
}

func (in *instruments) close() error {
	if in == nil || in.reg == nil {
		return nil
	}
	return in.reg.Unregister()
}

func (in *instruments) recordWrite(ctx context.Context, d time.Duration, err error) {
	if err != nil {
		in.writeDuration.Record(ctx, d.Seconds(), attrWriteError)
		return
	}
	in.writeDuration.Record(ctx, d.Seconds(), attrWriteOK)
}

// recordGenAI records the GenAI metrics of one audited span: for a
// SERVER span (a model server's view, as middleware.Handler records it)
// gen_ai.server.request.duration; for any other,
// gen_ai.client.operation.duration and gen_ai.client.token.usage. Each
// carries the attributes the conventions list for it when the span has
// them: gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model,
// gen_ai.response.model, server.address, server.port, and error.type
// (durations only). The attribute sets come from a cache (see
// metricSets): the same few repeat, and building them per span cost more
// than the rest of the conversion.
func (in *instruments) recordGenAI(ctx context.Context, s SpanView, it *otelaudit.Interaction) {
	if !in.opDuration.Enabled(ctx) && !in.srvDuration.Enabled(ctx) && !in.tokenUsage.Enabled(ctx) {
		return // no reader takes them (a no-op MeterProvider): skip building the attributes
	}
	k := metricKey{op: it.Operation, provider: it.Provider, model: it.Model}
	if sk, ok := s.(interface{ SpanKind() trace.SpanKind }); ok {
		k.server = sk.SpanKind() == trace.SpanKindServer
	}
	own, _, _ := spanContent(s) // none of these is handed-over content
	for _, kv := range own {
		switch kv.Key {
		case semconv.GenAIResponseModelKey:
			if kv.Value.Type() == attribute.STRING && kv.Value.AsString() != "" {
				k.respModel, k.hasRespModel = kv.Value.AsString(), true
			}
		case semconv.ServerAddressKey:
			if kv.Value.Type() == attribute.STRING && kv.Value.AsString() != "" {
				k.address, k.hasAddress = kv.Value.AsString(), true
			}
		case semconv.ServerPortKey:
			if kv.Value.Type() == attribute.INT64 {
				k.port, k.hasPort = kv.Value.AsInt64(), true
			}
		}
	}
	if et, ok := it.Metadata[string(semconv.ErrorTypeKey)].(string); ok {
		k.errType, k.hasErrType = et, true
	}
	sets := in.sets.get(k)
	ended := !s.EndTime().IsZero()
	if k.server {
		if ended {
			in.srvDuration.Float64Histogram.Record(ctx, it.Latency.Seconds(), sets.duration)
		}
		return
	}
	if ended {
		in.opDuration.Float64Histogram.Record(ctx, it.Latency.Seconds(), sets.duration)
	}
	if it.InputTokens == nil && it.OutputTokens == nil {
		return
	}
	if !in.tokenUsage.Enabled(ctx) {
		return
	}
	if it.InputTokens != nil {
		in.tokenUsage.Int64Histogram.Record(ctx, *it.InputTokens, sets.tokensIn)
	}
	if it.OutputTokens != nil {
		in.tokenUsage.Int64Histogram.Record(ctx, *it.OutputTokens, sets.tokensOut)
	}
}

// metricKey is what the attributes of a span's GenAI metrics depend on.
type metricKey struct {
	server                            bool
	op, provider, model               string
	respModel, address, errType       string
	port                              int64
	hasRespModel, hasAddress, hasPort bool
	hasErrType                        bool
}

// genAISets are the attributes of one metricKey's measurements, as
// options ready to pass: the duration's (with error.type) and the token
// usage's for input and output tokens (without it).
type genAISets struct {
	duration, tokensIn, tokensOut metric.RecordOption
}

// metricSetsMax bounds metricSets: a service with more combinations
// (models, servers, error types) than this rebuilds sets now and then.
const metricSetsMax = 256

// metricSets caches the attribute sets of the GenAI metrics by metricKey.
// Safe for concurrent use.
type metricSets struct {
	mu sync.Mutex
	m  map[metricKey]*genAISets
}

// get returns k's sets, built on first use: the same attributes, in the
// same precedence, as genaiconv's Record methods would give them.
func (c *metricSets) get(k metricKey) *genAISets {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[k]; ok {
		return s
	}
	if c.m == nil || len(c.m) >= metricSetsMax {
		c.m = make(map[metricKey]*genAISets)
	}
	var buf [8]attribute.KeyValue
	attrs := buf[:0]
	if k.model != "" {
		attrs = append(attrs, semconv.GenAIRequestModelKey.String(k.model))
	}
	if k.hasRespModel {
		attrs = append(attrs, semconv.GenAIResponseModelKey.String(k.respModel))
	}
	if k.hasAddress {
		attrs = append(attrs, semconv.ServerAddressKey.String(k.address))
	}
	if k.hasPort {
		attrs = append(attrs, semconv.ServerPortKey.Int64(k.port))
	}
	attrs = append(attrs, semconv.GenAIOperationNameKey.String(k.op), semconv.GenAIProviderNameKey.String(k.provider))
	noErr := len(attrs)
	tokens := func(tokenType attribute.KeyValue) metric.RecordOption {
		return metric.WithAttributeSet(attribute.NewSet(append(attrs[:noErr:noErr], tokenType)...))
	}
	s := &genAISets{tokensIn: tokens(semconv.GenAITokenTypeInput), tokensOut: tokens(semconv.GenAITokenTypeOutput)}
	if k.hasErrType {
		attrs = append(attrs, semconv.ErrorTypeKey.String(k.errType))
	}
	s.duration = metric.WithAttributeSet(attribute.NewSet(attrs...))
	c.m[k] = s
	return s
}
