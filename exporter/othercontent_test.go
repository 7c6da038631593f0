package exporter_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// adkLLMCall records a model call as Google's ADK for Go does
// (internal/telemetry TraceLLMCall): a span named call_llm on its tracer
// gcp.vertex.agent, every attribute set after Start, the request and the
// response as JSON under its own keys.
func adkLLMCall(tr trace.Tracer, i int) {
	_, s := tr.Start(context.Background(), "call_llm")
	s.SetAttributes(
		attribute.String("gen_ai.system", "gcp.vertex.agent"),
		attribute.String("gen_ai.request.model", "gemini-2.5-flash"),
		attribute.String("gcp.vertex.agent.invocation_id", "e-inv"),
		attribute.String("gcp.vertex.agent.session_id", "sess-1"),
		attribute.String("gcp.vertex.agent.event_id", "evt"),
		attribute.String("gcp.vertex.agent.llm_request", adkRequest(i)),
		attribute.String("gcp.vertex.agent.llm_response", adkResponse(i)),
		attribute.StringSlice("gen_ai.response.finish_reasons", []string{"STOP"}),
		attribute.Int("gen_ai.usage.input_tokens", 11),
		attribute.Int("gen_ai.usage.output_tokens", 4),
	)
	s.End()
}

func adkRequest(i int) string {
	return fmt.Sprintf(`{"config":{"systemInstruction":{"parts":[{"text":"SECRETSYS"}]}},"content":[{"parts":[{"text":"SECRETIN-%d"}],"role":"user"}],"model":"gemini-2.5-flash"}`, i)
}

func adkResponse(i int) string {
	return fmt.Sprintf(`{"content":{"parts":[{"text":"SECRETOUT-%d"}],"role":"model"},"finishReason":"STOP"}`, i)
}

// adkToolCall records a tool call as ADK for Go does (TraceToolCall):
// empty request and response JSON, the arguments and result under its own
// keys.
func adkToolCall(tr trace.Tracer) {
	_, s := tr.Start(context.Background(), "execute_tool get_weather")
	s.SetAttributes(
		attribute.String("gen_ai.operation.name", "execute_tool"),
		attribute.String("gen_ai.tool.name", "get_weather"),
		attribute.String("gen_ai.tool.description", "Weather by city"),
		attribute.String("gcp.vertex.agent.llm_request", "{}"),
		attribute.String("gcp.vertex.agent.llm_response", "{}"),
		attribute.String("gcp.vertex.agent.tool_call_args", `{"city":"SECRETCITY"}`),
		attribute.String("gen_ai.tool.call.id", "call-1"),
		attribute.String("gcp.vertex.agent.tool_response", `{"forecast":"SECRETRAIN"}`),
	)
	s.End()
}

// vercelDoGenerate records a model call as the Vercel AI SDK's
// ai.generateText.doGenerate span does (its content under ai.* keys,
// gen_ai.system and the model beside them), as a Collector receives it
// from a Node service.
func vercelDoGenerate(tr trace.Tracer) {
	_, s := tr.Start(context.Background(), "ai.generateText.doGenerate", trace.WithAttributes(
		attribute.String("operation.name", "ai.generateText.doGenerate"),
		attribute.String("ai.operationId", "ai.generateText.doGenerate"),
		attribute.String("ai.model.id", "gpt-4o"),
		attribute.String("gen_ai.system", "openai.chat"),
		attribute.String("gen_ai.request.model", "gpt-4o"),
		attribute.String("ai.prompt.format", "messages"),
		attribute.String("ai.prompt.messages", `[{"role":"user","content":[{"type":"text","text":"SECRETVIN"}]}]`),
	))
	s.SetAttributes(
		attribute.String("ai.response.text", "SECRETVOUT"),
		attribute.String("ai.response.toolCalls", `[{"toolCallType":"function","toolName":"f","args":"{\"q\":\"SECRETVARG\"}"}]`),
		attribute.String("ai.response.finishReason", "stop"),
		attribute.Int("gen_ai.usage.input_tokens", 7),
	)
	s.End()
}

// TestOtherInstrumentationsThroughProvider: spans of Google's ADK for Go
// and of the Vercel AI SDK, which carry gen_ai.* attributes beside their
// content under keys of their own, become entries with that content, and
// the provider's other exporter receives none of it. Before, their spans
// were audited without content and the other exporter got the prompts.
func TestOtherInstrumentationsThroughProvider(t *testing.T) {
	for _, sampler := range []sdktrace.Sampler{sdktrace.AlwaysSample(), sdktrace.NeverSample()} {
		t.Run(sampler.Description(), func(t *testing.T) {
			testOtherInstrumentationsThroughProvider(t, sampler)
		})
	}
}

func testOtherInstrumentationsThroughProvider(t *testing.T, sampler sdktrace.Sampler) {
	const n = 20
	st := storage.NewMemoryStorage(0)
	logger, err := otelaudit.NewLogger(st)
	require.NoError(t, err)
	other := tracetest.NewInMemoryExporter()
	opts, _, err := exporter.ProviderOptions(logger, exporter.WithSampler(sampler), exporter.WithExporter(other))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(opts...)
	adk, vercel := tp.Tracer("gcp.vertex.agent"), tp.Tracer("ai")
	for i := range n {
		adkLLMCall(adk, i)
	}
	adkToolCall(adk)
	vercelDoGenerate(vercel)
	require.NoError(t, tp.ForceFlush(t.Context()))
	spans := other.GetSpans()
	require.NoError(t, tp.Shutdown(t.Context()))

	if sampler == sdktrace.NeverSample() {
		// Recorded for the audit (call_llm is ADK's model call, the others
		// look GenAI at start), not sampled: the other exporter gets none.
		assert.Empty(t, spans)
	} else {
		require.Len(t, spans, n+2)
		// What the other exporter still gets: the call's description.
		assert.Equal(t, "gemini-2.5-flash", attrValue(spans[0].Attributes, "gen_ai.request.model"))
		assert.Equal(t, "sess-1", attrValue(spans[0].Attributes, "gcp.vertex.agent.session_id"))
	}
	for _, s := range spans {
		for _, kv := range s.Attributes {
			assert.NotContains(t, kv.Value.String(), "SECRET", "%s: %s", s.Name, kv.Key)
		}
	}

	es, err := st.ListEntries(t.Context(), time.Time{}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, es, n+2)
	byHash := map[string]*storage.AuditEntry{}
	for _, e := range es {
		byHash[e.InputHash] = e
	}
	for i := range n {
		e := byHash[otelaudit.HashContent(adkRequest(i))]
		require.NotNil(t, e, "ADK call %d: no entry whose input is its request", i)
		assert.Equal(t, otelaudit.HashContent(adkResponse(i)), e.OutputHash)
		assert.Equal(t, "gcp.vertex.agent", *e.Provider)
		assert.Equal(t, "generate_content", e.Operation, "ADK's model call")
		assert.Equal(t, "gemini-2.5-flash", *e.Model)
		require.NotNil(t, e.InputTokens)
		assert.EqualValues(t, 11, *e.InputTokens)
	}
	tool := byHash[otelaudit.HashContent(`{"city":"SECRETCITY"}`)]
	require.NotNil(t, tool, "the ADK tool call's entry takes its arguments, not the empty request")
	assert.Equal(t, otelaudit.HashContent(`{"forecast":"SECRETRAIN"}`), tool.OutputHash)
	assert.Equal(t, "execute_tool", tool.Operation)

	v := byHash[otelaudit.HashContent(`[{"role":"user","content":[{"type":"text","text":"SECRETVIN"}]}]`)]
	require.NotNil(t, v, "the Vercel AI SDK call's entry takes ai.prompt.messages")
	assert.Equal(t, otelaudit.HashContent("SECRETVOUT\n"+`[{"toolCallType":"function","toolName":"f","args":"{\"q\":\"SECRETVARG\"}"}]`), v.OutputHash)
	assert.Equal(t, "openai.chat", *v.Provider)
	assert.Equal(t, "chat", v.Operation, "from ai.operationId")
}

func attrValue(attrs []attribute.KeyValue, k attribute.Key) string {
	for _, kv := range attrs {
		if kv.Key == k {
			return kv.Value.String()
		}
	}
	return ""
}

// TestOtherContentPrecedence: the semantic conventions' content wins over
// another instrumentation's keys on the same span, side by side; empty
// and "{}" values are no content.
func TestOtherContentPrecedence(t *testing.T) {
	tests := []struct {
		name    string
		attrs   []attribute.KeyValue
		in, out string
	}{
		{
			name: "semconv input wins, other output fills in",
			attrs: []attribute.KeyValue{
				attribute.String("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"semconv"}]}]`),
				attribute.String("gcp.vertex.agent.llm_request", `{"content":"adk"}`),
				attribute.String("gcp.vertex.agent.llm_response", `{"content":"adk out"}`),
			},
			in: "semconv", out: `{"content":"adk out"}`,
		},
		{
			name: "empty and {} are none",
			attrs: []attribute.KeyValue{
				attribute.String("gcp.vertex.agent.llm_request", " {} "),
				attribute.String("gcp.vertex.agent.llm_response", ""),
			},
		},
		{
			name: "several joined in attribute order, string slices by line",
			attrs: []attribute.KeyValue{
				attribute.StringSlice("ai.values", []string{"a", "b"}),
				attribute.String("traceloop.entity.input", "c"),
				attribute.Int("ai.value", 3), // not text: none
			},
			in: "a\nb\nc",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attrs := append([]attribute.KeyValue{attribute.String("gen_ai.system", "x")}, tt.attrs...)
			in := exporter.InteractionFromSpan(tracetest.SpanStub{Name: "s", Attributes: attrs}.Snapshot())
			assert.Equal(t, tt.in, in.Input)
			assert.Equal(t, tt.out, in.Output)
		})
	}
}

// TestRedactOtherInstrumentations: Redact removes every other
// instrumentation's content key and keeps their descriptive keys.
func TestRedactOtherInstrumentations(t *testing.T) {
	var attrs []attribute.KeyValue
	for _, k := range []string{
		"gcp.vertex.agent.llm_request", "gcp.vertex.agent.llm_response", "gcp.vertex.agent.tool_call_args",
		"gcp.vertex.agent.tool_response", "gcp.vertex.agent.data", "ai.prompt", "ai.prompt.messages",
		"ai.prompt.tools", "ai.response.text", "ai.response.toolCalls", "ai.toolCall.args", "ai.toolCall.result",
		"traceloop.entity.input", "traceloop.entity.output", "llm.request.functions.0.description",
		"langfuse.observation.input", "mlflow.spanOutputs", "mlflow.chat.messages", "mlflow.chat.tools",
		"pydantic_ai.all_messages", "request_data", "ai.request.headers.Helicone-Auth",
	} {
		attrs = append(attrs, attribute.String(k, "SECRET "+k))
	}
	keep := []attribute.KeyValue{
		attribute.String("gen_ai.system", "gcp.vertex.agent"), attribute.String("gcp.vertex.agent.session_id", "s"),
		attribute.String("ai.model.id", "m"), attribute.String("traceloop.entity.name", "joke"),
	}
	snap := tracetest.SpanStub{Name: "call_llm", Attributes: append(attrs, keep...)}.Snapshot()
	got := exporter.RedactSpan(snap).Attributes()
	assert.ElementsMatch(t, keep, got)
	for _, kv := range got {
		assert.False(t, strings.Contains(kv.Value.String(), "SECRET"), kv.Key)
	}
}

// TestVercelSpansWithoutGenAIKeys: the Vercel AI SDK's tool call and
// embedding spans carry no gen_ai.* attribute; their ai.operationId makes
// them GenAI spans, audited with their operation and content. Its outer
// spans (ai.generateText, around the doGenerate span of the model call)
// are not audited.
func TestVercelSpansWithoutGenAIKeys(t *testing.T) {
	tool := []attribute.KeyValue{
		attribute.String("operation.name", "ai.toolCall"), attribute.String("ai.operationId", "ai.toolCall"),
		attribute.String("ai.toolCall.name", "weather"), attribute.String("ai.toolCall.id", "call-1"),
		attribute.String("ai.toolCall.args", `{"city":"Paris"}`), attribute.String("ai.toolCall.result", `{"temp":21}`),
	}
	require.True(t, exporter.IsGenAI(tool))
	in := exporter.InteractionFromSpan(tracetest.SpanStub{Name: "ai.toolCall", Attributes: tool}.Snapshot())
	assert.Equal(t, "execute_tool", in.Operation)
	assert.Equal(t, `{"city":"Paris"}`, in.Input)
	assert.Equal(t, `{"temp":21}`, in.Output)

	embed := []attribute.KeyValue{
		attribute.String("ai.operationId", "ai.embedMany.doEmbed"), attribute.String("ai.model.id", "text-embedding-3-small"),
		attribute.StringSlice("ai.values", []string{"first text", "second text"}),
		attribute.StringSlice("ai.embeddings", []string{"[0.1,0.2]", "[0.3,0.4]"}),
	}
	require.True(t, exporter.IsGenAI(embed))
	in = exporter.InteractionFromSpan(tracetest.SpanStub{Name: "ai.embedMany.doEmbed", Attributes: embed}.Snapshot())
	assert.Equal(t, "embeddings", in.Operation)
	assert.Equal(t, "first text\nsecond text", in.Input)
	assert.Empty(t, in.Output, "vectors are not an entry's output")

	for _, op := range []string{"ai.generateText", "ai.streamText", "ai.embed", "", "ai.toolCall.x"} {
		assert.False(t, exporter.IsGenAI([]attribute.KeyValue{attribute.String("ai.operationId", op),
			attribute.String("ai.prompt", "p")}), op)
	}
	assert.False(t, exporter.IsGenAI([]attribute.KeyValue{attribute.Int("ai.operationId", 1)}))
}

// genkitAction records an action as Firebase Genkit for Go does
// (core/tracing RunInNewSpan): a span named after the action on the
// tracer genkit-tracer, every genkit:* attribute set when it ends, the
// input and output as JSON.
func genkitAction(tr trace.Tracer, name, subtype, input, output string) {
	_, s := tr.Start(context.Background(), name)
	s.SetAttributes(
		attribute.String("genkit:name", name),
		attribute.String("genkit:state", "success"),
		attribute.String("genkit:input", input),
		attribute.String("genkit:path", "/{chatFlow,t:flow}/{"+name+",t:action,s:"+subtype+"}"),
		attribute.String("genkit:output", output),
		attribute.String("genkit:type", "action"),
		attribute.String("genkit:metadata:subtype", subtype),
	)
	s.End()
}

// TestGenkitActionsAudited: Genkit's model and tool actions become
// entries with their request and response, a flow around them is not
// audited, and no exporter behind Redact gets the content of any of them.
// (Genkit for Go records to a TracerProvider of its own:
// genkit.RegisterSpanProcessor adds the audit processor to it.)
func TestGenkitActionsAudited(t *testing.T) {
	st := storage.NewMemoryStorage(0)
	logger, err := otelaudit.NewLogger(st)
	require.NoError(t, err)
	other := tracetest.NewInMemoryExporter()
	opts, _, err := exporter.ProviderOptions(logger, exporter.WithExporter(other))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(opts...)
	tr := tp.Tracer("genkit-tracer")
	const req = `{"messages":[{"role":"user","content":[{"text":"SECRETQ"}]}],"config":{"temperature":0.2}}`
	const resp = `{"message":{"role":"model","content":[{"text":"SECRETA"}]},"finishReason":"stop","usage":{"inputTokens":5}}`
	genkitAction(tr, "googleai/gemini-2.5-flash", "model", req, resp)
	genkitAction(tr, "getWeather", "tool", `{"city":"SECRETCITY"}`, `"sunny"`)
	genkitAction(tr, "chatFlow", "flow", `"SECRETQ"`, `"SECRETA"`)
	require.NoError(t, tp.ForceFlush(t.Context()))
	spans := other.GetSpans()
	require.NoError(t, tp.Shutdown(t.Context()))

	require.Len(t, spans, 3)
	for _, s := range spans {
		for _, kv := range s.Attributes {
			assert.NotContains(t, kv.Value.String(), "SECRET", "%s: %s", s.Name, kv.Key)
		}
	}
	es, err := st.ListEntries(t.Context(), time.Time{}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, es, 2, "the model and the tool call; the flow is not a call")
	byHash := map[string]*storage.AuditEntry{}
	for _, e := range es {
		byHash[e.InputHash] = e
	}
	m := byHash[otelaudit.HashContent(req)]
	require.NotNil(t, m)
	assert.Equal(t, "chat", m.Operation)
	assert.Equal(t, "googleai", *m.Provider)
	assert.Equal(t, "gemini-2.5-flash", *m.Model)
	assert.Equal(t, otelaudit.HashContent(resp), m.OutputHash)
	tool := byHash[otelaudit.HashContent(`{"city":"SECRETCITY"}`)]
	require.NotNil(t, tool)
	assert.Equal(t, "execute_tool", tool.Operation)
	assert.Nil(t, tool.Model, "a tool's name is not a model")
}

// TestRetrievalContent: a semconv retrieval span gives its query as the
// entry's input and the documents it found as its output (their JSON),
// which before were left out of an audited span's entry.
func TestRetrievalContent(t *testing.T) {
	for _, docs := range []attribute.KeyValue{
		attribute.String("gen_ai.retrieval.documents", `[{"id":"doc_1","score":0.9,"content":"Paris is the capital"}]`),
		attribute.StringSlice("gen_ai.retrieval.documents", []string{"Paris is the capital"}),
	} {
		in := exporter.InteractionFromSpan(tracetest.SpanStub{Name: "retrieval kb", Attributes: []attribute.KeyValue{
			attribute.String("gen_ai.operation.name", "retrieval"),
			attribute.String("gen_ai.retrieval.query.text", "capital of France?"),
			docs,
		}}.Snapshot())
		assert.Equal(t, "retrieval", in.Operation)
		assert.Equal(t, "capital of France?", in.Input)
		assert.Contains(t, in.Output, "Paris is the capital")
	}
}

// TestOpenLLMetryFirstNames: a span as OpenLLMetry's Go SDK writes it
// (traceloop-sdk LLMSpan: llm.* keys, no gen_ai.* attribute) is audited
// with its operation, vendor, model, usage and messages; and the
// request type names the operation of a modern OpenLLMetry span, which
// sets gen_ai.system but no gen_ai.operation.name.
func TestOpenLLMetryFirstNames(t *testing.T) {
	attrs := []attribute.KeyValue{
		attribute.String("llm.vendor", "openai"),
		attribute.String("llm.request.model", "gpt-4o-mini"),
		attribute.String("llm.request.type", "chat"),
		attribute.String("llm.prompts.1.content", "what is 2+2?"),
		attribute.String("llm.prompts.1.role", "user"),
		attribute.String("llm.prompts.0.content", "be brief"),
		attribute.String("llm.prompts.0.role", "system"),
		attribute.String("llm.response.model", "gpt-4o-mini-2024-07-18"),
		attribute.Int("llm.usage.prompt_tokens", 12),
		attribute.Int("llm.usage.completion_tokens", 1),
		attribute.String("llm.completions.0.content", "4"),
		attribute.String("llm.completions.0.role", "assistant"),
	}
	require.True(t, exporter.IsGenAI(attrs))
	in := exporter.InteractionFromSpan(tracetest.SpanStub{Name: "openai.chat", Attributes: attrs}.Snapshot())
	assert.Equal(t, "chat", in.Operation)
	assert.Equal(t, "openai", in.Provider)
	assert.Equal(t, "gpt-4o-mini", in.Model)
	assert.Equal(t, "be brief\nwhat is 2+2?", in.Input)
	assert.Equal(t, "4", in.Output)
	require.NotNil(t, in.InputTokens)
	assert.EqualValues(t, 12, *in.InputTokens)
	require.NotNil(t, in.OutputTokens)
	assert.EqualValues(t, 1, *in.OutputTokens)
	for _, kv := range exporter.RedactSpan(tracetest.SpanStub{Attributes: attrs}.Snapshot()).Attributes() {
		assert.NotContains(t, []string{"be brief", "what is 2+2?", "4"}, kv.Value.AsString(), kv.Key)
	}

	in = exporter.InteractionFromSpan(tracetest.SpanStub{Name: "openai.completion", Attributes: []attribute.KeyValue{
		attribute.String("gen_ai.system", "openai"), attribute.String("llm.request.type", "completion"),
		attribute.String("gen_ai.request.model", "gpt-3.5-turbo-instruct"),
		attribute.String("gen_ai.prompt.0.content", "Once upon"),
	}}.Snapshot())
	assert.Equal(t, "text_completion", in.Operation)
	assert.Equal(t, "gpt-3.5-turbo-instruct", in.Model)
	assert.False(t, exporter.IsGenAI([]attribute.KeyValue{attribute.String("llm.request.type", "rerank")}))
}
