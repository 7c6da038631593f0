package contentkeys

import "testing"

func TestLookup(t *testing.T) {
	tests := []struct {
		key  string
		want Side
	}{
		// Google ADK (the keys adk-go's telemetry sets)
		{"gcp.vertex.agent.llm_request", Input},
		{"gcp.vertex.agent.tool_call_args", Input},
		{"gcp.vertex.agent.llm_response", Output},
		{"gcp.vertex.agent.tool_response", Output},
		{"gcp.vertex.agent.data", Other},
		{"gcp.vertex.agent.session_id", None},
		{"gcp.vertex.agent.invocation_id", None},
		{"gcp.vertex.agent.event_id", None},
		// Vercel AI SDK
		{"ai.prompt.messages", Input},
		{"ai.prompt", Input},
		{"ai.toolCall.args", Input},
		{"ai.values", Input},
		{"ai.response.text", Output},
		{"ai.response.toolCalls", Output},
		{"ai.response.object", Output},
		{"ai.result.text", Output},
		{"ai.toolCall.result", Output},
		{"ai.prompt.tools", Other},
		{"ai.embeddings", Other},
		{"ai.prompt.format", None},
		{"ai.prompt.toolChoice", None},
		{"ai.model.id", None},
		{"ai.toolCall.name", None},
		{"ai.response.finishReason", None},
		{"ai.usage.promptTokens", None},
		{"ai.request.headers.Helicone-Auth", Other},
		{"ai.request.headers.x-portkey-api-key", Other},
		{"ai.request.headers", None},
		{"ai.request.model", None},
		// OpenLLMetry
		{"traceloop.entity.input", Input},
		{"traceloop.entity.output", Output},
		{"traceloop.prompt.template", Other},
		{"traceloop.prompt.template_variables", Other},
		{"llm.request.functions.0.parameters", Other},
		{"llm.request.functions.0.name", Other},
		{"llm.completions.0.content", Other},
		{"mcp.request.argument", Other},
		{"db.query.result.document", Other},
		{"traceloop.entity.name", None},
		{"traceloop.span.kind", None},
		{"llm.request.type", None},
		{"llm.usage.total_tokens", None},
		{"db.query.result.id", None},
		// Langfuse, MLflow, Pydantic AI, Logfire
		{"langfuse.observation.input", Input},
		{"langfuse.observation.output", Output},
		{"langfuse.trace.input", Other},
		{"langfuse.observation.type", None},
		{"mlflow.spanInputs", Input},
		{"mlflow.spanOutputs", Output},
		{"mlflow.spanType", None},
		{"mlflow.chat.messages", Other},
		{"mlflow.chat.tools", Other},
		{"pydantic_ai.all_messages", Input},
		{"final_result", Output},
		{"tool_arguments", Other},
		{"request_data", Input},
		{"response_data", Output},
		// Firebase Genkit
		{"genkit:input", Input},
		{"genkit:output", Output},
		{"genkit:name", None},
		{"genkit:metadata:subtype", None},
		// LiveKit Agents
		{"lk.chat_ctx", Input},
		{"lk.response.text", Output},
		{"lk.function_tool.output", Output},
		{"lk.user_transcript", Other},
		{"lk.speech_id", None},
		{"lk.function_tool.name", None},
		// Not these packages' keys
		{"gen_ai.input.messages", None},
		{"input.value", None},
		{"http.request.method", None},
		{"", None},
		{"ai", None},
	}
	for _, tt := range tests {
		if got := Lookup(tt.key); got != tt.want {
			t.Errorf("Lookup(%q) = %d, want %d", tt.key, got, tt.want)
		}
		if got, want := IsCallContent(tt.key), tt.want == Input || tt.want == Output; got != want {
			t.Errorf("IsCallContent(%q) = %v, want %v", tt.key, got, want)
		}
	}
}
