package exporter

import (
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Sampler wraps base so that GenAI spans are always at least recorded:
// when base decides Drop for a span whose start attributes mark it as a
// GenAI span (see [IsGenAI]), the decision becomes RecordOnly. The span is
// then recorded and ended through the processors, so the audit processor
// stores it, but it is not sampled, so [Redact] and the SDK's batch
// processor keep it away from other exporters. Decisions other than Drop,
// and base's tracestate and attributes, are kept. A nil base means
// sdktrace.ParentBased(sdktrace.AlwaysSample()), the SDK default.
//
// Sampling happens at span start, so only attributes given at start count:
// otelaudit.StartCall sets gen_ai.operation.name there; other
// instrumentations must pass gen_ai.operation.name (or
// gen_ai.provider.name) in the span start options (trace.WithAttributes),
// not later with SetAttributes, for their spans to be kept when base drops
// them.
func Sampler(base sdktrace.Sampler) sdktrace.Sampler {
	if base == nil {
		base = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	return auditSampler{base: base}
}

type auditSampler struct {
	base sdktrace.Sampler
}

func (s auditSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	r := s.base.ShouldSample(p)
	if r.Decision == sdktrace.Drop && IsGenAI(p.Attributes) {
		r.Decision = sdktrace.RecordOnly
	}
	return r
}

func (s auditSampler) Description() string {
	return "AuditSampler{" + s.base.Description() + "}"
}
