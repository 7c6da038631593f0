package exporter

import (
	"cmp"
	"strings"

	"go.opentelemetry.io/otel/attribute"

	"github.com/otelaudit/otelaudit-go/internal/contentkeys"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// otherContent collects the content that other GenAI instrumentations
// (Google's ADK, the Vercel AI SDK, OpenLLMetry, Langfuse, MLflow,
// Pydantic AI, Logfire) put under keys of their own (see
// internal/contentkeys), for the sides of a call the span gives in no
// other form. Their values are mostly JSON of the instrumentation's own
// shape (ADK's llm_request is the whole request: contents, system
// instruction, tools, config), so they are kept verbatim, not parsed:
// what the entry hashes is what the span said.
type otherContent struct {
	in, out []string
	// op is the GenAI operation the instrumentation's own attributes say,
	// for a span without gen_ai.operation.name: ADK's model call (its
	// llm_request), or one of kindOperations.
	op string
	// genkitName is a Genkit action's name: "{plugin}/{model}" for a
	// model or embedder.
	genkitName string
	// OpenLLMetry's first names (its Go SDK's still): llm.vendor,
	// llm.request.model, llm.response.model, llm.usage.*_tokens.
	vendor, reqModel, respModel string
	tokIn, tokOut               int64
	haveTokIn, haveTokOut       bool
}

// OpenLLMetry names a call's kind in llm.request.type, and before it
// moved to gen_ai.* keys, its vendor, model and usage under llm.*.
const (
	llmRequestTypeKey   = attribute.Key(contentkeys.LLMRequestTypeKey)
	llmVendorKey        = attribute.Key("llm.vendor")
	llmRequestModelKey  = attribute.Key("llm.request.model")
	llmResponseModelKey = attribute.Key("llm.response.model")
	llmPromptTokensKey  = attribute.Key("llm.usage.prompt_tokens")
	llmOutputTokensKey  = attribute.Key("llm.usage.completion_tokens")
)

// Genkit names an action's kind and name in attributes of its own.
const (
	genkitSubtypeKey = attribute.Key(contentkeys.GenkitSubtypeKey)
	genkitNameKey    = attribute.Key("genkit:name")
)

// vercelOperationKey names the Vercel AI SDK's span (ai.operationId).
const vercelOperationKey = attribute.Key(contentkeys.VercelOperationKey)

// kindOperations maps the attributes in which other instrumentations
// name what a span is, and their values that each stand for one call of a
// model, an embedder or a tool, to that call's GenAI operation. Other
// values (flows, prompts, utilities, outer spans that wrap such calls) are
// not calls of their own.
var kindOperations = map[attribute.Key]map[string]string{
	// The Vercel AI SDK's ai.operationId.
	vercelOperationKey: {
		"ai.generateText.doGenerate":   "chat",
		"ai.streamText.doStream":       "chat",
		"ai.generateObject.doGenerate": "chat",
		"ai.streamObject.doStream":     "chat",
		"ai.embed.doEmbed":             "embeddings",
		"ai.embedMany.doEmbed":         "embeddings",
		"ai.toolCall":                  "execute_tool",
	},
	// Genkit's actions.
	genkitSubtypeKey: {"model": "chat", "embedder": "embeddings", "tool": "execute_tool"},
	// OpenLLMetry's request types.
	llmRequestTypeKey: {"chat": "chat", "completion": "text_completion", "embedding": "embeddings"},
}

// kindOperation is the GenAI operation kv says its span is (see
// kindOperations), "" when it says none.
func kindOperation(kv attribute.KeyValue) string {
	return kindOperations[kv.Key][kv.Value.AsString()]
}

// add takes kv when its key is one of those instrumentations' input or
// output keys and reports whether it was one. An empty value, or ADK's
// "{}" (its value when content capture is off, and a tool span's empty
// request and response), is no content.
func (o *otherContent) add(kv attribute.KeyValue) bool {
	side := contentkeys.Lookup(string(kv.Key))
	if side != contentkeys.Input && side != contentkeys.Output {
		switch kv.Key {
		case vercelOperationKey, genkitSubtypeKey, llmRequestTypeKey:
			o.op = kindOperation(kv)
		case genkitNameKey:
			o.genkitName = kv.Value.AsString()
		case llmVendorKey:
			o.vendor = kv.Value.AsString()
		case llmRequestModelKey:
			o.reqModel = kv.Value.AsString()
		case llmResponseModelKey:
			o.respModel = kv.Value.AsString()
		case llmPromptTokensKey:
			o.tokIn, o.haveTokIn = intValue(kv.Value)
		case llmOutputTokensKey:
			o.tokOut, o.haveTokOut = intValue(kv.Value)
		}
		return false
	}
	var text string
	switch kv.Value.Type() {
	case attribute.STRING:
		text = kv.Value.AsString()
	case attribute.STRINGSLICE: // ai.values: one string per value
		text = strings.Join(kv.Value.AsStringSlice(), "\n")
	default:
		return true
	}
	if t := strings.TrimSpace(text); t == "" || t == "{}" {
		return true
	}
	if kv.Key == adkRequestKey {
		o.op = "generate_content" // ADK calls models through generateContent
	}
	if side == contentkeys.Input {
		o.in = append(o.in, text)
	} else {
		o.out = append(o.out, text)
	}
	return true
}

// adkRequestKey is the request of Google ADK's model call.
const adkRequestKey = attribute.Key("gcp.vertex.agent.llm_request")

// apply fills what the span's other attributes left empty in in: the
// operation the instrumentation's own attributes say; the provider and
// model a Genkit model's or embedder's name gives, else OpenLLMetry's
// llm.vendor and llm.request.model (else llm.response.model); its
// llm.usage token counts; and the input and output values collected, in
// the span's attribute order, joined by "\n".
func (o *otherContent) apply(in *otelaudit.Interaction) {
	if in.Operation == "" {
		in.Operation = o.op
	}
	if plugin, model, ok := strings.Cut(o.genkitName, "/"); ok && in.Model == "" && in.Provider == "" &&
		(in.Operation == "chat" || in.Operation == "embeddings") {
		in.Provider, in.Model = plugin, model // "googleai/gemini-2.5-flash"
	}
	if in.Provider == "" {
		in.Provider = o.vendor
	}
	if in.Model == "" {
		in.Model = cmp.Or(o.reqModel, o.respModel)
	}
	if in.InputTokens == nil && o.haveTokIn {
		in.InputTokens = otelaudit.Ptr(o.tokIn)
	}
	if in.OutputTokens == nil && o.haveTokOut {
		in.OutputTokens = otelaudit.Ptr(o.tokOut)
	}
	if in.Input == "" && len(o.in) > 0 {
		in.Input = strings.Join(o.in, "\n")
	}
	if in.Output == "" && len(o.out) > 0 {
		in.Output = strings.Join(o.out, "\n")
	}
}
