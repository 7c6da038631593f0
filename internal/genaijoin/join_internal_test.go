package genaijoin

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	auditexporter "github.com/otelaudit/otelaudit-go/exporter"
)

// TestJoinMemoryCap: over its cap the join writes the oldest calls at
// once and counts them; nothing is lost, and every push returns.
func TestJoinMemoryCap(t *testing.T) {
	var mu sync.Mutex
	written := map[trace.SpanID]bool{}
	j := New(time.Hour, 4096, time.Minute, func(_ context.Context, vs []auditexporter.SpanView) error {
		mu.Lock()
		defer mu.Unlock()
		for _, v := range vs {
			written[v.SpanContext().SpanID()] = true
		}
		return nil
	})
	defer j.Close()
	var wg sync.WaitGroup
	const n = 200
	for i := range n {
		v := &View{
			SC:    trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{byte(i), byte(i >> 8), 1}}),
			Attrs: []attribute.KeyValue{attribute.String("gen_ai.operation.name", "chat"), attribute.String("pad", string(make([]byte, 100)))},
		}
		w := j.AddSpans([]*View{v})
		wg.Go(func() { assert.NoError(t, Wait(t.Context(), w)) })
	}
	j.mu.Lock()
	held, mem := len(j.calls), j.mem
	j.mu.Unlock()
	assert.LessOrEqual(t, mem, 4096, "memory stays under the cap")
	assert.Less(t, held, n)
	assert.Positive(t, j.Stats().OverCap)
	j.Close() // writes the rest
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, written, n, "every call is written, none lost")
}

// A span is written without waiting for events only when it carries its
// messages itself; content keys that an instrumentation may record beside
// message events (tool definitions, retrieval, a prompt template's name,
// caller metadata) keep it waiting.
func TestCarriesMessages(t *testing.T) {
	for _, k := range []string{
		"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
		"gen_ai.tool.call.arguments", "gen_ai.tool.call.result",
		"gen_ai.prompt.0.content", "gen_ai.completion.12.tool_calls.0.name",
		"input.value", "output.value", "llm.prompts", "llm.prompts.0.prompt.text",
		"llm.input_messages.0.message.content", "llm.output_messages.1.message.role",
		"llm.choices.0.completion.text", "embedding.embeddings.0.embedding.text",
		"gcp.vertex.agent.llm_request", "gcp.vertex.agent.tool_response", "ai.prompt.messages", "ai.response.text",
		"traceloop.entity.input", "langfuse.observation.output", "llm.completions.0.content", "llm.prompts.1.content",
		"gen_ai.retrieval.query.text", "gen_ai.retrieval.documents",
	} {
		if !carriesMessages(k) {
			t.Errorf("%s: not taken for the call's messages", k)
		}
	}
	for _, k := range []string{
		"gen_ai.tool.definitions", "gen_ai.prompt.name", "gen_ai.prompt.",
		"gen_ai.prompt", "gen_ai.evaluation.explanation", "audit.metadata.user", "llm.prompt_template.variables",
		"llm.tools.0.tool.json_schema", "gen_ai.operation.name", "openinference.span.kind", "",
		"gcp.vertex.agent.data", "gcp.vertex.agent.session_id", "ai.prompt.tools", "traceloop.prompt.template",
	} {
		if carriesMessages(k) {
			t.Errorf("%s: taken for the call's messages", k)
		}
	}
}

// recorder is a write function that records the views it gets and, while
// gate is open (non-nil and not closed), waits on it, as a stalled backend
// does.
type recorder struct {
	mu      sync.Mutex
	written map[trace.SpanID]int
	gate    chan struct{}
	blocked chan struct{} // receives once per write that waits on gate
	opened  sync.Once
}

// open lets the writes waiting on the gate, and those to come, through.
func (r *recorder) open() { r.opened.Do(func() { close(r.gate) }) }

func newRecorder(gated bool) *recorder {
	r := &recorder{written: map[trace.SpanID]int{}, blocked: make(chan struct{}, 1000)}
	if gated {
		r.gate = make(chan struct{})
	}
	return r
}

func (r *recorder) write(ctx context.Context, vs []auditexporter.SpanView) error {
	if r.gate != nil {
		select {
		case <-r.gate:
		default:
			r.blocked <- struct{}{}
			select {
			case <-r.gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range vs {
		r.written[v.SpanContext().SpanID()]++
	}
	return nil
}

func (r *recorder) count(id trace.SpanID) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.written[id]
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.written)
}

func testView(id byte, withContent bool) *View {
	attrs := []attribute.KeyValue{attribute.String("gen_ai.operation.name", "chat")}
	if withContent {
		attrs = append(attrs, attribute.String(keyInput, `[{"role":"user","parts":[{"type":"text","content":"q"}]}]`))
	}
	return &View{SC: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{id}}), Attrs: attrs}
}

func answer(id byte) []Event {
	return []Event{
		{Name: evUser, TraceID: trace.TraceID{1}, SpanID: trace.SpanID{id}, Body: map[string]any{"content": "q"}},
		{Name: evChoice, TraceID: trace.TraceID{1}, SpanID: trace.SpanID{id}, Body: map[string]any{"message": map[string]any{"content": "a"}}},
	}
}

// TestHoldWritesOnTheJoinsGoroutine: Hold returns while the write of its
// span has not; a span with its content, a span whose events came first,
// and events that complete a held span are written at once, not at the
// next tick (an hour-long window makes the tick three minutes); a span
// without content waits for its events; Flush waits for the batch the
// loop is writing.
func TestHoldWritesOnTheJoinsGoroutine(t *testing.T) {
	r := newRecorder(true)
	j := New(time.Hour, DefaultMaxBytes, time.Minute, r.write)
	t.Cleanup(j.Close)
	t.Cleanup(r.open) // first, so that a failed test's Close does not hang

	held := make(chan bool)
	go func() { held <- j.Hold([]*View{testView(1, true)}) }()
	select {
	case ok := <-held:
		assert.True(t, ok)
	case <-time.After(5 * time.Second):
		t.Fatal("Hold waited for the write")
	}
	select {
	case <-r.blocked: // the loop is in the write, woken without a tick
	case <-time.After(5 * time.Second):
		t.Fatal("the span with content was not written at once")
	}
	flushed := make(chan error, 1)
	go func() { flushed <- j.Flush() }()
	select {
	case <-flushed:
		t.Fatal("Flush returned before the loop's batch was written")
	case <-time.After(50 * time.Millisecond):
	}
	r.open()
	require.NoError(t, <-flushed)
	assert.Equal(t, 1, r.count(trace.SpanID{1}), "written by the time Flush returns")

	w2 := j.AddEvents(answer(2))                        // no span yet
	assert.True(t, j.Hold([]*View{testView(2, false)})) // its events came first: complete
	assert.True(t, j.Hold([]*View{testView(3, false)})) // waits for its events
	w3 := j.AddEvents(answer(3))                        // completes it
	assert.True(t, j.Hold([]*View{testView(4, false)})) // no events: waits the window
	require.Eventually(t, func() bool { return r.count(trace.SpanID{2}) == 1 && r.count(trace.SpanID{3}) == 1 },
		5*time.Second, 5*time.Millisecond, "complete calls are written without waiting for the tick")
	require.NoError(t, Wait(t.Context(), w2))
	require.NoError(t, Wait(t.Context(), w3))
	assert.Zero(t, r.count(trace.SpanID{4}), "a span without content waits for its events")
	require.NoError(t, j.Flush())
	assert.Equal(t, 1, r.count(trace.SpanID{4}))
	assert.Equal(t, Stats{Joined: 2, SpansWithoutEvents: 1}, j.Stats(), "the span with its content counts as the Split ones: not at all")
}

// TestHoldAfterClose: Hold refuses spans once the join is closed, and
// counts them.
func TestHoldAfterClose(t *testing.T) {
	r := newRecorder(false)
	j := New(time.Minute, DefaultMaxBytes, time.Minute, r.write)
	j.Close()
	assert.False(t, j.Hold([]*View{testView(1, true), testView(2, false)}))
	assert.True(t, j.Hold(nil), "nothing to refuse")
	assert.EqualValues(t, 2, j.Stats().Dropped)
	assert.Zero(t, r.total())
}

// TestHoldEventsAfterClose: HoldEvents holds events until Close, which
// writes them, and refuses them after it, reporting how many; events the
// join ignores anyway (no span, not content) are not counted as refused.
func TestHoldEventsAfterClose(t *testing.T) {
	r := newRecorder(false)
	j := New(time.Minute, DefaultMaxBytes, time.Minute, r.write)
	assert.Zero(t, j.HoldEvents(answer(1)))
	j.Close()
	assert.Equal(t, 1, r.count(trace.SpanID{1}), "held before Close: written by it")
	assert.Equal(t, 2, j.HoldEvents(answer(2)))
	assert.Zero(t, j.HoldEvents([]Event{{Name: evUser, Body: map[string]any{"content": "q"}}}), "no span: ignored, not refused")
	assert.Zero(t, j.HoldEvents([]Event{{Name: "other", TraceID: trace.TraceID{1}, SpanID: trace.SpanID{3}}}), "not content: ignored")
	assert.Equal(t, 1, r.total(), "nothing refused is written")
	assert.Zero(t, j.Stats().Dropped, "Dropped counts spans only")
}

// TestHoldShedsWhileTheLoopIsStuck: while the loop's write does not
// return, the spans Hold hands over pile up only to the memory cap; over
// it the callers write them themselves (backpressure), and none is lost.
func TestHoldShedsWhileTheLoopIsStuck(t *testing.T) {
	r := newRecorder(true)
	var once sync.Once
	write := func(ctx context.Context, vs []auditexporter.SpanView) error {
		first := false
		once.Do(func() { first = true })
		if first { // only the loop's first batch is stuck
			return r.write(ctx, vs)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, v := range vs {
			r.written[v.SpanContext().SpanID()]++
		}
		return nil
	}
	const maxMem = 4096
	j := New(time.Hour, maxMem, time.Minute, write)
	t.Cleanup(j.Close)
	t.Cleanup(r.open)
	require.True(t, j.Hold([]*View{testView(0, true)}))
	select {
	case <-r.blocked:
	case <-time.After(5 * time.Second):
		t.Fatal("the span with content was not written at once")
	}
	const n = 200
	for i := 1; i < n; i++ {
		v := testView(byte(i), true)
		v.SC = trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{2}, SpanID: trace.SpanID{byte(i), byte(i >> 8), 2}})
		require.True(t, j.Hold([]*View{v}))
		j.mu.Lock()
		mem := j.mem
		j.mu.Unlock()
		require.LessOrEqual(t, mem, maxMem, "after span %d", i)
	}
	assert.Greater(t, r.total(), 1, "callers wrote what the stuck loop could not")
	assert.Zero(t, j.Stats().OverCap, "complete calls written early are not early")
	r.open()
	j.Close()
	assert.Equal(t, n, r.total(), "every span written, none lost")
}

// TestFlushAndCloseWaitForShed: a call that Hold sheds on the caller's
// goroutine (over the cap) is taken out of the join before its write;
// Flush and Close do not return before that write is done, else
// logaudit.Auditor.Shutdown would shut the exporter down under it.
func TestFlushAndCloseWaitForShed(t *testing.T) {
	r := newRecorder(true)
	j := New(time.Hour, 1, time.Minute, r.write) // every call is over the cap
	t.Cleanup(j.Close)
	t.Cleanup(r.open)
	held := make(chan bool, 1)
	go func() { held <- j.Hold([]*View{testView(1, false)}) }() // no content: not due; shed writes it
	select {
	case <-r.blocked: // shed is in its write, the call is out of calls
	case <-time.After(5 * time.Second):
		t.Fatal("no shed")
	}
	flushed := make(chan struct{})
	go func() { _ = j.Flush(); close(flushed) }()
	select {
	case <-flushed:
		t.Errorf("Flush returned while the shed call is unwritten (count %d)", r.count(trace.SpanID{1}))
	case <-time.After(200 * time.Millisecond):
	}
	closed := make(chan struct{})
	go func() { j.Close(); close(closed) }()
	select {
	case <-closed:
		t.Errorf("Close returned while the shed call is unwritten (count %d)", r.count(trace.SpanID{1}))
	case <-time.After(200 * time.Millisecond):
	}
	r.open()
	<-held
	assert.Equal(t, 1, r.count(trace.SpanID{1}))
}

// TestStatsCountWrittenCalls: Stats (the Collector's
// otelaudit.collector.join.calls metric, "GenAI calls written by the
// join") counts a call once its write succeeded: not when the write
// fails, and once when the push's retry (exporterhelper delivers the span
// again) writes it.
func TestStatsCountWrittenCalls(t *testing.T) {
	var calls atomic.Int32
	j := New(50*time.Millisecond, 1<<20, time.Second, func(context.Context, []auditexporter.SpanView) error {
		if calls.Add(1) == 1 {
			return errors.New("store down")
		}
		return nil
	})
	defer j.Close()
	v := &View{SC: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}}),
		Start: time.Unix(100, 0), End: time.Unix(101, 0), Attrs: []attribute.KeyValue{attribute.String("gen_ai.operation.name", "chat")}}
	err := Wait(context.Background(), j.AddSpans([]*View{v}))
	assert.Error(t, err, "first push fails")
	assert.Equal(t, int64(0), j.Stats().SpansWithoutEvents, "nothing written yet")
	assert.NoError(t, Wait(context.Background(), j.AddSpans([]*View{v})), "the retry")
	assert.Equal(t, int64(1), j.Stats().SpansWithoutEvents, "one call written once")
}

// details is the inference details event of span id, with the content a
// span of testView(id, true) carries and, with output, the answer too.
func details(id byte, output bool) Event {
	attrs := map[string]any{keyInput: `[{"role":"user","parts":[{"type":"text","content":"q"}]}]`}
	if output {
		attrs[keyOutput] = `[{"role":"assistant","parts":[{"type":"text","content":"a"}]}]`
	}
	return Event{Name: evDetails, TraceID: trace.TraceID{1}, SpanID: trace.SpanID{id}, Attrs: attrs}
}

// TestEventsAfterSpanWithContent: an instrumentation that records a
// call's content on its span and in its details event (the Python GenAI
// instrumentations' SPAN_AND_EVENT mode) makes one entry whichever comes
// first. The span first is written at once (Split, and Hold for the SDK),
// and its event, coming within the window, is not written again, counted
// once per call; an event that brings content the span lacks, one that
// comes after the window, and one for a span forgotten over the bound are
// written as today.
func TestEventsAfterSpanWithContent(t *testing.T) {
	r := newRecorder(false)
	j := New(time.Hour, DefaultMaxBytes, time.Minute, r.write)
	t.Cleanup(j.Close)

	// Span first (the Collector): written by the caller, then its event.
	direct, held := j.Split([]*View{testView(1, true)})
	require.Len(t, direct, 1)
	require.Empty(t, held)
	require.NoError(t, r.write(t.Context(), direct))
	w1 := j.AddEvents([]Event{details(1, false), details(1, false)})
	assert.Nil(t, w1, "nothing held: the push returns at once")
	// Span first (the SDK's span processor).
	require.True(t, j.Hold([]*View{testView(2, true)}))
	w2 := j.AddEvents([]Event{details(2, false)})
	assert.Nil(t, w2, "nothing held")
	// Event first: the span joins it, one entry as before.
	w3 := j.AddEvents([]Event{details(3, false)})
	direct, held = j.Split([]*View{testView(3, true)})
	require.Empty(t, direct)
	require.NoError(t, Wait(t.Context(), j.AddSpans(held)))
	require.NoError(t, Wait(t.Context(), w3))
	// The event brings the answer, which the span lacks: written.
	direct, _ = j.Split([]*View{testView(4, true)})
	require.NoError(t, r.write(t.Context(), direct))
	w4 := j.AddEvents([]Event{details(4, true)})
	require.NoError(t, j.Flush())
	for _, w := range []*Waiter{w1, w2, w4} {
		require.NoError(t, Wait(t.Context(), w))
	}

	assert.Equal(t, 1, r.count(trace.SpanID{1}), "span first: one entry")
	assert.Equal(t, 1, r.count(trace.SpanID{2}), "span first (Hold): one entry")
	assert.Equal(t, 1, r.count(trace.SpanID{3}), "event first: one entry")
	assert.Equal(t, 2, r.count(trace.SpanID{4}), "content the span lacks is not dropped")
	assert.Equal(t, Stats{Joined: 1, EventsWithoutSpan: 1, EventsAfterSpan: 2}, j.Stats())

	// After the window the span is forgotten: a later event is written.
	short := New(20*time.Millisecond, DefaultMaxBytes, time.Minute, r.write)
	t.Cleanup(short.Close)
	direct, _ = short.Split([]*View{testView(5, true)})
	require.NoError(t, r.write(t.Context(), direct))
	time.Sleep(40 * time.Millisecond)
	require.NoError(t, Wait(t.Context(), short.AddEvents([]Event{details(5, false)})))
	assert.Equal(t, 2, r.count(trace.SpanID{5}), "an event after the window is written")

	// Over the bound the oldest span is forgotten first.
	many := make([]*View, maxWritten)
	for i := range many {
		many[i] = testView(6, true)
		many[i].SC = trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{2}, SpanID: trace.SpanID{byte(i), byte(i >> 8), 6}})
	}
	direct, _ = j.Split([]*View{testView(6, true)})
	require.Len(t, direct, 1)
	_, _ = j.Split(many)
	j.mu.Lock()
	remembered := len(j.written)
	j.mu.Unlock()
	assert.LessOrEqual(t, remembered, maxWritten)
	w6 := j.AddEvents([]Event{details(6, false)})
	require.NotNil(t, w6, "held: the span was forgotten")
	require.NoError(t, j.Flush())
	require.NoError(t, Wait(t.Context(), w6))
	assert.Equal(t, 1, r.count(trace.SpanID{6}), "the forgotten span's event is written (the span itself was not, here)")
}
