package otelaudit

import (
	"strings"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/otelaudit/otelaudit-go/internal/contentkeys"
	"github.com/otelaudit/otelaudit-go/internal/handoff"
)

// Audit attribute keys. They carry the audit fields of a GenAI span that the
// GenAI semantic conventions have no name for; the exporter maps each to the
// audit entry field of the same name. They are set by [Call] and may be set
// by any instrumentation by hand.
const (
	// AuditSafetyPassedKey (bool) says whether the call passed the caller's
	// safety checks. Absent means true.
	AuditSafetyPassedKey = attribute.Key("audit.safety_passed")
	// AuditDetectorsTriggeredKey (string slice) names the safety detectors
	// that fired.
	AuditDetectorsTriggeredKey = attribute.Key("audit.detectors_triggered")
	// AuditBlockReasonKey (string) says why the call was blocked before it
	// reached the model.
	AuditBlockReasonKey = attribute.Key("audit.block_reason")
	// AuditAlertsKey (string slice) holds alerts raised for the call.
	AuditAlertsKey = attribute.Key("audit.alerts")
	// AuditEntryIDKey (string) is the id the audit entry of this span is
	// stored under. [StartCall] sets it at span start (a fresh UUIDv7), so
	// an auditor can go from the trace to the entry; the exporter uses it
	// as the entry id when present.
	AuditEntryIDKey = attribute.Key("audit.entry_id")
	// AuditContentUnavailableKey (bool) marks a span whose content was
	// not captured: [StartCall], [StartAgent], [StartTool] and the
	// middleware set it on a recording span when they have content to
	// hand to the audit processor beside the span and none took it (the
	// audit exporter sits behind another span processor, such as the
	// SDK's BatchSpanProcessor, or the provider has no audit at all), and
	// the content does not go on the span ([WithContentOnSpan]). The
	// exporter then writes the entry with its content marked unavailable
	// (metadata content_unavailable) instead of hashing an empty prompt.
	// It holds no content and is never set when an audit processor takes
	// the span.
	AuditContentUnavailableKey = handoff.ContentUnavailableKey
	// AuditMetadataPrefix starts every metadata attribute:
	// "audit.metadata.<key>" becomes metadata[key] in the entry.
	AuditMetadataPrefix = "audit.metadata."
)

// AuditMetadataKey returns the attribute key for the metadata field name:
// "audit.metadata." + name.
func AuditMetadataKey(name string) attribute.Key {
	return attribute.Key(AuditMetadataPrefix + name)
}

// Key prefixes of content attributes, see [IsContentKey].
const (
	// genAIRetrievalPrefix covers gen_ai.retrieval.documents and
	// gen_ai.retrieval.query.text.
	genAIRetrievalPrefix = "gen_ai.retrieval."
	// genAIPromptPrefix and genAICompletionPrefix are the legacy
	// (pre-1.37 semconv) indexed content attributes, gen_ai.prompt.0.content
	// and the like, still emitted by some instrumentations. The exact key
	// gen_ai.prompt.name is a prompt template name, not content.
	genAIPrefix           = "gen_ai."
	genAIPromptPrefix     = "gen_ai.prompt"
	genAICompletionPrefix = "gen_ai.completion"
)

// IsContentKey reports whether attributes named k may hold model content
// (prompts, answers, system instructions, tool arguments and results,
// retrieved documents and queries, or text that may quote them), so that
// they must not reach an ordinary trace backend. It covers
// gen_ai.input.messages, gen_ai.output.messages,
// gen_ai.system_instructions, gen_ai.tool.call.arguments,
// gen_ai.tool.call.result, gen_ai.tool.definitions,
// gen_ai.evaluation.explanation (an evaluator's reasoning, which may quote
// the content it judges; the evaluation's name, score and label are not
// content), every gen_ai.retrieval.* key, the legacy gen_ai.prompt* and
// gen_ai.completion* keys (except gen_ai.prompt.name) and every
// audit.metadata.* key (caller metadata may hold anything; its values are
// kept only in the audit store).
//
// It covers OpenInference's content keys too (the conventions of
// Arize's openinference-instrumentation-* packages): input.value,
// output.value, every llm.input_messages.*, llm.output_messages.*,
// llm.prompts*, llm.choices.*, llm.tools.*, embedding.embeddings.*,
// retrieval.documents.*, reranker.input_documents.* and
// reranker.output_documents.* key, llm.function_call,
// llm.prompt_template.template and .variables, embedding.text,
// reranker.query, document.content, message.content,
// message_content.text, message.function_call_arguments_json,
// tool_call.function.arguments, tool.parameters, tool.json_schema,
// audio.transcript, image.url (which may be a data: URL holding the
// image) and every key ending in annotation.explanation or
// evaluation.explanation. Their names, models, token counts, costs,
// invocation parameters and span kind are not content.
//
// And it covers the content keys of other GenAI instrumentations, whose
// spans often carry gen_ai.* attributes too: Google's Agent Development
// Kit (gcp.vertex.agent.llm_request, .llm_response, .tool_call_args,
// .tool_response, .data), the Vercel AI SDK (ai.prompt,
// ai.prompt.messages, ai.prompt.tools, ai.response.text, .toolCalls,
// .object, .reasoning, ai.result.text, .toolCalls, .object,
// ai.toolCall.args, .result, ai.value, ai.values, ai.embedding,
// ai.embeddings, and every ai.request.headers.* key: the headers a caller
// passes with a request are most often an AI gateway's credentials), OpenLLMetry (traceloop.entity.input, .output,
// traceloop.prompt.template, .template_variables, every
// llm.request.functions.* and llm.completions* key, mcp.request.argument,
// mcp.response.value, db.query.result.document,
// db.search.result.entity), Langfuse (langfuse.observation.input,
// .output, langfuse.trace.input, .output), MLflow (mlflow.spanInputs,
// mlflow.spanOutputs), Pydantic AI (pydantic_ai.all_messages,
// all_messages_events, final_result, tool_arguments, tool_response),
// Logfire (request_data, response_data), Firebase Genkit
// (genkit:input, genkit:output, on every Genkit span) and LiveKit Agents
// (lk.chat_ctx, lk.user_input, lk.instructions, lk.function_tools,
// lk.function_tool.arguments, .output, lk.response.text,
// .function_calls, lk.input_text, lk.user_transcript).
func IsContentKey(k attribute.Key) bool {
	switch k {
	case semconv.GenAIInputMessagesKey, semconv.GenAIOutputMessagesKey,
		semconv.GenAISystemInstructionsKey, semconv.GenAIToolCallArgumentsKey,
		semconv.GenAIToolCallResultKey, semconv.GenAIToolDefinitionsKey,
		semconv.GenAIEvaluationExplanationKey:
		return true
	case semconv.GenAIPromptNameKey:
		return false
	// OpenInference
	case "input.value", "output.value", "llm.function_call",
		"llm.prompt_template.template", "llm.prompt_template.variables",
		"embedding.text", "reranker.query", "document.content",
		"message.content", "message_content.text",
		"message.function_call_arguments_json", "tool_call.function.arguments",
		"tool.parameters", "tool.json_schema", "audio.transcript", "image.url":
		return true
	}
	s := string(k)
	if len(s) == 0 {
		return false
	}
	// One test of the first byte keeps the common keys (gen_ai.operation.name,
	// http.*, server.*) to a couple of comparisons.
	switch s[0] {
	case 'g':
		if strings.HasPrefix(s, genAIPrefix) {
			return strings.HasPrefix(s, genAIRetrievalPrefix) ||
				strings.HasPrefix(s, genAIPromptPrefix) ||
				strings.HasPrefix(s, genAICompletionPrefix)
		}
	case 'a':
		if strings.HasPrefix(s, AuditMetadataPrefix) {
			return true
		}
	case 'l':
		for _, p := range oiLLMContentPrefixes {
			if strings.HasPrefix(s, p) {
				return true
			}
		}
		return contentkeys.Lookup(s) != contentkeys.None
	case 'e':
		if strings.HasPrefix(s, "embedding.embeddings.") {
			return true
		}
	case 'r':
		return strings.HasPrefix(s, "retrieval.documents.") ||
			strings.HasPrefix(s, "reranker.input_documents.") ||
			strings.HasPrefix(s, "reranker.output_documents.") ||
			contentkeys.Lookup(s) != contentkeys.None
	}
	// Other instrumentations' content keys (ADK, Vercel AI SDK,
	// OpenLLMetry, Langfuse, MLflow, Pydantic AI, Logfire).
	if contentkeys.Lookup(s) != contentkeys.None {
		return true
	}
	return strings.HasSuffix(s, "annotation.explanation") || strings.HasSuffix(s, "evaluation.explanation")
}

// oiLLMContentPrefixes are OpenInference's llm.* lists that hold content:
// messages, prompts (also the older string list llm.prompts itself),
// choices and tool definitions.
var oiLLMContentPrefixes = [...]string{
	"llm.input_messages.", "llm.output_messages.", "llm.prompts", "llm.choices.", "llm.tools.",
}
