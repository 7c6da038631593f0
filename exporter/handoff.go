package exporter

import (
	"sync"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otelaudit/otelaudit-go/internal/handoff"
)

// contentSpan is an ended span with the content its instrumentation handed
// to the audit processor beside it (see internal/handoff): its attributes
// are the span's followed by the handed-over ones, read by the goroutine
// that converts the span (not the caller's).
type contentSpan struct {
	sdktrace.ReadOnlySpan
	slot *handoff.Slot

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
		own, extra := c.ReadOnlySpan.Attributes(), c.slot.Attributes()
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
		texts, handed = c.slot.Content()
		return c.ReadOnlySpan.Attributes(), texts, handed
	}
	return s.Attributes(), nil, nil
}
