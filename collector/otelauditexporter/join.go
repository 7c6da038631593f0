package otelauditexporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/collector/internal/genaievent"
	auditexporter "github.com/otelaudit/otelaudit-go/exporter"
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

// joinKey is a call's trace id and span id.
type joinKey [24]byte

// call is one GenAI call while its span and events meet.
type call struct {
	key     joinKey
	span    *spanView // nil until the span arrives
	events  []event
	arrived time.Time // when the first part arrived
	size    int       // bytes held, approximately
	waiters []*waiter // pushes waiting for this call's entry
}

type event struct {
	name  string
	body  any
	attrs map[string]any
	time  time.Time
}

// waiter is one push (traces or logs) that returns when every call it
// delivered parts of is written. It starts with one hold for the push
// itself, released by [waiter.added] once every part is in the join, so
// that calls written meanwhile cannot complete it early.
type waiter struct {
	mu   sync.Mutex
	left int
	err  error
	done chan struct{}
}

func newWaiter() *waiter { return &waiter{left: 1, done: make(chan struct{})} }

func (w *waiter) add() {
	w.mu.Lock()
	w.left++
	w.mu.Unlock()
}

// added releases the push's own hold.
func (w *waiter) added() { w.finish(nil) }

func (w *waiter) finish(err error) {
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

// joinStats are the join's counters, reported as the
// otelaudit.collector.join.calls metric.
type joinStats struct {
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
}

// joiner holds spans without content and GenAI events until they meet (by
// trace and span id) or their wait window ends, and then writes one entry
// per call through write. Pushes block until the entries of what they
// delivered are written, so a persistent queue keeps them until then.
type joiner struct {
	wait    time.Duration
	maxMem  int
	write   func(ctx context.Context, views []auditexporter.SpanView) error
	timeout time.Duration

	mu    sync.Mutex
	calls map[joinKey]*call
	mem   int

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once

	joined, spansAlone, eventsAlone, overCap atomic.Int64
}

func newJoiner(wait time.Duration, maxMem int, timeout time.Duration, write func(context.Context, []auditexporter.SpanView) error) *joiner {
	j := &joiner{wait: wait, maxMem: maxMem, timeout: timeout, write: write, calls: make(map[joinKey]*call), stop: make(chan struct{})}
	j.wg.Add(1)
	go j.loop()
	return j
}

func (j *joiner) stats() joinStats {
	return joinStats{Joined: j.joined.Load(), SpansWithoutEvents: j.spansAlone.Load(), EventsWithoutSpan: j.eventsAlone.Load(), OverCap: j.overCap.Load()}
}

// close stops the loop and writes every held call now. Later calls do
// nothing.
func (j *joiner) close() {
	j.closeOnce.Do(func() {
		close(j.stop)
		j.wg.Wait()
		j.flush(func(*call) bool { return true })
	})
}

func (j *joiner) loop() {
	defer j.wg.Done()
	tick := time.NewTicker(max(j.wait/20, 5*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-j.stop:
			return
		case now := <-tick.C:
			j.flush(func(c *call) bool { return c.complete() || now.Sub(c.arrived) >= j.wait })
		}
	}
}

// complete: the span is here and so is an event with the answer; the
// input events are emitted before it, so they have come too.
func (c *call) complete() bool {
	if c.span == nil {
		return false
	}
	for _, e := range c.events {
		if e.name == evChoice || e.name == evDetails {
			return true
		}
	}
	return false
}

// split separates the views to write at once (content on the span, and
// no events held for it) from those to hold for their events.
func (j *joiner) split(views []auditexporter.SpanView) (direct []auditexporter.SpanView, held []*spanView) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, v := range views {
		sv := v.(*spanView)
		if _, pending := j.calls[keyOf(sv.sc)]; !pending && hasContent(sv) {
			direct = append(direct, v)
		} else {
			held = append(held, sv)
		}
	}
	return direct, held
}

func hasContent(v *spanView) bool {
	for _, kv := range v.attrs {
		switch kv.Key {
		case keyInput, keyOutput, keySystem:
			return true
		}
	}
	return false
}

// addSpans holds spans (without content) for their events; it returns
// the waiter to block on, nil when nothing was held.
func (j *joiner) addSpans(views []*spanView) *waiter {
	if len(views) == 0 {
		return nil
	}
	w := newWaiter()
	now := time.Now()
	j.mu.Lock()
	for _, v := range views {
		k := keyOf(v.sc)
		c := j.calls[k]
		if c == nil {
			c = &call{key: k, arrived: now}
			j.calls[k] = c
		}
		c.span = v
		n := viewSize(v)
		c.size += n
		j.mem += n
		c.waiters = append(c.waiters, w)
		w.add()
	}
	over := j.mem > j.maxMem
	j.mu.Unlock()
	w.added()
	if over {
		j.shed()
	}
	return w
}

// addEvents holds the GenAI events of ld; it returns the waiter to block
// on, nil when ld has none.
func (j *joiner) addEvents(ld plog.Logs) *waiter {
	var w *waiter
	now := time.Now()
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for k := 0; k < sls.Len(); k++ {
			lrs := sls.At(k).LogRecords()
			for l := 0; l < lrs.Len(); l++ {
				lr := lrs.At(l)
				name := genaievent.Name(lr)
				if !isContentEvent(name) || lr.TraceID().IsEmpty() || lr.SpanID().IsEmpty() {
					continue
				}
				ev := event{name: name, body: lr.Body().AsRaw(), attrs: lr.Attributes().AsRaw(), time: lr.Timestamp().AsTime()}
				if lr.Timestamp() == 0 {
					ev.time = lr.ObservedTimestamp().AsTime()
				}
				var key joinKey
				tid, sid := lr.TraceID(), lr.SpanID()
				copy(key[:16], tid[:])
				copy(key[16:], sid[:])
				if w == nil {
					w = newWaiter()
				}
				n := eventSize(ev)
				j.mu.Lock()
				c := j.calls[key]
				if c == nil {
					c = &call{key: key, arrived: now}
					j.calls[key] = c
				}
				c.events = append(c.events, ev)
				c.size += n
				j.mem += n
				if len(c.waiters) == 0 || c.waiters[len(c.waiters)-1] != w {
					c.waiters = append(c.waiters, w)
					w.add()
				}
				j.mu.Unlock()
			}
		}
	}
	if w != nil {
		w.added()
		j.mu.Lock()
		over := j.mem > j.maxMem
		j.mu.Unlock()
		if over {
			j.shed()
		}
	}
	return w
}

// shed writes the oldest calls until the join is under its cap.
func (j *joiner) shed() {
	j.mu.Lock()
	var cutoff time.Time
	if j.mem > j.maxMem {
		// Write the older calls: those that arrived before the mean
		// arrival time, about half.
		var times []time.Time
		for _, c := range j.calls {
			times = append(times, c.arrived)
		}
		cutoff = meanTime(times)
	}
	j.mu.Unlock()
	if cutoff.IsZero() {
		return
	}
	n := j.flush(func(c *call) bool { return !c.arrived.After(cutoff) })
	j.overCap.Add(int64(n))
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

// flush writes the calls pick selects and releases their waiters; it
// returns how many it wrote.
func (j *joiner) flush(pick func(*call) bool) int {
	j.mu.Lock()
	var ready []*call
	for k, c := range j.calls {
		if pick(c) {
			ready = append(ready, c)
			delete(j.calls, k)
			j.mem -= c.size
		}
	}
	j.mu.Unlock()
	if len(ready) == 0 {
		return 0
	}
	views := make([]auditexporter.SpanView, 0, len(ready))
	for _, c := range ready {
		v := c.view()
		switch {
		case c.span == nil:
			j.eventsAlone.Add(1)
		case len(c.events) == 0:
			j.spansAlone.Add(1)
		default:
			j.joined.Add(1)
		}
		views = append(views, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), j.timeout)
	err := j.write(ctx, views)
	cancel()
	for _, c := range ready {
		for _, w := range c.waiters {
			w.finish(err)
		}
	}
	return len(ready)
}

// wait blocks until w's calls are written or ctx ends.
func wait(ctx context.Context, w *waiter) error {
	if w == nil {
		return nil
	}
	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		return fmt.Errorf("otelaudit exporter: waiting for the join: %w", context.Cause(ctx))
	}
}

// view is the call as one span: the span's attributes plus the content of
// its events, in the semconv attribute form the conversion reads, so that
// a call gives the same entry whether its content came on the span or as
// events. Without the span, the ids come from the events and the time from
// the first event.
func (c *call) view() *spanView {
	var v spanView
	if c.span != nil {
		v = *c.span
		v.attrs = append([]attribute.KeyValue(nil), c.span.attrs...)
	}
	if len(c.events) == 0 {
		return &v
	}
	if c.span == nil {
		v.sc = trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID(c.key[:16]), SpanID: trace.SpanID(c.key[16:])})
		v.start, v.end = c.events[0].time, c.events[0].time
		for _, e := range c.events {
			if e.time.Before(v.start) {
				v.start = e.time
			}
			if e.time.After(v.end) {
				v.end = e.time
			}
		}
		// GenAI keys the events carry (gen_ai.system, ...) mark the call.
		seen := map[string]bool{}
		for _, e := range c.events {
			for k, a := range e.attrs {
				if strings.HasPrefix(k, "gen_ai.") && !seen[k] && !auditexporter.IsContentAttribute("", attribute.Key(k)) {
					seen[k] = true
					v.attrs = append(v.attrs, attribute.KeyValue{Key: attribute.Key(k), Value: anyValue(a)})
				}
			}
		}
		if !seen["gen_ai.operation.name"] {
			v.attrs = append(v.attrs, attribute.String("gen_ai.operation.name", "chat"))
		}
	}
	var sys, in, out []message
	var details map[string]any
	for _, e := range c.events {
		switch e.name {
		case evDetails:
			details = e.attrs
		case evSystem, evUser, evAssistant, evTool:
			m := messageOf(e.name, e.body)
			if e.name == evSystem {
				sys = append(sys, m)
			} else {
				in = append(in, m)
			}
		case evChoice:
			out = append(out, choiceOf(e.body))
		}
	}
	set := func(key string, val any) {
		for _, kv := range v.attrs {
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
		v.attrs = append(v.attrs, attribute.String(key, s))
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
	Result    any    `json:"result,omitempty"`
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
			m.Parts = append(m.Parts, part{Type: "tool_call_response", ID: b["id"], Result: s})
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

func anyValue(a any) attribute.Value {
	v := pcommon.NewValueEmpty()
	if err := v.FromRaw(a); err != nil {
		return attribute.StringValue(fmt.Sprint(a))
	}
	return value(v)
}

func keyOf(sc trace.SpanContext) joinKey {
	var k joinKey
	tid, sid := sc.TraceID(), sc.SpanID()
	copy(k[:16], tid[:])
	copy(k[16:], sid[:])
	return k
}

func viewSize(v *spanView) int {
	n := 128
	for _, kv := range v.attrs {
		n += len(kv.Key) + len(kv.Value.String()) + 16
	}
	return n
}

func eventSize(e event) int {
	b, _ := json.Marshal(e.body)
	a, _ := json.Marshal(e.attrs)
	return 128 + len(e.name) + len(b) + len(a)
}

func isContentEvent(name string) bool {
	switch name {
	case evSystem, evUser, evAssistant, evTool, evChoice, evDetails:
		return true
	}
	return false
}

var errNotStarted = errors.New("otelaudit exporter: not started")
