// Package middleware audits LLM calls automatically at the net/http level:
// [Transport] wraps the http.RoundTripper of an LLM SDK client, [Handler]
// wraps a server handler. Both turn each request into a GenAI span
// (OpenTelemetry semantic conventions plus the audit.* attributes of package
// otelaudit) that the audit exporter (package exporter) stores as a
// tamper-evident audit entry. Both use the global TracerProvider unless
// [WithTracerProvider] names one, as otelhttp does; use
// exporter.NewTracerProvider to build one wired for the audit, or
// exporter.ProviderOptions to add the audit to a provider the service
// builds itself. On a provider without the audit processor (the global
// no-op one, say) the spans are not audited, which is reported once
// through otel.Handle.
//
// # APIs understood
//
// Detected from host and path, with the body's JSON read for the rest:
//
//   - OpenAI Chat Completions (.../chat/completions), legacy completions
//     (.../completions), Responses (.../responses), embeddings
//     (.../embeddings), streaming (SSE, stream_options.include_usage)
//     and not;
//   - Azure OpenAI (/openai/deployments/{deployment}/...: the deployment
//     stands in for a missing model; *.openai.azure.com hosts);
//   - Anthropic Messages (/v1/messages), with its SSE event types;
//   - OpenAI-compatible servers: vLLM, LiteLLM, Ollama's /v1 (provider
//     "openai" unless the host is known or [WithProviderName] says
//     otherwise), and Ollama's native /api/chat, /api/generate, /api/embed
//     (NDJSON streams);
//   - Google Gemini, through the Gemini API or Vertex AI
//     (.../models/{model}:generateContent and :streamGenerateContent, SSE
//     with alt=sse or one JSON array without; :embedContent): operation
//     generate_content, provider gcp.gemini, or gcp.vertex_ai for
//     *aiplatform.googleapis.com hosts and .../locations/... paths; the
//     model comes from the path, the response model from modelVersion;
//   - AWS Bedrock Runtime (/model/{modelId}/converse, /converse-stream,
//     /invoke, /invoke-with-response-stream; provider aws.bedrock; the
//     model id, an ARN included, from the path): Converse's JSON, the
//     binary AWS event stream of ConverseStream and
//     InvokeModelWithResponseStream (decoded frame by frame as it passes,
//     checksums checked), and InvokeModel bodies in Anthropic's shape
//     (anthropic_version) or the shapes of Amazon Nova and Titan, Meta
//     Llama, Mistral and Cohere. Token counts come from the body, else
//     from the X-Amzn-Bedrock-*-Token-Count headers; error.type from the
//     X-Amzn-ErrorType header or the stream's exception type.
//
// For SDKs that take a client middleware instead of an http.Client (the
// official OpenAI and Anthropic Go SDKs' option.WithMiddleware),
// [ClientMiddleware] gives the same audit in that shape.
//
// Extracted: model, input messages (gen_ai.input.messages, semconv shape
// [{"role":"user","parts":[{"type":"text","content":"..."}]}], tool calls
// and results as tool_call / tool_call_response parts, images and files as
// blob / uri / file parts), system
// instructions, output messages and finish reasons, usage (absent stays
// unknown, never 0), response id and model, error type (the provider's
// error code, type or status, else the HTTP status), conversation id.
// error.type is a short low-cardinality identifier: a code, type, status,
// header or exception type taken from a reply is recorded only when it is
// 1 to 64 bytes of ASCII letters, digits and . _ - : / (free text, which
// a gateway could fill with the prompt, is not), else the next of them
// that is, else the HTTP status.
//
// # Unknown requests and bad input
//
// By default every request is audited. A request to a path that is not one
// of the APIs above is recorded as a generic call: operation "http" (or
// "chat" when its body is chat-shaped JSON), with the raw request and reply
// bodies as its content (valid UTF-8 as text, other bytes base64 as a blob
// part). Add the [LLMOnly] filter to skip such requests instead.
// A known API's body that is not valid JSON is recorded the same way, with
// request_unparsed / response_unparsed in the entry's metadata; an event
// of a stream that is not JSON is left out of the output and gives
// response_unparsed too. gzip
// replies the transport did not decode are decoded for the audit only;
// other encodings and encoded streams are passed through and recorded
// without output (response_not_decoded). Nothing here ever changes what the
// caller sends or receives.
//
// # Limits
//
// At most [DefaultMaxBodySize] (1 MiB, [WithMaxBodySize]) of each body, and
// of a stream's reassembled output, is kept for the audit; beyond it the
// entry's metadata has request_truncated / response_truncated. A
// stream's output counts its texts and what it keeps besides (tool call
// ids, names and arguments, blocks); an event over the cap is left out
// (the events after it are kept). A stream's choices, candidates, content blocks, output items
// and tool calls are reassembled up to index 1023, far above what
// providers allow (OpenAI's n goes up to 128), and up to 4096 of them in
// all, Gemini parts included; what an index beyond that carried is left
// out, and the entry says response_truncated.
package middleware
