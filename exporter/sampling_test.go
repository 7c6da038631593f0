package exporter_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// lateAttrSpans starts n spans the way many third-party instrumentations
// do: named "chat gpt-4o", every gen_ai.* attribute set after Start.
func lateAttrSpans(t *testing.T, tp trace.TracerProvider, name string, n int) {
	t.Helper()
	tr := tp.Tracer("third-party")
	for i := range n {
		_, s := tr.Start(t.Context(), name, trace.WithSpanKind(trace.SpanKindClient))
		s.SetAttributes(
			semconv.GenAIOperationNameKey.String("chat"),
			semconv.GenAIProviderNameKey.String("openai"),
			semconv.GenAIRequestModelKey.String("gpt-4o"),
			semconv.GenAIInputMessagesKey.String(fmt.Sprintf(`[{"role":"user","parts":[{"type":"text","content":"SECRETIN-%d"}]}]`, i)),
			semconv.GenAIUsageInputTokensKey.Int(3),
		)
		s.End()
	}
}

func TestLateAttributesUnderDropAllSampler(t *testing.T) {
	const n = 300
	st := storage.NewMemoryStorage(0)
	logger, err := otelaudit.NewLogger(st)
	require.NoError(t, err)
	other := tracetest.NewInMemoryExporter()
	opts, exp, err := exporter.ProviderOptions(logger,
		exporter.WithSampler(sdktrace.NeverSample()), exporter.WithExporter(other))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(opts...)
	lateAttrSpans(t, tp, "chat gpt-4o", n)
	// A span that is not GenAI under the same sampler is neither audited
	// nor exported.
	_, s := tp.Tracer("app").Start(t.Context(), "GET /health")
	s.End()
	require.NoError(t, tp.ForceFlush(t.Context()))
	assert.Empty(t, other.GetSpans(), "the sampler dropped everything: the other exporter gets nothing")
	require.NoError(t, tp.Shutdown(t.Context()))

	count, err := st.Count(t.Context())
	require.NoError(t, err)
	assert.Equal(t, n, count)
	assert.Equal(t, int64(n), exp.Stats().Written)
	es, err := st.ListEntries(t.Context(), time.Time{}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, e := range es {
		seen[e.InputHash] = true
		assert.NotEmpty(t, e.TraceID)
	}
	for i := range n {
		assert.True(t, seen[otelaudit.HashContent(fmt.Sprintf("SECRETIN-%d", i))], "call %d", i)
	}
}

// TestLateAttributesNeedNameOrRecordAll: a span whose name says nothing
// and whose attributes come after Start is lost under a dropping sampler
// unless WithRecordAll is on; the control shows the test can fail.
func TestLateAttributesNeedNameOrRecordAll(t *testing.T) {
	for _, recordAll := range []bool{false, true} {
		t.Run(fmt.Sprint("recordAll=", recordAll), func(t *testing.T) {
			st := storage.NewMemoryStorage(0)
			logger, err := otelaudit.NewLogger(st)
			require.NoError(t, err)
			tp, _, err := exporter.NewTracerProvider(logger,
				exporter.WithSampler(sdktrace.NeverSample()), exporter.WithRecordAll(recordAll))
			require.NoError(t, err)
			lateAttrSpans(t, tp, "llm request", 10)
			require.NoError(t, tp.Shutdown(t.Context()))
			count, err := st.Count(t.Context())
			require.NoError(t, err)
			if recordAll {
				assert.Equal(t, 10, count)
			} else {
				assert.Zero(t, count)
			}
		})
	}
}

func TestLooksGenAI(t *testing.T) {
	for name, want := range map[string]bool{
		"chat gpt-4o": true, "chat": true, "embeddings text-embedding-3": true,
		"execute_tool get_weather": true, "invoke_agent planner": true, "generate_content gemini": true,
		"call_llm": true, "call_llm x": false, // Google ADK's model call, by its exact name
		"GET /v1/chat": false, "chatty thing": false, "": false, "HTTP POST": false,
	} {
		assert.Equal(t, want, exporter.LooksGenAI(name, nil), name)
	}
	assert.True(t, exporter.LooksGenAI("x", []attribute.KeyValue{semconv.GenAIProviderNameKey.String("openai")}))
}

func TestSamplerFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env, arg string
		sampled  bool
	}{
		{"always_off", "", false},
		{"always_on", "", true},
		{"traceidratio", "0", false},
		{"parentbased_traceidratio", "1", true},
		{"parentbased_always_off", "", false},
	} {
		t.Run(tc.env+tc.arg, func(t *testing.T) {
			t.Setenv("OTEL_TRACES_SAMPLER", tc.env)
			t.Setenv("OTEL_TRACES_SAMPLER_ARG", tc.arg)
			st := storage.NewMemoryStorage(0)
			logger, err := otelaudit.NewLogger(st)
			require.NoError(t, err)
			other := tracetest.NewInMemoryExporter()
			tp, _, err := exporter.NewTracerProvider(logger, exporter.WithExporter(other))
			require.NoError(t, err)
			_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Model: "m"}, otelaudit.WithTracerProvider(tp))
			call.End()
			require.NoError(t, tp.ForceFlush(t.Context()))
			assert.Equal(t, tc.sampled, len(other.GetSpans()) == 1, "sampled by the env sampler")
			require.NoError(t, tp.Shutdown(context.Background()))
			count, err := st.Count(t.Context())
			require.NoError(t, err)
			assert.Equal(t, 1, count, "audited whatever the env sampler decides")
		})
	}
}

// TestOpenInferenceSpansThroughProvider: OpenInference LLM spans (their
// kind at start, as its instrumentations set it, content in llm.* keys)
// on a provider built with ProviderOptions are audited whatever the
// sampler decides, and the other exporter, which gets the sampled ones,
// sees none of their content.
func TestOpenInferenceSpansThroughProvider(t *testing.T) {
	for _, sampler := range []sdktrace.Sampler{sdktrace.AlwaysSample(), sdktrace.NeverSample()} {
		t.Run(sampler.Description(), func(t *testing.T) {
			const n = 50
			st := storage.NewMemoryStorage(0)
			logger, err := otelaudit.NewLogger(st)
			require.NoError(t, err)
			other := tracetest.NewInMemoryExporter()
			opts, _, err := exporter.ProviderOptions(logger, exporter.WithSampler(sampler), exporter.WithExporter(other))
			require.NoError(t, err)
			tp := sdktrace.NewTracerProvider(opts...)
			tr := tp.Tracer("openinference.instrumentation.openai")
			for i := range n {
				_, s := tr.Start(t.Context(), "ChatCompletion", trace.WithAttributes(attribute.String("openinference.span.kind", "LLM")))
				s.SetAttributes(
					attribute.String("llm.system", "openai"),
					attribute.String("llm.model_name", "gpt-4o"),
					attribute.String("input.value", fmt.Sprintf(`{"messages":[{"role":"user","content":"SECRETIN-%d"}]}`, i)),
					attribute.String("llm.input_messages.0.message.role", "user"),
					attribute.String("llm.input_messages.0.message.content", fmt.Sprintf("SECRETIN-%d", i)),
					attribute.String("llm.output_messages.0.message.content", "SECRETOUT"),
					attribute.Int("llm.token_count.prompt", 3),
				)
				s.End()
			}
			require.NoError(t, tp.ForceFlush(t.Context()))
			spans := other.GetSpans() // Shutdown resets the in-memory exporter
			require.NoError(t, tp.Shutdown(t.Context()))

			es, err := st.ListEntries(t.Context(), time.Time{}, time.Now().Add(time.Hour))
			require.NoError(t, err)
			require.Len(t, es, n)
			seen := map[string]bool{}
			for _, e := range es {
				seen[e.InputHash] = true
				assert.Equal(t, otelaudit.HashContent("SECRETOUT"), e.OutputHash)
				assert.Equal(t, "chat", e.Operation)
				assert.NotEmpty(t, e.TraceID)
			}
			for i := range n {
				assert.True(t, seen[otelaudit.HashContent(fmt.Sprintf("SECRETIN-%d", i))], "call %d", i)
			}
			if sampler == sdktrace.AlwaysSample() {
				assert.Len(t, spans, n)
			} else {
				assert.Empty(t, spans)
			}
			for _, s := range spans {
				for _, kv := range s.Attributes {
					assert.NotContains(t, kv.Value.String(), "SECRET", kv.Key)
				}
			}
		})
	}
}
