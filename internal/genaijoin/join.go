// Package genaijoin joins GenAI spans that carry no content with the GenAI
// log events that carry it (by trace and span id), for the two places that
// receive both: the Collector's otelaudit exporter (OTLP traces and logs)
// and the Go SDK span and log processor (exporter/logaudit). Both call this one
// join, so a call gives the same entry whichever way it arrives.
package genaijoin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	auditexporter "github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/contentkeys"
	"github.com/otelaudit/otelaudit-go/internal/entryid"
	"github.com/otelaudit/otelaudit-go/internal/joinclaim"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// The GenAI events whose content the join collects (semconv names). The
// body of the message events holds {"content": .., "tool_calls": ..};
// gen_ai.choice's holds {"message": {..}, "finish_reason": ..}; the
// details event holds gen_ai.input.messages, gen_ai.output.messages and
// gen_ai.system_instructions as attributes.
const (
	evSystem    = "gen_ai.system.message"
	evUser      = "gen_ai.user.message"
	evAssistant = "gen_ai.assistant.message"
	evTool      = "gen_ai.tool.message"
	evChoice    = "gen_ai.choice"
	evDetails   = "gen_ai.client.inference.operation.details"
)

// Content attribute keys the join fills in.
const (
	keyInput  = "gen_ai.input.messages"
	keyOutput = "gen_ai.output.messages"
	keySystem = "gen_ai.system_instructions"
)

// Defaults of the join, for its two users.
const (
	// DefaultWait is 10s: longer than the SDKs' default batch delays (5s
	// for spans, 1s for logs), so that a call's span and events meet.
	DefaultWait = 10 * time.Second
	// DefaultMaxBytes is 64 MiB.
	DefaultMaxBytes = 64 << 20
)

// joinKey is a call's trace id and span id.
type joinKey [24]byte

// call is one GenAI call while its span and events meet.
type call struct {
	key     joinKey
	span    *View // nil until the span arrives
	events  []Event
	arrived time.Time // when the first part arrived
	size    int       // bytes held, approximately
	waiters []*Waiter // pushes waiting for this call's entry
	// direct: handed to [Joiner.Hold] with content on its span and no
	// events held, so written as it is, without counting in [Stats] (as
	// the views [Joiner.Split] returns to write at once).
	direct bool
	// open is the span its events were emitted in while it recorded
	// ([Event].Open), until the span comes: while it records, the window
	// does not end the call's wait (the memory cap, Flush and Close
	// still write it); once it comes, the window starts again.
	open trace.Span
}

// waiting reports whether c waits for its span ([call].open): while it
// records, and while exporter/logaudit's Auditor holds it taken (see
// internal/joinclaim: its OnEnd hands the span over, [Joiner.Hold] or
// [Joiner.Leave], before it gives it back). A span the Auditor does not
// audit lets the window run once it ended.
func (c *call) waiting() bool {
	return c.open != nil && (c.open.IsRecording() || joinclaim.Taken(c.open.SpanContext()))
}

// Event is one GenAI log event: its name (the record's event name, or its
// event.name attribute), the trace and span id of the call it belongs to,
// its time, and its body and attributes as decoded values (string, bool,
// int64, float64, []any, map[string]any).
type Event struct {
	Name    string
	TraceID trace.TraceID
	SpanID  trace.SpanID
	Time    time.Time
	Body    any
	Attrs   map[string]any
	// Open is the span the event was emitted in, when it was still
	// recording, as the Go SDK's log processor sees it (exporter/logaudit;
	// nil otherwise): the call's events wait for it while it records,
	// however long the call lasts, where a call longer than the window
	// would give an entry of its events alone and a second one of its span.
	Open trace.Span
}

// HasSpan reports whether ev names the span of its call (a valid trace
// and span id): the join places only such events ([Joiner.AddEvents]
// passes over the others).
func (ev Event) HasSpan() bool { return ev.TraceID.IsValid() && ev.SpanID.IsValid() }

// Waiter is one push (traces or logs) that returns when every call it
// delivered parts of is written. It starts with one hold for the push
// itself, released by [Waiter.added] once every part is in the join, so
// that calls written meanwhile cannot complete it early.
type Waiter struct {
	mu   sync.Mutex
	left int
	err  error
	done chan struct{}
}

func newWaiter() *Waiter { return &Waiter{left: 1, done: make(chan struct{})} }

func (w *Waiter) add() {
	w.mu.Lock()
	w.left++
	w.mu.Unlock()
}

// added releases the push's own hold.
func (w *Waiter) added() { w.finish(nil) }

func (w *Waiter) finish(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil && w.err == nil {
		w.err = err
	}
	w.left--
	if w.left == 0 {
		close(w.done)
	}
}

// Stats are the join's counters, reported as the
// otelaudit.collector.join.calls metric.
type Stats struct {
	// Joined counts calls written with content from their events.
	Joined int64
	// SpansWithoutEvents counts spans without content whose events did not
	// come within the wait window; written with the content they had.
	SpansWithoutEvents int64
	// EventsWithoutSpan counts calls whose events came without their span
	// within the window; written from the events alone.
	EventsWithoutSpan int64
	// OverCap counts calls written before their window ended because the
	// join held more than its memory cap.
	OverCap int64
	// Dropped counts spans handed to [Joiner.Hold] after Close: they are
	// not written. The Collector never calls Hold, so its metric leaves
	// this out.
	Dropped int64
	// EventsAfterSpan counts calls whose span was written at once with
	// its content ([Joiner.Split], [Joiner.Hold]) and whose GenAI events
	// came afterwards, within the wait window, with no content the span
	// lacks (an instrumentation recording the content on the span and in
	// the details event, as the Python ones' SPAN_AND_EVENT mode does):
	// those events are not written again, as the span's entry is what
	// the join would have made of both. A call counts once, however many
	// of its events came.
	EventsAfterSpan int64
}

// Joiner holds spans without content and GenAI events until they meet (by
// trace and span id) or their wait window ends, and then writes one entry
// per call through write. Pushes ([Joiner.AddSpans], [Joiner.AddEvents])
// return a [Waiter] that is done once the entries of what they delivered
// are written, so a persistent queue keeps them until then; [Joiner.Hold]
// hands spans over without one, for a span processor that must not block.
type Joiner struct {
	wait    time.Duration
	maxMem  int
	write   func(ctx context.Context, views []auditexporter.SpanView) error
	timeout time.Duration

	mu    sync.Mutex
	calls map[joinKey]*call
	// due are calls taken out of calls, complete, for the loop to write
	// at its next wake-up; their bytes still count in mem, so that a
	// stalled backend makes the callers shed (write themselves) instead
	// of letting due grow.
	due    []*call
	mem    int
	closed bool // set by Close: Hold refuses spans from then on
	// shedding counts the callers writing calls they shed (over the cap,
	// on their own goroutine); shedDone, on mu, is signalled as each
	// ends, so that Flush and Close wait for those calls too.
	shedding int
	shedDone sync.Cond

	// wake tells the loop that due has calls: a span with its content
	// would otherwise wait up to a tick (wait/20, 500 ms by default).
	wake chan struct{}
	// loopMu is held by the loop while it writes a batch, so that Flush
	// waits for calls the loop has taken out of the join but not written.
	loopMu sync.Mutex

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once

	joined, spansAlone, eventsAlone, overCap, dropped atomic.Int64

	// written remembers, on mu, the spans written at once with their
	// content, for the wait window and at most [maxWritten] of them, so
	// that their events coming later are not written as a second entry
	// (see [Stats].EventsAfterSpan); writtenQ holds them oldest first.
	written         map[joinKey]writtenSpan
	writtenQ        []writtenItem
	eventsAfterSpan atomic.Int64
}

// New starts a Joiner that holds a call's parts up to wait for the others,
// and at most about maxMem bytes in all (beyond it the oldest calls are
// written early and counted in [Stats.OverCap]); write receives the
// entries' views, each batch with a context that ends after timeout (that
// never ends when timeout <= 0, as the Collector's timeout: 0 means). Close
// it to stop its goroutine and write what it still holds.
func New(wait time.Duration, maxMem int, timeout time.Duration, write func(context.Context, []auditexporter.SpanView) error) *Joiner {
	j := &Joiner{wait: wait, maxMem: maxMem, timeout: timeout, write: write, calls: make(map[joinKey]*call),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), written: make(map[joinKey]writtenSpan)}
	j.shedDone.L = &j.mu
	j.wg.Add(1)
	go j.loop()
	return j
}

// Stats returns the counters so far. Safe for concurrent use.
func (j *Joiner) Stats() Stats {
	return Stats{Joined: j.joined.Load(), SpansWithoutEvents: j.spansAlone.Load(), EventsWithoutSpan: j.eventsAlone.Load(),
		OverCap: j.overCap.Load(), Dropped: j.dropped.Load(), EventsAfterSpan: j.eventsAfterSpan.Load()}
}

// Close stops the loop and writes every held call now; from then on
// [Joiner.Hold] refuses spans. Later calls do nothing.
func (j *Joiner) Close() {
	j.closeOnce.Do(func() {
		j.mu.Lock()
		j.closed = true
		j.mu.Unlock()
		close(j.stop)
		j.wg.Wait()
		j.flush(func(*call) bool { return true })
		j.waitShed()
	})
}

// Flush writes every call held now, whether or not its parts met, after
// the batch the loop is writing (if any), and returns the write's error
// (its waiters get it too).
func (j *Joiner) Flush() error {
	_, err := j.flush(func(*call) bool { return true })
	j.waitShed()
	return err
}

// waitShed waits until no caller is writing calls it shed.
func (j *Joiner) waitShed() {
	j.mu.Lock()
	for j.shedding > 0 {
		j.shedDone.Wait()
	}
	j.mu.Unlock()
}

// loop writes the due calls when woken, and at every tick also the calls
// complete or whose window ended. Only the tick looks through every held
// call: a wake-up per span would make each span cost a pass over them all.
func (j *Joiner) loop() {
	defer j.wg.Done()
	tick := time.NewTicker(max(j.wait/20, 5*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-j.wake:
			j.flush(nil)
		case now := <-tick.C:
			j.flush(func(c *call) bool { return c.complete() || (now.Sub(c.arrived) >= j.wait && !c.waiting()) })
		}
	}
}

// signal wakes the loop without waiting: a wake-up already pending covers
// the due calls added since.
func (j *Joiner) signal() {
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// complete: the span is here with its content, or with an event with the
// answer; the input events are emitted before it, so they have come too.
func (c *call) complete() bool {
	if c.span == nil {
		return false
	}
	if c.direct {
		return true
	}
	for _, e := range c.events {
		if e.Name == evChoice || e.Name == evDetails {
			return true
		}
	}
	return false
}

// Split separates the views to write at once (content on the span, and
// no events held for it) from those to hold for their events. The join
// remembers the ones to write at once for its wait window, so that their
// events, if they come, are not written again (see [Stats].EventsAfterSpan):
// the caller must write them (a failed write is retried with the same
// spans, as the Collector's retry_on_failure does).
func (j *Joiner) Split(views []*View) (direct []auditexporter.SpanView, held []*View) {
	now := time.Now()
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, v := range views {
		k := keyOf(v.SC)
		if _, pending := j.calls[k]; !pending && hasContent(v) {
			j.rememberWritten(k, v, now)
			direct = append(direct, v)
		} else {
			held = append(held, v)
		}
	}
	return direct, held
}

// hasContent reports whether v's span carries its call's messages
// itself, so that no event is waited for: the semconv message attributes,
// a tool call's arguments or result, a retrieval's query or documents,
// the legacy indexed gen_ai.prompt.<i>.* / gen_ai.completion.<i>.* (and
// llm.prompts / llm.completions) attributes, OpenInference's messages,
// prompts, choices, embedding texts, retrieved documents or input and
// output values, or another instrumentation's input or output keys
// (internal/contentkeys): what the exporter takes as the call's content.
// Other content keys (tool definitions, audit.metadata.*) do not say so:
// an instrumentation may record them on the span and send the messages as
// events.
func hasContent(v *View) bool {
	for _, kv := range v.Attrs {
		if carriesMessages(string(kv.Key)) {
			return true
		}
	}
	return false
}

func carriesMessages(k string) bool {
	switch k {
	case keyInput, keyOutput, keySystem, "gen_ai.tool.call.arguments", "gen_ai.tool.call.result",
		"gen_ai.retrieval.query.text", "gen_ai.retrieval.documents",
		"input.value", "output.value", "llm.prompts":
		return true
	}
	for _, l := range contentkeys.LegacyLists {
		// An index follows (gen_ai.prompt.name is a template's name).
		if rest, ok := strings.CutPrefix(k, l.Prefix); ok && rest != "" && rest[0] >= '0' && rest[0] <= '9' {
			return true
		}
	}
	for _, l := range contentkeys.OpenInferenceLists {
		if strings.HasPrefix(k, l.Prefix) {
			return true
		}
	}
	// ADK's request and response, the Vercel AI SDK's messages and text,
	// and the like: the exporter takes them as the call's content.
	return contentkeys.IsCallContent(k)
}

// AddSpans holds spans (without content) for their events, writing at
// once those whose events have all come; it returns the Waiter to block
// on, nil when views is empty.
func (j *Joiner) AddSpans(views []*View) *Waiter {
	if len(views) == 0 {
		return nil
	}
	w := newWaiter()
	now := time.Now()
	var ready []*call
	j.mu.Lock()
	for _, v := range views {
		c, complete := j.addSpan(keyOf(v.SC), v, viewSize(v), now)
		c.waiters = append(c.waiters, w)
		w.add()
		if complete { // its events came first: write it now, not at the next tick
			ready = append(ready, c)
			j.mem -= c.size
		}
	}
	over := j.mem > j.maxMem
	j.mu.Unlock()
	w.added()
	_ = j.writeCalls(ready) // the error reaches the waiters
	if over {
		j.shed()
	}
	return w
}

// Hold hands views (GenAI spans) to the join without waiting for anything:
// for a span processor, whose OnEnd must not block on the backend or on
// the wait window. A span with its content (see [Joiner.Split]) and no
// events held for it is complete at once; so is one whose answer event
// came before it. Both are written soon by the join's own goroutine, not
// the caller's; the others when their events come or the window ends.
//
// Over the memory cap, the oldest calls are written on the caller's
// goroutine before Hold returns, as by the pushes: that is the join's
// backpressure when the backend is slower than the spans come.
//
// After [Joiner.Close], Hold writes nothing, counts the views in
// [Stats].Dropped and returns false.
func (j *Joiner) Hold(views []*View) bool {
	if len(views) == 0 {
		return true
	}
	now := time.Now()
	var due bool
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		j.dropped.Add(int64(len(views)))
		return false
	}
	for _, v := range views {
		k := keyOf(v.SC)
		n := viewSize(v)
		if j.calls[k] == nil && hasContent(v) {
			// Nothing to join: straight to the loop, never into calls, so
			// that the tick's pass does not see it.
			j.mem += n
			j.rememberWritten(k, v, now)
			j.due = append(j.due, &call{key: k, span: v, arrived: now, size: n, direct: true})
			due = true
			continue
		}
		if c, complete := j.addSpan(k, v, n, now); complete { // its events came first
			j.due = append(j.due, c)
			due = true
		}
	}
	over := j.mem > j.maxMem
	j.mu.Unlock()
	j.settle(due, over)
	return true
}

// addSpan puts v, of n bytes, in the call of key k (made, arriving now,
// when there is none) and reports whether that call is now complete: then
// it is taken out of calls, its bytes still counted in mem. j.mu is held.
func (j *Joiner) addSpan(k joinKey, v *View, n int, now time.Time) (c *call, complete bool) {
	c = j.calls[k]
	if c == nil {
		c = &call{key: k, arrived: now}
		j.calls[k] = c
	}
	c.span = v
	c.size += n
	j.mem += n
	if c.open != nil {
		c.open, c.arrived = nil, now
	}
	if !c.complete() {
		return c, false
	}
	delete(j.calls, k)
	return c, true
}

// settle, called without the lock once calls were added, wakes the loop
// when some are due and writes the oldest on the caller's goroutine when
// the join is over its cap.
func (j *Joiner) settle(due, over bool) {
	if due {
		j.signal()
	}
	if over {
		j.shed()
	}
}

// AddEvents holds GenAI content events (see [IsContentEvent]; others, and
// events without trace and span id, are ignored) until they meet their
// span; it returns the Waiter to block on, nil when evs has none.
func (j *Joiner) AddEvents(evs []Event) *Waiter {
	w, _ := j.addEvents(evs, false)
	return w
}

// HoldEvents is [Joiner.AddEvents] without a Waiter, for a log processor,
// whose OnEmit must not block: the events are written when their call is.
// After [Joiner.Close] it refuses them, as [Joiner.Hold] refuses spans:
// it returns how many content events with a trace and span id it did not
// hold because the join was closed (the caller reports and counts them),
// 0 when it held them all. An event held before Close is written by
// Close; none is held after it and forgotten.
func (j *Joiner) HoldEvents(evs []Event) (refused int) {
	_, refused = j.addEvents(evs, true)
	return refused
}

// addEvents is AddEvents; with refuseClosed, it holds no event once the
// join is closed and counts those it refused.
func (j *Joiner) addEvents(evs []Event, refuseClosed bool) (w *Waiter, refused int) {
	var touched []*call
	now := time.Now()
	for _, ev := range evs {
		if !IsContentEvent(ev.Name) || !ev.HasSpan() {
			continue
		}
		var key joinKey
		copy(key[:16], ev.TraceID[:])
		copy(key[16:], ev.SpanID[:])
		n := eventSize(ev)
		j.mu.Lock()
		if refuseClosed && j.closed {
			j.mu.Unlock()
			refused++
			continue
		}
		if j.afterWrittenSpan(key, ev, now) {
			j.mu.Unlock()
			continue
		}
		if w == nil {
			w = newWaiter()
		}
		c := j.calls[key]
		if c == nil {
			c = &call{key: key, arrived: now}
			j.calls[key] = c
		}
		c.events = append(c.events, ev)
		if ev.Open != nil && c.span == nil {
			c.open = ev.Open
		}
		c.size += n
		j.mem += n
		if len(c.waiters) == 0 || c.waiters[len(c.waiters)-1] != w {
			c.waiters = append(c.waiters, w)
			w.add()
		}
		if c.span != nil && (len(touched) == 0 || touched[len(touched)-1] != c) {
			touched = append(touched, c)
		}
		j.mu.Unlock()
	}
	if w != nil {
		w.added()
		j.mu.Lock()
		// Calls whose span was here and that this push completed go to the
		// loop now rather than at its next tick. Checked after the whole
		// push, so that an answer event listed before its call's input
		// events does not send the call off without them.
		var due bool
		for _, c := range touched {
			if j.calls[c.key] == c && c.complete() {
				delete(j.calls, c.key)
				j.due = append(j.due, c)
				due = true
			}
		}
		over := j.mem > j.maxMem
		j.mu.Unlock()
		j.settle(due, over)
	}
	return w, refused
}

// maxWritten bounds the spans written with their content that the join
// remembers (about 100 bytes each): beyond it the oldest are forgotten
// before their window ends, and their events, if they come after that,
// are written as an entry of their own, as before the join remembered.
const maxWritten = 1 << 16

// writtenSpan is a span written at once with its content: when (Unix ns),
// which content keys it had, and whether later events of its call were
// counted in [Stats].EventsAfterSpan.
type writtenSpan struct {
	at      int64
	has     contentBits
	counted bool
}

// writtenItem is a span of writtenQ: its key, and when it was remembered,
// which tells a later remembering of the same span from it.
type writtenItem struct {
	key joinKey
	at  int64
}

// contentBits are the content attributes a call's view has or an event
// gives it (see [call.view]).
type contentBits uint8

const (
	hasInput contentBits = 1 << iota
	hasOutput
	hasSystem
)

func spanContent(v *View) contentBits {
	var b contentBits
	for _, kv := range v.Attrs {
		switch kv.Key {
		case keyInput:
			b |= hasInput
		case keyOutput:
			b |= hasOutput
		case keySystem:
			b |= hasSystem
		}
	}
	return b
}

// eventContent is the content attributes ev sets in a call's view: the
// message events the input (system messages included), gen_ai.choice the
// output, the details event those of its attributes.
func eventContent(ev Event) contentBits {
	switch ev.Name {
	case evSystem, evUser, evAssistant, evTool:
		return hasInput
	case evChoice:
		return hasOutput
	case evDetails:
		var b contentBits
		if _, ok := ev.Attrs[keyInput]; ok {
			b |= hasInput
		}
		if _, ok := ev.Attrs[keyOutput]; ok {
			b |= hasOutput
		}
		if _, ok := ev.Attrs[keySystem]; ok {
			b |= hasSystem
		}
		return b
	}
	return 0
}

// rememberWritten remembers v, about to be written at once with its
// content, until the wait window ends. j.mu is held.
func (j *Joiner) rememberWritten(k joinKey, v *View, now time.Time) {
	j.remember(k, writtenSpan{at: now.UnixNano(), has: spanContent(v)})
}

// remember remembers the call k as ws says until the wait window ends.
// j.mu is held.
func (j *Joiner) remember(k joinKey, ws writtenSpan) {
	j.forgetWritten(ws.at)
	if len(j.writtenQ) >= maxWritten {
		j.forgetOldestWritten()
	}
	j.written[k] = ws
	j.writtenQ = append(j.writtenQ, writtenItem{key: k, at: ws.at})
}

// Leave tells the join that the call of the span sc is written by someone
// else (the audit processor beside exporter/logaudit's Auditor paired the
// span with another layer of its call, see exporter.AuditSameCallKey): the
// events held for it are let go, and its events that come within the wait
// window are passed over, as those of a span written at once with all its
// content (not counted in [Stats].EventsAfterSpan). Without it they would
// be written as a second entry of the call, from the events alone.
func (j *Joiner) Leave(sc trace.SpanContext) {
	k := keyOf(sc)
	j.mu.Lock()
	c := j.calls[k]
	if c != nil {
		delete(j.calls, k)
		j.mem -= c.size
	}
	j.remember(k, writtenSpan{at: time.Now().UnixNano(), has: hasInput | hasOutput | hasSystem, counted: true})
	j.mu.Unlock()
	if c != nil {
		for _, w := range c.waiters {
			w.finish(nil)
		}
	}
}

// forgetWritten forgets the spans whose window ended by now (Unix ns).
// j.mu is held.
func (j *Joiner) forgetWritten(now int64) {
	for len(j.writtenQ) > 0 && now-j.writtenQ[0].at >= int64(j.wait) {
		j.forgetOldestWritten()
	}
}

func (j *Joiner) forgetOldestWritten() {
	it := j.writtenQ[0]
	j.writtenQ = j.writtenQ[1:]
	if ws, ok := j.written[it.key]; ok && ws.at == it.at {
		delete(j.written, it.key)
	}
	if len(j.writtenQ) == 0 {
		j.writtenQ = nil // let the array go
	}
}

// afterWrittenSpan reports whether ev belongs to a call whose span was
// written at once with its content within the wait window, and adds
// nothing to it: no call of that key is held (a held one joins as ever)
// and every content attribute ev would give the call is on the span (the
// join keeps the span's then, so the entry would be the span's). It
// counts the call in [Stats].EventsAfterSpan the first time. j.mu is held.
func (j *Joiner) afterWrittenSpan(k joinKey, ev Event, now time.Time) bool {
	if len(j.written) == 0 {
		return false
	}
	j.forgetWritten(now.UnixNano())
	ws, ok := j.written[k]
	if !ok || j.calls[k] != nil || eventContent(ev)&^ws.has != 0 {
		return false
	}
	if !ws.counted {
		ws.counted = true
		j.written[k] = ws
		j.eventsAfterSpan.Add(1)
	}
	return true
}

// shed writes, on the caller's goroutine, the due calls and then the
// oldest held calls, those with their span first, until the join is under
// its cap. The due calls come first: they are complete, so writing them
// loses nothing, and they are what piles up while the loop waits on a
// slow backend.
func (j *Joiner) shed() {
	j.mu.Lock()
	if j.mem <= j.maxMem {
		j.mu.Unlock()
		return
	}
	ready := j.takeDue()
	var early int
	// The older half of the calls whose span is here go first: written
	// early, their events, if any come, make an entry of their own with
	// the content they carry. Calls that wait for their span go only when
	// that is not enough: their span, when it comes, makes an entry
	// without the content its events carried.
	for _, spanHere := range [2]bool{true, false} {
		if j.mem <= j.maxMem {
			break
		}
		var times []time.Time
		for _, c := range j.calls {
			if (c.span != nil) == spanHere {
				times = append(times, c.arrived)
			}
		}
		cutoff := meanTime(times)
		for k, c := range j.calls {
			if (c.span != nil) == spanHere && !c.arrived.After(cutoff) {
				ready = append(ready, c)
				delete(j.calls, k)
				j.mem -= c.size
				early++
			}
		}
	}
	if len(ready) == 0 {
		j.mu.Unlock()
		return
	}
	j.shedding++
	j.mu.Unlock()
	j.overCap.Add(int64(early))
	_ = j.writeCalls(ready) // the error reaches the waiters
	j.mu.Lock()
	j.shedding--
	j.shedDone.Broadcast()
	j.mu.Unlock()
}

// takeDue returns the due calls and empties the list. j.mu is held.
func (j *Joiner) takeDue() []*call {
	ready := j.due
	j.due = nil
	for _, c := range ready {
		j.mem -= c.size
	}
	return ready
}

func meanTime(ts []time.Time) time.Time {
	if len(ts) == 0 {
		return time.Time{}
	}
	var sum time.Duration
	base := ts[0]
	for _, t := range ts {
		sum += t.Sub(base)
	}
	return base.Add(sum / time.Duration(len(ts)))
}

// flush writes the due calls and the held calls pick selects (none, and
// no pass over them, when pick is nil), and releases their waiters; it
// returns how many it wrote. It runs one at a time
// (loopMu), so that a Flush returns only once the loop's batch is written.
func (j *Joiner) flush(pick func(*call) bool) (int, error) {
	j.loopMu.Lock()
	defer j.loopMu.Unlock()
	j.mu.Lock()
	ready := j.takeDue()
	if pick != nil {
		for k, c := range j.calls {
			if pick(c) {
				ready = append(ready, c)
				delete(j.calls, k)
				j.mem -= c.size
			}
		}
	}
	j.mu.Unlock()
	return len(ready), j.writeCalls(ready)
}

// writeCalls writes calls taken out of the join and releases their
// waiters with the write's error.
func (j *Joiner) writeCalls(ready []*call) error {
	if len(ready) == 0 {
		return nil
	}
	views := make([]auditexporter.SpanView, 0, len(ready))
	for _, c := range ready {
		views = append(views, c.view())
	}
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if j.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, j.timeout)
	}
	err := j.write(ctx, views)
	cancel()
	if err == nil {
		// Counted once written: a failed write (retried by the caller's
		// queue) is not a call written, nor counted twice once it is.
		for _, c := range ready {
			switch {
			case c.direct:
			case c.span == nil:
				j.eventsAlone.Add(1)
			case len(c.events) == 0:
				j.spansAlone.Add(1)
			default:
				j.joined.Add(1)
			}
		}
	}
	for _, c := range ready {
		for _, w := range c.waiters {
			w.finish(err)
		}
	}
	return err
}

// Wait blocks until w's calls are written, returning the write's error, or
// until ctx ends, returning an error that wraps its cause. A nil w returns
// nil at once.
func Wait(ctx context.Context, w *Waiter) error {
	if w == nil {
		return nil
	}
	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		return fmt.Errorf("genaijoin: waiting for the join: %w", context.Cause(ctx))
	}
}

// view is the call as one span: the span's attributes plus the content of
// its events, in the semconv attribute form the conversion reads, so that
// a call gives the same entry whether its content came on the span or as
// events. Without the span, the ids come from the events and the time from
// the first event.
func (c *call) view() *View {
	var v View
	if c.span != nil {
		v = *c.span
		v.Attrs = append([]attribute.KeyValue(nil), c.span.Attrs...)
	}
	if len(c.events) == 0 {
		return &v
	}
	if c.span == nil {
		v.SC = trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID(c.key[:16]), SpanID: trace.SpanID(c.key[16:])})
		v.Start, v.End = c.events[0].Time, c.events[0].Time
		for _, e := range c.events {
			if e.Time.Before(v.Start) {
				v.Start = e.Time
			}
			if e.Time.After(v.End) {
				v.End = e.Time
			}
		}
		// GenAI keys the events carry (gen_ai.system, ...) mark the call.
		seen := map[string]bool{}
		for _, e := range c.events {
			for k, a := range e.Attrs {
				if strings.HasPrefix(k, "gen_ai.") && !seen[k] && !auditexporter.IsContentAttribute("", attribute.Key(k)) {
					seen[k] = true
					v.Attrs = append(v.Attrs, attribute.KeyValue{Key: attribute.Key(k), Value: AttrValue(a)})
				}
			}
		}
		if !seen["gen_ai.operation.name"] {
			v.Attrs = append(v.Attrs, attribute.String("gen_ai.operation.name", "chat"))
		}
		// An id of its own: the span's entry (written before these events
		// came, or after) has the id derived from the span, and from the
		// same millisecond these would get the same one and be taken for
		// a second delivery of it, their content dropped.
		v.Attrs = append(v.Attrs, otelaudit.AuditEntryIDKey.String(entryid.Derive(entryid.Events, v.SC, v.Start)))
	}
	var sys, in, out []message
	var details map[string]any
	for _, e := range c.events {
		switch e.Name {
		case evDetails:
			details = e.Attrs
		case evSystem, evUser, evAssistant, evTool:
			m := messageOf(e.Name, e.Body)
			if e.Name == evSystem {
				sys = append(sys, m)
			} else {
				in = append(in, m)
			}
		case evChoice:
			out = append(out, choiceOf(e.Body))
		}
	}
	set := func(key string, val any) {
		for _, kv := range v.Attrs {
			if string(kv.Key) == key {
				return // content on the span wins
			}
		}
		var s string
		if str, ok := val.(string); ok {
			s = str
		} else {
			b, err := json.Marshal(val)
			if err != nil {
				return
			}
			s = string(b)
		}
		v.Attrs = append(v.Attrs, attribute.String(key, s))
	}
	if details != nil {
		for _, k := range []string{keySystem, keyInput, keyOutput} {
			if val, ok := details[k]; ok {
				set(k, val)
			}
		}
	}
	if len(in) > 0 || len(sys) > 0 {
		set(keyInput, append(sys, in...))
	}
	if len(out) > 0 {
		set(keyOutput, out)
	}
	return &v
}

// message and part are the semconv message shapes, with the keys in the
// order the semconv examples (and otelaudit.MessagesJSON) write them, so
// that non-text parts hash the same as when an instrumentation records
// them on the span.
type message struct {
	Role         string `json:"role"`
	Parts        []part `json:"parts"`
	FinishReason string `json:"finish_reason,omitempty"`
}

type part struct {
	Type      string `json:"type"`
	Content   string `json:"content,omitempty"`
	ID        any    `json:"id,omitempty"`
	Name      any    `json:"name,omitempty"`
	Arguments any    `json:"arguments,omitempty"`
	Response  any    `json:"response,omitempty"`
}

// messageOf turns a message event's body into a semconv message.
func messageOf(name string, body any) message {
	m := message{Role: strings.TrimSuffix(strings.TrimPrefix(name, "gen_ai."), ".message"), Parts: []part{}}
	b, _ := body.(map[string]any)
	if r, ok := b["role"].(string); ok && r != "" {
		m.Role = r
	}
	if s, ok := b["content"].(string); ok && s != "" {
		if name == evTool {
			m.Parts = append(m.Parts, part{Type: "tool_call_response", ID: b["id"], Response: s})
		} else {
			m.Parts = append(m.Parts, part{Type: "text", Content: s})
		}
	} else if body != nil && b == nil {
		m.Parts = append(m.Parts, part{Type: "text", Content: fmt.Sprint(body)})
	}
	m.Parts = append(m.Parts, toolCalls(b["tool_calls"])...)
	return m
}

// choiceOf turns a gen_ai.choice body into a semconv output message.
func choiceOf(body any) message {
	b, _ := body.(map[string]any)
	msg, _ := b["message"].(map[string]any)
	m := messageOf(evAssistant, msg)
	if fr, ok := b["finish_reason"].(string); ok {
		m.FinishReason = fr
	}
	return m
}

// toolCalls turns the OpenAI-shaped tool_calls of an event body into
// semconv tool_call parts.
func toolCalls(v any) []part {
	list, _ := v.([]any)
	var parts []part
	for _, it := range list {
		tc, _ := it.(map[string]any)
		fn, _ := tc["function"].(map[string]any)
		p := part{Type: "tool_call", ID: tc["id"], Name: fn["name"]}
		if args, ok := fn["arguments"].(string); ok {
			if json.Valid([]byte(args)) {
				p.Arguments = json.RawMessage(args) // keeps the caller's key order
			} else {
				p.Arguments = args
			}
		}
		parts = append(parts, p)
	}
	return parts
}

// AttrValue converts a decoded JSON-like value (string, bool, int64 and
// the other integer types, float64, []any, map[string]any, nil) to an
// attribute value; other types become their fmt.Sprint string.
func AttrValue(a any) attribute.Value {
	switch x := a.(type) {
	case string:
		return attribute.StringValue(x)
	case bool:
		return attribute.BoolValue(x)
	case int64:
		return attribute.Int64Value(x)
	case int:
		return attribute.Int64Value(int64(x))
	case float64:
		return attribute.Float64Value(x)
	case []byte:
		return attribute.StringValue(string(x))
	case []any:
		vs := make([]attribute.Value, len(x))
		for i, e := range x {
			vs[i] = AttrValue(e)
		}
		return attribute.SliceValue(vs...)
	case map[string]any:
		kvs := make([]attribute.KeyValue, 0, len(x))
		for k, e := range x {
			kvs = append(kvs, attribute.KeyValue{Key: attribute.Key(k), Value: AttrValue(e)})
		}
		return attribute.MapValue(kvs...)
	case nil:
		return attribute.Value{}
	}
	return attribute.StringValue(fmt.Sprint(a))
}

func keyOf(sc trace.SpanContext) joinKey {
	var k joinKey
	tid, sid := sc.TraceID(), sc.SpanID()
	copy(k[:16], tid[:])
	copy(k[16:], sid[:])
	return k
}

func viewSize(v *View) int {
	n := 128
	for _, kv := range v.Attrs {
		n += len(kv.Key) + len(kv.Value.String()) + 16
	}
	return n
}

func eventSize(e Event) int {
	b, _ := json.Marshal(e.Body)
	a, _ := json.Marshal(e.Attrs)
	return 128 + len(e.Name) + len(b) + len(a)
}

// IsContentEvent reports whether name is one of the GenAI events whose
// content the join collects (the semconv message, choice and inference
// details events).
func IsContentEvent(name string) bool {
	switch name {
	case evSystem, evUser, evAssistant, evTool, evChoice, evDetails:
		return true
	}
	return false
}

// View is a span as the conversion reads it (it implements
// exporter.SpanView): the call's span, or the span the join makes of a
// call from its span and events. The conversion reads the span's own
// attributes and, from its events (SpanEvents), the
// gen_ai.evaluation.result ones: the others may be left out.
type View struct {
	SC         trace.SpanContext
	Start, End time.Time
	Attrs      []attribute.KeyValue
	SpanEvents []sdktrace.Event
}

var _ auditexporter.SpanView = (*View)(nil)

// SpanContext returns v.SC.
func (v *View) SpanContext() trace.SpanContext { return v.SC }

// StartTime returns v.Start.
func (v *View) StartTime() time.Time { return v.Start }

// EndTime returns v.End.
func (v *View) EndTime() time.Time { return v.End }

// Attributes returns v.Attrs.
func (v *View) Attributes() []attribute.KeyValue { return v.Attrs }

// Events returns v.SpanEvents: the conversion reads the evaluations
// (gen_ai.evaluation.result) of a view as of an SDK span.
func (v *View) Events() []sdktrace.Event { return v.SpanEvents }
