package middleware

import (
	"context"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/internal/genaimetrics"
	"github.com/otelaudit/otelaudit-go/middleware/internal/genai"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// ScopeName is the instrumentation scope of the server spans [Handler]
// creates. ([Transport] records its calls through otelaudit.StartCall, whose
// scope is otelaudit.ScopeName.)
const ScopeName = "github.com/otelaudit/otelaudit-go/middleware"

// DefaultMaxBodySize is the default cap, in bytes, on the body captured for
// the audit on each side (request and response) of a call: 1 MiB. Only the
// captured copy is capped; the caller's request and response always pass in
// full.
const DefaultMaxBodySize = 1 << 20

// DefaultConversationHeader is the request header [Handler] and [Transport]
// read gen_ai.conversation.id from unless [WithConversationHeader] names
// another.
const DefaultConversationHeader = "X-Conversation-ID"

// Filter decides whether a request is audited. A request that any Filter
// rejects gets no span and no wrapping: it goes straight to the next
// handler or the base transport.
type Filter func(*http.Request) bool

// LLMOnly is a [Filter] that accepts only requests to the LLM APIs the
// middleware recognises by path (OpenAI chat, completions, responses and
// embeddings, Anthropic messages, Ollama native, Azure OpenAI deployments,
// Gemini and Vertex AI, Bedrock Runtime).
// Without it, other requests are audited as generic calls (operation
// "http", content = the raw bodies).
func LLMOnly(r *http.Request) bool {
	host := r.Host
	if r.URL != nil && r.URL.Host != "" {
		host = r.URL.Host
	}
	path := ""
	if r.URL != nil {
		path = r.URL.Path
	}
	return genai.Detect(host, path).API != genai.APIUnknown
}

// Option configures [Transport] and [Handler].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is fixed after construction and shared by every request.
type config struct {
	tp trace.TracerProvider
	// tracer is tp's tracer of ScopeName, for the server spans, taken once
	// (as otelhttp does) rather than looked up in tp per request.
	tracer      trace.Tracer
	propagators propagation.TextMapPropagator
	filters     []Filter
	maxBody     int
	// convHeader is in canonical form (http.CanonicalHeaderKey), "" for
	// none.
	convHeader string
	extractors []Extractor
	provider   string
	// callOpts are the options of every client call, made once rather
	// than per call: otelaudit.WithTracerProvider(tp),
	// otelaudit.WithContentOnSpan(onSpan) and, when an option named mp,
	// otelaudit.WithMeterProvider(mp) (the calls use the global meter
	// provider otherwise).
	callOpts []otelaudit.CallOption
	onSpan   bool
	// mp records the streaming metrics.
	mp metric.MeterProvider
	// srv holds the server streaming metrics ([Handler] only).
	srv *genaimetrics.Streams
	// toolDefs records gen_ai.tool.definitions (WithToolDefinitions).
	toolDefs bool
	// models keeps the model names of recent calls, so that a name that
	// repeats is not copied out of each body; names keeps the span names
	// of recent calls ("{operation} {model}", see spanName).
	models, names interner
	// drainBudget is errorDrainBudget, longer only in tests that check
	// the code of an error body the server sent whole (see
	// export_test.go): on a loaded test machine the drain's read may not
	// run within 20 ms.
	drainBudget time.Duration
}

func newConfig(opts []Option) *config {
	c := &config{maxBody: DefaultMaxBodySize, convHeader: DefaultConversationHeader, drainBudget: errorDrainBudget}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.convHeader != "" {
		c.convHeader = http.CanonicalHeaderKey(c.convHeader)
	}
	c.tracer = c.tp.Tracer(ScopeName, tracerOptions...)
	c.callOpts = []otelaudit.CallOption{otelaudit.WithTracerProvider(c.tp), otelaudit.WithContentOnSpan(c.onSpan)}
	if c.mp != nil {
		c.callOpts = append(c.callOpts, otelaudit.WithMeterProvider(c.mp))
	}
	if c.propagators == nil {
		c.propagators = otel.GetTextMapPropagator()
	}
	return c
}

// WithContentOnSpan puts the captured content (request and reply messages,
// system instructions) and the audit.metadata.* attributes on the spans as
// well, as the semconv opt-in attributes, for users who want them in their
// trace backend; the audit processor still receives them beside the span
// and reads that copy, whatever the span limits cut off the span's. By
// default (false) they reach only the audit processor of the provider,
// beside the span, so no other exporter sees them; with true, wrap other
// exporters with exporter.Redact (exporter.ProviderOptions does).
func WithContentOnSpan(on bool) Option {
	return optionFunc(func(c *config) { c.onSpan = on })
}

// WithToolDefinitions records the tool definitions a request offers the
// model (the "tools" of OpenAI, Anthropic and Gemini bodies, Bedrock
// Converse's toolConfig.tools) as gen_ai.tool.definitions, in the semconv
// v1.41.0 shape: functions with name, description and parameters schema,
// a provider's built-in tools with their type, name and settings. They are
// audited like content: they reach the audit processor beside the span
// (on the span too only with [WithContentOnSpan]), and the entry's input
// ends with them. Off by default (the spec makes the attribute opt-in);
// the request body is then not read for them at all.
func WithToolDefinitions(on bool) Option {
	return optionFunc(func(c *config) { c.toolDefs = on })
}

// WithTracerProvider makes the wrapper create its spans with tp instead of
// the global provider (otel.GetTracerProvider() at construction). nil is
// ignored.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) {
		if tp != nil {
			c.tp = tp
		}
	})
}

// WithMeterProvider makes the wrapper record the GenAI streaming metrics
// with mp instead of the global MeterProvider: for [Transport],
// gen_ai.client.operation.time_to_first_chunk and
// gen_ai.client.operation.time_per_output_chunk of streamed replies; for
// [Handler], gen_ai.server.time_to_first_token and
// gen_ai.server.time_per_output_token of streamed replies. (Durations and
// token usage are recorded by the audit exporter from the spans.) nil is
// ignored.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if mp != nil {
			c.mp = mp
		}
	})
}

// WithPropagators sets the propagators [Handler] extracts the incoming trace
// context with; the default is the global one. nil is ignored.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c *config) {
		if p != nil {
			c.propagators = p
		}
	})
}

// WithFilter adds a filter; a request is audited only if every filter
// accepts it. nil is ignored. See [LLMOnly].
func WithFilter(f Filter) Option {
	return optionFunc(func(c *config) {
		if f != nil {
			c.filters = append(c.filters, f)
		}
	})
}

// WithMaxBodySize sets the cap, in bytes, on what is captured of each body
// (and of a stream's reassembled output) for the audit; default
// [DefaultMaxBodySize]. Beyond the cap the entry records truncation in its
// metadata (request_truncated / response_truncated) and the content it
// holds is the part within the cap; the caller's request and response are
// never cut. n <= 0 is ignored.
func WithMaxBodySize(n int) Option {
	return optionFunc(func(c *config) {
		if n > 0 {
			c.maxBody = n
		}
	})
}

// WithConversationHeader sets the request header that carries the
// conversation id (gen_ai.conversation.id); default
// [DefaultConversationHeader]. When the header is absent, the body's
// conversation id is used (OpenAI "conversation", "conversation_id" or
// metadata.conversation_id). "" disables the header lookup.
func WithConversationHeader(name string) Option {
	return optionFunc(func(c *config) { c.convHeader = name })
}

// WithExtractor adds an [Extractor] for custom JSON shapes; extractors are
// asked in the order added, before the built-in parsers. nil is ignored.
func WithExtractor(e Extractor) Option {
	return optionFunc(func(c *config) {
		if e != nil {
			c.extractors = append(c.extractors, e)
		}
	})
}

// WithProviderName sets gen_ai.provider.name for every call, overriding the
// detection from host and path (useful for an OpenAI-compatible server such
// as vLLM behind a private host name). "" is ignored.
func WithProviderName(name string) Option {
	return optionFunc(func(c *config) {
		if name != "" {
			c.provider = name
		}
	})
}

func (c *config) accept(r *http.Request) bool {
	for _, f := range c.filters {
		if !f(r) {
			return false
		}
	}
	return true
}

type convKey struct{}

// ContextWithConversationID returns a context carrying a conversation id.
// [Transport] records it (gen_ai.conversation.id) for calls made with the
// context when neither the request header nor the body names one; [Handler]
// puts the id of each request it serves in the context it gives next, so
// upstream calls join the conversation of the request that caused them. ""
// returns ctx unchanged.
func ContextWithConversationID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, convKey{}, id)
}

// ConversationIDFromContext returns the id set by
// [ContextWithConversationID], or "".
func ConversationIDFromContext(ctx context.Context) string {
	s, _ := ctx.Value(convKey{}).(string)
	return s
}
