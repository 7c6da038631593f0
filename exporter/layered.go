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
// An attempt an SDK retried keeps the mark it got when it started, but
// its parent pairs again with the next attempt: it is audited alone.
const AuditSameCallKey = attribute.Key("audit.same_call")

// openSpans holds, from OnStart to OnEnd, the spans the processor must
// know about at their end: those whose instrumentation hands their content
// over beside the span (their internal/handoff slot), and the GenAI spans
// by name, which may be two instrumentations of one call ("layered": a
// GenAI span under a GenAI parent of the same operation, started through
// the same processor, gives one entry), and the spans directly under an
// open GenAI span, as bridges (see openSpan.via). Other spans are not
// stored: they cost a name check, and while a GenAI span is open a look at
// their parent. Spans are sharded by trace id, so that a child and
// its parent, which pair, share a shard and a lock; entries are values,
// so that registering a span allocates nothing once the shard's map has
// grown. The zero value is ready.
type openSpans struct {
	n        atomic.Int64 // spans held, read without a lock
	settling atomic.Int64 // entries of the shards' settling maps
	// draining is set by Shutdown before it drains the held spans: read
	// under a shard's lock, it stops end from holding a span where the
	// drain has passed already.
	draining atomic.Bool
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
	// pair with a parent or a child of the same kind of operation.
	genAI bool
	// op is the operation of its name (genAI spans).
	op string
	// given: otelaudit.StartCall's span, whose caller holds its entry id.
	given bool
	// span is the span itself (genAI spans), to mark when a child pairs
	// with it.
	span trace.Span
	// partner is the span id of the other span of its pair; zero when
	// unpaired.
	partner trace.SpanID
	// inner: the span is the inner one of its pair (the partner is its
	// parent, or its grandparent through a bridge).
	inner bool
	// held is the partner once it ended before this one (with its
	// content), waiting for this one to end.
	held sdktrace.ReadOnlySpan
	// bridges counts the bridges registered under it (see via).
	bridges int
	// aside: a GenAI span that was in a pair and stepped aside for a
	// third layer of the call (see start): not audited at its end,
	// counted as layered. via is the pair's outer span when it was the
	// inner one; zero when it was the outer one (an SDK's span around
	// StartCall's), which then pairs with nothing more.
	aside bool
	// via is set on a bridge: a span that is neither a GenAI span nor one
	// handing content over, started directly under an open GenAI span,
	// as otelhttp's HTTP span between an SDK's GenAI span and
	// middleware.Transport. A GenAI child of a bridge pairs with the
	// GenAI span the bridge is under.
	via trace.SpanID
}

// start registers s with slot (nil when its instrumentation hands no
// content over) when it has one or its name says it is a GenAI span (not
// of kind SERVER), and pairs it with the open GenAI span it is under (its
// parent, or its grandparent through a bridge, see openSpan.via) when both
// name the same kind of model call ([pairs]), neither is of kind SERVER,
// they are not both StartCall spans, and that span has no pair yet. Both
// spans of a pair are marked with AuditSameCallKey.
//
// A third layer of the call, a GenAI child of a pair's inner span, takes
// a place in the pair: the inner span's, which steps aside, or, when the
// inner span is a StartCall span (whose caller holds its id), the outer
// span's; but a StartCall span takes no place beside another.
//
// A span whose pair's other span already ended (held), or is ending on
// another goroutine, pairs again with a new GenAI child: the ended one was
// an attempt of the call that an SDK retried (or an earlier turn), a model
// call of its own, audited alone; start returns it when it was held.
func (o *openSpans) start(parent trace.Span, s sdktrace.ReadWriteSpan, slot *handoff.Slot) (alone sdktrace.ReadOnlySpan) {
	// A server span is the service's own API, a call of its own even when
	// its handler calls a model of the same operation.
	op := nameOperation(s.Name())
	genAI := op != "" && s.SpanKind() != trace.SpanKindServer
	if !genAI && slot == nil && o.n.Load() == 0 {
		return nil // no GenAI span is open: s bridges to none
	}
	sc := s.SpanContext()
	// under: the parent is a recording span of this trace, not a server
	// span, so it may be the other layer of this call or a bridge to it.
	pro, ok := parent.(sdktrace.ReadOnlySpan)
	under := ok && pro.SpanKind() != trace.SpanKindServer && parent.SpanContext().TraceID() == sc.TraceID() &&
		parent.IsRecording()
	k := keyOf(sc)
	pk := spanKey{k.t, parent.SpanContext().SpanID()}
	if !genAI && slot == nil {
		if under && s.SpanKind() != trace.SpanKindServer && pairFamily(nameOperation(pro.Name())) != "" {
			o.bridge(k, pk)
		}
		return nil
	}
	e := openSpan{slot: slot, genAI: genAI, given: slot != nil && !slot.Instrumented}
	if genAI {
		e.op, e.span = op, s
	}
	var mark trace.Span // the span s paired with
	sh := o.shard(k.t)
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = make(map[spanKey]openSpan)
	}
	if genAI && under {
		tk := pk
		te, ok := sh.m[tk]
		// Through a bridge, or a span that stepped aside (and a bridge
		// under it), to the GenAI span they stand for.
		for range 2 {
			if ok && te.via.IsValid() {
				tk = spanKey{k.t, te.via}
				te, ok = sh.m[tk]
			}
		}
		// Two StartCall spans are two calls their callers audit, each
		// under its own id.
		if ok && te.genAI && pairs(te.op, op) && !(te.given && e.given) {
			switch {
			case !te.partner.IsValid():
			case te.inner && te.given:
				// te is a StartCall span, the inner span of a pair with an
				// SDK's span around it, and s a third layer of the same
				// call (the Transport's). te does not step aside (see
				// below): its caller holds its id. Its outer span does:
				// not audited at its end, it pairs with nothing more (no
				// via). te pairs with s as the outer span. An outer span
				// that ended already (held) is audited alone, as the ended
				// span of a pair that pairs again (see start).
				gk := spanKey{k.t, te.partner}
				if ge, open := sh.m[gk]; open {
					sh.m[gk] = openSpan{slot: ge.slot, aside: true, bridges: ge.bridges}
				}
				alone, te.held, te.inner = te.held, nil, false
			case te.inner && e.given && sh.partnerGiven(tk, te):
				// te is the SDK's span between two StartCall spans: s
				// cannot take its place beside the outer one.
				ok = false
			case te.inner:
				// te is the inner span of a pair with its outer span, and
				// s a third layer of the same call (StartCall around an
				// SDK's span around the Transport's). te steps aside: s
				// takes its place in the pair (with the outer span, or
				// the outer span held when that ended first), and te,
				// not audited at its end, passes its later children on
				// to the outer span as a bridge would.
				ok = false
				gk := spanKey{k.t, te.partner}
				e.partner, e.inner, e.held = gk.s, true, te.held
				if ge, open := sh.m[gk]; open {
					ge.partner = k.s
					sh.m[gk] = ge
					mark = ge.span
				}
				sh.m[tk] = openSpan{slot: te.slot, via: gk.s, aside: true, bridges: te.bridges}
			case te.held != nil:
				alone, te.held = te.held, nil
			default:
				// Its pair is open: a call beside this one, unless that
				// call is over and its span ending on another goroutine
				// (handoff.Slot.EndLater): then it is audited alone at
				// its end.
				ek := spanKey{k.t, te.partner}
				if pe, open := sh.m[ek]; open && pe.slot.Ending() != nil {
					pe.partner, pe.inner = trace.SpanID{}, false
					sh.m[ek] = pe
				} else {
					ok = false
				}
			}
			if ok {
				te.partner, e.partner, e.inner = k.s, tk.s, true
				sh.m[tk] = te
				mark = te.span
			}
		}
	}
	held := len(sh.m)
	sh.m[k] = e // one map operation; a span registered twice counts once
	if len(sh.m) > held {
		o.n.Add(1)
	}
	sh.mu.Unlock()
	if mark != nil {
		s.SetAttributes(AuditSameCallKey.String(e.partner.String()))
		mark.SetAttributes(AuditSameCallKey.String(sc.SpanID().String()))
	}
	return alone
}

// partnerGiven reports whether the other span of e's pair (e is the span
// k) is a StartCall span, open or held. The shard's lock is held.
func (sh *openShard) partnerGiven(k spanKey, e openSpan) bool {
	if pe, open := sh.m[spanKey{k.t, e.partner}]; open {
		return pe.given
	}
	return e.held != nil && givenEntryID(e.held.Attributes()) != ""
}

// bridge registers the span k as a bridge when its parent pk is an open
// GenAI span (see openSpan.via).
func (o *openSpans) bridge(k, pk spanKey) {
	sh := o.shard(k.t)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if pe, ok := sh.m[pk]; ok && (pe.genAI || pe.aside) {
		held := len(sh.m)
		sh.m[k] = openSpan{via: pk.s}
		if len(sh.m) > held {
			o.n.Add(1)
			pe.bridges++
			sh.m[pk] = pe
		}
	}
}

// dropBridges deletes the bridges under the GenAI span p, which ended:
// none can pair any more, and one whose span never ends (an
// instrumentation that leaks spans) would stay for good. The shard's lock
// is held.
func (o *openSpans) dropBridges(sh *openShard, p spanKey) {
	for k, e := range sh.m {
		if e.via == p.s && k.t == p.t && !e.aside {
			delete(sh.m, k)
			o.n.Add(-1)
		}
	}
}

// pairs reports whether spans of operations outer and inner, one under
// the other, may be one call seen by two instrumentations: model calls
// (chat, text_completion and generate_content are one kind: StartCall
// says chat where the Transport calling Gemini says generate_content) and
// embeddings. An agent invoking an agent, a tool running a tool, a
// workflow in a workflow are calls of their own.
func pairs(outer, inner string) bool {
	return pairFamily(outer) != "" && pairFamily(outer) == pairFamily(inner)
}

// pairFamily returns the kind of model call op names for pairing, "" for
// operations that do not pair.
func pairFamily(op string) string {
	switch op {
	case "chat", "text_completion", "generate_content":
		return "chat"
	case "embeddings":
		return op
	}
	return ""
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
	if e.bridges > 0 {
		o.dropBridges(sh, k)
	}
	if e.aside {
		sh.mu.Unlock()
		return nil, nil, true
	}
	if !e.partner.IsValid() {
		sh.mu.Unlock()
		return s, e.slot, false
	}
	pk := spanKey{k.t, e.partner}
	if pe, open := sh.m[pk]; open && !o.draining.Load() {
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
	outer, inner := cur, e.held
	if e.inner {
		outer, inner = e.held, cur
	}
	keep, other := cur, e.held
	if richness(e.held) > richness(cur) {
		keep, other = e.held, cur
	}
	return asPair(keep, other.Attributes(), pairEntryID(outer, inner)), nil, true
}

// pairEntryID is the id a pair's entry is stored under, whichever span
// it is made of: the audit.entry_id the caller was given
// (otelaudit.Call.EntryID) on the outer span, else on the inner one, else
// the id derived from the outer span ([EntryIDForSpan]).
func pairEntryID(outer, inner sdktrace.ReadOnlySpan) string {
	for _, s := range [2]sdktrace.ReadOnlySpan{outer, inner} {
		if id := givenEntryID(s.Attributes()); id != "" {
			return id
		}
	}
	return EntryIDForSpan(outer.SpanContext(), outer.StartTime())
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
// Shutdown, each as its pair's entry ([unendedPair]): under the pair's id,
// which for a caller's otelaudit.StartCall span that never ended is the
// id the caller holds (Call.EntryID), not the held span's own. The
// partner, should it end after all, is not audited (it counts as
// layered: its call's entry is written). From then on, a span whose
// partner is open is not held but returned by end, to be audited alone.
func (o *openSpans) drain() []sdktrace.ReadOnlySpan {
	o.draining.Store(true)
	var out []sdktrace.ReadOnlySpan
	for i := range o.shards {
		sh := &o.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			if e.held == nil {
				continue
			}
			s := e.held
			if open, ok := e.span.(sdktrace.ReadOnlySpan); ok {
				s = unendedPair(s, open, e.slot, e.inner)
				e.aside = true
			}
			out = append(out, s)
			e.held = nil
			sh.m[k] = e
		}
		sh.mu.Unlock()
	}
	return out
}

// unendedPair is the entry of a pair whose span held has ended and whose
// span open (with its content slot) had not at Shutdown; open is the
// inner span of the pair when inner is set. It is held, with its content,
// stored under the pair's id ([pairEntryID]: the audit.entry_id the
// caller was given, on either span), with what the caller told the audit
// on open so far (its attributes and the metadata handed over in its
// slot, read as they are now) and marked [MetadataUnendedAtShutdown].
// The content texts of open are not read: its caller may still be
// writing them, and held, which ended, has the call's content.
func unendedPair(held, open sdktrace.ReadOnlySpan, slot *handoff.Slot, inner bool) sdktrace.ReadOnlySpan {
	outer, in := open, held
	if inner {
		outer, in = held, open
	}
	_, handed := slot.Content()
	told := append(open.Attributes(), handed...)
	return asPair(held, told, pairEntryID(outer, in),
		otelaudit.AuditMetadataKey(MetadataUnendedAtShutdown).Bool(true))
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

// richness scores how much of the call a span records: content first (one
// content attribute outweighs all usage and response data together, so a
// span with the prompt is never given up for one without it), then usage
// and response data; a span that is not GenAI at its end scores below any
// that is. On a tie the later-ended span wins (the caller passes it
// second), which for a Transport span under an SDK span is the outer one
// only when it records strictly more.
func richness(s sdktrace.ReadOnlySpan) int {
	// contentScore is more than the other keys can add up to (10).
	const contentScore = 100
	if !auditable(s) {
		return -1
	}
	attrs := s.Attributes()
	score := 0
	for _, kv := range attrs {
		switch kv.Key {
		case semconv.GenAIInputMessagesKey, semconv.GenAIOutputMessagesKey:
			score += contentScore
		case semconv.GenAISystemInstructionsKey:
			score += contentScore / 2
		case semconv.GenAIUsageInputTokensKey, semconv.GenAIUsageOutputTokensKey,
			semconv.GenAIResponseIDKey, semconv.GenAIResponseModelKey:
			score += 2
		case otelaudit.AuditEntryIDKey, semconv.GenAIResponseFinishReasonsKey:
			score++
		default:
			if contentkeys.IsCallContent(string(kv.Key)) { // ADK's request, ...
				score += contentScore
			}
		}
	}
	return score
}
