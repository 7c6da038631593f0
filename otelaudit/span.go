package otelaudit

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/internal/callstart"
	"github.com/otelaudit/otelaudit-go/internal/handoff"
	"github.com/otelaudit/otelaudit-go/internal/jsontext"
	"github.com/otelaudit/otelaudit-go/storage"
)

// ScopeName is the instrumentation scope name of the spans [StartCall]
// creates.
const ScopeName = "github.com/otelaudit/otelaudit-go/otelaudit"

// Version is the version of this module that its tracers and meters report
// as their instrumentation scope version, next to the schema URL of the
// semantic conventions they follow ([TracerOptions]).
const Version = "0.2.0"

// TracerOptions returns the instrumentation scope options of every tracer
// of this module: [Version] and the semconv v1.41.0 schema URL (its meters
// report the same two). Each call returns a new slice.
func TracerOptions() []trace.TracerOption { return slices.Clone(tracerOptions) }

var tracerOptions = []trace.TracerOption{trace.WithInstrumentationVersion(Version), trace.WithSchemaURL(semconv.SchemaURL)}

// DefaultOperation is the gen_ai.operation.name used when [Request] gives
// none.
const DefaultOperation = "chat"

// Message is one message sent to or received from a model, as far as the
// audit trail needs it: a role and its text. It is recorded in the semconv
// message shape, {"role":..,"parts":[{"type":"text","content":..}]}.
type Message struct {
	// Role is "system", "user", "assistant" or "tool". Empty means "user"
	// for input messages and "assistant" for output messages.
	Role string
	// Content is the message text.
	Content string
	// FinishReason is why the model stopped ("stop", "length", ...); used
	// for output messages only, recorded as given; empty means not known
	// and is recorded as "unknown" in gen_ai.output.messages, whose schema
	// requires the field.
	FinishReason string
}

// Request describes a GenAI call when it starts. Zero fields are not
// recorded, except Operation (default [DefaultOperation]).
type Request struct {
	// Operation is gen_ai.operation.name: "chat", "text_completion",
	// "embeddings", ...
	Operation string
	// Provider is gen_ai.provider.name, e.g. "openai", "anthropic".
	Provider string
	// Model is gen_ai.request.model.
	Model string
	// ConversationID is gen_ai.conversation.id.
	ConversationID string
	// SystemInstructions is recorded as gen_ai.system_instructions, for
	// APIs that take them apart from the messages.
	SystemInstructions string
	// Input is recorded as gen_ai.input.messages.
	Input []Message
	// Metadata is recorded as audit.metadata.<key> attributes; see
	// [Call.SetMetadata] for how values are converted.
	Metadata map[string]any
	// Tools are the tool definitions offered to the model, recorded as
	// gen_ai.tool.definitions (opt-in in the conventions: give them only
	// when they belong in the audit record). Like the messages they are
	// content: they reach the audit processor beside the span, go on the
	// span only with [WithContentOnSpan], and are not recorded with
	// WithContent(false); the entry's input ends with their JSON.
	Tools []ToolDefinition
}

// Safety is the outcome of the caller's safety checks for one call. Note
// that the zero Safety says the checks failed; a call without SetSafety is
// recorded as passed.
type Safety struct {
	Passed             bool
	DetectorsTriggered []string
	// BlockReason says why the request was blocked; empty when it was not.
	BlockReason string
	Alerts      []string
}

// CallOption configures [StartCall].
type CallOption interface {
	applyCall(*callConfig)
}

type callOptionFunc func(*callConfig)

func (f callOptionFunc) applyCall(c *callConfig) { f(c) }

type callConfig struct {
	// tracer is the tracer of this package's scope from the provider of
	// WithTracerProvider, taken once by the option; nil without it (the
	// global provider's is taken per call).
	tracer    trace.Tracer
	mp        metric.MeterProvider
	noContent bool
	onSpan    bool
	start     time.Time
	attrs     []attribute.KeyValue
}

// WithTracerProvider makes [StartCall] create its span with tp instead of
// the global provider (otel.GetTracerProvider()). nil is ignored.
//
// The option takes tp's tracer once, when it is made, as otelhttp does:
// an option made once and given to every call (as the middleware's
// Transport does) spares each call the provider's tracer lookup (which
// builds the instrumentation scope and takes the provider's lock).
func WithTracerProvider(tp trace.TracerProvider) CallOption {
	if tp == nil {
		return callOptionFunc(func(*callConfig) {})
	}
	tr := tp.Tracer(ScopeName, tracerOptions...)
	return callOptionFunc(func(c *callConfig) {
		c.tracer = tr
	})
}

// WithContent sets whether the call's content (input and output messages,
// system instructions, metadata) is recorded at all. The default, true,
// hands it to the audit processor, which hashes or encrypts it. With false
// nothing is recorded and the audit entry holds the hashes of empty
// content.
func WithContent(record bool) CallOption {
	return callOptionFunc(func(c *callConfig) { c.noContent = !record })
}

// WithContentOnSpan puts the call's content on the span as the semconv
// attributes (gen_ai.input.messages, gen_ai.output.messages,
// gen_ai.system_instructions, audit.metadata.*), for users who want it in
// their trace backend. The audit processor still receives the content
// beside the span and reads that copy, so the entry holds the whole
// content even when the provider's span limits
// (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT) cut the span's. The default, false,
// keeps content off the span: it reaches the audit processor beside the
// span only, so no other exporter or processor ever sees it. With true,
// wrap every other exporter with exporter.Redact (as
// exporter.ProviderOptions does) unless it may hold prompts.
func WithContentOnSpan(on bool) CallOption {
	return callOptionFunc(func(c *callConfig) { c.onSpan = on })
}

// WithStartTime sets the span's start time instead of now. A zero t is
// ignored.
func WithStartTime(t time.Time) CallOption {
	return callOptionFunc(func(c *callConfig) {
		if !t.IsZero() {
			c.start = t
		}
	})
}

// WithAttributes adds attributes to the span at start, for example
// server.address. They are added after the GenAI ones, so they can
// override them.
func WithAttributes(kv ...attribute.KeyValue) CallOption {
	return callOptionFunc(func(c *callConfig) {
		if c.attrs == nil {
			// StartCall only reads c.attrs: the first list needs no copy.
			c.attrs = kv
			return
		}
		c.attrs = append(slices.Clip(c.attrs), kv...)
	})
}

// Call is one GenAI call in progress: a span of kind CLIENT named
// "{operation} {model}" that carries the GenAI semconv attributes and the
// audit attributes. Finish it with [Call.End].
//
// The methods of a Call are safe for concurrent use and do nothing on a nil
// Call or after End. Setters overwrite earlier values of the same
// attribute.
type Call struct {
	span      trace.Span
	entryID   string
	noContent bool
	// content routes content attributes: to the audit processor (default),
	// onto the span (WithContentOnSpan) or nowhere.
	content handoff.Sink
	streamFields
	// cfg is the options of the call: kept in the Call's own allocation,
	// so that it costs none of its own.
	cfg callConfig
	// attrBuf backs the start attributes (startAttrs) when they fit, as
	// they do for StartCall and the middleware's calls: one allocation per
	// call less.
	attrBuf [startAttrsInCall]attribute.KeyValue
	// startOpts backs the options of the span's start.
	startOpts [3]trace.SpanStartOption
}

// startAttrsInCall is how many start attributes a Call holds in its own
// allocation: the GenAI ones of a Request (up to 5) and the few a caller
// such as middleware.Transport adds (stream, server address and port,
// request parameters).
const startAttrsInCall = 12

// StartCall starts the span of a GenAI call and returns a context holding
// it. The span gets, at start, gen_ai.operation.name, gen_ai.provider.name,
// gen_ai.request.model, gen_ai.conversation.id and audit.entry_id: a fresh
// UUIDv7 that the audit exporter stores the entry under (see
// [Call.EntryID]). Because the GenAI attributes are there at start,
// exporter.Sampler can keep the span for the audit whatever the trace
// sampler decides.
//
// Content (input, output, system instructions, metadata) is not put on
// the span unless [WithContentOnSpan] says so: the audit processor of the
// span's provider (exporter.NewProcessor) registers the span when it
// starts and the content is handed to it beside the span, so other
// exporters never see it. When the provider has no audit processor the
// content is dropped, the call is not audited, and this is reported once
// through otel.Handle. Content is recorded as semconv JSON:
//
//	gen_ai.input.messages      [{"role":"user","parts":[{"type":"text","content":"..."}]}]
//	gen_ai.output.messages     [{"role":"assistant","parts":[{"type":"text","content":"..."}],"finish_reason":"stop"}]
//	gen_ai.system_instructions [{"type":"text","content":"..."}]
//
// Blocked requests are calls too: start the call, record the verdict with
// [Call.Block] and End it without output.
func StartCall(ctx context.Context, req Request, opts ...CallOption) (context.Context, *Call) {
	op := req.Operation
	if op == "" {
		op = DefaultOperation
	}
	name := op
	if req.Model != "" {
		name = op + " " + req.Model
	}
	return startSpan(ctx, new(Call), nil, req, op, name, clientKind, nil, opts)
}

// The middleware's way to start a call in its own memory; see
// internal/callstart for the contract.
func init() {
	callstart.Start = func(ctx context.Context, c *Call, sl *handoff.Slot, req Request, name string, start time.Time,
		extra []attribute.KeyValue, opts []CallOption) context.Context {
		op := req.Operation
		if op == "" {
			op = DefaultOperation
		}
		c.cfg.start = start
		ctx, _ = startSpan(ctx, c, sl, req, op, name, clientKind, extra, opts)
		return ctx
	}
}

// startSpan starts the span of a call of any operation (a model call, a
// tool execution, an agent invocation): the span named name of the given
// kind, with the GenAI attributes of req, then extra, then the options'
// attributes; req's content goes the way [StartCall] describes.
//
// c is the zero Call to start; sl, when not nil, is the zero content slot
// to hand the content over in (see handoff.BeginIn), else one is made.
func startSpan(ctx context.Context, c *Call, sl *handoff.Slot, req Request, op, name string, kind trace.SpanStartOption,
	extra []attribute.KeyValue, opts []CallOption) (context.Context, *Call) {
	cfg := &c.cfg
	for _, o := range opts {
		if o != nil {
			o.applyCall(cfg)
		}
	}
	tracer := cfg.tracer
	if tracer == nil {
		tracer = otel.GetTracerProvider().Tracer(ScopeName, tracerOptions...)
	}
	id := storage.NewEntryID()
	// At most 5 GenAI attributes, content and metadata when they go on the
	// span, extra and the options'.
	n := 5 + len(extra) + len(cfg.attrs)
	if cfg.onSpan {
		n += 2 + len(req.Metadata)
	}
	attrs := c.attrBuf[:0]
	if n > len(c.attrBuf) {
		attrs = make([]attribute.KeyValue, 0, n)
	}
	attrs = append(attrs,
		semconv.GenAIOperationNameKey.String(op),
		AuditEntryIDKey.String(id),
	)
	if req.Provider != "" {
		attrs = append(attrs, semconv.GenAIProviderNameKey.String(req.Provider))
	}
	if req.Model != "" {
		attrs = append(attrs, semconv.GenAIRequestModelKey.String(req.Model))
	}
	if req.ConversationID != "" {
		attrs = append(attrs, semconv.GenAIConversationIDKey.String(req.ConversationID))
	}
	onSpan := cfg.onSpan
	if onSpan {
		if !cfg.noContent {
			attrs = appendStartContent(attrs, req.SystemInstructions, req.Input)
		}
		for k, v := range req.Metadata {
			attrs = append(attrs, metadataAttr(k, v))
		}
	}
	attrs = append(attrs, extra...)
	attrs = append(attrs, cfg.attrs...)
	// The content hand-off is an allocation of its own, not a field of
	// the Call: an audit processor keeps it queued after the span ended
	// until its worker reads the content, and it must not keep the Call
	// (and the span it holds) alive meanwhile.
	slot := sl
	if slot == nil {
		ctx, slot = handoff.Begin(ctx)
	} else {
		ctx = handoff.BeginIn(ctx, slot)
	}
	// The options' slice lives in the Call (one per Call, never reused):
	// a slice made here for an interface method's variadic parameter
	// would be an allocation of its own.
	startOpts := append(c.startOpts[:0], kind, trace.WithAttributes(attrs...))
	if !cfg.start.IsZero() {
		startOpts = append(startOpts, trace.WithTimestamp(cfg.start))
	}
	ctx, span := tracer.Start(ctx, name, startOpts...)
	c.span, c.entryID, c.noContent, c.content = span, id, cfg.noContent, handoff.NewSink(span, slot, onSpan)
	if !cfg.noContent {
		c.content.MarkUnavailable()
	}
	c.mp, c.start, c.startAttrs = cfg.mp, cfg.start, attrs
	// Also with the opt-in, whose copy on the span the provider's span
	// limits may cut: the audit reads the slot's.
	// The span has its copy already (in attrs, as the semconv JSON).
	if audit := c.content.AuditOnly(); audit.Audited() {
		if !cfg.noContent {
			// The texts only: the audit hashes them as it would the
			// semconv JSON (see contentTexts), and no JSON is built.
			if req.SystemInstructions != "" {
				audit.SetText(semconv.GenAISystemInstructionsKey, req.SystemInstructions)
			}
			handTexts(audit, semconv.GenAIInputMessagesKey, req.Input)
		}
		if len(req.Metadata) > 0 {
			md := make([]attribute.KeyValue, 0, len(req.Metadata))
			for k, v := range req.Metadata {
				md = append(md, metadataAttr(k, v))
			}
			audit.Set(md...)
		}
	}
	c.toolDefinitions(req.Tools)
	return ctx, c
}

// appendStartContent appends the content attributes known at start.
func appendStartContent(attrs []attribute.KeyValue, system string, input []Message) []attribute.KeyValue {
	if system != "" {
		attrs = append(attrs, semconv.GenAISystemInstructionsKey.String(SystemInstructionsJSON(system)))
	}
	if len(input) > 0 {
		attrs = append(attrs, semconv.GenAIInputMessagesKey.String(MessagesJSON(input, "user")))
	}
	return attrs
}

// clientKind is the span kind option of every call, made once.
var clientKind = trace.WithSpanKind(trace.SpanKindClient)

// EntryID returns the id the audit entry of this call will be stored under
// (the span's audit.entry_id); "" for a nil Call.
func (c *Call) EntryID() string {
	if c == nil {
		return ""
	}
	return c.entryID
}

// Span returns the call's span; a no-op span for a nil Call.
func (c *Call) Span() trace.Span {
	if c == nil {
		return trace.SpanFromContext(context.Background())
	}
	return c.span
}

// SetInput records the input messages (gen_ai.input.messages), for callers
// that learn them after StartCall. Nothing is recorded with WithContent(false)
// or for no messages. Like all content it goes to the audit processor, or
// on the span with [WithContentOnSpan].
func (c *Call) SetInput(msgs ...Message) {
	if c == nil || c.noContent || len(msgs) == 0 || !c.content.Wants() {
		return
	}
	c.content.Set(semconv.GenAIInputMessagesKey.String(MessagesJSON(msgs, "user")))
}

// SetSystemInstructions records gen_ai.system_instructions. Nothing is
// recorded with WithContent(false) or for "".
func (c *Call) SetSystemInstructions(text string) {
	if c == nil || c.noContent || text == "" || !c.content.Wants() {
		return
	}
	c.content.Set(semconv.GenAISystemInstructionsKey.String(SystemInstructionsJSON(text)))
}

// ContentWanted reports whether content given to the call goes anywhere:
// an audit processor takes the span, or [WithContentOnSpan] puts it on
// the span. Instrumentations skip building content when it is false.
func (c *Call) ContentWanted() bool {
	return c != nil && !c.noContent && c.content.Wants()
}

// SetContentAttributes records content attributes of the call that have no
// setter of their own, such as gen_ai.tool.definitions or
// gen_ai.tool.call.arguments (keys otelaudit's [IsContentKey] reports;
// other keys belong on the span, via Span().SetAttributes). They take the
// same way as the call's messages: to the audit processor beside the
// span by default, on the span with [WithContentOnSpan], nowhere with
// WithContent(false).
func (c *Call) SetContentAttributes(kv ...attribute.KeyValue) {
	if c == nil || c.noContent {
		return
	}
	c.content.Set(kv...)
}

// SetContentText records the content attribute key
// (gen_ai.input.messages, gen_ai.output.messages or
// gen_ai.system_instructions) by its audit content text: the text the
// exporter hashes (and keeps, when the Logger keeps content) for the
// semconv JSON of those messages, that is text parts verbatim and other
// parts as their canonical JSON (no space, object keys sorted, strings
// unescaped where JSON allows), joined with "\n". It suits
// instrumentations that have the text at hand: the text reaches the audit
// processor beside the span as it is, with no JSON built or parsed. With
// [WithContentOnSpan] it goes on the span as a one-string slice (give the
// semconv JSON through [Call.SetContentAttributes] there instead, for
// trace backends that read it); with WithContent(false) nowhere.
func (c *Call) SetContentText(key attribute.Key, text string) {
	if c == nil || c.noContent {
		return
	}
	c.content.SetText(key, text)
}

// LazyText is a content text made when it is read (see
// [Call.SetLazyContentText]).
type LazyText interface {
	// Text returns the text, the same on every call. It may be called from
	// any goroutine once the span ended, any number of times, or never
	// (when the span is not audited).
	Text() string
}

// SetLazyContentText is [Call.SetContentText] with the text made when the
// audit processor reads it, on its worker after the span ended, instead of
// now: building the text (such as copying it out of a buffer the caller
// recycles once the text is made) then costs the caller's goroutine
// nothing. With [WithContentOnSpan] the text is made now and goes on the
// span; with WithContent(false), or when no audit processor takes the
// span, l is never read.
func (c *Call) SetLazyContentText(key attribute.Key, l LazyText) {
	if c == nil || c.noContent {
		return
	}
	c.content.SetLazy(key, l)
}

// SetOutput records the model's answer: gen_ai.output.messages (one message
// per choice) and gen_ai.response.finish_reasons (the non-empty
// FinishReasons, in order). With WithContent(false) only the finish reasons
// are recorded.
func (c *Call) SetOutput(msgs ...Message) {
	if c == nil || len(msgs) == 0 {
		return
	}
	var reasons []string
	for _, m := range msgs {
		if m.FinishReason != "" {
			reasons = append(reasons, m.FinishReason)
		}
	}
	if len(reasons) > 0 {
		c.span.SetAttributes(semconv.GenAIResponseFinishReasonsKey.StringSlice(reasons))
	}
	if c.noContent || !c.content.Wants() {
		return
	}
	if c.content.OnSpan() {
		c.content.Set(semconv.GenAIOutputMessagesKey.String(outputMessagesJSON(msgs)))
		return
	}
	handTexts(c.content, semconv.GenAIOutputMessagesKey, msgs)
}

// handTexts hands the texts of msgs to the audit processor through k as key: what
// the audit hashes of a message list is its texts joined by "\n" (the
// exporter's ContentText rule for text parts), so handing the texts
// instead of the semconv JSON saves building the JSON and parsing it back.
// Only the strings are kept, never msgs (the caller may reuse it); one
// message needs no allocation. Invalid UTF-8 is replaced when the entry is
// built (Logger.Entry), as MessagesJSON would replace it, so the hash is
// the same.
func handTexts(k handoff.Sink, key attribute.Key, msgs []Message) {
	switch len(msgs) {
	case 0:
	case 1:
		k.SetText(key, msgs[0].Content)
	default:
		texts := make([]string, len(msgs))
		for i := range msgs {
			texts[i] = msgs[i].Content
		}
		k.SetTexts(key, texts)
	}
}

// SetResponse records gen_ai.response.id and gen_ai.response.model; empty
// values are not recorded.
func (c *Call) SetResponse(id, model string) {
	if c == nil {
		return
	}
	if model != "" {
		c.streamMu.Lock()
		c.respModel = model
		c.streamMu.Unlock()
	}
	switch {
	case id != "" && model != "":
		c.span.SetAttributes(semconv.GenAIResponseIDKey.String(id), semconv.GenAIResponseModelKey.String(model))
	case id != "":
		c.span.SetAttributes(semconv.GenAIResponseIDKey.String(id))
	case model != "":
		c.span.SetAttributes(semconv.GenAIResponseModelKey.String(model))
	}
}

// SetUsage records gen_ai.usage.input_tokens and gen_ai.usage.output_tokens.
// A negative count means unknown and is not recorded (the entry keeps null,
// never 0).
func (c *Call) SetUsage(inputTokens, outputTokens int64) {
	if c == nil {
		return
	}
	switch {
	case inputTokens >= 0 && outputTokens >= 0:
		c.span.SetAttributes(semconv.GenAIUsageInputTokensKey.Int64(inputTokens), semconv.GenAIUsageOutputTokensKey.Int64(outputTokens))
	case inputTokens >= 0:
		c.span.SetAttributes(semconv.GenAIUsageInputTokensKey.Int64(inputTokens))
	case outputTokens >= 0:
		c.span.SetAttributes(semconv.GenAIUsageOutputTokensKey.Int64(outputTokens))
	}
}

// SetError marks the call failed: error.type is set from err (semconv
// ErrorType: err's ErrorType() method or its Go type name) and the span
// status to Error with the error type as description. err's message is not
// recorded, since provider errors may quote the prompt. nil is ignored.
func (c *Call) SetError(err error) {
	if c == nil || err == nil {
		return
	}
	et := semconv.ErrorType(err)
	c.span.SetAttributes(et)
	c.span.SetStatus(codes.Error, et.Value.AsString())
}

// SetErrorType marks the call failed with an explicit error.type, such as an
// HTTP status code ("429") or "timeout". "" is ignored.
func (c *Call) SetErrorType(errorType string) {
	if c == nil || errorType == "" {
		return
	}
	c.span.SetAttributes(semconv.ErrorTypeKey.String(errorType))
	c.span.SetStatus(codes.Error, errorType)
}

// SetSafety records the outcome of the safety checks: audit.safety_passed
// and, when non-empty, audit.detectors_triggered, audit.block_reason and
// audit.alerts.
func (c *Call) SetSafety(s Safety) {
	if c == nil {
		return
	}
	attrs := []attribute.KeyValue{AuditSafetyPassedKey.Bool(s.Passed)}
	if len(s.DetectorsTriggered) > 0 {
		attrs = append(attrs, AuditDetectorsTriggeredKey.StringSlice(s.DetectorsTriggered))
	}
	if s.BlockReason != "" {
		attrs = append(attrs, AuditBlockReasonKey.String(s.BlockReason))
	}
	if len(s.Alerts) > 0 {
		attrs = append(attrs, AuditAlertsKey.StringSlice(s.Alerts))
	}
	c.span.SetAttributes(attrs...)
}

// Block records that the request failed the safety checks and was not sent
// to the model: audit.safety_passed=false, audit.block_reason=reason and the
// detectors that fired. End the call afterwards as usual.
func (c *Call) Block(reason string, detectors ...string) {
	c.SetSafety(Safety{Passed: false, BlockReason: reason, DetectorsTriggered: detectors})
}

// SetMetadata records value as audit.metadata.<key>; the audit entry gets
// it as metadata[key]. Strings, bools, integers, finite floats and slices of
// those keep their type; anything else (maps, structs, NaN) is recorded as
// its JSON text (or fmt %v when it has none). Metadata may hold anything,
// so it is handled like content: it goes to the audit processor, or on the
// span with [WithContentOnSpan] (where exporter.Redact removes it). Unlike
// content it is recorded with WithContent(false) too.
func (c *Call) SetMetadata(key string, value any) {
	if c == nil || key == "" {
		return
	}
	c.content.Set(metadataAttr(key, value))
}

// End ends the call's span, with the given options (for example
// trace.WithTimestamp). Later calls do nothing.
func (c *Call) End(opts ...trace.SpanEndOption) {
	if c == nil {
		return
	}
	c.span.End(opts...)
}

func metadataAttr(key string, v any) attribute.KeyValue {
	k := AuditMetadataKey(key)
	switch x := v.(type) {
	case string:
		return k.String(x)
	case bool:
		return k.Bool(x)
	case int:
		return k.Int(x)
	case int32:
		return k.Int64(int64(x))
	case int64:
		return k.Int64(x)
	case uint32:
		return k.Int64(int64(x))
	case float32:
		if !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0) {
			return k.Float64(float64(x))
		}
	case float64:
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			return k.Float64(x)
		}
	case []string:
		return k.StringSlice(x)
	case []bool:
		return k.BoolSlice(x)
	case []int:
		return k.IntSlice(x)
	case []int64:
		return k.Int64Slice(x)
	case []float64:
		ok := true
		for _, f := range x {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				ok = false
			}
		}
		if ok {
			return k.Float64Slice(x)
		}
	}
	if b, err := json.Marshal(v); err == nil {
		return k.String(string(b))
	}
	return k.String(fmt.Sprint(v))
}

// MessagesJSON returns msgs in the semconv message JSON shape recorded in
// gen_ai.input.messages and gen_ai.output.messages:
//
//	[{"role":"user","parts":[{"type":"text","content":"hi"}]}]
//
// with "finish_reason" added to messages that have one. Messages with an
// empty Role get defaultRole. Invalid UTF-8 is replaced by U+FFFD.
func MessagesJSON(msgs []Message, defaultRole string) string {
	return messagesJSON(msgs, defaultRole, "")
}

// outputMessagesJSON is [MessagesJSON] for gen_ai.output.messages, whose
// schema requires a finish_reason on every message: a message without
// one gets "unknown".
func outputMessagesJSON(msgs []Message) string {
	return messagesJSON(msgs, "assistant", "unknown")
}

func messagesJSON(msgs []Message, defaultRole, fallback string) string {
	n := 2
	for _, m := range msgs {
		n += len(m.Content) + len(m.Role) + len(m.FinishReason) + 64
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, m := range msgs {
		if i > 0 {
			b = append(b, ',')
		}
		role := m.Role
		if role == "" {
			role = defaultRole
		}
		b = append(b, `{"role":`...)
		b = jsontext.AppendString(b, role)
		b = append(b, `,"parts":[{"type":"text","content":`...)
		b = jsontext.AppendString(b, m.Content)
		b = append(b, "}]"...)
		if r := cmp.Or(m.FinishReason, fallback); r != "" {
			b = append(b, `,"finish_reason":`...)
			b = jsontext.AppendString(b, r)
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	return bytesToString(b)
}

// bytesToString returns b's bytes as a string without copying them. b must
// be a buffer the caller built and drops: nothing may write to it after.
func bytesToString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// SystemInstructionsJSON returns text in the semconv shape recorded in
// gen_ai.system_instructions: [{"type":"text","content":"..."}].
func SystemInstructionsJSON(text string) string {
	b := make([]byte, 0, len(text)+40)
	b = append(b, `[{"type":"text","content":`...)
	b = jsontext.AppendString(b, text)
	b = append(b, "}]"...)
	return bytesToString(b)
}
