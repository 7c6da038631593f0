// Package logaudit feeds the GenAI log events of the Go SDK's log pipeline
// (go.opentelemetry.io/otel/sdk/log) to the audit, for Go instrumentations
// that put the prompt and answer in events instead of on the span: the
// message events (gen_ai.system.message, gen_ai.user.message,
// gen_ai.assistant.message, gen_ai.tool.message, gen_ai.choice, content in
// the body) and gen_ai.client.inference.operation.details (content in
// gen_ai.input.messages and gen_ai.output.messages attributes).
//
// An [Auditor] is both the log processor and the span processor: events and
// spans meet in the join the otelaudit Collector exporter uses (by trace
// and span id, within a wait window and a memory cap), and each call is
// written as one entry through the [exporter.Exporter]'s conversion, so a
// call gives the same entry whether its content came on the span or as
// events. Spans with content on them and no events held are written at
// once (by the join's goroutine).
//
// Register it as a span processor, with the sampler wrapped by
// [exporter.Sampler]:
//
//	a, _ := logaudit.New(exp)
//	tp := sdktrace.NewTracerProvider(
//		sdktrace.WithSpanProcessor(a),
//		sdktrace.WithSampler(exporter.Sampler(yourSampler)))
//	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(a))
//	// Shut tp down first: its last spans meet the events a already holds.
//	defer lp.Shutdown(ctx)
//	defer tp.Shutdown(ctx)
//
// Not sdktrace.WithBatcher(a): the Auditor is also a SpanExporter, for
// compatibility, but behind the SDK's BatchSpanProcessor it loses calls.
// ExportSpans waits for the join (up to the wait window for a span without
// content), so the batcher's queue (2048 spans) fills during a burst and
// the batcher drops spans without a trace in any counter; and the batcher
// exports sampled spans only, so a GenAI span that [exporter.Sampler]
// keeps as RecordOnly under an unsampled parent is never audited. As a
// processor, the Auditor sees every recorded span and its OnEnd never
// waits for the window or the backend.
//
// [exporter.Sampler] is required, as for the rest of the SDK: a span the
// sampler drops is not recorded and reaches no processor, so without the
// wrapper a call under an unsampled parent (or a sampling ratio) is not
// audited.
package logaudit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/genaijoin"
	"github.com/otelaudit/otelaudit-go/internal/joinclaim"
	"github.com/otelaudit/otelaudit-go/internal/reportlimit"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// DefaultJoinWait is how long a span without content waits for its
// events, and events for their span: 10s (the Collector exporter's
// join_wait default).
const DefaultJoinWait = genaijoin.DefaultWait

// DefaultJoinMaxBytes caps the memory the join holds: 64 MiB.
const DefaultJoinMaxBytes = genaijoin.DefaultMaxBytes

// DefaultWriteTimeout bounds one write of joined calls to the exporter's
// backend: 30s.
const DefaultWriteTimeout = 30 * time.Second

// ErrShutdown is matched (errors.Is) by the error ExportSpans returns after
// Shutdown, and by the error OnEmit returns for the first GenAI content
// event emitted after it (see [Auditor.OnEmit]).
var ErrShutdown = errors.New("logaudit: shut down")

// Option configures an [Auditor].
type Option interface{ apply(*config) }

type config struct {
	wait     time.Duration
	maxBytes int
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithJoinWait sets how long a span without content waits for its events
// and events for their span ([DefaultJoinWait] when not given or not
// positive). A call is written as soon as its span and its answer event
// (gen_ai.choice or the details event) are both there. Events emitted in
// their span while it records (the usual in process) wait for its end
// however long the call lasts, within the memory cap; the window then
// runs from the span's end.
func WithJoinWait(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.wait = d
		}
	})
}

// WithJoinMaxBytes caps the memory the join holds ([DefaultJoinMaxBytes]
// when not given or not positive); over it, the oldest calls are written
// at once with the content they have.
func WithJoinMaxBytes(n int) Option {
	return optionFunc(func(c *config) {
		if n > 0 {
			c.maxBytes = n
		}
	})
}

// Auditor joins GenAI spans and GenAI log events and writes one entry per
// call through an [exporter.Exporter]. It implements
// sdktrace.SpanProcessor (the wiring to use, see the package doc),
// sdklog.Processor, and sdktrace.SpanExporter (kept for compatibility:
// behind a BatchSpanProcessor it loses calls). Its methods are safe for
// concurrent use.
type Auditor struct {
	exp  *exporter.Exporter
	join *genaijoin.Joiner

	stopped  atomic.Bool
	stopOnce sync.Once
	stopErr  error

	// writeReports keeps a backend outage, which fails every joined
	// write, to one report a minute.
	writeReports reportlimit.Limiter

	// dropReported is set by the first span dropped after Shutdown, so
	// that otel.Handle hears of it once, not once per span.
	dropReported atomic.Bool
	// droppedEvents counts the GenAI content events OnEmit refused after
	// Shutdown ([Stats].DroppedEvents); eventDropReported is set by the
	// first, the only one OnEmit returns an error for.
	droppedEvents     atomic.Int64
	eventDropReported atomic.Bool
}

var (
	_ sdktrace.SpanProcessor = (*Auditor)(nil)
	_ sdktrace.SpanExporter  = (*Auditor)(nil)
	_ sdklog.Processor       = (*Auditor)(nil)
)

// Stats are the counters of an [Auditor]'s join since New, in calls. The
// entries themselves are counted in the [exporter.Exporter]'s Stats.
type Stats struct {
	// Joined counts calls written with content from their events.
	Joined int64
	// SpansWithoutEvents counts spans without content whose events did not
	// come within the wait window; written with the content they had.
	SpansWithoutEvents int64
	// EventsWithoutSpan counts calls whose events came without their span
	// within the window; written from the events alone.
	EventsWithoutSpan int64
	// OverCap counts calls written before their window ended because the
	// join held more than its memory cap ([WithJoinMaxBytes]).
	OverCap int64
	// Dropped counts GenAI spans that ended after Shutdown: they have no
	// entry. It is 0 in normal operation.
	Dropped int64
	// DroppedEvents counts GenAI content events (with a trace and span
	// id) emitted after Shutdown: [Auditor.OnEmit] refused each (the
	// first with an error matching [ErrShutdown]), and their content is in
	// no entry.
	// Unlike the other fields it counts events, not calls (a call has
	// several). It is 0 in normal operation.
	DroppedEvents int64
	// EventsAfterSpan counts calls whose span was written at once with
	// its content and whose GenAI events came afterwards within the wait
	// window, with no content the span lacks: they are not written as a
	// second entry.
	EventsAfterSpan int64
}

// Stats returns the counters. Safe to call at any time, also after
// Shutdown.
func (a *Auditor) Stats() Stats {
	st := a.join.Stats()
	return Stats{Joined: st.Joined, SpansWithoutEvents: st.SpansWithoutEvents, EventsWithoutSpan: st.EventsWithoutSpan,
		OverCap: st.OverCap, Dropped: st.Dropped, EventsAfterSpan: st.EventsAfterSpan, DroppedEvents: a.droppedEvents.Load()}
}

// New returns an Auditor writing through e; a nil e is an error. The
// Auditor owns e from then on: its Shutdown shuts e down.
func New(e *exporter.Exporter, opts ...Option) (*Auditor, error) {
	if e == nil {
		return nil, errors.New("logaudit: New needs an *exporter.Exporter, got nil")
	}
	c := config{wait: DefaultJoinWait, maxBytes: DefaultJoinMaxBytes}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	a := &Auditor{exp: e}
	a.join = genaijoin.New(c.wait, c.maxBytes, DefaultWriteTimeout, func(ctx context.Context, vs []exporter.SpanView) error {
		err := e.ExportViews(ctx, vs, false)
		if err != nil {
			// Calls a span processor handed over have no caller to return
			// the error to: the join's goroutine writes them. The
			// exporter's error says how many entries, never their content.
			a.writeReports.Report(fmt.Errorf("logaudit: write of %d joined calls: %w", len(vs), err))
		}
		return err
	})
	return a, nil
}

// OnStart takes the GenAI spans of other instrumentations (by name or
// start attributes, as [exporter.LooksGenAI]) from an audit processor
// beside the Auditor in the same provider ([exporter.ProviderOptions]):
// the Auditor writes them, joined with their events, and the processor,
// which would write them again without that content, leaves them. It
// reads the span itself once it has ended.
func (a *Auditor) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	if a.stopped.Load() {
		return
	}
	switch s.InstrumentationScope().Name {
	case otelaudit.ScopeName, middlewareScope:
		return // handed over to the processor (see handedOver)
	}
	if exporter.LooksGenAI(s.Name(), nil) || exporter.IsGenAI(s.Attributes()) {
		joinclaim.Take(s.SpanContext())
	}
}

// OnEnd hands s to the join if it is a GenAI span ([exporter.IsGenAI] on
// its attributes); other spans cost that check. otelaudit's own spans
// (StartCall, the middleware) are left to the exporter.NewProcessor beside
// the Auditor, which receives their content (ProviderOptions adds it):
// only when no audit processor took their content does the Auditor write
// them, marked as without content. So are the spans that processor paired
// with one of them ([exporter.AuditSameCallKey]: an SDK's span around the
// Transport's), with their events: the processor writes the call's entry.
// A span taken in OnStart is given back on return. It never waits for the
// window or the backend: a span with content on it and no events held is
// written soon by the join's goroutine, the others once their events came
// or the window ended. Sampled or not, every recorded span is audited.
//
// Over the join's memory cap ([WithJoinMaxBytes]), the oldest calls are
// written before OnEnd returns, on its goroutine: when the backend is
// slower than calls end, the callers that end spans wait for it rather
// than the join growing without bound.
//
// After Shutdown the span has no entry: it is counted in
// [Stats].Dropped, and the first such span is reported to otel.Handle by
// its span id.
func (a *Auditor) OnEnd(s sdktrace.ReadOnlySpan) {
	if s == nil {
		return
	}
	// Given back once handed to the join: the processor beside the
	// Auditor, whose OnEnd ran first, left it, and the join keeps its
	// events for it until then.
	defer joinclaim.Release(s.SpanContext())
	attrs := s.Attributes()
	if !exporter.IsGenAI(attrs) || handedOver(s, attrs) {
		return
	}
	if paired(attrs) {
		a.join.Leave(s.SpanContext())
		return
	}
	// The join's own Close refuses the span, not a.stopped: a span that
	// comes while Shutdown runs is either in the join before Close writes
	// what it holds, or refused and counted, never held and forgotten.
	if a.join.Hold([]*genaijoin.View{viewOf(s, attrs)}) {
		return
	}
	if a.dropReported.CompareAndSwap(false, true) {
		otel.Handle(fmt.Errorf("logaudit: GenAI span %s ended after Shutdown; its audit entry is lost (reported once, counted in Auditor.Stats().Dropped): %w",
			s.SpanContext().SpanID(), ErrShutdown))
	}
}

// middlewareScope is middleware.ScopeName (the server spans of
// middleware.Handler), which this package may not import.
const middlewareScope = "github.com/otelaudit/otelaudit-go/middleware"

// handedOver reports whether s is a span of otelaudit's own
// instrumentations (otelaudit.StartCall, the middleware) whose content an
// audit processor took beside the span ([exporter.NewProcessor], which
// exporter.ProviderOptions adds): that processor writes its entry, under
// the same id, which the Auditor, receiving the span without its content,
// would write again as if the call had none. A span whose content nobody
// took (otelaudit.AuditContentUnavailableKey) is the Auditor's to write,
// marked as without content.
func handedOver(s sdktrace.ReadOnlySpan, attrs []attribute.KeyValue) bool {
	switch s.InstrumentationScope().Name {
	case otelaudit.ScopeName, middlewareScope:
	default:
		return false
	}
	for _, kv := range attrs {
		if kv.Key == otelaudit.AuditContentUnavailableKey {
			return false
		}
	}
	return true
}

// paired reports whether the audit processor beside the Auditor
// ([exporter.NewProcessor], which alone sets [exporter.AuditSameCallKey])
// paired the span with another layer of its call (an SDK's GenAI span
// around middleware.Transport's, or around otelaudit.StartCall's): that
// processor writes the call's entry, from the richer span (the
// Transport's has the request and reply as sent), so the Auditor leaves
// the span and its events, which would be a second entry of the call.
func paired(attrs []attribute.KeyValue) bool {
	for _, kv := range attrs {
		if kv.Key == exporter.AuditSameCallKey {
			return true
		}
	}
	return false
}

// viewOf is s as the join reads it; attrs are s's attributes.
func viewOf(s sdktrace.ReadOnlySpan, attrs []attribute.KeyValue) *genaijoin.View {
	return &genaijoin.View{SC: s.SpanContext(), Start: s.StartTime(), End: s.EndTime(),
		Attrs: append([]attribute.KeyValue(nil), attrs...), SpanEvents: s.Events()}
}

// ExportSpans writes the GenAI spans of spans (others are skipped): those
// with content on them at once, the others once their events came or the
// wait window ended. It returns when their entries are written, or with
// ctx's error (the join still writes them later).
//
// It is kept for the SpanExporter wiring of earlier releases, which loses
// calls (see the package doc): register the Auditor as a span processor
// instead.
func (a *Auditor) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if a.stopped.Load() {
		return ErrShutdown
	}
	var views []*genaijoin.View
	for _, s := range spans {
		attrs := s.Attributes()
		if !exporter.IsGenAI(attrs) {
			continue
		}
		views = append(views, viewOf(s, attrs))
	}
	if len(views) == 0 {
		return nil
	}
	direct, held := a.join.Split(views)
	var err error
	if len(direct) > 0 {
		err = a.exp.ExportViews(ctx, direct, false)
	}
	return errors.Join(err, genaijoin.Wait(ctx, a.join.AddSpans(held)))
}

// Enabled reports whether r may be a GenAI content event: its event name
// is one the join collects, or not known yet. It says so after Shutdown
// too: an instrumentation that asks before it emits then emits, and
// OnEmit refuses, reports and counts the event (see [Auditor.OnEmit]);
// false would lose its content without a trace.
func (a *Auditor) Enabled(_ context.Context, p sdklog.EnabledParameters) bool {
	return p.EventName == "" || genaijoin.IsContentEvent(p.EventName)
}

// OnEmit hands r to the join when it is a GenAI content event with a trace
// and span id (its event name, or its event.name attribute); other records
// are ignored. It does not block: the entry is written when the call's
// span comes (or the window ends).
//
// After Shutdown, other records are still ignored (nil), but a GenAI
// content event with a trace and span id is refused: no entry would hold
// its content. OnEmit counts it in [Stats].DroppedEvents; for the first
// such event of the Auditor it returns an error matching [ErrShutdown],
// which the log SDK hands to otel.Handle (the error names the event and
// its span id, never the content, and says where the count is), and nil
// for the later ones, which are only counted: a service stopping under
// load would otherwise report every event. The sdklog.Processor contract
// asks for nil after Shutdown, but a LoggerProvider calls OnEmit only
// before it shut the processor down itself: an Auditor shut down by its
// TracerProvider while the LoggerProvider still emits (shut the
// LoggerProvider down with it) is losing records, and that is reported,
// not hidden.
func (a *Auditor) OnEmit(ctx context.Context, r *sdklog.Record) error {
	name := r.EventName()
	if name == "" {
		r.WalkAttributes(func(kv attribute.KeyValue) bool {
			if kv.Key == "event.name" {
				name = kv.Value.AsString()
				return false
			}
			return true
		})
	}
	if !genaijoin.IsContentEvent(name) || !r.TraceID().IsValid() || !r.SpanID().IsValid() {
		return nil // other records cost a name check, nothing more
	}
	// Checked first to spare the copy below; the join's own Close
	// refuses the event otherwise, as for spans in OnEnd: an event that
	// comes while Shutdown runs is either in the join before Close
	// writes what it holds, or refused and counted.
	if a.stopped.Load() {
		return a.dropEvent(name, r.SpanID())
	}
	attrs := make(map[string]any, r.AttributesLen())
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		attrs[string(kv.Key)] = raw(kv.Value)
		return true
	})
	t := r.Timestamp()
	if t.IsZero() {
		t = r.ObservedTimestamp()
	}
	// The span the event was emitted in, while it records: its call may
	// outlast the join's window, so its events wait for its end.
	var open trace.Span
	if sp := trace.SpanFromContext(ctx); sp.IsRecording() && sp.SpanContext().SpanID() == r.SpanID() &&
		sp.SpanContext().TraceID() == r.TraceID() {
		open = sp
	}
	if a.join.HoldEvents([]genaijoin.Event{{Name: name, TraceID: r.TraceID(), SpanID: r.SpanID(), Time: t, Body: raw(r.Body()), Attrs: attrs,
		Open: open}}) > 0 {
		return a.dropEvent(name, r.SpanID())
	}
	return nil
}

// dropEvent counts a GenAI content event refused after Shutdown and
// returns OnEmit's error for it: an error for the first one, nil for the
// others.
func (a *Auditor) dropEvent(name string, span trace.SpanID) error {
	a.droppedEvents.Add(1)
	if !a.eventDropReported.CompareAndSwap(false, true) {
		return nil
	}
	return fmt.Errorf("logaudit: GenAI event %s of span %s emitted after Shutdown; its content is in no audit entry "+
		"(reported once: Auditor.Stats().DroppedEvents counts every event refused so): %w",
		name, span, ErrShutdown)
}

// ForceFlush writes every call the join holds now (with the content it
// has) and flushes the exporter's backend.
func (a *Auditor) ForceFlush(ctx context.Context) error {
	if a.stopped.Load() {
		return nil
	}
	return errors.Join(a.join.Flush(), a.exp.ForceFlush(ctx))
}

// Shutdown writes every call the join holds, then shuts the exporter down.
// It runs once (a TracerProvider and a LoggerProvider may both call it);
// later calls return the first result. Spans that end afterwards are
// dropped and counted (see [Auditor.OnEnd]); GenAI content events emitted
// afterwards are refused and counted, the first with an error (see
// [Auditor.OnEmit]).
func (a *Auditor) Shutdown(ctx context.Context) error {
	a.stopOnce.Do(func() {
		a.stopped.Store(true)
		a.join.Close()
		a.stopErr = a.exp.Shutdown(ctx)
	})
	return a.stopErr
}

// raw converts a log value to the decoded form the join reads.
func raw(v attribute.Value) any {
	switch v.Type() {
	case attribute.BOOL:
		return v.AsBool()
	case attribute.INT64:
		return v.AsInt64()
	case attribute.FLOAT64:
		return v.AsFloat64()
	case attribute.STRING:
		return v.AsString()
	case attribute.BYTESLICE:
		return string(v.AsByteSlice())
	case attribute.SLICE:
		vs := v.AsSlice()
		out := make([]any, len(vs))
		for i, e := range vs {
			out[i] = raw(e)
		}
		return out
	case attribute.MAP:
		kvs := v.AsMap()
		out := make(map[string]any, len(kvs))
		for _, kv := range kvs {
			out[string(kv.Key)] = raw(kv.Value)
		}
		return out
	case attribute.EMPTY:
		return nil
	}
	return v.AsInterface()
}
