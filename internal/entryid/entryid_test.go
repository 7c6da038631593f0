package entryid

import (
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// TestDerive: the ids stored before this package existed (exporter's own
// derivation) are the ids Derive gives with the Span salt; the Events salt
// gives another id for the same span and time.
func TestDerive(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:  trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
	})
	at := time.Date(2026, 11, 30, 9, 0, 0, 123456789, time.UTC)
	for _, tt := range []struct {
		salt string
		at   time.Time
		want string
	}{
		{Span, at, "01a22bae-b6fb-7519-9973-f7de144695d9"},
		{Span, time.Time{}, "00000000-0000-7519-9973-f7de144695d9"},
		{Span, time.UnixMilli(-5), "00000000-0000-7519-9973-f7de144695d9"},
	} {
		if got := Derive(tt.salt, sc, tt.at); got != tt.want {
			t.Errorf("Derive(%q, %v) = %s, want %s", tt.salt, tt.at, got, tt.want)
		}
	}
	span, events := Derive(Span, sc, at), Derive(Events, sc, at)
	if span[:14] != events[:14] || span == events {
		t.Errorf("Span %s and Events %s: want the same time, other random bits", span, events)
	}
}
