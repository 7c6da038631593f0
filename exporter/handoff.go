package exporter

import (
	"slices"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/otelaudit/otelaudit-go/internal/handoff"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// contentSpan is an ended span with the content its instrumentation handed
// to the audit processor beside it (see internal/handoff): its attributes
// are the span's followed by the handed-over ones, read by the goroutine
// that converts the span (not the caller's).
type contentSpan struct {
	sdktrace.ReadOnlySpan
	slot *handoff.Slot
	// extra follows the span's attributes and its content: what the
	// other span of a pair adds, and the pair's entry id (see asPair).
	extra []attribute.KeyValue

	once sync.Once
	all  []attribute.KeyValue
}

// withContent returns s with the content of slot, or s when slot is nil.
func withContent(s sdktrace.ReadOnlySpan, slot *handoff.Slot) sdktrace.ReadOnlySpan {
	if slot == nil {
		return s
	}
	return new(contentSpan).wrap(s, slot)
}

// wrap makes c s with the content of slot and returns it, or returns s
// when slot is nil. It resets c, so that a caller that keeps nothing of
// the span it converts can reuse one c for every span.
func (c *contentSpan) wrap(s sdktrace.ReadOnlySpan, slot *handoff.Slot) sdktrace.ReadOnlySpan {
	if slot == nil {
		return s
	}
	*c = contentSpan{ReadOnlySpan: s, slot: slot}
	return c
}

// Attributes returns the span's attributes and then the handed-over
// content, so that the content wins for a key given in both places. The
// conversion does not use it (see spanContent): it builds the text parts
// into attributes and copies every attribute once more.
func (c *contentSpan) Attributes() []attribute.KeyValue {
	c.once.Do(func() {
		own, extra := c.ReadOnlySpan.Attributes(), c.handed()
		if len(extra) == 0 {
			c.all = own
			return
		}
		c.all = make([]attribute.KeyValue, 0, len(own)+len(extra))
		c.all = append(append(c.all, own...), extra...)
	})
	return c.all
}

// spanContent returns what s.Attributes() returns in three parts, in the
// order they count: the span's own attributes, the content handed over
// beside it as text parts, and as attributes. Readers that go through
// them in turn save building and copying the merged list.
func spanContent(s SpanView) (own []attribute.KeyValue, texts []handoff.Text, handed []attribute.KeyValue) {
	if c, ok := s.(*contentSpan); ok {
		if c.slot != nil {
			texts, handed = c.slot.Content()
		}
		if len(c.extra) > 0 {
			handed = append(handed[:len(handed):len(handed)], c.extra...)
		}
		return c.ReadOnlySpan.Attributes(), texts, handed
	}
	return s.Attributes(), nil, nil
}

// handed returns the attributes c adds to its span's: the content handed
// over (as attributes), then its extra ones.
func (c *contentSpan) handed() []attribute.KeyValue {
	var extra []attribute.KeyValue
	if c.slot != nil {
		extra = c.slot.Attributes()
	}
	if len(c.extra) > 0 {
		extra = append(extra[:len(extra):len(extra)], c.extra...)
	}
	return extra
}

// asPair returns keep, the span of a pair the processor stores (with its
// content, if any), as the pair's entry: stored under id, and holding
// what the caller told the audit in other, the attributes of the span
// given up, where keep says nothing of it (the audit.* attributes, as
// otelaudit.Call's metadata, safety result and alerts, and the
// conversation id), then the attributes mark. It is keep itself when that
// adds nothing.
func asPair(keep sdktrace.ReadOnlySpan, other []attribute.KeyValue, id string, mark ...attribute.KeyValue) sdktrace.ReadOnlySpan {
	own := keep.Attributes()
	var extra []attribute.KeyValue
	for _, kv := range other {
		if toldAudit(kv.Key) && !slices.ContainsFunc(own, func(o attribute.KeyValue) bool { return o.Key == kv.Key }) &&
			!slices.ContainsFunc(extra, func(o attribute.KeyValue) bool { return o.Key == kv.Key }) {
			extra = append(extra, kv)
		}
	}
	if givenEntryID(own) != id {
		extra = append(extra, otelaudit.AuditEntryIDKey.String(id))
	}
	extra = append(extra, mark...)
	if len(extra) == 0 {
		return keep
	}
	c := &contentSpan{ReadOnlySpan: keep, extra: extra}
	if cs, ok := keep.(*contentSpan); ok {
		c.ReadOnlySpan, c.slot = cs.ReadOnlySpan, cs.slot
		c.extra = append(cs.extra[:len(cs.extra):len(cs.extra)], extra...)
	}
	return c
}

// toldAudit reports whether k is an attribute by which a caller tells the
// audit about a call rather than the model's: audit.* (but the entry id
// and the pair's mark, which are the pair's own) and the conversation id.
func toldAudit(k attribute.Key) bool {
	switch k {
	case otelaudit.AuditEntryIDKey, AuditSameCallKey:
		return false
	case semconv.GenAIConversationIDKey:
		return true
	}
	return strings.HasPrefix(string(k), "audit.")
}
