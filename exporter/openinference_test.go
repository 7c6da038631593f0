package exporter

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// oiSpan is a finished span with attrs, as an OpenInference
// instrumentation ends it.
func oiSpan(attrs ...attribute.KeyValue) sdktrace.ReadOnlySpan {
	return tracetest.SpanStub{
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}}),
		Name:        "ChatCompletion",
		StartTime:   time.Unix(100, 0), EndTime: time.Unix(101, 0),
		Attributes: attrs,
	}.Snapshot()
}

// oiToolCallFlow is the OpenInference spec's "synthesis call using a
// function call output" (spec/llm_spans.md), flattened as its
// instrumentations send it, with the context attributes a session adds.
var oiToolCallFlow = []attribute.KeyValue{
	attribute.String("openinference.span.kind", "LLM"),
	attribute.String("llm.system", "openai"),
	attribute.String("llm.provider", "azure"),
	attribute.String("llm.input_messages.0.message.role", "system"),
	attribute.String("llm.input_messages.0.message.content", "You are a Shakespearean writing assistant."),
	attribute.String("llm.input_messages.1.message.role", "user"),
	attribute.String("llm.input_messages.1.message.content", "what is 23 times 87"),
	attribute.String("llm.input_messages.2.message.role", "assistant"),
	attribute.String("llm.input_messages.2.message.tool_calls.0.tool_call.function.name", "multiply"),
	attribute.String("llm.input_messages.2.message.tool_calls.0.tool_call.function.arguments", "{\n  \"a\": 23,\n  \"b\": 87\n}"),
	attribute.String("llm.input_messages.3.message.role", "tool"),
	attribute.String("llm.input_messages.3.message.content", "2001"),
	attribute.String("llm.input_messages.3.message.name", "multiply"),
	attribute.String("llm.model_name", "gpt-3.5-turbo-0613"),
	attribute.String("llm.invocation_parameters", `{"model": "gpt-3.5-turbo-0613", "temperature": 0.1}`),
	attribute.String("output.value", "The product of 23 times 87 is 2001."),
	attribute.String("output.mime_type", "text/plain"),
	attribute.String("llm.output_messages.0.message.role", "assistant"),
	attribute.String("llm.output_messages.0.message.content", "The product of 23 times 87 is 2001."),
	attribute.Int("llm.token_count.prompt", 259),
	attribute.Int("llm.token_count.completion", 14),
	attribute.Int("llm.token_count.total", 273),
	attribute.String("session.id", "sess-1"),
	attribute.String("llm.prompt_template.variables", `{"city": "Paris"}`),
}

// An OpenInference LLM span (Phoenix's instrumentations: llm.* keys, no
// gen_ai.*) is audited with its messages as content, in index order,
// the tool call the model asked for as a tool_call part's JSON, as the
// semconv and legacy mappings render it.
func TestOpenInferenceLLMSpan(t *testing.T) {
	s := oiSpan(oiToolCallFlow...)
	require.True(t, IsGenAI(s.Attributes()))
	in := InteractionFromSpan(s)
	assert.Equal(t, "chat", in.Operation)
	assert.Equal(t, "azure", in.Provider, "llm.provider (who served it) before llm.system")
	assert.Equal(t, "gpt-3.5-turbo-0613", in.Model)
	assert.Equal(t, "sess-1", in.ConversationID)
	assert.Equal(t, "You are a Shakespearean writing assistant.\nwhat is 23 times 87\n"+
		`{"arguments":{"a":23,"b":87},"name":"multiply","type":"tool_call"}`+"\n2001", in.Input)
	assert.Equal(t, "The product of 23 times 87 is 2001.", in.Output)
	require.NotNil(t, in.InputTokens)
	require.NotNil(t, in.OutputTokens)
	assert.Equal(t, int64(259), *in.InputTokens)
	assert.Equal(t, int64(14), *in.OutputTokens)
	assert.Equal(t, time.Second, in.Latency)

	// Without llm.provider, llm.system; the response model and finish
	// reason as the gen_ai.* metadata.
	in = InteractionFromSpan(oiSpan(
		attribute.String("openinference.span.kind", "LLM"),
		attribute.String("llm.system", "anthropic"),
		attribute.String("llm.request.model_name", "claude-x"),
		attribute.String("llm.response.model_name", "claude-x-2025"),
		attribute.String("llm.finish_reason", "end_turn"),
		attribute.String("llm.output_messages.0.message.contents.1.message_content.text", "second"),
		attribute.String("llm.output_messages.0.message.contents.0.message_content.type", "text"),
		attribute.String("llm.output_messages.0.message.contents.0.message_content.text", "first"),
		attribute.String("llm.output_messages.0.message.function_call_name", "legacy_fn"),
		attribute.String("input.value", `{"messages":[{"role":"user","content":"hi"}]}`),
	))
	assert.Equal(t, "anthropic", in.Provider)
	assert.Equal(t, "claude-x", in.Model, "the requested model")
	assert.Equal(t, "claude-x-2025", in.Metadata["gen_ai.response.model"])
	assert.Equal(t, []any{"end_turn"}, in.Metadata["gen_ai.response.finish_reasons"])
	assert.Equal(t, `{"messages":[{"role":"user","content":"hi"}]}`, in.Input, "input.value without messages")
	assert.Equal(t, "first\nsecond\n"+`{"name":"legacy_fn","type":"tool_call"}`, in.Output)
}

// The other audited kinds, completions, and what is not audited.
func TestOpenInferenceKinds(t *testing.T) {
	kind := func(k string) attribute.KeyValue { return attribute.String("openinference.span.kind", k) }
	in := InteractionFromSpan(oiSpan(kind("EMBEDDING"),
		attribute.String("embedding.model_name", "text-embedding-3-small"),
		attribute.String("embedding.embeddings.1.embedding.text", "world"),
		attribute.String("embedding.embeddings.0.embedding.text", "hello"),
		attribute.Float64Slice("embedding.embeddings.0.embedding.vector", []float64{0.1, 0.2}),
		attribute.String("output.value", "[[0.1,0.2]]"),
	))
	assert.Equal(t, "embeddings", in.Operation)
	assert.Equal(t, "text-embedding-3-small", in.Model)
	assert.Equal(t, "hello\nworld", in.Input)
	assert.Empty(t, in.Output, "an embedding's output is its vectors, not content text")

	in = InteractionFromSpan(oiSpan(kind("TOOL"),
		attribute.String("tool.name", "multiply"),
		attribute.String("tool.id", "call_62136355"),
		attribute.String("input.value", `{"a": 23, "b": 87}`),
		attribute.String("output.value", "2001"),
	))
	assert.Equal(t, "execute_tool", in.Operation)
	assert.Equal(t, `{"a": 23, "b": 87}`, in.Input)
	assert.Equal(t, "2001", in.Output)
	assert.Equal(t, "multiply", in.Metadata["gen_ai.tool.name"])
	assert.Equal(t, "call_62136355", in.Metadata["gen_ai.tool.call.id"])
	in = InteractionFromSpan(oiSpan(kind("TOOL"), attribute.String("tool.name", "oi_name"),
		attribute.String("gen_ai.operation.name", "execute_tool"), attribute.String("gen_ai.tool.name", "semconv_name")))
	assert.Equal(t, "semconv_name", in.Metadata["gen_ai.tool.name"], "the semconv name kept")

	in = InteractionFromSpan(oiSpan(kind("LLM"),
		attribute.String("llm.prompts.0.prompt.text", "Once upon"),
		attribute.String("llm.choices.0.completion.text", " a time"),
	))
	assert.Equal(t, "text_completion", in.Operation)
	assert.Equal(t, "Once upon", in.Input)
	assert.Equal(t, " a time", in.Output)
	in = InteractionFromSpan(oiSpan(kind("LLM"), attribute.StringSlice("llm.prompts", []string{"p0", "p1"})))
	assert.Equal(t, "text_completion", in.Operation)
	assert.Equal(t, "p0\np1", in.Input)

	// An agent's run, as the conventions' invoke_agent span.
	in = InteractionFromSpan(oiSpan(kind("AGENT"), attribute.String("agent.name", "planner"),
		attribute.String("input.value", "plan my trip"), attribute.String("output.value", "done: Paris")))
	assert.Equal(t, "invoke_agent", in.Operation)
	assert.Equal(t, "plan my trip", in.Input)
	assert.Equal(t, "done: Paris", in.Output)
	assert.Equal(t, "planner", in.Metadata["gen_ai.agent.name"])
	assert.True(t, IsGenAI(oiSpan(kind("AGENT")).Attributes()))

	// A retriever's query, as the conventions' retrieval span: the query,
	// and the documents it found in index order.
	in = InteractionFromSpan(oiSpan(kind("RETRIEVER"), attribute.String("input.value", "capital of France?"),
		attribute.String("retrieval.documents.1.document.content", "Lyon is a city"),
		attribute.String("retrieval.documents.0.document.content", "Paris is the capital"),
		attribute.String("retrieval.documents.0.document.id", "doc-0"),
		attribute.String("output.value", `{"documents":["..."]}`)))
	assert.Equal(t, "retrieval", in.Operation)
	assert.Equal(t, "capital of France?", in.Input)
	assert.Equal(t, "Paris is the capital\nLyon is a city", in.Output)

	for _, k := range []string{"CHAIN", "RERANKER", "GUARDRAIL", "EVALUATOR", "PROMPT", "UNKNOWN", "llm", ""} {
		assert.False(t, IsGenAI(oiSpan(kind(k), attribute.String("input.value", "x")).Attributes()), k)
	}
	assert.False(t, IsGenAI([]attribute.KeyValue{attribute.Int("openinference.span.kind", 1)}))

	// gen_ai.* attributes win where a span has both.
	in = InteractionFromSpan(oiSpan(append(slices.Clone(oiToolCallFlow),
		attribute.String("gen_ai.operation.name", "chat"),
		attribute.String("gen_ai.provider.name", "openai"),
		attribute.String("gen_ai.request.model", "gpt-4o"),
		attribute.Int("gen_ai.usage.input_tokens", 5),
		attribute.String("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"semconv question"}]}]`),
	)...))
	assert.Equal(t, "openai", in.Provider)
	assert.Equal(t, "gpt-4o", in.Model)
	assert.Equal(t, int64(5), *in.InputTokens)
	assert.Equal(t, "semconv question", in.Input)
	assert.Equal(t, "The product of 23 times 87 is 2001.", in.Output, "no gen_ai output: OpenInference's")
}

// Redact and the Collector's otelauditredact remove OpenInference content
// (messages, input and output values, template variables) and keep what
// describes the call.
func TestRedactOpenInference(t *testing.T) {
	got := RedactSpan(oiSpan(oiToolCallFlow...)).Attributes()
	var keys []string
	for _, kv := range got {
		keys = append(keys, string(kv.Key))
		for _, secret := range []string{"Shakespearean", "23 times 87", "2001", "Paris", "multiply"} {
			assert.NotContains(t, kv.Value.String(), secret, kv.Key)
		}
	}
	slices.Sort(keys)
	assert.Equal(t, []string{
		"llm.invocation_parameters", "llm.model_name", "llm.provider", "llm.system",
		"llm.token_count.completion", "llm.token_count.prompt", "llm.token_count.total",
		"openinference.span.kind", "output.mime_type", "session.id",
	}, keys)
}

func TestOpenInferenceContentKeys(t *testing.T) {
	for _, k := range []string{
		"input.value", "output.value", "llm.input_messages.0.message.content", "llm.input_messages.0.message.role",
		"llm.output_messages.3.message.tool_calls.0.tool_call.function.arguments", "llm.prompts", "llm.prompts.0.prompt.text",
		"llm.choices.0.completion.text", "llm.tools.0.tool.json_schema", "llm.function_call",
		"llm.prompt_template.template", "llm.prompt_template.variables", "embedding.embeddings.0.embedding.text",
		"embedding.embeddings.0.embedding.vector", "embedding.text", "retrieval.documents.0.document.content",
		"reranker.input_documents.1.document.content", "reranker.output_documents.0.document.id", "reranker.query",
		"document.content", "message.content", "message_content.text", "tool_call.function.arguments",
		"tool.parameters", "tool.json_schema", "audio.transcript", "image.url",
		"annotations.0.annotation.explanation", "evaluation.explanation", "trace.evaluations.1.evaluation.explanation",
	} {
		assert.True(t, otelaudit.IsContentKey(attribute.Key(k)), k)
	}
	for _, k := range []string{
		"openinference.span.kind", "llm.model_name", "llm.system", "llm.provider", "llm.token_count.prompt",
		"llm.cost.total", "llm.invocation_parameters", "llm.prompt_template.version", "embedding.model_name",
		"session.id", "user.id", "tool.name", "tool.id", "tool_call.id", "annotations.0.annotation.label",
		"input.mime_type", "output.mime_type", "reranker.model_name", "", "l", "e", "r",
	} {
		assert.False(t, otelaudit.IsContentKey(attribute.Key(k)), k)
	}
}

func TestParseOpenInferenceKey(t *testing.T) {
	checkParsedKeys(t, parseOpenInferenceKey, map[string]parsedKey{
		"llm.input_messages.0.message.content":                                    {legacyPart{msg: 0, call: -1, part: -1, field: "content"}, false, true},
		"llm.output_messages.12.message.contents.3.message_content.text":          {legacyPart{msg: 12, call: -1, part: 3, field: "content"}, true, true},
		"llm.output_messages.0.message.tool_calls.2.tool_call.function.arguments": {legacyPart{msg: 0, call: 2, field: "arguments"}, true, true},
		"llm.input_messages.1.message.tool_calls.0.tool_call.function.name":       {legacyPart{msg: 1, call: 0, field: "name"}, false, true},
		"llm.input_messages.1.message.tool_calls.0.tool_call.id":                  {legacyPart{msg: 1, call: 0, field: "id"}, false, true},
		"llm.output_messages.0.message.function_call_arguments_json":              {legacyPart{msg: 0, call: oiFunctionCall, field: "arguments"}, true, true},
		"llm.prompts.4.prompt.text":                                               {legacyPart{msg: 4, call: -1, field: "content"}, false, true},
		"llm.choices.0.completion.text":                                           {legacyPart{msg: 0, call: -1, field: "content"}, true, true},
		"embedding.embeddings.2.embedding.text":                                   {legacyPart{msg: 2, call: -1, field: "content"}, false, true},
		"retrieval.documents.3.document.content":                                  {legacyPart{msg: 3, call: -1, field: "content"}, true, true},
		"retrieval.documents.0.document.id":                                       {},
		"llm.input_messages.0.message.role":                                       {},
		"llm.input_messages.0.message.contents.0.message_content.type":            {},
		"llm.input_messages.0.message.contents.2.message_content.image.image.url": {legacyPart{msg: 0, call: -1, part: 2, field: oiImageField}, false, true},
		"llm.input_messages.0.message.contents.0.message_content.image":           {},
		"llm.input_messages.x.message.content":                                    {},
		"llm.input_messages..message.content":                                     {},
		"llm.input_messages.0.content":                                            {},
		"llm.output_messages.0.message.tool_calls.0.tool_call.function":           {},
		"llm.choices.0.completion.text.more":                                      {},
		"embedding.embeddings.0.embedding.vector":                                 {},
		"gen_ai.prompt.0.content":                                                 {},
		"input.value":                                                             {},
	})
}

// TestOpenInferenceImage: an image a message sent is part of the entry's
// input, in its place among the message's items, and hashes as the same
// image recorded as a semconv part (as middleware.Transport records an
// OpenAI image_url) does: a data: URL as a blob, another URL as a uri.
func TestOpenInferenceImage(t *testing.T) {
	for _, tc := range []struct{ url, part string }{
		{"data:image/png;base64,iVBORw0K", `{"type":"blob","modality":"image","mime_type":"image/png","content":"iVBORw0K"}`},
		{"https://example.com/cat.png?a=1&b=é", `{"type":"uri","modality":"image","uri":"https://example.com/cat.png?a=1\u0026b=\u00e9"}`},
	} {
		oi := InteractionFromSpan(oiSpan(attribute.String("openinference.span.kind", "LLM"),
			attribute.String("llm.input_messages.0.message.role", "user"),
			attribute.String("llm.input_messages.0.message.contents.1.message_content.type", "image"),
			attribute.String("llm.input_messages.0.message.contents.1.message_content.image.image.url", tc.url),
			attribute.String("llm.input_messages.0.message.contents.0.message_content.type", "text"),
			attribute.String("llm.input_messages.0.message.contents.0.message_content.text", "What is this?"),
		))
		semconvSpan := InteractionFromSpan(oiSpan(attribute.String("gen_ai.operation.name", "chat"),
			attribute.String("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"What is this?"},`+tc.part+`]}]`)))
		assert.Equal(t, semconvSpan.Input, oi.Input, tc.url)
		assert.True(t, strings.HasPrefix(oi.Input, "What is this?\n{"), oi.Input)
	}
}

// FuzzOpenInferenceContent: any set of OpenInference keys and values
// converts without a panic; every message content and text part the keys
// name is in the input or output, in message order.
func FuzzOpenInferenceContent(f *testing.F) {
	f.Add("llm.input_messages.1.message.content\nfirst\nllm.input_messages.0.message.content\nzeroth\nllm.output_messages.0.message.tool_calls.0.tool_call.function.name\nf")
	f.Add("llm.output_messages.0.message.contents.1.message_content.text\nb\nllm.output_messages.0.message.content\na\ninput.value\n\xff")
	f.Add("llm.prompts.000001.prompt.text\na\nllm.choices.0.completion.text\nb\nllm.input_messages.0.message.content\nc")
	f.Add("llm.input_messages.0.message.contents.1.message_content.image.image.url\ndata:image/png;base64,AA\n" +
		"llm.input_messages.0.message.contents.0.message_content.text\nlook\nopeninference.span.kind\nAGENT")
	f.Fuzz(func(t *testing.T, spec string) {
		attrs := []attribute.KeyValue{attribute.String("openinference.span.kind", "LLM")}
		var wantIn, wantOut []wantText
		// The last span kind is an audited one, and no gen_ai.* key (they
		// come first where they say something).
		kindAudited, genAI, op := true, false, "chat"
		lines := strings.Split(spec, "\n")
		for i := 0; i+1 < len(lines) && len(attrs) < 64; i += 2 {
			k, v := lines[i], lines[i+1]
			attrs = append(attrs, attribute.String(k, v))
			if k == string(oiSpanKindKey) {
				op = oiOperation(v)
				kindAudited = op != ""
			}
			// gen_ai.* keys and OpenLLMetry's llm.prompts.<i>.* (legacy
			// messages) come first where they say something.
			_, _, legacy := parseLegacyKey(attribute.Key(k))
			genAI = genAI || strings.HasPrefix(k, "gen_ai.") || legacy
			// Each list is one source: the conversion takes one of them
			// when several are present, so only messages are checked.
			if p, out, ok := parseOpenInferenceKey(k); ok && (p.field == "content" || p.field == oiImageField) && strings.Contains(k, "_messages.") {
				if p.field == oiImageField {
					v = oiImagePart(v)
				}
				if out {
					wantOut = append(wantOut, wantText{p.msg, p.part, v})
				} else {
					wantIn = append(wantIn, wantText{p.msg, p.part, v})
				}
			}
		}
		in := InteractionFromSpan(oiSpan(attrs...))
		if !kindAudited || genAI {
			return
		}
		requireInOrder(t, in.Input, wantIn)
		requireInOrder(t, in.Output, wantOut)
		if op == "chat" {
			assert.Contains(t, []string{"chat", "text_completion"}, in.Operation)
		} else {
			assert.Equal(t, op, in.Operation)
		}
	})
}
