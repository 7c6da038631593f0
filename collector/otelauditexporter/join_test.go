package otelauditexporter_test

import (
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/collector/internal/coltest"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// joinCall is one chat call with a system prompt, a user question, a tool
// round trip and an answer.
type joinCall struct {
	tid  trace.TraceID
	sid  trace.SpanID
	i    int
	form string // "span": content on the span; "events": old message events; "details": the details event
}

func (c joinCall) texts() (system, user, answer string) {
	return fmt.Sprintf("%s be brief %d", marker, c.i), fmt.Sprintf("%s weather in city %d? é", marker, c.i), fmt.Sprintf("%s sunny %d", marker, c.i)
}

// semconv content, as an instrumentation that records it on the span (or
// in the details event) writes it.
func (c joinCall) semconv() (in, out string) {
	sys, user, answer := c.texts()
	in = fmt.Sprintf(`[{"role":"system","parts":[{"type":"text","content":%s}]},{"role":"user","parts":[{"type":"text","content":%s}]},`+
		`{"role":"assistant","parts":[{"type":"tool_call","id":"call_%d","name":"weather","arguments":{"city":"c%d"}}]},`+
		`{"role":"tool","parts":[{"type":"tool_call_response","id":"call_%d","response":"20C"}]}]`,
		jsonString(sys), jsonString(user), c.i, c.i, c.i)
	out = fmt.Sprintf(`[{"role":"assistant","parts":[{"type":"text","content":%s}],"finish_reason":"stop"}]`, jsonString(answer))
	return in, out
}

func (c joinCall) span(start time.Time) string {
	attrs := []attribute.KeyValue{
		attribute.String("gen_ai.operation.name", "chat"),
		attribute.String("gen_ai.system", "openai"),
		attribute.String("gen_ai.request.model", "gpt-4o-mini"),
		attribute.Int64("gen_ai.usage.input_tokens", int64(30+c.i)),
		attribute.Int64("gen_ai.usage.output_tokens", 5),
	}
	if c.form == "span" {
		in, out := c.semconv()
		attrs = append(attrs, attribute.String("gen_ai.input.messages", in), attribute.String("gen_ai.output.messages", out))
	}
	return jsonSpan(c.tid.String(), c.sid.String(), "chat gpt-4o-mini", start, start.Add(time.Second), attrs)
}

func logRecord(c joinCall, at time.Time, name, body string, attrs ...string) string {
	as := append([]string{`{"key":"gen_ai.system","value":{"stringValue":"openai"}}`}, attrs...)
	b := ""
	if body != "" {
		b = `"body":` + body + ","
	}
	return fmt.Sprintf(`{"timeUnixNano":"%d","eventName":%q,"traceId":%q,"spanId":%q,%s"attributes":[%s]}`,
		at.UnixNano(), name, c.tid.String(), c.sid.String(), b, strings.Join(as, ","))
}

func kv(pairs ...string) string {
	var vs []string
	for i := 0; i+1 < len(pairs); i += 2 {
		vs = append(vs, fmt.Sprintf(`{"key":%q,"value":%s}`, pairs[i], pairs[i+1]))
	}
	return `{"kvlistValue":{"values":[` + strings.Join(vs, ",") + `]}}`
}

func str(s string) string { return `{"stringValue":` + jsonString(s) + `}` }

// events are the log records of a call in the form the JS and Python
// instrumentations send.
func (c joinCall) events(at time.Time) []string {
	sys, user, answer := c.texts()
	switch c.form {
	case "events":
		toolCalls := fmt.Sprintf(`{"arrayValue":{"values":[%s]}}`, kv("id", str(fmt.Sprintf("call_%d", c.i)), "type", str("function"),
			"function", kv("name", str("weather"), "arguments", str(fmt.Sprintf(`{"city":"c%d"}`, c.i)))))
		return []string{
			logRecord(c, at, "gen_ai.system.message", kv("content", str(sys))),
			logRecord(c, at, "gen_ai.user.message", kv("content", str(user))),
			logRecord(c, at, "gen_ai.assistant.message", kv("tool_calls", toolCalls)),
			logRecord(c, at, "gen_ai.tool.message", kv("content", str("20C"), "id", str(fmt.Sprintf("call_%d", c.i)))),
			logRecord(c, at.Add(time.Second), "gen_ai.choice", kv("index", `{"intValue":"0"}`, "finish_reason", str("stop"),
				"message", kv("role", str("assistant"), "content", str(answer)))),
		}
	case "details":
		in, out := c.semconv()
		return []string{logRecord(c, at.Add(time.Second), "gen_ai.client.inference.operation.details", "",
			`{"key":"gen_ai.input.messages","value":`+str(in)+`}`, `{"key":"gen_ai.output.messages","value":`+str(out)+`}`)}
	}
	return nil
}

func post(t *testing.T, url, body string) {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	msg, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, string(msg))
}

// TestJoinSpansAndEvents: the same call gives the same entry whether its
// content came on the span, as the older message events or as the details
// event, and whether the events came before or after the span; events
// whose span never comes are written from the events alone after the wait
// window; the ordinary logs pipeline gets the events without content.
func TestJoinSpansAndEvents(t *testing.T) {
	dir := t.TempDir() + "/audit"
	httpPort := coltest.FreePort(t)
	ordinary := &sink{}
	srv := newSink(t, ordinary)
	col := coltest.Start(t, fmt.Sprintf(`
receivers:
  otlp:
    protocols:
      http: {endpoint: "127.0.0.1:%d"}
processors:
  otelauditredact: {}
exporters:
  otelaudit:
    directory: %s
    content: plaintext
    join_wait: 1s
  otlp_http:
    endpoint: %s
    compression: none
    encoding: json
service:
  telemetry:
    logs: {level: warn}
    metrics: {level: none}
  pipelines:
    traces/audit: {receivers: [otlp], exporters: [otelaudit]}
    logs/audit: {receivers: [otlp], exporters: [otelaudit]}
    logs/ordinary: {receivers: [otlp], processors: [otelauditredact], exporters: [otlp_http]}
`, httpPort, dir, srv))
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	start := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

	const n = 30
	var calls []joinCall
	for i := range n {
		for _, form := range []string{"span", "events", "details"} {
			c := joinCall{i: i, form: form}
			_, _ = rand.Read(c.tid[:])
			_, _ = rand.Read(c.sid[:])
			calls = append(calls, c)
		}
	}
	var spans, before, after []string
	for k, c := range calls {
		spans = append(spans, c.span(start))
		if k%2 == 0 {
			before = append(before, c.events(start)...)
		} else {
			after = append(after, c.events(start)...)
		}
	}
	logs := func(records []string) string {
		return `{"resourceLogs":[{"resource":{},"scopeLogs":[{"scope":{"name":"openai"},"logRecords":[` + strings.Join(records, ",") + `]}]}]}`
	}
	// An orphan: events whose span never comes.
	orphan := joinCall{i: 999, form: "events"}
	_, _ = rand.Read(orphan.tid[:])
	_, _ = rand.Read(orphan.sid[:])

	done := make(chan struct{})
	go func() { // pushes block until their entries are written
		defer close(done)
		post(t, base+"/v1/logs", logs(append(before, orphan.events(start)...)))
	}()
	time.Sleep(100 * time.Millisecond)
	post(t, base+"/v1/traces", `{"resourceSpans":[{"resource":{},"scopeSpans":[{"scope":{"name":"openai"},"spans":[`+strings.Join(spans, ",")+`]}]}]}`)
	post(t, base+"/v1/logs", logs(after))
	<-done
	require.NoError(t, col.Stop())

	st, err := filestore.New(dir, filestore.WithReadOnly())
	require.NoError(t, err)
	got := readAll(t, st)
	require.Len(t, got, len(calls)+1, "one entry per call, one for the orphan events")
	byIDs := map[string]*storage.AuditEntry{}
	for _, e := range got {
		byIDs[e.TraceID+e.SpanID] = e
	}
	for _, c := range calls {
		e := byIDs[c.tid.String()+c.sid.String()]
		require.NotNil(t, e, "call %d %s", c.i, c.form)
		ref := byIDs[calls[3*c.i].tid.String()+calls[3*c.i].sid.String()] // the "span" form
		sys, user, answer := c.texts()
		wantIn := sys + "\n" + user + "\n" + fmt.Sprintf(`{"arguments":{"city":"c%d"},"id":"call_%d","name":"weather","type":"tool_call"}`, c.i, c.i) +
			"\n" + fmt.Sprintf(`{"id":"call_%d","response":"20C","type":"tool_call_response"}`, c.i)
		assert.Equal(t, wantIn, *e.InputContent, "%s", c.form)
		assert.Equal(t, answer, *e.OutputContent, "%s", c.form)
		assert.Equal(t, ref.InputHash, e.InputHash, "%s", c.form)
		assert.Equal(t, ref.OutputHash, e.OutputHash, "%s", c.form)
		assert.Equal(t, "gpt-4o-mini", *e.Model)
		assert.Equal(t, "openai", *e.Provider)
		assert.Equal(t, int64(30+c.i), *e.InputTokens)
		assert.Equal(t, "chat", e.Operation)
		assert.True(t, e.Timestamp.Equal(start))
		assert.InDelta(t, 1000, e.LatencyMS, 0.001)
	}
	o := byIDs[orphan.tid.String()+orphan.sid.String()]
	require.NotNil(t, o, "orphan events are written, not dropped")
	_, _, answer := orphan.texts()
	assert.Equal(t, answer, *o.OutputContent)
	assert.Equal(t, "openai", *o.Provider)
	assert.Nil(t, o.Model)

	bodies := string(ordinary.all())
	assert.Contains(t, bodies, "gen_ai.user.message", "the ordinary pipeline gets the events")
	assert.NotContains(t, bodies, marker, "content reached the ordinary pipeline")
}

// TestJoinLateEventsKept: events that come after their span's wait
// window ended are written as an entry of their own (README: "a second
// entry for that call"), also when their first event has the span's start
// time, which gave them the id of the span's entry and had them dropped
// as a second delivery of it; and a span that comes after its events were
// written alone is written too.
func TestJoinLateEventsKept(t *testing.T) {
	base, dir, _, col := hostileCollector(t, "plaintext", "    join_wait: 200ms\n    sending_queue:\n      enabled: false")
	start := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at          time.Time
		eventsFirst bool
	}{{start, false}, {start.Add(3 * time.Millisecond), false}, {start, true}} {
		c := joinCall{i: 7, form: "events"}
		_, _ = rand.Read(c.tid[:])
		_, _ = rand.Read(c.sid[:])
		// Each part is written alone once its window ends (the push
		// returns then), before the other comes.
		span := func() {
			post(t, base+"/v1/traces", `{"resourceSpans":[{"resource":{},"scopeSpans":[{"scope":{"name":"openai"},"spans":[`+c.span(start)+`]}]}]}`)
		}
		events := func() {
			post(t, base+"/v1/logs", `{"resourceLogs":[{"resource":{},"scopeLogs":[{"scope":{"name":"openai"},"logRecords":[`+
				strings.Join(c.events(tc.at), ",")+`]}]}]}`)
		}
		if tc.eventsFirst {
			events()
			span()
		} else {
			span()
			events()
		}
	}
	require.NoError(t, col.Stop())

	st, err := filestore.New(dir, filestore.WithReadOnly())
	require.NoError(t, err)
	got := readAll(t, st)
	require.NoError(t, st.Close())
	withContent := 0
	for _, e := range got {
		if e.OutputContent != nil && strings.Contains(*e.OutputContent, marker) {
			withContent++
		}
	}
	assert.Len(t, got, 6, "each call: the span's entry and the events' entry")
	assert.Equal(t, 3, withContent, "the events' content is stored for every call")
}

// TestJoinContentOnSpanAndInEvents: an instrumentation that records a
// call's content both on its span and in its details event (the Python
// GenAI instrumentations' SPAN_AND_EVENT mode) gives one entry for the
// call, whichever comes first. The span first is written at once, as it
// carries its messages; its details event, a moment later, is not written
// again as an entry from the events alone. The event first is held and
// joined with the span, as before.
func TestJoinContentOnSpanAndInEvents(t *testing.T) {
	base, dir, _, col := hostileCollector(t, "plaintext", "    join_wait: 1s\n    sending_queue:\n      enabled: false")
	start := time.Now().Add(-2 * time.Second).UTC().Truncate(time.Millisecond)
	spanFirst, eventFirst := joinCall{i: 3, form: "span"}, joinCall{i: 4, form: "span"}
	for _, c := range []*joinCall{&spanFirst, &eventFirst} {
		_, _ = rand.Read(c.tid[:])
		_, _ = rand.Read(c.sid[:])
	}
	span := func(c joinCall) {
		post(t, base+"/v1/traces", `{"resourceSpans":[{"resource":{},"scopeSpans":[{"scope":{"name":"openai"},"spans":[`+c.span(start)+`]}]}]}`)
	}
	event := func(c joinCall) {
		c.form = "details"
		post(t, base+"/v1/logs", `{"resourceLogs":[{"resource":{},"scopeLogs":[{"scope":{"name":"openai"},"logRecords":[`+
			strings.Join(c.events(start), ",")+`]}]}]}`)
	}
	// No queue: each push returns once its entries are written (the
	// events-first push when the span has joined them).
	span(spanFirst)
	event(spanFirst)
	done := make(chan struct{})
	go func() { defer close(done); event(eventFirst) }()
	time.Sleep(200 * time.Millisecond)
	span(eventFirst)
	<-done
	require.NoError(t, col.Stop())

	st, err := filestore.New(dir, filestore.WithReadOnly())
	require.NoError(t, err)
	got := readAll(t, st)
	require.NoError(t, st.Close())
	for _, c := range []joinCall{spanFirst, eventFirst} {
		var es []*storage.AuditEntry
		for _, e := range got {
			if e.TraceID == c.tid.String() && e.SpanID == c.sid.String() {
				es = append(es, e)
			}
		}
		require.Len(t, es, 1, "call %d: one call, content on its span and in its details event", c.i)
		_, _, answer := c.texts()
		require.NotNil(t, es[0].OutputContent)
		assert.Equal(t, answer, *es[0].OutputContent)
	}
}
