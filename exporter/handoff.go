package exporter

import (
	"sync"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otelaudit/otelaudit-go/internal/handoff"
)

// contentSpan is an ended span with the content its instrumentation handed
// to the audit processor beside it (see internal/handoff): its attributes
// are the span's followed by the handed-over ones, built once, on first
// use, by the goroutine that converts the span (not the caller's).
type contentSpan struct {
	sdktrace.ReadOnlySpan
	slot  *handoff.Slot
	once  sync.Once
	attrs []attribute.KeyValue
}

// withContent returns s with the content of slot, or s when slot is nil.
func withContent(s sdktrace.ReadOnlySpan, slot *handoff.Slot) sdktrace.ReadOnlySpan {
	if slot == nil {
		return s
	}
	return &contentSpan{ReadOnlySpan: s, slot: slot}
}

// Attributes returns the span's attributes and then the handed-over
// content, so that the content wins for a key given in both places.
func (c *contentSpan) Attributes() []attribute.KeyValue {
	c.once.Do(func() {
		own := c.ReadOnlySpan.Attributes()
		extra := c.slot.Attributes()
		if len(extra) == 0 {
			c.attrs = own
			return
		}
		c.attrs = make([]attribute.KeyValue, 0, len(own)+len(extra))
		c.attrs = append(append(c.attrs, own...), extra...)
	})
	return c.attrs
}
