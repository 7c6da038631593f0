package exporter

import (
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// AuditSameCallKey (string) marks two spans that describe one model call,
// as when an SDK-level GenAI instrumentation wraps the HTTP call that
// middleware.Transport records, or otelaudit.StartCall wraps a call an
// instrumentation records too. Each of the two gets the span id (W3C hex)
// of the other. The audit processor stores one entry for the pair, from
// the richer span (see [NewProcessor]); the other span is not audited.
const AuditSameCallKey = attribute.Key("audit.same_call")

// layered pairs a GenAI span with a GenAI parent span of the same
// operation, started through the same processor, so that the pair gives
// one entry. Both spans are recognised by name ("{operation} ..."), which
// costs no attribute copy at start.
type layered struct {
	n    atomic.Int64 // len(open), read without the lock
	mu   sync.Mutex
	open map[spanKey]*openSpan
}

type spanKey struct {
	t trace.TraceID
	s trace.SpanID
}

func keyOf(sc trace.SpanContext) spanKey { return spanKey{sc.TraceID(), sc.SpanID()} }

// openSpan is a GenAI span between start and end. other is the span it
// is paired with; ended holds it once it ended while other has not.
type openSpan struct {
	other *openSpan
	ended sdktrace.ReadOnlySpan
	done  bool // ended and resolved (or ended unpaired)
}

// start registers s when its name says it is a GenAI span (not of kind
// SERVER), and pairs it with its parent when that is an open GenAI span of
// the same operation, not of kind SERVER, that has no pair yet. Both spans are then marked with AuditSameCallKey.
func (l *layered) start(parent trace.Span, s sdktrace.ReadWriteSpan) {
	// A server span is the service's own API, a call of its own even when
	// its handler calls a model of the same operation.
	op := nameOperation(s.Name())
	if op == "" || s.SpanKind() == trace.SpanKindServer {
		return
	}
	var parentKey spanKey
	pro, ok := parent.(sdktrace.ReadOnlySpan)
	pairable := ok && parent.IsRecording() && pro.SpanKind() != trace.SpanKindServer && nameOperation(pro.Name()) == op
	if pairable {
		parentKey = keyOf(parent.SpanContext())
	}
	o := &openSpan{}
	l.mu.Lock()
	if l.open == nil {
		l.open = make(map[spanKey]*openSpan)
	}
	l.open[keyOf(s.SpanContext())] = o
	l.n.Store(int64(len(l.open)))
	var po *openSpan
	if pairable {
		if po = l.open[parentKey]; po != nil && po.other == nil && !po.done {
			po.other, o.other = o, po
		} else {
			po = nil
		}
	}
	l.mu.Unlock()
	if po != nil {
		s.SetAttributes(AuditSameCallKey.String(parent.SpanContext().SpanID().String()))
		parent.SetAttributes(AuditSameCallKey.String(s.SpanContext().SpanID().String()))
	}
}

// end is called for every ended span with its content attached. It
// returns the span to audit: s itself when it is not paired; nil while
// the other span of its pair is still open (s is held); the richer of
// the two once both ended. skipped reports that a span of a pair was not
// audited.
func (l *layered) end(s sdktrace.ReadOnlySpan) (audit sdktrace.ReadOnlySpan, skipped bool) {
	if l.n.Load() == 0 {
		return s, false
	}
	k := keyOf(s.SpanContext())
	l.mu.Lock()
	o := l.open[k]
	if o == nil {
		l.mu.Unlock()
		return s, false
	}
	delete(l.open, k)
	l.n.Store(int64(len(l.open)))
	o.done = true
	if o.other == nil {
		l.mu.Unlock()
		return s, false
	}
	other := o.other
	if !other.done {
		o.ended = s
		l.mu.Unlock()
		return nil, false
	}
	held := other.ended
	other.ended = nil
	l.mu.Unlock()
	if held == nil {
		return s, false
	}
	if richness(held) > richness(s) {
		return held, true
	}
	return s, true
}

// drain returns the spans held for a partner that has not ended, for
// Shutdown: they are audited alone.
func (l *layered) drain() []sdktrace.ReadOnlySpan {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []sdktrace.ReadOnlySpan
	for _, o := range l.open {
		if o.other != nil && o.other.ended != nil {
			out = append(out, o.other.ended)
			o.other.ended = nil
		}
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
		}
	}
	return score
}
