package otelaudit_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/otelaudit"
)

func TestToolAndAgentSpans(t *testing.T) {
	rec, tp := newRecorder(t)
	ctx, agent := otelaudit.StartAgent(t.Context(), otelaudit.Agent{Name: "planner", ID: "a1", Description: "plans"},
		otelaudit.WithTracerProvider(tp))
	_, tool := otelaudit.StartTool(ctx, otelaudit.Tool{Name: "search", CallID: "call_1", Type: "function", Arguments: `{"q":"x"}`},
		otelaudit.WithTracerProvider(tp), otelaudit.WithContentOnSpan(true))
	tool.SetToolResult(`["r"]`)
	tool.End()
	score := 0.9
	agent.RecordEvaluation(otelaudit.Evaluation{Name: "relevance", Score: &score, Label: "pass"})
	agent.End()
	_, created := otelaudit.StartCreateAgent(t.Context(), otelaudit.Agent{Name: "planner", Provider: "openai", Model: "gpt-4o", Remote: true},
		otelaudit.WithTracerProvider(tp))
	created.End()
	_, remote := otelaudit.StartAgent(t.Context(), otelaudit.Agent{Name: "helper", Remote: true}, otelaudit.WithTracerProvider(tp))
	remote.End()

	spans := rec.Ended()
	require.Len(t, spans, 4)
	ts, as, cs, rs := spans[0], spans[1], spans[2], spans[3]
	assert.Equal(t, "execute_tool search", ts.Name())
	assert.Equal(t, trace.SpanKindInternal, ts.SpanKind())
	assert.Equal(t, as.SpanContext().SpanID(), ts.Parent().SpanID())
	ta := attrMap(ts)
	assert.Equal(t, "execute_tool", ta["gen_ai.operation.name"].AsString())
	assert.Equal(t, "search", ta["gen_ai.tool.name"].AsString())
	assert.Equal(t, "call_1", ta["gen_ai.tool.call.id"].AsString())
	assert.Equal(t, "function", ta["gen_ai.tool.type"].AsString())
	assert.Equal(t, `{"q":"x"}`, ta["gen_ai.tool.call.arguments"].AsString(), "content on the span when asked for")
	assert.Equal(t, `["r"]`, ta["gen_ai.tool.call.result"].AsString())
	assert.NotEmpty(t, ta["audit.entry_id"].AsString())

	assert.Equal(t, "invoke_agent planner", as.Name())
	assert.Equal(t, trace.SpanKindInternal, as.SpanKind(), "an in-process agent")
	aa := attrMap(as)
	assert.Equal(t, "invoke_agent", aa["gen_ai.operation.name"].AsString())
	assert.Equal(t, "planner", aa["gen_ai.agent.name"].AsString())
	assert.Equal(t, "a1", aa["gen_ai.agent.id"].AsString())
	assert.Equal(t, "plans", aa["gen_ai.agent.description"].AsString())
	require.Len(t, as.Events(), 1)
	ev := as.Events()[0]
	assert.Equal(t, "gen_ai.evaluation.result", ev.Name)
	assert.Equal(t, `[{"gen_ai.evaluation.name":"relevance"} {"gen_ai.evaluation.score.value":0.9} {"gen_ai.evaluation.score.label":"pass"}]`,
		fmt.Sprint(ev.Attributes))

	assert.Equal(t, "create_agent planner", cs.Name())
	assert.Equal(t, trace.SpanKindClient, cs.SpanKind())
	assert.Equal(t, "gpt-4o", attrMap(cs)["gen_ai.request.model"].AsString())
	assert.Equal(t, trace.SpanKindClient, rs.SpanKind(), "a remote agent")

	// Without WithContentOnSpan the arguments stay off the span.
	_, quiet := otelaudit.StartTool(t.Context(), otelaudit.Tool{Name: "search", Arguments: `{"q":"secret"}`}, otelaudit.WithTracerProvider(tp))
	quiet.SetToolResult("secret answer")
	quiet.End()
	qa := attrMap(rec.Ended()[4])
	assert.NotContains(t, qa, "gen_ai.tool.call.arguments")
	assert.NotContains(t, qa, "gen_ai.tool.call.result")
}

// ExampleStartTool records a tool execution inside an agent invocation.
// The arguments and the result are content: they go to the audit
// processor, never onto the span, unless WithContentOnSpan says so.
func ExampleStartTool() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))

	ctx, agent := otelaudit.StartAgent(context.Background(), otelaudit.Agent{Name: "weather-agent"}, otelaudit.WithTracerProvider(tp))
	_, tool := otelaudit.StartTool(ctx, otelaudit.Tool{Name: "get_weather", CallID: "call_1", Arguments: `{"city":"Paris"}`},
		otelaudit.WithTracerProvider(tp))
	tool.SetToolResult(`{"temp_c":21}`)
	tool.End()
	agent.End()

	for _, s := range rec.Ended() {
		fmt.Println(s.Name(), s.SpanKind(), s.Parent().IsValid())
	}
	// Output:
	// execute_tool get_weather internal true
	// invoke_agent weather-agent internal false
}

// TestEvaluationExplanationIsContent: the explanation may quote the
// content evaluated, so it goes on the gen_ai.evaluation.result event only
// when the call's content goes on the span (WithContentOnSpan), and not
// with WithContent(false); the verdict is recorded either way.
func TestEvaluationExplanationIsContent(t *testing.T) {
	const why = `the answer "SECRET reply" ignores "SECRET prompt"`
	verdict := `[{"gen_ai.evaluation.name":"groundedness"} {"gen_ai.evaluation.score.label":"fail"}]`
	for _, tc := range []struct {
		name string
		opts []otelaudit.CallOption
		want string
	}{
		{"default", nil, verdict},
		{"content on span", []otelaudit.CallOption{otelaudit.WithContentOnSpan(true)},
			`[{"gen_ai.evaluation.name":"groundedness"} {"gen_ai.evaluation.score.label":"fail"} {"gen_ai.evaluation.explanation":"` +
				`the answer \"SECRET reply\" ignores \"SECRET prompt\""}]`},
		{"content on span, no content", []otelaudit.CallOption{otelaudit.WithContentOnSpan(true), otelaudit.WithContent(false)}, verdict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, tp := newRecorder(t)
			_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Model: "m"},
				append([]otelaudit.CallOption{otelaudit.WithTracerProvider(tp)}, tc.opts...)...)
			call.RecordEvaluation(otelaudit.Evaluation{Name: "groundedness", Label: "fail", Explanation: why})
			call.End()
			spans := rec.Ended()
			require.Len(t, spans, 1)
			require.Len(t, spans[0].Events(), 1)
			ev := spans[0].Events()[0]
			assert.Equal(t, otelaudit.EvaluationEventName, ev.Name)
			assert.Equal(t, tc.want, fmt.Sprint(ev.Attributes))
		})
	}
}
