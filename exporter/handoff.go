package exporter

import (
	"sync"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otelaudit/otelaudit-go/internal/handoff"
)

// contentSpan is an ended span with the content its instrumentation handed
// to the audit processor beside it (see internal/handoff): its attributes
// are the span's followed by the handed-over ones, read on first use by
// the goroutine that converts the span (not the caller's).
type contentSpan struct {
	sdktrace.ReadOnlySpan
	slot *handoff.Slot

	handedOnce sync.Once
	handed     []attribute.KeyValue
	allOnce    sync.Once
	all        []attribute.KeyValue
}

// withContent returns s with the content of slot, or s when slot is nil.
func withContent(s sdktrace.ReadOnlySpan, slot *handoff.Slot) sdktrace.ReadOnlySpan {
	if slot == nil {
		return s
	}
	return &contentSpan{ReadOnlySpan: s, slot: slot}
}

// handedAttributes returns the content handed over beside the span.
func (c *contentSpan) handedAttributes() []attribute.KeyValue {
	c.handedOnce.Do(func() { c.handed = c.slot.Attributes() })
	return c.handed
}

// Attributes returns the span's attributes and then the handed-over
// content, so that the content wins for a key given in both places. The
// conversion does not use it (see attributeLists): it copies every
// attribute once more.
func (c *contentSpan) Attributes() []attribute.KeyValue {
	c.allOnce.Do(func() {
		own, extra := c.ReadOnlySpan.Attributes(), c.handedAttributes()
		if len(extra) == 0 {
			c.all = own
			return
		}
		c.all = make([]attribute.KeyValue, 0, len(own)+len(extra))
		c.all = append(append(c.all, own...), extra...)
	})
	return c.all
}

// attributeLists returns what s.Attributes() returns as two lists, the
// span's own attributes and then the content handed over beside it, for
// readers that go through both in order: that saves copying them into one.
func attributeLists(s SpanView) (own, handed []attribute.KeyValue) {
	if c, ok := s.(*contentSpan); ok {
		return c.ReadOnlySpan.Attributes(), c.handedAttributes()
	}
	return s.Attributes(), nil
}
