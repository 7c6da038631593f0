package exporter

import (
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/internal/contentkeys"
	"github.com/otelaudit/otelaudit-go/internal/handoff"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// AuditSameCallKey (string) marks two spans that describe one model call,
// as when an SDK-level GenAI instrumentation wraps the HTTP call that
// middleware.Transport records, or otelaudit.StartCall wraps a call an
// instrumentation records too. Each of the two gets the span id (W3C hex)
// of the other. The audit processor stores one entry for the pair, from
// the richer span (see [NewProcessor]); the other span is not audited.
const AuditSameCallKey = attribute.Key("audit.same_call")

// openSpans holds, from OnStart to OnEnd, the spans the processor must
// know about at their end: those whose instrumentation hands their content
// over beside the span (their internal/handoff slot), and the GenAI spans
// by name, which may be two instrumentations of one call ("layered": a
// GenAI span under a GenAI parent of the same operation, started through
// the same processor, gives one entry). Other spans are not stored and
// cost one name check. Spans are sharded by trace id, so that a child and
// its parent, which pair, share a shard and a lock; entries are values,
// so that registering a span allocates nothing once the shard's map has
// grown. The zero value is ready.
type openSpans struct {
	n        atomic.Int64 // spans held, read without a lock
	settling atomic.Int64 // entries of the shards' settling maps
	shards   [16]openShard
}

type openShard struct {
	mu sync.Mutex
	m  map[spanKey]openSpan
	// settling holds, from end until their instrumentation settled them
	// (End returned: every processor has them), the spans ended on
	// another goroutine (handoff.Slot.EndLater): a flush in between must
	// still wait for them, though they are no longer open. Settled ones
	// are dropped by the next look.
	settling map[spanKey]<-chan struct{}
	_        [40]byte // keep shards on separate cache lines
}

type spanKey struct {
	t trace.TraceID
	s trace.SpanID
}

func keyOf(sc trace.SpanContext) spanKey { return spanKey{sc.TraceID(), sc.SpanID()} }

func (o *openSpans) shard(t trace.TraceID) *openShard { return &o.shards[t[15]&15] }

// openSpan is one span between start and end.
type openSpan struct {
	slot *handoff.Slot
	// genAI: named "{operation} ..." and not of kind SERVER, so it may
	// pair with a parent or a child of the same operation.
	genAI bool
	// partner is the span id of the other span of its pair; zero when
	// unpaired.
	partner trace.SpanID
	// held is the partner once it ended before this one (with its
	// content), waiting for this one to end.
	held sdktrace.ReadOnlySpan
}

// start registers s with slot (nil when its instrumentation hands no
// content over) when it has one or its name says it is a GenAI span (not
// of kind SERVER), and pairs it with parent when that is an open GenAI span
// of the same operation, not of kind SERVER, that has no pair yet. Both
// spans of a pair are marked with AuditSameCallKey.
func (o *openSpans) start(parent trace.Span, s sdktrace.ReadWriteSpan, slot *handoff.Slot) {
	// A server span is the service's own API, a call of its own even when
	// its handler calls a model of the same operation.
	op := nameOperation(s.Name())
	genAI := op != "" && s.SpanKind() != trace.SpanKindServer
	if !genAI && slot == nil {
		return
	}
	sc := s.SpanContext()
	pairable := false
	if genAI {
		pro, ok := parent.(sdktrace.ReadOnlySpan)
		pairable = ok && parent.IsRecording() && pro.SpanKind() != trace.SpanKindServer && nameOperation(pro.Name()) == op &&
			parent.SpanContext().TraceID() == sc.TraceID()
	}
	e := openSpan{slot: slot, genAI: genAI}
	k := keyOf(sc)
	sh := o.shard(k.t)
	paired := false
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = make(map[spanKey]openSpan)
	}
	if pairable {
		pk := spanKey{k.t, parent.SpanContext().SpanID()}
		if pe, ok := sh.m[pk]; ok && pe.genAI && !pe.partner.IsValid() {
			pe.partner, e.partner = k.s, pk.s
			sh.m[pk] = pe
			paired = true
		}
	}
	held := len(sh.m)
	sh.m[k] = e // one map operation; a span registered twice counts once
	if len(sh.m) > held {
		o.n.Add(1)
	}
	sh.mu.Unlock()
	if paired {
		s.SetAttributes(AuditSameCallKey.String(parent.SpanContext().SpanID().String()))
		parent.SetAttributes(AuditSameCallKey.String(sc.SpanID().String()))
	}
}

// end is called for every ended span. It returns the span to audit and
// the content slot to read with it: s and its slot when s is not paired;
// a nil span while the other span of its pair is still open (s is held,
// with its content); the richer of the two once both ended (its content
// attached, slot nil). skipped reports that a span of a pair was not
// audited.
func (o *openSpans) end(s sdktrace.ReadOnlySpan) (audit sdktrace.ReadOnlySpan, slot *handoff.Slot, skipped bool) {
	if o.n.Load() == 0 {
		return s, nil, false
	}
	k := keyOf(s.SpanContext())
	sh := o.shard(k.t)
	sh.mu.Lock()
	e, ok := sh.m[k]
	if !ok {
		sh.mu.Unlock()
		return s, nil, false
	}
	delete(sh.m, k)
	if ch := e.slot.Ending(); ch != nil {
		if sh.settling == nil {
			sh.settling = make(map[spanKey]<-chan struct{})
		}
		// The earlier ones have settled microseconds after their end:
		// dropping them here keeps the map to the few in flight.
		sh.dropSettled(&o.settling)
		sh.settling[k] = ch
		o.settling.Add(1) // before n drops: ending reads both without the lock
	}
	o.n.Add(-1)
	e.slot.Ended()
	if !e.partner.IsValid() {
		sh.mu.Unlock()
		return s, e.slot, false
	}
	pk := spanKey{k.t, e.partner}
	if pe, open := sh.m[pk]; open {
		pe.held = withContent(s, e.slot)
		sh.m[pk] = pe
		sh.mu.Unlock()
		return nil, nil, false
	}
	sh.mu.Unlock()
	if e.held == nil {
		// The partner was audited alone (Shutdown drained it).
		return s, e.slot, false
	}
	cur := withContent(s, e.slot)
	if richness(e.held) > richness(cur) {
		return e.held, nil, true
	}
	return cur, nil, true
}

// ending returns the channels of the open spans that their
// instrumentation is ending on another goroutine ([handoff.Slot.Ending]):
// each is closed when its span has ended.
func (o *openSpans) ending() []<-chan struct{} {
	if o.n.Load() == 0 && o.settling.Load() == 0 {
		return nil
	}
	var out []<-chan struct{}
	for i := range o.shards {
		sh := &o.shards[i]
		sh.mu.Lock()
		for _, e := range sh.m {
			if ch := e.slot.Ending(); ch != nil {
				out = append(out, ch)
			}
		}
		sh.dropSettled(&o.settling)
		for _, ch := range sh.settling {
			out = append(out, ch)
		}
		sh.mu.Unlock()
	}
	return out
}

// dropSettled deletes the settled spans (End has returned) from the
// shard's settling map, counted down in n. The shard's lock is held.
func (sh *openShard) dropSettled(n *atomic.Int64) {
	for k, ch := range sh.settling {
		select {
		case <-ch:
			delete(sh.settling, k)
			n.Add(-1)
		default:
		}
	}
}

// drain returns the spans held for a partner that has not ended, for
// Shutdown: they are audited alone.
func (o *openSpans) drain() []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for i := range o.shards {
		sh := &o.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			if e.held != nil {
				out = append(out, e.held)
				e.held = nil
				sh.m[k] = e
			}
		}
		sh.mu.Unlock()
	}
	return out
}

// nameOperation returns the GenAI operation a span name starts with, ""
// when it starts with none.
func nameOperation(name string) string {
	op, _, _ := strings.Cut(name, " ")
	if genAIOperations[op] {
		return op
	}
	if name == adkModelCall {
		// ADK calls Gemini's generateContent (a Transport under it names
		// its span so), or another model through its own adapter.
		return "generate_content"
	}
	return ""
}

// richness scores how much of the call a span records: content first,
// then usage and response data; a span that is not GenAI at its end scores
// below any that is. On a tie the later-ended span wins (the caller passes
// it second), which for a Transport span under an SDK span is the outer
// one only when it records strictly more.
func richness(s sdktrace.ReadOnlySpan) int {
	attrs := s.Attributes()
	if s.InstrumentationScope().Name != otelaudit.ScopeName && !IsGenAI(attrs) {
		return -1
	}
	score := 0
	for _, kv := range attrs {
		switch kv.Key {
		case semconv.GenAIInputMessagesKey, semconv.GenAIOutputMessagesKey:
			score += 8
		case semconv.GenAISystemInstructionsKey:
			score += 4
		case semconv.GenAIUsageInputTokensKey, semconv.GenAIUsageOutputTokensKey,
			semconv.GenAIResponseIDKey, semconv.GenAIResponseModelKey:
			score += 2
		case otelaudit.AuditEntryIDKey, semconv.GenAIResponseFinishReasonsKey:
			score++
		default:
			if contentkeys.IsCallContent(string(kv.Key)) { // ADK's request, ...
				score += 8
			}
		}
	}
	return score
}
