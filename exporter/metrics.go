package exporter

import (
	"context"
	"errors"
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
	MetricQueueDepth      = "otelaudit.exporter.queue.depth"      // gauge, {span}
	MetricWriteDuration   = "otelaudit.exporter.write.duration"   // histogram, s: one backend write call
)

type instruments struct {
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
		if f := e.queueDepth.Load(); f != nil {
			o.ObserveInt64(depth, (*f)())
		}
		return nil
	}, written, failed, retried, spooled, replayed, dropped, invalid, depth)
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
// (durations only).
func (in *instruments) recordGenAI(ctx context.Context, s SpanView, it *otelaudit.Interaction) {
	if !in.opDuration.Enabled(ctx) && !in.srvDuration.Enabled(ctx) && !in.tokenUsage.Enabled(ctx) {
		return // no reader takes them (a no-op MeterProvider): skip building the attributes
	}
	op := genaiconv.OperationNameAttr(it.Operation)
	prov := genaiconv.ProviderNameAttr(it.Provider)
	var buf [6]attribute.KeyValue
	extra := buf[:0]
	if it.Model != "" {
		extra = append(extra, semconv.GenAIRequestModelKey.String(it.Model))
	}
	var server bool
	if k, ok := s.(interface{ SpanKind() trace.SpanKind }); ok {
		server = k.SpanKind() == trace.SpanKindServer
	}
	own, _, _ := spanContent(s) // none of these is handed-over content
	for _, kv := range own {
		switch kv.Key {
		case semconv.GenAIResponseModelKey, semconv.ServerAddressKey:
			if kv.Value.Type() == attribute.STRING && kv.Value.AsString() != "" {
				extra = append(extra, kv)
			}
		case semconv.ServerPortKey:
			if kv.Value.Type() == attribute.INT64 {
				extra = append(extra, kv)
			}
		}
	}
	noErr := len(extra)
	if et, ok := it.Metadata[string(semconv.ErrorTypeKey)].(string); ok {
		extra = append(extra, semconv.ErrorTypeKey.String(et))
	}
	ended := !s.EndTime().IsZero()
	if server {
		if ended {
			in.srvDuration.Record(ctx, it.Latency.Seconds(), op, prov, extra...)
		}
		return
	}
	if ended {
		in.opDuration.Record(ctx, it.Latency.Seconds(), op, prov, extra...)
	}
	if it.InputTokens == nil && it.OutputTokens == nil {
		return
	}
	if !in.tokenUsage.Enabled(ctx) {
		return
	}
	extra = extra[:noErr] // token usage has no error.type
	if it.InputTokens != nil {
		in.tokenUsage.Record(ctx, *it.InputTokens, op, prov, genaiconv.TokenTypeInput, extra...)
	}
	if it.OutputTokens != nil {
		in.tokenUsage.Record(ctx, *it.OutputTokens, op, prov, genaiconv.TokenTypeOutput, extra...)
	}
}
