// Package handoff carries the content of a GenAI span (prompts, answers,
// system instructions, tool arguments, caller metadata: the attributes
// otelaudit.IsContentKey names) from the code that starts the span to the
// audit processor, beside the span instead of on it. Ordinary exporters,
// which see only the span, never get the content; a provider without an
// audit processor never receives it at all.
//
// The protocol, for an instrumentation (otelaudit.StartCall, the
// middleware, tool and agent spans):
//
//	ctx, slot := handoff.Begin(ctx)             // before Tracer.Start
//	ctx, span := tracer.Start(ctx, name, ...)   // audit processors Claim the slot in OnStart
//	sink := handoff.NewSink(span, slot, onSpan) // after Start, once
//	sink.Set(semconv.GenAIInputMessagesKey.String(json))
//
// and for an audit span processor:
//
//	OnStart: if sl := handoff.Claim(parent, s); sl != nil { keep sl for s until its end }
//	OnEnd:   take sl back, then read sl.Content() or sl.Attributes()
//
// A slot no processor claimed receives nothing (Sink.Set drops), and a
// claimed slot lives until its span ends, so nothing accumulates. The span
// of an unclaimed slot whose instrumentation has content is marked with
// [ContentUnavailableKey] (unless its content goes on the span), so that an
// audit exporter that receives the span some other way (behind the SDK's
// BatchSpanProcessor) knows that its content was never captured rather
// than empty.
//
// An instrumentation that ends its span on another goroutine, so that its
// caller does not wait for End, first asks [Slot.EndLater] (true only for
// a claimed slot) and calls [Slot.Settled] once End returned; the audit
// processors' flushes wait on [Slot.Ending] in between.
package handoff

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Slot holds the content of one span for the audit processors that claimed
// it. Its methods are safe for concurrent use.
//
// A Slot is also the context that carries it (see [Begin]): a child of
// the context it was begun with, which it asks for every other value, so
// that carrying it costs no allocation of its own.
type Slot struct {
	context.Context // the parent, set by Begin

	// Instrumented is set by an instrumentation that starts a span for a
	// call its caller did not start itself (middleware.Transport); the
	// slots of otelaudit.StartCall, whose caller holds the call's entry
	// id, leave it false. Set before the span starts, read only after.
	Instrumented bool

	mu     sync.Mutex
	owner  trace.Span // the span an audit processor claimed the slot for
	closed bool       // Attach ran: no later span may claim it
	// ending is made by EndLater and closed by Settled: the span is
	// ending on another goroutine, and flushes wait for it. endingShut:
	// Settled ran.
	ending     chan struct{}
	endingShut bool
	attrs      []attribute.KeyValue
	texts      []Text
	// textBuf backs texts for the usual input, output and system
	// instructions, so that they need no allocation of their own.
	textBuf [3]Text
}

// Text is content handed over as its text parts ([Sink.SetText],
// [Sink.SetTexts]): the value of Key is the list of parts, as a string
// slice attribute would hold it.
type Text struct {
	Key  attribute.Key
	one  string   // the usual single part, kept without a slice
	many []string // several parts (owned by the slot); nil for one
	lazy Lazy     // the one part, made when read ([Sink.SetLazy]); nil otherwise
}

// Lazy is content text made when the audit processor reads it rather than
// when it is handed over ([Sink.SetLazy]): the work moves from the
// instrumented caller's goroutine to the audit worker's.
type Lazy interface {
	// Text returns the text, the same on every call. It may be called
	// from any goroutine once the span ended, any number of times, or
	// never (when the span is not audited).
	Text() string
}

// AppendParts appends t's parts to dst.
func (t *Text) AppendParts(dst []string) []string {
	switch {
	case t.lazy != nil:
		return append(dst, t.lazy.Text())
	case t.many == nil:
		return append(dst, t.one)
	}
	return append(dst, t.many...)
}

// KeyValue is t as the string slice attribute it stands for.
func (t *Text) KeyValue() attribute.KeyValue {
	switch {
	case t.lazy != nil:
		return t.Key.StringSlice([]string{t.lazy.Text()})
	case t.many == nil:
		return t.Key.StringSlice([]string{t.one})
	}
	return t.Key.StringSlice(t.many)
}

// ContentUnavailableKey (bool) marks a span whose instrumentation hands its
// content (messages, system instructions, tool arguments, caller
// metadata) over beside the span and found no audit processor to take it:
// whatever content the call had is on neither the span nor any slot. It
// is set by [Sink.MarkUnavailable], only on that path, and holds no
// content itself.
// otelaudit re-exports it as otelaudit.AuditContentUnavailableKey; it is
// declared here because otelaudit imports this package.
const ContentUnavailableKey = attribute.Key("audit.content_unavailable")

type ctxKey struct{}

// Begin returns ctx carrying a new Slot, to start the span with. A nil
// ctx counts as context.Background(). The slot is an allocation of its
// own: an audit processor keeps it after the span ended, until its worker
// has read the content, and it holds nothing of the caller's but that
// content and ctx.
func Begin(ctx context.Context) (context.Context, *Slot) {
	sl := new(Slot)
	return sl.begin(ctx), sl
}

// BeginIn is [Begin] with a Slot the caller allocated: sl must be the zero
// Slot, and it must not be used for anything else afterwards. An audit
// processor that claims it keeps whatever holds it alive until its worker
// has read the content: only an instrumentation whose per-call state lives
// that long anyway (the middleware's exchange, which the content texts it
// hands over read from) holds the slot there instead of in an allocation
// of its own.
func BeginIn(ctx context.Context, sl *Slot) context.Context {
	return sl.begin(ctx)
}

// begin makes the zero sl a child of ctx and returns it.
func (sl *Slot) begin(ctx context.Context) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	sl.Context = ctx
	sl.texts = sl.textBuf[:0]
	return sl
}

// Value returns sl itself for the key [Claim] looks it up by, and the
// parent context's value for any other key.
func (sl *Slot) Value(key any) any {
	if key == (ctxKey{}) {
		return sl
	}
	return sl.Context.Value(key)
}

// Claim is called by an audit processor's OnStart with the parent context
// the SDK passes and the span being started. It returns the slot for s, or
// nil when parent carries none or its slot belongs to another span (a
// child started under a span whose context still carries its slot). Several
// processors may claim the same slot for the same span.
func Claim(parent context.Context, s trace.Span) *Slot {
	if parent == nil || s == nil {
		return nil
	}
	sl, _ := parent.Value(ctxKey{}).(*Slot)
	if sl == nil {
		return nil
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	switch {
	case sl.owner == nil && !sl.closed:
		sl.owner = s
		return sl
	case sl.owner == s:
		return sl
	}
	return nil
}

// Ended is called by an audit processor when it takes sl back at the end
// of the span it claimed sl for: sl forgets the span (no later span can
// claim it), so that while sl waits in the processor's queue it keeps its
// content and parent context alive, not the ended span and what that
// span holds. A nil sl does nothing.
func (sl *Slot) Ended() {
	if sl == nil {
		return
	}
	sl.mu.Lock()
	sl.owner, sl.closed = nil, true
	sl.mu.Unlock()
}

// Settled is called by the instrumentation that ended the span sl was
// claimed for, once End has returned (every processor has the span): a
// flush waiting on [Slot.Ending] goes on. After it, EndLater reports
// false. A nil sl does nothing.
func (sl *Slot) Settled() {
	if sl == nil {
		return
	}
	sl.mu.Lock()
	if sl.ending != nil && !sl.endingShut {
		close(sl.ending)
	}
	sl.endingShut = true
	sl.mu.Unlock()
}

// EndLater is called by an instrumentation that has everything its span
// records and is about to end it on another goroutine, so that its caller
// does not wait for the span's last attributes and End: it reports
// whether it may. It may only when an audit processor claimed sl, because
// that processor's ForceFlush and Shutdown then wait for the span to end
// ([Slot.Ending]); without one the span must end before the caller goes
// on, as every OpenTelemetry instrumentation's does. Once End has
// returned, the instrumentation calls [Slot.Settled], also when in the
// end it ended the span on the caller's goroutine after all.
func (sl *Slot) EndLater() bool {
	if sl == nil {
		return false
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.owner == nil || sl.endingShut {
		return false
	}
	if sl.ending == nil {
		sl.ending = make(chan struct{})
	}
	return true
}

// Ending returns a channel closed once the span sl was claimed for has
// ended ([Slot.Settled]), if its instrumentation ends it on another
// goroutine ([Slot.EndLater]); nil otherwise, and nil once settled. An
// audit processor's ForceFlush and Shutdown wait on it.
func (sl *Slot) Ending() <-chan struct{} {
	if sl == nil {
		return nil
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.endingShut {
		return nil
	}
	return sl.ending
}

// attach reports whether an audit processor claimed sl for span, and closes
// sl to later claims.
func (sl *Slot) attach(span trace.Span) bool {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	sl.closed = true
	return sl.owner != nil && sl.owner == span
}

func (sl *Slot) set(kv []attribute.KeyValue) {
	sl.mu.Lock()
	sl.attrs = append(sl.attrs, kv...)
	sl.mu.Unlock()
}

func (sl *Slot) setTexts(t Text) {
	sl.mu.Lock()
	sl.texts = append(sl.texts, t)
	sl.mu.Unlock()
}

// Attributes returns the content handed to sl as attributes: the text
// parts (as string slice attributes) first, since they describe the start
// of the call, then the attributes, each group in the order it was handed
// over. A key given twice appears twice; the later value is the one that
// counts, as with span attributes. The slice is built on each call and
// belongs to the caller.
func (sl *Slot) Attributes() []attribute.KeyValue {
	texts, attrs := sl.Content()
	if len(texts) == 0 {
		return attrs
	}
	out := make([]attribute.KeyValue, 0, len(texts)+len(attrs))
	for i := range texts {
		out = append(out, texts[i].KeyValue())
	}
	return append(out, attrs...)
}

// Content returns what [Slot.Attributes] returns without building the
// text attributes: the text parts, then the attributes. Readers must not
// modify either slice.
func (sl *Slot) Content() (texts []Text, attrs []attribute.KeyValue) {
	if sl == nil {
		return nil, nil
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return slices.Clip(sl.texts), slices.Clip(sl.attrs)
}

// Sink routes the content of one span: onto the span when the caller opted
// in, to the audit processors through the slot when one claimed it, and
// nowhere otherwise. The zero Sink drops everything. Safe for concurrent
// use.
type Sink struct {
	span   trace.Span
	slot   *Slot // nil when no audit processor claimed the slot
	onSpan bool
}

// NewSink is called once, right after the span started with Begin's ctx.
// onSpan puts content on the span itself (the user's opt-in for their
// trace backend). When no audit processor claimed the slot, the unsafe or
// lossy wiring is reported through otel.Handle, once per process for each
// kind (not recorded; content not handed over; content on the span with
// no audit processor); [Sink.MarkUnavailable] then marks the span, so
// that an audit exporter behind another span processor writes its entry
// marked as without content instead of with the hash of an empty prompt.
func NewSink(span trace.Span, sl *Slot, onSpan bool) Sink {
	k := Sink{span: span, onSpan: onSpan}
	if sl != nil && sl.attach(span) {
		k.slot = sl
	} else if span != nil {
		warnUnaudited(span, onSpan)
	}
	return k
}

// MarkUnavailable is called by an instrumentation that has content for
// k's span (its capture is on): when no audit processor claimed the slot
// and the content does not go on the span, a recording span gets
// [ContentUnavailableKey]. Otherwise it does nothing: a claimed slot
// costs nothing more, and a span whose instrumentation captures no
// content is not marked.
func (k Sink) MarkUnavailable() {
	if k.slot == nil && !k.onSpan && k.span != nil && k.span.IsRecording() {
		k.span.SetAttributes(contentUnavailable)
	}
}

// contentUnavailable is the mark NewSink sets, made once.
var contentUnavailable = ContentUnavailableKey.Bool(true)

// Audited reports whether an audit processor takes this span's content.
func (k Sink) Audited() bool { return k.slot != nil }

// Wants reports whether content handed to k goes anywhere; callers skip
// building it when not.
func (k Sink) Wants() bool { return k.onSpan || k.slot != nil }

// OnSpan reports whether content goes on the span (the opt-in).
func (k Sink) OnSpan() bool { return k.onSpan }

// AuditOnly returns k without the opt-in: content handed to it goes to
// the audit processors only. It is for content the caller put on the span
// already in the form a trace backend reads (the semconv JSON) and hands
// to the audit in the form the audit reads (its text parts).
func (k Sink) AuditOnly() Sink {
	k.onSpan = false
	return k
}

// Set hands content attributes over: to the audit processors when one
// claimed the slot, and on the span as well with the opt-in. The slot's
// copy is the one the audit reads (it wins over the span's at
// conversion), so the entry holds the whole content whatever the
// provider's span limits (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT) cut off the
// span's.
func (k Sink) Set(kv ...attribute.KeyValue) {
	if len(kv) == 0 {
		return
	}
	if k.slot != nil {
		k.slot.set(kv)
	}
	if k.onSpan {
		k.span.SetAttributes(kv...)
	}
}

// SetText hands over content made of one text part (a message's text, the
// system instructions): the audit processor reads it as key with a one
// string value slice, which the exporter's content rule takes verbatim.
// Nothing is copied or built on the caller's goroutine: strings are
// immutable. With the opt-in it goes on the span as that slice too (see
// [Sink.Set] for which copy the audit reads).
func (k Sink) SetText(key attribute.Key, text string) {
	if k.slot != nil {
		k.slot.setTexts(Text{Key: key, one: text})
	}
	if k.onSpan {
		k.span.SetAttributes(key.StringSlice([]string{text}))
	}
}

// SetTexts is [Sink.SetText] for several text parts, read as a string
// slice joined with "\n". The slot keeps parts: the caller must not
// modify it afterwards.
func (k Sink) SetTexts(key attribute.Key, parts []string) {
	switch {
	case len(parts) == 0:
		return
	case len(parts) == 1:
		k.SetText(key, parts[0])
		return
	}
	if k.slot != nil {
		k.slot.setTexts(Text{Key: key, many: parts})
	}
	if k.onSpan {
		k.span.SetAttributes(key.StringSlice(parts))
	}
}

// SetLazy is [Sink.SetText] for a text l makes when it is read: the audit
// processor's worker calls l.Text() after the span ended, so building the
// text (and copying it out of a buffer the caller recycles afterwards)
// costs the caller nothing. With the opt-in the text is made now and put
// on the span, and the slot gets that text rather than l (l may read a
// buffer the caller recycles once it made the text); with neither, l is
// dropped unread.
func (k Sink) SetLazy(key attribute.Key, l Lazy) {
	switch {
	case k.onSpan:
		text := l.Text()
		if k.slot != nil {
			k.slot.setTexts(Text{Key: key, one: text})
		}
		k.span.SetAttributes(key.StringSlice([]string{text}))
	case k.slot != nil:
		k.slot.setTexts(Text{Key: key, lazy: l})
	}
}

// The kinds of wiring warnUnaudited reports, each once per process. A span
// whose content goes on the span has a kind of its own: an earlier report
// of a harmless unaudited span must not silence the one that says content
// reaches every exporter.
var warnedNotRecording, warnedNoAudit, warnedNoAuditOnSpan atomic.Bool

// warnUnaudited reports once per kind a GenAI span no audit processor
// takes. The span name is "{operation} {model}", which holds no content.
func warnUnaudited(span trace.Span, onSpan bool) {
	switch {
	case !span.IsRecording():
		if warnedNotRecording.CompareAndSwap(false, true) {
			otel.Handle(fmt.Errorf("otelaudit: GenAI span not recorded, so not audited: the TracerProvider is a no-op " +
				"(no SDK provider set globally or given with WithTracerProvider) or its sampler dropped the span " +
				"(wrap the sampler with exporter.Sampler, or build the provider with exporter.ProviderOptions); reported once"))
		}
	case onSpan:
		if warnedNoAuditOnSpan.CompareAndSwap(false, true) {
			reportNoAudit("its content is on the span for every exporter, and an audit exporter behind another span " +
				"processor hashes it as the span limits (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT) leave it")
		}
	default:
		if warnedNoAudit.CompareAndSwap(false, true) {
			reportNoAudit("its content is captured nowhere: an audit exporter behind another span processor " +
				"(sdktrace.WithBatcher, WithSyncer) writes its entry without content, marked " +
				string(ContentUnavailableKey) + " (metadata content_unavailable), and a provider without the audit writes none")
		}
	}
}

func reportNoAudit(what string) {
	otel.Handle(fmt.Errorf("otelaudit: GenAI span started on a TracerProvider without the audit processor: %s; "+
		"give the exporter to exporter.NewProcessor, or build the provider with exporter.ProviderOptions or "+
		"exporter.NewTracerProvider, and pass it with WithTracerProvider (or set it globally); reported once", what))
}
