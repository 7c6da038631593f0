package handoff

import (
	"context"
	"slices"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// made is a Lazy that counts how often it was made.
type made struct {
	s string
	n int
}

func (m *made) Text() string { m.n++; return m.s }

// TestSetLazy: a lazy text reaches the claiming processor as the one-part
// text it makes, made only when read (not by SetLazy); with the opt-in it
// is made at once and goes on the span; with neither it is never made.
func TestSetLazy(t *testing.T) {
	t.Run("audited", func(t *testing.T) {
		c := &claimer{}
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(c))
		_, span, sink := start(tp.Tracer("t"), context.Background(), false)
		m := &made{s: "answer"}
		sink.SetLazy("gen_ai.output.messages", m)
		if m.n != 0 {
			t.Fatal("made when handed over")
		}
		span.End() // the claimer reads the slot's attributes
		if len(c.taken) != 1 || len(c.taken[0]) != 1 || !slices.Equal(c.taken[0][0].Value.AsStringSlice(), []string{"answer"}) {
			t.Fatalf("content = %v", c.taken)
		}
		_, sl := Begin(context.Background())
		sl.setTexts(Text{Key: "k", lazy: m})
		texts, _ := sl.Content()
		if got := texts[0].AppendParts([]string{"x"}); !slices.Equal(got, []string{"x", "answer"}) {
			t.Fatalf("AppendParts = %v", got)
		}
	})
	t.Run("on the span", func(t *testing.T) {
		rec := newRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		_, span, sink := start(tp.Tracer("t"), context.Background(), true)
		m := &made{s: "out"}
		sink.SetLazy("gen_ai.output.messages", m)
		if m.n != 1 {
			t.Fatalf("made %d times for the span, want 1", m.n)
		}
		span.End()
		if a := rec.ended[0].Attributes(); len(a) != 1 || !slices.Equal(a[0].Value.AsStringSlice(), []string{"out"}) {
			t.Fatalf("span attributes = %v", a)
		}
	})
	t.Run("nowhere", func(t *testing.T) {
		tp := sdktrace.NewTracerProvider()
		_, span, sink := start(tp.Tracer("t"), context.Background(), false)
		m := &made{s: "secret"}
		sink.SetLazy("gen_ai.output.messages", m)
		span.End()
		if m.n != 0 {
			t.Fatal("made although nothing takes it")
		}
	})
}

// TestThreeTextsAllocateNothing: the usual texts of a call (input, system
// instructions, output) fit the slot's own room.
func TestThreeTextsAllocateNothing(t *testing.T) {
	m := &made{s: "x"}
	sl := new(Slot)
	if n := testing.AllocsPerRun(100, func() {
		*sl = Slot{}
		sl.begin(context.Background())
		sl.setTexts(Text{Key: "gen_ai.input.messages", lazy: m})
		sl.setTexts(Text{Key: "gen_ai.system_instructions", lazy: m})
		sl.setTexts(Text{Key: "gen_ai.output.messages", one: "y"})
	}); n != 0 {
		t.Fatalf("three texts allocate %v times", n)
	}
}
