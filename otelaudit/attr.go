package otelaudit

import (
	"strings"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
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
func IsContentKey(k attribute.Key) bool {
	switch k {
	case semconv.GenAIInputMessagesKey, semconv.GenAIOutputMessagesKey,
		semconv.GenAISystemInstructionsKey, semconv.GenAIToolCallArgumentsKey,
		semconv.GenAIToolCallResultKey, semconv.GenAIToolDefinitionsKey,
		semconv.GenAIEvaluationExplanationKey:
		return true
	case semconv.GenAIPromptNameKey:
		return false
	}
	s := string(k)
	return strings.HasPrefix(s, genAIRetrievalPrefix) ||
		strings.HasPrefix(s, genAIPromptPrefix) ||
		strings.HasPrefix(s, genAICompletionPrefix) ||
		strings.HasPrefix(s, AuditMetadataPrefix)
}
