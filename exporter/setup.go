package exporter

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// ProviderOption configures [NewTracerProvider].
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
// spans are audited even when s drops them. Default: the SDK default,
// ParentBased(AlwaysSample). nil is ignored.
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

// WithGlobal makes NewTracerProvider also install the provider as the
// global one (otel.SetTracerProvider), so that otelaudit.StartCall and
// the middleware use it without options.
func WithGlobal() ProviderOption {
	return providerOptionFunc(func(c *providerConfig) { c.global = true })
}

// NewTracerProvider builds a TracerProvider wired for the audit, in one
// call:
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
	e, err := New(l, c.expOpts...)
	if err != nil {
		return nil, nil, err
	}
	tpOpts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(Sampler(c.sampler)),
		sdktrace.WithSpanProcessor(NewProcessor(e, c.procOpts...)),
	}
	if c.resource != nil {
		tpOpts = append(tpOpts, sdktrace.WithResource(c.resource))
	}
	for _, exp := range c.exporters {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(sdktrace.NewBatchSpanProcessor(Redact(exp), c.batchOpts...)))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)
	if c.global {
		otel.SetTracerProvider(tp)
	}
	return tp, e, nil
}
