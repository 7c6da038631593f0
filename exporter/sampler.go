package exporter

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Sampler wraps base so that GenAI spans are always at least recorded:
// when base decides Drop for a span that looks like a GenAI span at start
// (see [LooksGenAI]: its start attributes, or a span name of the form
// "{operation} {model}" with a GenAI operation name), the decision becomes
// RecordOnly. The span is then recorded and ended through the processors,
// so the audit processor stores it, but it is not sampled, so [Redact] and
// the SDK's batch processor keep it away from other exporters. Decisions
// other than Drop, and base's tracestate and attributes, are kept. A nil
// base means sdktrace.ParentBased(sdktrace.AlwaysSample()), the SDK
// default.
//
// A span recognised only by its name costs what any recorded span costs,
// and the audit processor drops it at End unless its attributes by then
// mark it as GenAI ([IsGenAI]). For instrumentations whose span names say
// nothing, see [RecordAllSampler].
func Sampler(base sdktrace.Sampler) sdktrace.Sampler {
	if base == nil {
		base = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	return auditSampler{base: base}
}

// RecordAllSampler is [Sampler] that records every span base drops, GenAI
// or not, so that the audit processor can decide at End from the span's
// final attributes. It catches instrumentations that set their gen_ai.*
// attributes after Start under span names that do not follow the
// conventions. The cost: every dropped span is recorded (attributes,
// events, the processors' OnStart and OnEnd) instead of being a no-op span,
// which for a service with a low sampling ratio is close to the cost of
// sampling everything, minus the export.
func RecordAllSampler(base sdktrace.Sampler) sdktrace.Sampler {
	if base == nil {
		base = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	return auditSampler{base: base, all: true}
}

type auditSampler struct {
	base sdktrace.Sampler
	all  bool
}

func (s auditSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	r := s.base.ShouldSample(p)
	if r.Decision == sdktrace.Drop && (s.all || LooksGenAI(p.Name, p.Attributes)) {
		r.Decision = sdktrace.RecordOnly
	}
	return r
}

func (s auditSampler) Description() string {
	if s.all {
		return "AuditSampler{recordAll," + s.base.Description() + "}"
	}
	return "AuditSampler{" + s.base.Description() + "}"
}

// genAIOperations are the gen_ai.operation.name values of the GenAI
// semantic conventions (semconv v1.41.0).
var genAIOperations = map[string]bool{
	"chat": true, "text_completion": true, "generate_content": true, "embeddings": true,
	"retrieval": true, "execute_tool": true, "invoke_agent": true, "create_agent": true,
	"invoke_workflow": true,
}

// adkModelCall is the name Google's Agent Development Kit (Go, Python,
// Java) gives the span of each model call; it sets the span's gen_ai.*
// attributes after Start.
const adkModelCall = "call_llm"

// LooksGenAI reports whether a span about to start is a GenAI span: its
// start attributes mark it ([IsGenAI]), or its name is "{operation}" or
// "{operation} {rest}" where operation is a GenAI operation name (chat,
// text_completion, generate_content, embeddings, retrieval, execute_tool,
// invoke_agent, create_agent, invoke_workflow), as the conventions name
// spans ("chat gpt-4o", "execute_tool get_weather"), or it is "call_llm",
// Google ADK's model call.
func LooksGenAI(name string, startAttrs []attribute.KeyValue) bool {
	if IsGenAI(startAttrs) {
		return true
	}
	op, _, _ := strings.Cut(name, " ")
	return genAIOperations[op] || name == adkModelCall
}

// samplerFromEnv returns the sampler OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG name, as the SDK reads them when no sampler is
// given; nil when unset. Values the SDK supports but this package cannot
// build (jaeger_remote, xray, ...) and bad arguments are reported to
// otel.Handle and give the SDK default.
func samplerFromEnv() sdktrace.Sampler {
	name, ok := os.LookupEnv("OTEL_TRACES_SAMPLER")
	if !ok {
		return nil
	}
	name = strings.ToLower(strings.TrimSpace(name))
	arg, hasArg := os.LookupEnv("OTEL_TRACES_SAMPLER_ARG")
	ratio := func() float64 {
		if !hasArg {
			return 1
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(arg), 64)
		if err != nil || f < 0 || f > 1 {
			otel.Handle(fmt.Errorf("exporter: OTEL_TRACES_SAMPLER_ARG=%q is not a ratio in [0, 1]; using 1", arg))
			return 1
		}
		return f
	}
	switch name {
	case "always_on":
		return sdktrace.AlwaysSample()
	case "always_off":
		return sdktrace.NeverSample()
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio())
	case "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample())
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio()))
	}
	otel.Handle(fmt.Errorf("exporter: OTEL_TRACES_SAMPLER=%q is not supported here; using parentbased_always_on", name))
	return nil
}
