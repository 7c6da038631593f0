// Package genai recognises LLM API calls on the wire and extracts what the
// audit needs from their JSON bodies: provider and operation (from host and
// path), model, messages in the OpenTelemetry GenAI semantic-convention
// shape, system instructions, output text, finish reasons, usage, response
// id and model, and error types. Streams are reassembled from SSE (or
// Ollama's NDJSON) events with bounded memory.
//
// Every parser takes untrusted bytes: it never panics, and malformed input
// yields an error or a partial result, never a crash.
package genai

import (
	"net"
	"net/url"
	"strings"
)

// API is the wire format of a call.
type API int

// The wire formats the package understands.
const (
	APIUnknown         API = iota // not an LLM API this package knows: a generic HTTP call
	APIChatCompletions            // OpenAI Chat Completions (and compatible servers)
	APICompletions                // OpenAI legacy text completions
	APIResponses                  // OpenAI Responses API
	APIEmbeddings                 // OpenAI embeddings
	APIAnthropic                  // Anthropic Messages
	APIOllamaChat                 // Ollama native /api/chat
	APIOllamaGenerate             // Ollama native /api/generate
	APIOllamaEmbed                // Ollama native /api/embed and /api/embeddings
	APIGemini                     // Google Gemini API and Vertex AI generateContent / streamGenerateContent
	APIGeminiEmbed                // Google Gemini API and Vertex AI embedContent / batchEmbedContents
	APIBedrockConverse            // AWS Bedrock Runtime Converse and ConverseStream
	APIBedrockInvoke              // AWS Bedrock Runtime InvokeModel(WithResponseStream), a model family's own body

	apiCount // the number of APIs, for tests that try them all
)

// Operation names (gen_ai.operation.name).
const (
	OpChat           = "chat"
	OpTextCompletion = "text_completion"
	OpEmbeddings     = "embeddings"
	OpGenerate       = "generate_content"
	// OpHTTP is used for calls whose API is not recognised (audited as
	// generic HTTP calls).
	OpHTTP = "http"
)

// Provider names (gen_ai.provider.name well-known values where semconv has
// them).
const (
	ProviderOpenAI    = "openai"
	ProviderAnthropic = "anthropic"
	ProviderAzure     = "azure.ai.openai"
	ProviderOllama    = "ollama"
	ProviderGemini    = "gcp.gemini"
	ProviderVertex    = "gcp.vertex_ai"
	ProviderBedrock   = "aws.bedrock"
)

// Target is what Detect found out about a request.
type Target struct {
	API       API
	Provider  string
	Operation string
	// Model is the model named by the path: the Azure OpenAI deployment,
	// the Gemini model, the Bedrock model id (URL-decoded). It stands in
	// for the model when the body has none.
	Model string
	// Stream says the path itself asks for a streamed reply (Gemini's
	// streamGenerateContent, Bedrock's ConverseStream and
	// InvokeModelWithResponseStream).
	Stream bool
}

// knownHosts maps API host names to gen_ai.provider.name values.
var knownHosts = map[string]string{
	"api.openai.com":                    ProviderOpenAI,
	"api.anthropic.com":                 ProviderAnthropic,
	"api.groq.com":                      "groq",
	"api.deepseek.com":                  "deepseek",
	"api.mistral.ai":                    "mistral_ai",
	"api.x.ai":                          "x_ai",
	"api.perplexity.ai":                 "perplexity",
	"generativelanguage.googleapis.com": ProviderGemini,
	"openrouter.ai":                     "openrouter",
	"api.together.xyz":                  "together",
	"api.fireworks.ai":                  "fireworks",
}

// Detect classifies a request by host (with or without port) and URL path.
// It never looks at the body; an unknown path gives APIUnknown with the
// operation [OpHTTP].
func Detect(host, path string) Target {
	h := host
	port := ""
	if hh, p, err := net.SplitHostPort(host); err == nil {
		h, port = hh, p
	}
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	p := strings.TrimSuffix(path, "/")

	var t Target
	if detectGoogle(&t, p) || detectBedrock(&t, p) {
		switch {
		case t.API == APIBedrockConverse || t.API == APIBedrockInvoke:
			t.Provider = ProviderBedrock
		case strings.HasSuffix(h, "aiplatform.googleapis.com") || strings.Contains(p, "/locations/"):
			t.Provider = ProviderVertex
		default:
			t.Provider = ProviderGemini
		}
		return t
	}
	switch {
	case strings.HasSuffix(p, "/chat/completions"):
		t.API, t.Operation = APIChatCompletions, OpChat
	case strings.HasSuffix(p, "/responses"):
		t.API, t.Operation = APIResponses, OpChat
	case strings.HasSuffix(p, "/embeddings") && !strings.HasPrefix(p, "/api/"):
		t.API, t.Operation = APIEmbeddings, OpEmbeddings
	case strings.HasSuffix(p, "/completions"):
		t.API, t.Operation = APICompletions, OpTextCompletion
	case strings.HasSuffix(p, "/v1/messages") || p == "/messages" || (strings.HasSuffix(p, "/messages") && knownHosts[h] == ProviderAnthropic):
		t.API, t.Operation = APIAnthropic, OpChat
	case strings.HasSuffix(p, "/api/chat"):
		t.API, t.Operation = APIOllamaChat, OpChat
	case strings.HasSuffix(p, "/api/generate"):
		t.API, t.Operation = APIOllamaGenerate, OpTextCompletion
	case strings.HasSuffix(p, "/api/embed") || strings.HasSuffix(p, "/api/embeddings"):
		t.API, t.Operation = APIOllamaEmbed, OpEmbeddings
	default:
		t.API, t.Operation = APIUnknown, OpHTTP
	}

	// Azure OpenAI: /openai/deployments/{deployment}/...
	if i := strings.Index(p, "/openai/deployments/"); i >= 0 {
		rest := p[i+len("/openai/deployments/"):]
		if j := strings.IndexByte(rest, '/'); j > 0 {
			t.Model = rest[:j]
		}
		t.Provider = ProviderAzure
	}
	switch {
	case t.Provider != "":
	case strings.HasSuffix(h, ".openai.azure.com") || strings.HasSuffix(h, ".services.ai.azure.com") || strings.HasSuffix(h, ".cognitiveservices.azure.com"):
		t.Provider = ProviderAzure
	case knownHosts[h] != "":
		t.Provider = knownHosts[h]
	case port == "11434" || t.API == APIOllamaChat || t.API == APIOllamaGenerate || t.API == APIOllamaEmbed:
		t.Provider = ProviderOllama
	case t.API == APIAnthropic:
		t.Provider = ProviderAnthropic
	case t.API != APIUnknown:
		// vLLM, LiteLLM and other OpenAI-compatible servers speak OpenAI.
		t.Provider = ProviderOpenAI
	}
	return t
}

// detectGoogle recognises Gemini API and Vertex AI model methods:
// .../models/{model}:{method}, for example
// /v1beta/models/gemini-2.5-flash:streamGenerateContent or
// /v1/projects/P/locations/L/publishers/google/models/gemini-2.5-flash:generateContent.
func detectGoogle(t *Target, p string) bool {
	i := strings.LastIndex(p, "/models/")
	if i < 0 {
		return false
	}
	model, method, ok := strings.Cut(p[i+len("/models/"):], ":")
	if !ok || model == "" || strings.IndexByte(model, '/') >= 0 {
		return false
	}
	switch method {
	case "generateContent":
		t.API, t.Operation = APIGemini, OpGenerate
	case "streamGenerateContent":
		t.API, t.Operation, t.Stream = APIGemini, OpGenerate, true
	case "embedContent", "batchEmbedContents":
		t.API, t.Operation = APIGeminiEmbed, OpEmbeddings
	default:
		return false
	}
	t.Model = model
	return true
}

// detectBedrock recognises Bedrock Runtime model operations:
// /model/{modelId}/converse, /converse-stream, /invoke and
// /invoke-with-response-stream. The model id may be an escaped ARN.
func detectBedrock(t *Target, p string) bool {
	rest, ok := strings.CutPrefix(p, "/model/")
	if !ok {
		return false
	}
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return false
	}
	id := rest[:i]
	switch rest[i+1:] {
	case "converse":
		t.API, t.Operation = APIBedrockConverse, OpChat
	case "converse-stream":
		t.API, t.Operation, t.Stream = APIBedrockConverse, OpChat, true
	case "invoke":
		t.API, t.Operation = APIBedrockInvoke, OpChat
	case "invoke-with-response-stream":
		t.API, t.Operation, t.Stream = APIBedrockInvoke, OpChat, true
	default:
		return false
	}
	if u, err := url.PathUnescape(id); err == nil {
		id = u
	}
	t.Model = id
	if t.API == APIBedrockInvoke && strings.Contains(strings.ToLower(id), "embed") {
		t.Operation = OpEmbeddings
	}
	return true
}
