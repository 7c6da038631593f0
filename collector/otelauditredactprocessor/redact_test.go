package otelauditredactprocessor_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelaudit/otelaudit-go/collector/otelauditredactprocessor"
)

func TestRedactTraces(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "svc")
	rs.Resource().Attributes().PutStr("audit.metadata.user", "SECRET")
	s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	a := s.Attributes()
	a.PutStr("gen_ai.request.model", "m")
	a.PutStr("gen_ai.input.messages", "SECRET")
	a.PutStr("gen_ai.prompt.0.content", "SECRET")
	ev := s.Events().AppendEmpty()
	ev.SetName("gen_ai.user.message")
	ev.Attributes().PutStr("content", "SECRET")
	ev.Attributes().PutStr("gen_ai.provider.name", "openai")
	ex := s.Events().AppendEmpty()
	ex.SetName("exception")
	ex.Attributes().PutStr("exception.type", "E")
	s.Links().AppendEmpty().Attributes().PutStr("gen_ai.output.messages", "SECRET")

	otelauditredactprocessor.RedactTraces(td)

	assert.Equal(t, map[string]any{"service.name": "svc"}, rs.Resource().Attributes().AsRaw())
	assert.Equal(t, map[string]any{"gen_ai.request.model": "m"}, a.AsRaw())
	assert.Equal(t, map[string]any{"gen_ai.provider.name": "openai"}, ev.Attributes().AsRaw())
	assert.Equal(t, map[string]any{"exception.type": "E"}, ex.Attributes().AsRaw())
	assert.Equal(t, 0, s.Links().At(0).Attributes().Len())
}

func TestRedactLogs(t *testing.T) {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	choice := lrs.AppendEmpty() // new style: EventName field
	choice.SetEventName("gen_ai.choice")
	choice.Body().SetEmptyMap().PutStr("message", "SECRET")
	choice.Attributes().PutStr("gen_ai.system", "openai")
	old := lrs.AppendEmpty() // old style: event.name attribute
	old.Attributes().PutStr("event.name", "gen_ai.user.message")
	old.Body().SetStr("SECRET")
	details := lrs.AppendEmpty()
	details.SetEventName("gen_ai.client.inference.operation.details")
	details.Attributes().PutStr("gen_ai.input.messages", "SECRET")
	details.Attributes().PutStr("gen_ai.request.model", "m")
	plain := lrs.AppendEmpty()
	plain.Body().SetStr("GET / 200")
	plain.Attributes().PutStr("http.route", "/")

	otelauditredactprocessor.RedactLogs(ld)

	assert.Equal(t, map[string]any{"gen_ai.system": "openai"}, choice.Attributes().AsRaw())
	assert.Nil(t, choice.Body().AsRaw())
	assert.Nil(t, old.Body().AsRaw())
	assert.Equal(t, map[string]any{"event.name": "gen_ai.user.message"}, old.Attributes().AsRaw())
	assert.Equal(t, map[string]any{"gen_ai.request.model": "m"}, details.Attributes().AsRaw())
	assert.Equal(t, "GET / 200", plain.Body().AsString())
	assert.Equal(t, map[string]any{"http.route": "/"}, plain.Attributes().AsRaw())
}

// An evaluation's explanation may quote the content it judges: it is
// removed from the gen_ai.evaluation.result span event and log record (and
// from a span's own attributes); the verdict stays.
func TestRedactEvaluationExplanation(t *testing.T) {
	td := ptrace.NewTraces()
	s := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.Attributes().PutStr("gen_ai.evaluation.explanation", "SECRET")
	s.Attributes().PutStr("gen_ai.operation.name", "chat")
	ev := s.Events().AppendEmpty()
	ev.SetName("gen_ai.evaluation.result")
	ev.Attributes().PutStr("gen_ai.evaluation.name", "groundedness")
	ev.Attributes().PutStr("gen_ai.evaluation.score.label", "fail")
	ev.Attributes().PutDouble("gen_ai.evaluation.score.value", 0.1)
	ev.Attributes().PutStr("gen_ai.evaluation.explanation", `the answer "SECRET" is unsupported`)

	otelauditredactprocessor.RedactTraces(td)

	assert.Equal(t, map[string]any{"gen_ai.operation.name": "chat"}, s.Attributes().AsRaw())
	assert.Equal(t, map[string]any{"gen_ai.evaluation.name": "groundedness", "gen_ai.evaluation.score.label": "fail",
		"gen_ai.evaluation.score.value": 0.1}, ev.Attributes().AsRaw())

	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName("gen_ai.evaluation.result")
	lr.Attributes().PutStr("gen_ai.evaluation.name", "groundedness")
	lr.Attributes().PutStr("gen_ai.evaluation.explanation", "SECRET")

	otelauditredactprocessor.RedactLogs(ld)

	assert.Equal(t, map[string]any{"gen_ai.evaluation.name": "groundedness"}, lr.Attributes().AsRaw())
}

// OpenInference spans (Phoenix's instrumentations) carry the prompt in
// input.value and llm.input_messages.*: redacted like the semconv
// content, while the model, counts and span kind stay.
func TestRedactOpenInference(t *testing.T) {
	td := ptrace.NewTraces()
	s := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	a := s.Attributes()
	a.PutStr("openinference.span.kind", "LLM")
	a.PutStr("llm.model_name", "gpt-4o")
	a.PutInt("llm.token_count.prompt", 9)
	a.PutStr("input.value", "SECRET")
	a.PutStr("output.value", "SECRET")
	a.PutStr("llm.input_messages.0.message.role", "user")
	a.PutStr("llm.input_messages.0.message.content", "SECRET")
	a.PutStr("llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments", "SECRET")
	a.PutStr("llm.prompt_template.variables", "SECRET")
	a.PutStr("retrieval.documents.0.document.content", "SECRET")

	otelauditredactprocessor.RedactTraces(td)

	assert.Equal(t, map[string]any{"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o", "llm.token_count.prompt": int64(9)}, a.AsRaw())
}

// TestRedactOtherInstrumentations: the content of Google ADK, Vercel AI
// SDK and OpenLLMetry spans (their own keys beside gen_ai.*) is removed;
// what describes the call stays.
func TestRedactOtherInstrumentations(t *testing.T) {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	adk := ss.Spans().AppendEmpty().Attributes()
	adk.PutStr("gen_ai.system", "gcp.vertex.agent")
	adk.PutStr("gen_ai.request.model", "gemini-2.5-flash")
	adk.PutStr("gcp.vertex.agent.session_id", "sess")
	adk.PutStr("gcp.vertex.agent.llm_request", "SECRET")
	adk.PutStr("gcp.vertex.agent.llm_response", "SECRET")
	vercel := ss.Spans().AppendEmpty().Attributes()
	vercel.PutStr("gen_ai.system", "openai.chat")
	vercel.PutStr("ai.model.id", "gpt-4o")
	vercel.PutStr("ai.prompt.messages", "SECRET")
	vercel.PutStr("ai.response.text", "SECRET")
	vercel.PutStr("ai.response.toolCalls", "SECRET")
	vercel.PutStr("ai.request.headers.cf-aig-authorization", "SECRET")
	traceloop := ss.Spans().AppendEmpty().Attributes()
	traceloop.PutStr("traceloop.span.kind", "workflow")
	traceloop.PutStr("traceloop.entity.name", "joke")
	traceloop.PutStr("traceloop.entity.input", "SECRET")
	traceloop.PutStr("traceloop.entity.output", "SECRET")

	otelauditredactprocessor.RedactTraces(td)

	assert.Equal(t, map[string]any{"gen_ai.system": "gcp.vertex.agent", "gen_ai.request.model": "gemini-2.5-flash",
		"gcp.vertex.agent.session_id": "sess"}, adk.AsRaw())
	assert.Equal(t, map[string]any{"gen_ai.system": "openai.chat", "ai.model.id": "gpt-4o"}, vercel.AsRaw())
	assert.Equal(t, map[string]any{"traceloop.span.kind": "workflow", "traceloop.entity.name": "joke"}, traceloop.AsRaw())
}
