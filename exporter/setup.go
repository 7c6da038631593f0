package exporter

import (
	"slices"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// ProviderOption configures [ProviderOptions] and [NewTracerProvider].
type ProviderOption interface {
	applyProvider(*providerConfig)
}

type providerOptionFunc func(*providerConfig)

func (f providerOptionFunc) applyProvider(c *providerConfig) { f(c) }

type providerConfig struct {
	exporters []sdktrace.SpanExporter
	sampler   sdktrace.Sampler
	resource  *resource.Resource
	procOpts  []ProcessorOption
	expOpts   []Option
	batchOpts []sdktrace.BatchSpanProcessorOption
	global    bool
	recordAll bool
}

// WithExporter adds an ordinary trace exporter (OTLP, stdout, ...). It is
// wrapped with [Redact] and fed by an SDK BatchSpanProcessor, so it sees
// sampled spans only and never their content. May be given more than once;
// nil is ignored.
func WithExporter(exp sdktrace.SpanExporter) ProviderOption {
	return providerOptionFunc(func(c *providerConfig) {
		if exp != nil {
			c.exporters = append(c.exporters, exp)
		}
	})
}

// WithBatcherOptions sets the options of the BatchSpanProcessors that feed
// the exporters of [WithExporter].
func WithBatcherOptions(opts ...sdktrace.BatchSpanProcessorOption) ProviderOption {
	return providerOptionFunc(func(c *providerConfig) { c.batchOpts = append(c.batchOpts, opts...) })
}

// WithSampler sets the trace sampler, wrapped with [Sampler] so that GenAI
// spans are audited even when s drops them. Default: the sampler
// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG name (always_on,
// always_off, traceidratio and their parentbased_ forms), as the SDK reads
// them, else the SDK default, ParentBased(AlwaysSample). nil is ignored.
func WithSampler(s sdktrace.Sampler) ProviderOption {
	return providerOptionFunc(func(c *providerConfig) {
		if s != nil {
			c.sampler = s
		}
	})
}

// WithResource sets the provider's resource (default: the SDK default
// resource). nil is ignored.
func WithResource(r *resource.Resource) ProviderOption {
	return providerOptionFunc(func(c *providerConfig) {
		if r != nil {
			c.resource = r
		}
	})
}

// WithProcessorOptions passes options to the audit [NewProcessor].
func WithProcessorOptions(opts ...ProcessorOption) ProviderOption {
	return providerOptionFunc(func(c *providerConfig) { c.procOpts = append(c.procOpts, opts...) })
}

// WithExporterOptions passes options to the audit exporter ([New]).
func WithExporterOptions(opts ...Option) ProviderOption {
	return providerOptionFunc(func(c *providerConfig) { c.expOpts = append(c.expOpts, opts...) })
}

// WithRecordAll makes the sampler record every span the trace sampler
// drops ([RecordAllSampler] instead of [Sampler]), so that spans whose
// GenAI attributes are set after Start under names that do not follow the
// conventions are audited too. It costs a recorded span for every dropped
// one; see [RecordAllSampler].
func WithRecordAll(on bool) ProviderOption {
	return providerOptionFunc(func(c *providerConfig) { c.recordAll = on })
}

// WithGlobal makes NewTracerProvider also install the provider as the
// global one (otel.SetTracerProvider), so that otelaudit.StartCall and
// the middleware use it without options.
func WithGlobal() ProviderOption {
	return providerOptionFunc(func(c *providerConfig) { c.global = true })
}

// ProviderOptions returns the options that add the audit to a
// TracerProvider the service builds itself, with its own resource, ID
// generator, limits and so on:
//
//	opts, auditExp, err := exporter.ProviderOptions(logger,
//		exporter.WithExporter(otlpExporter), exporter.WithSampler(serviceSampler))
//	tp := sdktrace.NewTracerProvider(append(opts, sdktrace.WithResource(res))...)
//
// The options are the ones [NewTracerProvider] uses:
//
//   - the audit processor ([NewProcessor] over [New](l)), which stores every
//     GenAI span as an audit entry, losslessly, with the content
//     otelaudit.StartCall and the middleware hand it beside the span;
//   - each exporter of [WithExporter] behind [Redact] and a
//     BatchSpanProcessor, so it gets no content and no audit-only spans;
//   - the sampler of [WithSampler] (or from OTEL_TRACES_SAMPLER) wrapped
//     with [Sampler], so GenAI spans are recorded whatever it decides.
//
// Give the service's sampler and exporters through WithSampler and
// WithExporter, not as sdktrace options after these: a later
// sdktrace.WithSampler replaces the audit sampler (dropped GenAI spans
// are then not audited), and an exporter registered directly is not
// redacted. [WithGlobal] is for NewTracerProvider only and is ignored
// here. Shutting the provider down drains the audit into the backend; the
// returned Exporter gives [Exporter.Stats].
func ProviderOptions(l *otelaudit.Logger, opts ...ProviderOption) ([]sdktrace.TracerProviderOption, *Exporter, error) {
	var c providerConfig
	for _, o := range opts {
		if o != nil {
			o.applyProvider(&c)
		}
	}
	return c.options(l)
}

func (c *providerConfig) options(l *otelaudit.Logger) ([]sdktrace.TracerProviderOption, *Exporter, error) {
	e, err := New(l, c.expOpts...)
	if err != nil {
		return nil, nil, err
	}
	base := c.sampler
	if base == nil {
		base = samplerFromEnv()
	}
	sampler := Sampler(base)
	if c.recordAll {
		sampler = RecordAllSampler(base)
	}
	tpOpts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sampler),
		sdktrace.WithSpanProcessor(NewProcessor(e, append(slices.Clip(c.procOpts), wiredForYou())...)),
	}
	if c.resource != nil {
		tpOpts = append(tpOpts, sdktrace.WithResource(c.resource))
	}
	for _, exp := range c.exporters {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(sdktrace.NewBatchSpanProcessor(Redact(exp), c.batchOpts...)))
	}
	return tpOpts, e, nil
}

// NewTracerProvider builds a TracerProvider wired for the audit, in one
// call (the options of [ProviderOptions]):
//
//   - the audit processor ([NewProcessor] over [New](l)), which stores every
//     GenAI span as an audit entry, losslessly;
//   - the exporters of [WithExporter], each behind [Redact] and a
//     BatchSpanProcessor, so they get no content and no audit-only spans;
//   - the sampler of [WithSampler] wrapped with [Sampler].
//
// It returns the provider and the audit exporter (for [Exporter.Stats]).
// tp.Shutdown drains the audit queue into the backend, flushes it and
// shuts the other exporters down; tp.ForceFlush returns once every ended
// span is durable. The backend is not closed (see [WithCloseBackend]).
func NewTracerProvider(l *otelaudit.Logger, opts ...ProviderOption) (*sdktrace.TracerProvider, *Exporter, error) {
	var c providerConfig
	for _, o := range opts {
		if o != nil {
			o.applyProvider(&c)
		}
	}
	tpOpts, e, err := c.options(l)
	if err != nil {
		return nil, nil, err
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)
	if c.global {
		otel.SetTracerProvider(tp)
	}
	return tp, e, nil
}
