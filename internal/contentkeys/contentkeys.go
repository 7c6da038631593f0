// Package contentkeys names the span attributes under which GenAI
// instrumentations that follow neither the GenAI semantic conventions nor
// OpenInference put a model call's content: Google's Agent Development
// Kit (ADK, in Go, Python, Java and TypeScript), the Vercel AI SDK,
// OpenLLMetry (Traceloop), Langfuse, MLflow, Pydantic AI, Logfire,
// Firebase Genkit and LiveKit Agents.
// Such spans often carry gen_ai.* attributes too (ADK's call_llm span sets
// gen_ai.system and gen_ai.request.model), so they are audited, and their
// content must not reach an ordinary trace backend.
//
// It is the one list of those keys: otelaudit.IsContentKey reports them
// as content (so exporter.Redact and the Collector's otelauditredact
// remove them), the exporter reads the [Input] and [Output] ones into an
// entry when the span gives its content in no other form, and the
// Collector's join writes a span that carries them at once. For the same
// two readers it holds [OpenInferenceLists] and [LegacyLists], the
// OpenInference and legacy indexed lists a call's messages are read from.
package contentkeys

import "strings"

// Side is what part of a model call an attribute's value holds.
type Side uint8

const (
	// None: not one of this package's content keys.
	None Side = iota
	// Input: the call's input (prompt, request, tool arguments), taken
	// verbatim into an entry's input.
	Input
	// Output: the call's output (answer, response, tool result), taken
	// verbatim into an entry's output.
	Output
	// Other: content that is not the call's input or output (tool
	// definitions, prompt templates, retrieved documents, a whole trace's
	// input): removed before other exporters, not part of an entry.
	Other
)

// Lookup returns the side of a model call the attribute named k holds,
// [None] when k is not one of the keys of this package. It compares
// strings only and is safe for concurrent use.
func Lookup(k string) Side {
	// Small enough to inline: most keys (gen_ai.*, http.*, server.*) end
	// here without a call.
	if len(k) < 5 || !firstBytes[k[0]] {
		return None
	}
	return lookup(k)
}

// firstBytes are the first bytes of this package's keys.
var firstBytes = [256]bool{'g': true, 'a': true, 't': true, 'l': true, 'm': true, 'd': true, 'p': true, 'r': true, 'f': true}

func lookup(k string) Side {
	// The families of the keys below; others (audit.*, gen_ai.*) end here.
	switch k[0] {
	case 'g':
		if !strings.HasPrefix(k, "gcp.vertex.agent.") && !strings.HasPrefix(k, "genkit:") {
			return None
		}
	case 'a':
		if !(k[1] == 'i' && k[2] == '.' || k[1] == 'l') {
			return None
		}
	case 't':
		if k[1] != 'r' && k[1] != 'o' {
			return None
		}
	}
	switch k {
	case
		// ADK: the request sent to the model (contents, system
		// instruction, tools, config) and a tool call's arguments, as JSON.
		"gcp.vertex.agent.llm_request", "gcp.vertex.agent.tool_call_args",
		// Vercel AI SDK: the messages sent to the provider (doGenerate and
		// doStream spans), the call's prompt (the outer span), a tool
		// call's arguments, embedded values.
		"ai.prompt.messages", "ai.prompt", "ai.toolCall.args", "ai.value", "ai.values",
		// Firebase Genkit (Go, JS, Python): every action's input, as JSON
		// (a model's is the whole request).
		"genkit:input",
		// LiveKit Agents: an LLM node's chat context, a turn's user input,
		// a function tool's arguments.
		"lk.chat_ctx", "lk.user_input", "lk.function_tool.arguments",
		// Langfuse, OpenLLMetry (workflow, task, agent and tool spans),
		// MLflow, Pydantic AI (agent runs), Logfire (instrument_openai and
		// instrument_anthropic).
		"langfuse.observation.input", "traceloop.entity.input", "mlflow.spanInputs",
		"pydantic_ai.all_messages", "request_data":
		return Input
	case
		"gcp.vertex.agent.llm_response", "gcp.vertex.agent.tool_response",
		"ai.response.text", "ai.response.toolCalls", "ai.response.object",
		"ai.result.text", "ai.result.toolCalls", "ai.result.object", "ai.toolCall.result",
		"langfuse.observation.output", "traceloop.entity.output", "mlflow.spanOutputs",
		"final_result", "response_data", "genkit:output",
		"lk.response.text", "lk.response.function_calls", "lk.function_tool.output":
		return Output
	case
		// ADK: the data an agent is sent (send_data spans).
		"gcp.vertex.agent.data",
		// Vercel AI SDK: tool definitions, reasoning, embeddings.
		"ai.prompt.tools", "ai.response.reasoning", "ai.embedding", "ai.embeddings",
		// Langfuse: the input and output of the whole trace.
		"langfuse.trace.input", "langfuse.trace.output",
		// OpenLLMetry: managed prompt templates, MCP tool arguments and
		// results, retrieved documents (db.query.result events).
		"traceloop.prompt.template", "traceloop.prompt.template_variables",
		"mcp.request.argument", "mcp.response.value",
		"db.query.result.document", "db.search.result.entity",
		// Pydantic AI before the GenAI conventions.
		"all_messages_events", "tool_arguments", "tool_response",
		// LiveKit Agents: instructions, tool definitions, the text a TTS
		// node speaks, the user's transcript.
		"lk.instructions", "lk.function_tools", "lk.input_text", "lk.user_transcript",
		// MLflow's chat spans (set_span_chat_messages, set_span_chat_tools):
		// the whole conversation, the model's answer included, and the
		// tool definitions.
		"mlflow.chat.messages", "mlflow.chat.tools":
		return Other
	}
	// OpenLLMetry's tool definitions (llm.request.functions.<i>.*) and its
	// first, pre-gen_ai content keys (llm.completions.<i>.*). The Vercel AI
	// SDK's ai.request.headers.<name>: the headers a caller passes with the
	// request, in practice an AI gateway's credentials (Helicone-Auth,
	// cf-aig-authorization, x-portkey-api-key), recorded in plain text.
	if strings.HasPrefix(k, "llm.request.functions.") || strings.HasPrefix(k, "llm.completions") ||
		strings.HasPrefix(k, vercelHeadersPrefix) {
		return Other
	}
	return None
}

// vercelHeadersPrefix starts the Vercel AI SDK's request header keys.
const vercelHeadersPrefix = "ai.request.headers."

// IsCallContent reports whether Lookup(k) is [Input] or [Output]: the
// attribute holds the call's own messages.
func IsCallContent(k string) bool {
	s := Lookup(k)
	return s == Input || s == Output
}

// OpenInferenceList is one of OpenInference's flattened lists whose items
// hold a call's messages: the keys "<Prefix><i>.<rest>".
type OpenInferenceList struct {
	Prefix string
	// Text is what the rest of an item's key must be to name its text;
	// "" for the message lists, whose items have several fields.
	Text string
	// Output: the list is the call's output.
	Output bool
}

// OpenInferenceLists are the lists the exporter reads an OpenInference
// span's messages from (and the Collector's join takes for messages).
var OpenInferenceLists = [...]OpenInferenceList{
	{"llm.input_messages.", "", false},
	{"llm.output_messages.", "", true},
	{"llm.prompts.", "prompt.text", false},
	{"llm.choices.", "completion.text", true},
	{"embedding.embeddings.", "embedding.text", false},
	{"retrieval.documents.", "document.content", true},
}

// LegacyList is one of the indexed message lists of instrumentations
// older than the GenAI conventions' message attributes: the keys
// "<Prefix><i>.content" and "<Prefix><i>.tool_calls.<j>.*".
type LegacyList struct {
	Prefix string
	// Output: the list is the call's output.
	Output bool
}

// LegacyLists are those lists: gen_ai.prompt.<i>.* and
// gen_ai.completion.<i>.* (semconv before 1.37, OpenLLMetry), and
// OpenLLMetry's first names llm.prompts.<i>.* and llm.completions.<i>.*,
// which its Go SDK still writes. The exporter reads a span's messages
// from them and the Collector's join takes them for messages.
var LegacyLists = [...]LegacyList{
	{"gen_ai.prompt.", false},
	{"gen_ai.completion.", true},
	{"llm.prompts.", false},
	{"llm.completions.", true},
}

// The attributes in which conventions other than the GenAI semantic
// conventions say, in their value, what a span is (a model call, a tool
// call, a flow, ...): exporter.IsGenAI reads their values.
const (
	OpenInferenceKindKey = "openinference.span.kind"
	VercelOperationKey   = "ai.operationId"
	GenkitSubtypeKey     = "genkit:metadata:subtype"
	LLMRequestTypeKey    = "llm.request.type"
)

// KindKeys are those attributes, for a reader (the Collector's view of a
// pdata span) that asks exporter.IsGenAI about them alone.
var KindKeys = [...]string{OpenInferenceKindKey, VercelOperationKey, GenkitSubtypeKey, LLMRequestTypeKey}
