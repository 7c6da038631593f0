package handoff

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// claimer is a span processor that claims slots as the audit processor
// does.
type claimer struct {
	reg   map[trace.SpanID]*Slot
	taken [][]attribute.KeyValue
}

func (c *claimer) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	if sl := Claim(parent, s); sl != nil {
		if c.reg == nil {
			c.reg = make(map[trace.SpanID]*Slot)
		}
		c.reg[s.SpanContext().SpanID()] = sl
	}
}
func (c *claimer) OnEnd(s sdktrace.ReadOnlySpan) {
	if sl := c.reg[s.SpanContext().SpanID()]; sl != nil {
		delete(c.reg, s.SpanContext().SpanID())
		c.taken = append(c.taken, sl.Attributes())
	}
}
func (c *claimer) Shutdown(context.Context) error   { return nil }
func (c *claimer) ForceFlush(context.Context) error { return nil }

func start(tr trace.Tracer, ctx context.Context, onSpan bool) (context.Context, trace.Span, Sink) {
	ctx, sl := Begin(ctx)
	ctx, span := tr.Start(ctx, "chat m")
	return ctx, span, NewSink(span, sl, onSpan)
}

func TestSlotReachesOnlyItsOwnSpan(t *testing.T) {
	c := &claimer{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(c))
	tr := tp.Tracer("t")
	ctx, span, sink := start(tr, context.Background(), false)
	if !sink.Audited() || !sink.Wants() {
		t.Fatal("the claiming processor's span is not audited")
	}
	// A child started from the returned ctx sees the parent's slot but
	// must not claim it.
	_, child := tr.Start(ctx, "child")
	child.End()
	sink.Set(attribute.String("gen_ai.input.messages", "secret"))
	sink.SetText("gen_ai.output.messages", "answer")
	sink.SetTexts("gen_ai.system_instructions", []string{"a", "b"})
	span.End()
	if len(c.taken) != 1 {
		t.Fatalf("slots taken: %d, want 1 (the child must not have one)", len(c.taken))
	}
	got := c.taken[0]
	if len(got) != 3 || !slices.Equal(got[0].Value.AsStringSlice(), []string{"answer"}) ||
		!slices.Equal(got[1].Value.AsStringSlice(), []string{"a", "b"}) || got[2].Value.AsString() != "secret" {
		t.Fatalf("content = %v", got)
	}
	if n := len(c.reg); n != 0 {
		t.Fatalf("registry holds %d slots after every span ended", n)
	}
}

func TestNoProcessorNoContent(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	_, span, sink := start(tp.Tracer("t"), context.Background(), false)
	if sink.Audited() || sink.Wants() {
		t.Fatal("a provider without the audit processor takes content")
	}
	sink.SetText("gen_ai.output.messages", "secret")
	sink.Set(attribute.String("gen_ai.input.messages", "secret"))
	span.End()
}

func TestOnSpanPutsContentOnTheSpan(t *testing.T) {
	rec := newRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	_, span, sink := start(tp.Tracer("t"), context.Background(), true)
	sink.Set(attribute.String("gen_ai.input.messages", "in"))
	sink.SetText("gen_ai.output.messages", "out")
	sink.SetTexts("gen_ai.system_instructions", []string{"a", "b"})
	span.End()
	if n := len(rec.ended[0].Attributes()); n != 3 {
		t.Fatalf("span attributes: %d, want 3", n)
	}
}

type recorder struct{ ended []sdktrace.ReadOnlySpan }

func newRecorder() *recorder                                        { return &recorder{} }
func (r *recorder) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (r *recorder) OnEnd(s sdktrace.ReadOnlySpan)                   { r.ended = append(r.ended, s) }
func (r *recorder) Shutdown(context.Context) error                  { return nil }
func (r *recorder) ForceFlush(context.Context) error                { return nil }

type otherKey struct{}

// TestSlotIsItsContext: the context Begin returns is the slot, a child of
// the given context: other values, the deadline and cancellation come from
// the parent, and the slot is what Claim finds.
func TestSlotIsItsContext(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), otherKey{}, "v"))
	ctx, sl := Begin(parent)
	if got := ctx.Value(otherKey{}); got != "v" {
		t.Fatalf("parent value = %v", got)
	}
	if got, _ := ctx.Value(ctxKey{}).(*Slot); got != sl {
		t.Fatal("the context does not carry its slot")
	}
	// A context derived from it still carries the slot and is cancelled
	// with the parent.
	child, stop := context.WithCancel(ctx)
	defer stop()
	cancel()
	<-child.Done()
	if ctx.Err() != context.Canceled {
		t.Fatalf("Err = %v, want the parent's", ctx.Err())
	}
	if got, _ := child.Value(ctxKey{}).(*Slot); got != sl {
		t.Fatal("a derived context lost the slot")
	}
	//lint:ignore SA1012 a nil ctx on purpose
	if ctx, _ := Begin(nil); ctx.Value(otherKey{}) != nil || ctx.Done() != nil {
		t.Fatal("a nil ctx is not Background")
	}
}

// TestBeginAllocatesTheSlotOnly: beginning a hand-off costs one
// allocation, the slot, which the returned context is.
func TestBeginAllocatesTheSlotOnly(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() {
		ctx, sl := Begin(context.Background())
		if ctx != context.Context(sl) {
			t.Fatal("the context is not the slot")
		}
	}); n != 1 {
		t.Fatalf("Begin allocates %v times", n)
	}
}

// TestEndedForgetsTheSpan: once the audit processor took a slot back at
// its span's end, the slot refers to the span no more (a queued slot keeps
// only its content alive), no span can claim it again, and its content is
// still there to read.
func TestEndedForgetsTheSpan(t *testing.T) {
	c := &claimer{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(c))
	ctx, sl := Begin(context.Background())
	ctx, span := tp.Tracer("t").Start(ctx, "chat m")
	sink := NewSink(span, sl, false)
	sink.SetText("gen_ai.input.messages", "question")
	span.End()
	sl.Ended()
	sl.mu.Lock()
	owner := sl.owner
	sl.mu.Unlock()
	if owner != nil {
		t.Fatal("the slot still refers to its ended span")
	}
	if Claim(ctx, span) != nil {
		t.Fatal("the ended span claimed its slot again")
	}
	_, child := tp.Tracer("t").Start(ctx, "child")
	if Claim(ctx, child) != nil {
		t.Fatal("a later span claimed the slot")
	}
	child.End()
	if texts, _ := sl.Content(); len(texts) != 1 || texts[0].one != "question" {
		t.Fatalf("content after Ended = %+v", texts)
	}
	var nilSlot *Slot
	nilSlot.Ended() // no panic
}

// errorRecorder collects what otel.Handle reports.
type errorRecorder struct {
	mu   sync.Mutex
	errs []string
}

func (r *errorRecorder) Handle(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err.Error())
}

// TestWarnContentOnSpanNotSilenced: the report that an unaudited span puts
// its content on the span for every exporter comes even after a harmless
// unaudited span used up the plain "not audited" report, and each comes
// once.
func TestWarnContentOnSpanNotSilenced(t *testing.T) {
	rec := &errorRecorder{}
	otel.SetErrorHandler(rec)
	t.Cleanup(func() { otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {})) })
	warnedNoAudit.Store(false)
	warnedNoAuditOnSpan.Store(false)
	t.Cleanup(func() { warnedNoAudit.Store(false); warnedNoAuditOnSpan.Store(false) })

	tr := sdktrace.NewTracerProvider().Tracer("t")
	for _, onSpan := range []bool{false, false, true, true} {
		_, span, _ := start(tr, context.Background(), onSpan)
		span.End()
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.errs) != 2 {
		t.Fatalf("reports: %q, want one of each kind", rec.errs)
	}
	if strings.Contains(rec.errs[0], "content is on the span") || !strings.Contains(rec.errs[1], "content is on the span for every exporter") {
		t.Fatalf("reports: %q", rec.errs)
	}
}

// A span may end on another goroutine only when an audit processor
// claimed its slot; Ending closes when the processor settles it.
func TestEndLater(t *testing.T) {
	var unclaimed Slot
	_ = BeginIn(context.Background(), &unclaimed)
	if unclaimed.EndLater() || unclaimed.Ending() != nil {
		t.Fatal("a slot no processor claimed may end later")
	}
	var nilSlot *Slot
	if nilSlot.EndLater() || nilSlot.Ending() != nil {
		t.Fatal("a nil slot may end later")
	}
	nilSlot.Settled() // does nothing

	c := &claimer{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(c))
	ctx, sl := Begin(context.Background())
	_, span := tp.Tracer("t").Start(ctx, "chat m")
	_ = NewSink(span, sl, false)
	if sl.Ending() != nil {
		t.Fatal("ending before EndLater")
	}
	if !sl.EndLater() {
		t.Fatal("a claimed slot may not end later")
	}
	ch := sl.Ending()
	if ch == nil || !sl.EndLater() || sl.Ending() != ch {
		t.Fatal("EndLater twice makes another channel")
	}
	span.End()
	sl.Ended()
	select {
	case <-ch:
		t.Fatal("closed before the processor settled the span")
	default:
	}
	sl.Settled()
	sl.Settled() // twice: no panic
	<-ch
	if sl.Ending() != nil || sl.EndLater() {
		t.Fatal("a settled slot is still ending, or may end later again")
	}
}

// TestUnclaimedSlotMarksSpan: a span whose content would go beside it and
// that no processor claimed says so (ContentUnavailableKey), so that an
// audit exporter behind another processor does not take its missing
// content for empty content; a claimed span, a span whose content goes on
// it, and a span not recorded get no mark.
func TestUnclaimedSlotMarksSpan(t *testing.T) {
	tests := []struct {
		name     string
		claim    bool
		onSpan   bool
		sample   bool
		wantMark bool
	}{
		{name: "unclaimed", sample: true, wantMark: true},
		{name: "claimed", claim: true, sample: true},
		{name: "unclaimed, content on the span", onSpan: true, sample: true},
		{name: "claimed, content on the span", claim: true, onSpan: true, sample: true},
		{name: "not recorded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			opts := []sdktrace.TracerProviderOption{sdktrace.WithSpanProcessor(rec)}
			if tc.claim {
				opts = append(opts, sdktrace.WithSpanProcessor(&claimer{}))
			}
			if !tc.sample {
				opts = append(opts, sdktrace.WithSampler(sdktrace.NeverSample()))
			}
			tp := sdktrace.NewTracerProvider(opts...)
			_, span, sink := start(tp.Tracer("t"), context.Background(), tc.onSpan)
			sink.MarkUnavailable() // its instrumentation has content
			span.End()
			if !tc.sample {
				if len(rec.ended) != 0 {
					t.Fatal("a dropped span was recorded")
				}
				return
			}
			marked := false
			for _, kv := range rec.ended[0].Attributes() {
				marked = marked || kv == ContentUnavailableKey.Bool(true)
			}
			if marked != tc.wantMark {
				t.Fatalf("marked = %v, want %v (audited %v)", marked, tc.wantMark, sink.Audited())
			}
		})
	}
}

// TestOnSpanAlsoHandsOver: with the opt-in, content a processor claimed
// the slot for goes on the span and into the slot, whose copy the audit
// reads whatever the span limits cut off the span's; AuditOnly hands over
// without putting it on the span.
func TestOnSpanAlsoHandsOver(t *testing.T) {
	c := &claimer{}
	rec := newRecorder()
	limits := sdktrace.NewSpanLimits()
	limits.AttributeValueLengthLimit, limits.AttributeCountLimit = 4, -1
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(c), sdktrace.WithSpanProcessor(rec),
		sdktrace.WithRawSpanLimits(limits))
	_, span, sink := start(tp.Tracer("t"), context.Background(), true)
	sink.Set(attribute.String("gen_ai.input.messages", "the input"))
	sink.SetText("gen_ai.output.messages", "the output")
	sink.SetTexts("gen_ai.system_instructions", []string{"sys a", "sys b"})
	sink.SetLazy("gen_ai.tool.definitions", &made{s: "the tools"})
	sink.AuditOnly().SetText("gen_ai.tool.call.result", "the result")
	span.End()

	if len(c.taken) != 1 {
		t.Fatalf("slots taken: %d", len(c.taken))
	}
	got := map[attribute.Key]string{}
	for _, kv := range c.taken[0] {
		got[kv.Key] = kv.Value.String()
	}
	want := map[attribute.Key]string{
		"gen_ai.input.messages":      "the input",
		"gen_ai.output.messages":     `["the output"]`,
		"gen_ai.system_instructions": `["sys a","sys b"]`,
		"gen_ai.tool.definitions":    `["the tools"]`,
		"gen_ai.tool.call.result":    `["the result"]`,
	}
	if len(got) != len(want) {
		t.Fatalf("slot = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("slot[%s] = %q, want %q", k, got[k], v)
		}
	}
	onSpan := map[attribute.Key]bool{}
	for _, kv := range rec.ended[0].Attributes() {
		onSpan[kv.Key] = true
	}
	for _, k := range []attribute.Key{"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.tool.definitions"} {
		if !onSpan[k] {
			t.Fatalf("%s not on the span", k)
		}
	}
	if onSpan["gen_ai.tool.call.result"] {
		t.Fatal("AuditOnly put content on the span")
	}
}
