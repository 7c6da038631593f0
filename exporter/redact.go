package exporter

import (
	"context"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// RedactExporter is the decorator [Redact] returns. It passes spans to Next
// without content and without the spans that were recorded only for the
// audit (not sampled).
//
// What is removed, before Next sees a span (the rule is
// [IsContentAttribute]):
//
//   - Attributes whose key [otelaudit.IsContentKey] reports, on the span,
//     its events, its links and its resource: gen_ai.input.messages,
//     gen_ai.output.messages, gen_ai.system_instructions, tool call
//     arguments and results, tool definitions,
//     gen_ai.evaluation.explanation (it may quote the content evaluated),
//     gen_ai.retrieval.*, the legacy gen_ai.prompt*/gen_ai.completion*
//     keys and audit.metadata.* (caller metadata may hold anything; it is
//     kept in the audit store).
//   - On events named gen_ai.* (the semconv content events, such as
//     gen_ai.client.inference.operation.details or the older
//     gen_ai.user.message), every attribute that is not a non-content
//     gen_ai.* key, since such events carry content under keys like
//     "content" or "message". A gen_ai.evaluation.result event thus keeps
//     the evaluation's name, score and label and loses its explanation.
//
// Content is removed, not replaced by its hash: a hash of a short prompt
// can be confirmed by hashing guesses, and the audit.entry_id attribute
// (kept) already leads to the protected entry. Span names, status
// descriptions and exception events are passed unchanged; instrumentations
// should not put content there (otelaudit's own spans do not).
//
// Spans whose SpanContext is not sampled are not passed on at all: with
// [Sampler] they exist only for the audit. Spans without content are
// passed as they are (no copy).
//
// ExportSpans, ForceFlush and Shutdown pass through to Next; with a nil
// Next they do nothing. RedactExporter is safe for concurrent use when
// Next is.
type RedactExporter struct {
	Next sdktrace.SpanExporter
}

var _ sdktrace.SpanExporter = (*RedactExporter)(nil)

// Redact wraps next, an ordinary trace exporter, so that it never sees
// content attributes or audit-only (unsampled) spans. See [RedactExporter]
// for exactly what is removed. A nil next gives an exporter that does
// nothing.
func Redact(next sdktrace.SpanExporter) sdktrace.SpanExporter {
	redactInUse.Store(true)
	return &RedactExporter{Next: next}
}

// redactInUse: the process has made a Redact exporter, so the audit
// processor does not warn that content on spans reaches other exporters.
var redactInUse atomic.Bool

// ExportSpans passes the sampled spans, redacted, to Next.
func (r *RedactExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if !redactInUse.Load() { // a RedactExporter made without Redact
		redactInUse.Store(true)
	}
	if r.Next == nil {
		return nil
	}
	out := make([]sdktrace.ReadOnlySpan, 0, len(spans))
	for _, s := range spans {
		if s == nil || !s.SpanContext().IsSampled() {
			continue
		}
		out = append(out, RedactSpan(s))
	}
	if len(out) == 0 {
		return nil
	}
	return r.Next.ExportSpans(ctx, out)
}

// ForceFlush passes through to Next.
func (r *RedactExporter) ForceFlush(ctx context.Context) error {
	if f, ok := r.Next.(interface{ ForceFlush(context.Context) error }); ok {
		return f.ForceFlush(ctx)
	}
	return nil
}

// Shutdown passes through to Next.
func (r *RedactExporter) Shutdown(ctx context.Context) error {
	if r.Next == nil {
		return nil
	}
	return r.Next.Shutdown(ctx)
}

// RedactSpan returns s without content (see [RedactExporter]); s itself
// when it holds none. The result is read-only and shares nothing mutable
// with s.
func RedactSpan(s sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan {
	attrs := s.Attributes()
	events := s.Events()
	links := s.Links()
	res := s.Resource()
	var resAttrs []attribute.KeyValue
	if res != nil {
		resAttrs = res.Attributes()
	}
	if !hasContent(attrs) && !eventsHaveContent(events) && !linksHaveContent(links) && !hasContent(resAttrs) {
		return s
	}
	rs := &redactedSpan{ReadOnlySpan: s, attrs: keep(attrs), links: links, events: events, res: res}
	if eventsHaveContent(events) {
		rs.events = make([]sdktrace.Event, len(events))
		for i, ev := range events {
			ev.Attributes = keepEvent(ev.Name, ev.Attributes)
			rs.events[i] = ev
		}
	}
	if linksHaveContent(links) {
		rs.links = make([]sdktrace.Link, len(links))
		for i, l := range links {
			l.Attributes = keep(l.Attributes)
			rs.links[i] = l
		}
	}
	if hasContent(resAttrs) {
		rs.res = resource.NewWithAttributes(res.SchemaURL(), keep(resAttrs)...)
	}
	return rs
}

// redactedSpan overrides the parts of a span that may hold content.
type redactedSpan struct {
	sdktrace.ReadOnlySpan
	attrs  []attribute.KeyValue
	events []sdktrace.Event
	links  []sdktrace.Link
	res    *resource.Resource
}

func (r *redactedSpan) Attributes() []attribute.KeyValue { return r.attrs }
func (r *redactedSpan) Events() []sdktrace.Event         { return r.events }
func (r *redactedSpan) Links() []sdktrace.Link           { return r.links }
func (r *redactedSpan) Resource() *resource.Resource     { return r.res }

// IsContentAttribute is the redaction rule, in one place: it reports
// whether the attribute key k is content that [Redact] removes before an
// ordinary exporter sees a span, and that the Collector processor
// otelauditredact removes from OTLP data. event is the name of the span
// event that carries the attribute, or "" for attributes of a span, link,
// resource or log record. The rule:
//
//   - Keys that [otelaudit.IsContentKey] reports are content wherever they
//     are.
//   - On an event named gen_ai.* every key that does not start with
//     "gen_ai." is content too (such events carry the prompt under keys
//     like "content" or "message"), except "event.name", which log
//     records use to name the event.
//
// It only compares strings and is safe for concurrent use.
func IsContentAttribute(event string, k attribute.Key) bool {
	if otelaudit.IsContentKey(k) {
		return true
	}
	return isGenAIEvent(event) && !strings.HasPrefix(string(k), "gen_ai.") && k != eventNameKey
}

// eventNameKey names the event of a log record that predates the
// EventName field.
const eventNameKey = attribute.Key("event.name")

func hasContent(attrs []attribute.KeyValue) bool { return contentKey(attrs) != "" }

func eventsHaveContent(events []sdktrace.Event) bool {
	_, k := eventContentKey(events)
	return k != ""
}

// contentKey is the key of the first content attribute of attrs (of a
// span, link or resource), "" when there is none.
func contentKey(attrs []attribute.KeyValue) attribute.Key {
	for _, kv := range attrs {
		if IsContentAttribute("", kv.Key) {
			return kv.Key
		}
	}
	return ""
}

// eventContentKey is the first content attribute of events and the name
// of its event; an empty key when there is none.
func eventContentKey(events []sdktrace.Event) (event string, key attribute.Key) {
	for _, ev := range events {
		for _, kv := range ev.Attributes {
			if IsContentAttribute(ev.Name, kv.Key) {
				return ev.Name, kv.Key
			}
		}
	}
	return "", ""
}

func linksHaveContent(links []sdktrace.Link) bool {
	for _, l := range links {
		if hasContent(l.Attributes) {
			return true
		}
	}
	return false
}

func keep(attrs []attribute.KeyValue) []attribute.KeyValue {
	return keepEvent("", attrs)
}

func keepEvent(name string, attrs []attribute.KeyValue) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(attrs))
	for _, kv := range attrs {
		if !IsContentAttribute(name, kv.Key) {
			out = append(out, kv)
		}
	}
	return out
}

func isGenAIEvent(name string) bool { return strings.HasPrefix(name, "gen_ai.") }
