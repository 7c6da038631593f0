package middleware_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genai"

	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// An agent that asks the model, runs the tool the model chose and asks
// again: four audit entries in one trace, in order, the model calls and
// the tool execution children of the agent's span.
func TestAgentTrace(t *testing.T) {
	r := newRig(t)
	asks := fakellm.Start(fakellm.WithToolCall("get_weather", `{"city":"Paris"}`))
	defer asks.Close()
	answers := fakellm.Start(fakellm.WithReply("It is 21 C in Paris."))
	defer answers.Close()

	ctx, agent := otelaudit.StartAgent(t.Context(), otelaudit.Agent{Name: "weather-agent", ID: "agent-7",
		Input: []otelaudit.Message{{Content: "Weather in Paris?"}}}, otelaudit.WithTracerProvider(r.tp))
	first, err := geminiClient(t, r, asks).Models.GenerateContent(ctx, geminiModel, genai.Text("Weather in Paris?"), nil)
	require.NoError(t, err)
	fc := first.FunctionCalls()
	require.Len(t, fc, 1)

	_, tool := otelaudit.StartTool(ctx, otelaudit.Tool{Name: fc[0].Name, CallID: fc[0].ID, Type: "function",
		Arguments: `{"city":"Paris"}`}, otelaudit.WithTracerProvider(r.tp))
	tool.SetToolResult(`{"temp_c":21}`)
	tool.End()

	second, err := geminiClient(t, r, answers).Models.GenerateContent(ctx, geminiModel, []*genai.Content{
		genai.NewContentFromText("Weather in Paris?", genai.RoleUser),
		genai.NewContentFromParts([]*genai.Part{genai.NewPartFromFunctionResponse("get_weather", map[string]any{"temp_c": 21})}, genai.RoleUser),
	}, nil)
	require.NoError(t, err)
	agent.SetOutput(otelaudit.Message{Content: second.Text()})
	agent.End()

	es := r.entries(t)
	require.Len(t, es, 4)
	assert.Equal(t, []string{"invoke_agent", "generate_content", "execute_tool", "generate_content"},
		[]string{es[0].Operation, es[1].Operation, es[2].Operation, es[3].Operation})
	for _, e := range es[1:] {
		assert.Equal(t, es[0].TraceID, e.TraceID, "one trace")
		assert.True(t, !e.Timestamp.Before(es[0].Timestamp), "in order")
	}
	parents := map[string]string{}
	for _, s := range r.spans.Ended() {
		parents[s.SpanContext().SpanID().String()] = s.Parent().SpanID().String()
	}
	for i, e := range es[1:] {
		assert.Equal(t, es[0].SpanID, parents[e.SpanID], "entry %d is a child of the agent's span", i+1)
	}

	assert.Equal(t, "Weather in Paris?", str(es[0].InputContent))
	assert.Equal(t, "It is 21 C in Paris.", str(es[0].OutputContent))
	assert.Equal(t, "weather-agent", es[0].Metadata["gen_ai.agent.name"])
	assert.Equal(t, `{"city":"Paris"}`, str(es[2].InputContent), "tool entry: input = arguments")
	assert.Equal(t, `{"temp_c":21}`, str(es[2].OutputContent), "tool entry: output = result")
	assert.Equal(t, otelaudit.HashContent(`{"temp_c":21}`), es[2].OutputHash)
	assert.Equal(t, "get_weather", es[2].Metadata["gen_ai.tool.name"])
	// The tool execution names the call id the model gave in the first
	// chat call's output: the audit ties the two together.
	assert.Equal(t, fakellm.ToolCallID, es[2].Metadata["gen_ai.tool.call.id"])
	assert.Contains(t, str(es[1].OutputContent), `"id":"`+fakellm.ToolCallID+`"`)
	assert.Equal(t, "It is 21 C in Paris.", str(es[3].OutputContent))
}
