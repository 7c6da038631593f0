package otelauditexporter_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/collector/internal/coltest"
	auditexporter "github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// hostileCollector starts a Collector whose otelaudit exporter writes into
// a file store (content mode content, extra exporter settings extra), in
// a traces and a logs pipeline, and whose own logs go to a file; it returns the OTLP/HTTP base URL, the
// store directory, the log file and the Collector.
func hostileCollector(t *testing.T, content, extra string) (base, dir, logFile string, col *coltest.Collector) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "audit")
	logFile = filepath.Join(t.TempDir(), "collector.log")
	port := coltest.FreePort(t)
	col = coltest.Start(t, fmt.Sprintf(`
receivers:
  otlp:
    protocols:
      http: {endpoint: "127.0.0.1:%d"}
exporters:
  otelaudit:
    directory: %s
    content: %s
%s
service:
  telemetry:
    logs: {level: debug, output_paths: [%s], error_output_paths: [%s]}
    metrics: {level: none}
  pipelines:
    traces/audit: {receivers: [otlp], exporters: [otelaudit]}
    logs/audit: {receivers: [otlp], exporters: [otelaudit]}
`, port, dir, content, extra, logFile, logFile))
	return fmt.Sprintf("http://127.0.0.1:%d", port), dir, logFile, col
}

// postTraces posts td as OTLP/HTTP protobuf (which carries any bytes,
// invalid UTF-8 too) and returns the status code and body.
func postTraces(t *testing.T, base string, td ptrace.Traces) (int, string) {
	t.Helper()
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	res, err := http.Post(base+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
	require.NoError(t, err)
	defer res.Body.Close()
	msg, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(msg)
}

// genAISpan appends a chat span with random ids to ss.
func genAISpan(ss ptrace.ScopeSpans) ptrace.Span {
	s := newSpan(ss, "chat")
	s.Attributes().PutStr("gen_ai.operation.name", "chat")
	s.Attributes().PutStr("gen_ai.provider.name", "openai")
	return s
}

// newSpan appends a span named name with random ids, one second long and
// ended now, and no attributes to ss.
func newSpan(ss ptrace.ScopeSpans, name string) ptrace.Span {
	s := ss.Spans().AppendEmpty()
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	_, _ = rand.Read(tid[:])
	_, _ = rand.Read(sid[:])
	s.SetTraceID(tid)
	s.SetSpanID(sid)
	s.SetName(name)
	start := time.Now().Add(-time.Second)
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Second)))
	return s
}

func readLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// TestHostileOversizedEntry: a span whose content (plaintext) is larger
// than the store's line limit cannot become an entry. It must not hold
// back the other spans of its batch, nor be retried forever: the other
// spans are entries, the oversized one is counted and logged without its
// content.
func TestHostileOversizedEntry(t *testing.T) {
	base, dir, logFile, col := hostileCollector(t, "plaintext", `    timeout: 5s
    join_wait: 1s
    retry_on_failure: {enabled: true, max_elapsed_time: 0}`)
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	var ok []string
	for range 3 {
		s := genAISpan(ss)
		s.Attributes().PutStr("gen_ai.input.messages", marker+" small")
		ok = append(ok, s.SpanID().String())
	}
	huge := genAISpan(ss)
	huge.Attributes().PutStr("gen_ai.input.messages", marker+strings.Repeat("x", 9<<20))

	done := make(chan int, 1)
	go func() { code, _ := postTraces(t, base, td); done <- code }()
	select {
	case code := <-done:
		assert.Equal(t, http.StatusOK, code)
	case <-time.After(60 * time.Second):
		t.Error("the push of a batch with one oversized span did not return within 60s")
	}
	require.NoError(t, col.Stop())

	st, err := filestore.New(dir, filestore.WithReadOnly())
	require.NoError(t, err)
	got := readAll(t, st)
	var spans []string
	for _, e := range got {
		spans = append(spans, e.SpanID)
	}
	assert.ElementsMatch(t, ok, spans, "the batch's other spans are entries")
	logs := readLog(t, logFile)
	assert.Contains(t, logs, huge.SpanID().String(), "the oversized span is logged by id")
	assert.NotContains(t, logs, marker, "content in the Collector's log")
}

// hostileCase is one GenAI span an OTLP sender may send, set up by edit.
type hostileCase struct {
	name string
	edit func(s ptrace.Span)
}

func nested(depth int, leaf string) string {
	return strings.Repeat("[", depth) + jsonString(leaf) + strings.Repeat("]", depth)
}

var hostileCases = []hostileCase{
	{"input int", func(s ptrace.Span) { s.Attributes().PutInt("gen_ai.input.messages", 42) }},
	{"input array", func(s ptrace.Span) {
		sl := s.Attributes().PutEmptySlice("gen_ai.input.messages")
		sl.AppendEmpty().SetStr(marker + " a")
		sl.AppendEmpty().SetInt(3)
	}},
	{"input map", func(s ptrace.Span) {
		s.Attributes().PutEmptyMap("gen_ai.input.messages").PutStr("content", marker+" m")
	}},
	{"input not json", func(s ptrace.Span) { s.Attributes().PutStr("gen_ai.input.messages", marker+" plain {[") }},
	{"input deeply nested json", func(s ptrace.Span) {
		s.Attributes().PutStr("gen_ai.input.messages", nested(200000, marker))
	}},
	{"input invalid utf8", func(s ptrace.Span) {
		s.Attributes().PutStr("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"`+marker+"\xff\xfe"+`"}]}]`)
	}},
	{"output bytes", func(s ptrace.Span) {
		s.Attributes().PutEmptyBytes("gen_ai.output.messages").FromRaw([]byte(marker + "\x00\xff"))
	}},
	{"model invalid utf8", func(s ptrace.Span) { s.Attributes().PutStr("gen_ai.request.model", "m\xff") }},
	{"model int", func(s ptrace.Span) { s.Attributes().PutInt("gen_ai.request.model", 4) }},
	{"metadata invalid utf8", func(s ptrace.Span) { s.Attributes().PutStr("audit.metadata.user", marker+"\xff") }},
	{"metadata key invalid utf8", func(s ptrace.Span) { s.Attributes().PutStr("audit.metadata.\xff", marker) }},
	{"metadata NaN", func(s ptrace.Span) { s.Attributes().PutDouble("audit.metadata.score", math.NaN()) }},
	{"metadata nested", func(s ptrace.Span) {
		m := s.Attributes().PutEmptyMap("audit.metadata.deep")
		for range 25 {
			m = m.PutEmptyMap("x")
		}
		m.PutStr("leaf", marker)
	}},
	{"tokens string", func(s ptrace.Span) { s.Attributes().PutStr("gen_ai.usage.input_tokens", "abc") }},
	{"tokens double", func(s ptrace.Span) { s.Attributes().PutDouble("gen_ai.usage.output_tokens", 1.5) }},
	{"tokens negative", func(s ptrace.Span) { s.Attributes().PutInt("gen_ai.usage.input_tokens", -5) }},
	{"operation int", func(s ptrace.Span) { s.Attributes().PutInt("gen_ai.operation.name", 7) }},
	{"operation empty", func(s ptrace.Span) { s.Attributes().PutStr("gen_ai.operation.name", "") }},
	{"entry id empty", func(s ptrace.Span) { s.Attributes().PutStr("audit.entry_id", "") }},
	{"entry id path", func(s ptrace.Span) { s.Attributes().PutStr("audit.entry_id", "../../etc/passwd") }},
	{"entry id long", func(s ptrace.Span) { s.Attributes().PutStr("audit.entry_id", strings.Repeat("a", 100000)) }},
	{"entry id invalid utf8", func(s ptrace.Span) { s.Attributes().PutStr("audit.entry_id", "id\xff") }},
	{"entry id int", func(s ptrace.Span) { s.Attributes().PutInt("audit.entry_id", 1) }},
	{"zero times", func(s ptrace.Span) { s.SetStartTimestamp(0); s.SetEndTimestamp(0) }},
	{"end before start", func(s ptrace.Span) { s.SetEndTimestamp(s.StartTimestamp() - 1e9) }},
	{"max times", func(s ptrace.Span) { s.SetStartTimestamp(math.MaxUint64); s.SetEndTimestamp(math.MaxUint64) }},
	{"zero span id", func(s ptrace.Span) { s.SetSpanID(pcommon.SpanID{}) }},
	{"zero trace id", func(s ptrace.Span) { s.SetTraceID(pcommon.TraceID{}) }},
	{"safety string", func(s ptrace.Span) { s.Attributes().PutStr("audit.safety_passed", "\xff") }},
	{"alerts mixed", func(s ptrace.Span) {
		sl := s.Attributes().PutEmptySlice("audit.alerts")
		sl.AppendEmpty().SetStr("a\xff")
		sl.AppendEmpty().SetEmptyMap().PutStr("k", marker)
	}},
}

// TestHostileSpans sends GenAI spans with attributes of wrong types,
// invalid UTF-8, deep nesting and odd ids and times, one request per
// content mode: no panic, and each span is one entry or is named (by its
// span id) in the Collector's log with the reason; the log holds no
// content.
func TestHostileSpans(t *testing.T) {
	for _, content := range []string{"hash", "plaintext"} {
		t.Run(content, func(t *testing.T) {
			base, dir, logFile, col := hostileCollector(t, content, "    timeout: 10s\n    join_wait: 1s")
			td := ptrace.NewTraces()
			ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
			ids := map[string]string{}
			for _, c := range hostileCases {
				s := genAISpan(ss)
				c.edit(s)
				sid := s.SpanID()
				ids[c.name] = hex.EncodeToString(sid[:]) // String() is "" for the zero id
			}
			code, msg := postTraces(t, base, td)
			require.Equal(t, http.StatusOK, code, msg)
			require.NoError(t, col.Stop())

			st, err := filestore.New(dir, filestore.WithReadOnly())
			require.NoError(t, err)
			defer st.Close()
			es, err := st.ListEntries(t.Context(), time.Time{}, time.Unix(1<<40, 0))
			require.NoError(t, err)
			bySpan := map[string]int{}
			for _, e := range es {
				bySpan[e.SpanID]++
			}
			logs := readLog(t, logFile)
			for _, c := range hostileCases {
				id := ids[c.name]
				n := bySpan[id]
				logged := strings.Contains(logs, id)
				t.Logf("%-26s entries=%d logged=%v", c.name, n, logged)
				assert.True(t, n == 1 || (n == 0 && logged), "%s: %d entries, logged %v", c.name, n, logged)
			}
			assert.NotContains(t, logs, marker, "content in the Collector's log")
		})
	}
}

// TestHostileRequestsNotLogged: requests the receiver refuses (malformed
// OTLP/JSON and protobuf holding prompt text) and GenAI log events of
// wrong shapes: no panic, no content in the Collector's log (at debug
// level), and every event with ids becomes part of an entry.
func TestHostileRequestsNotLogged(t *testing.T) {
	base, dir, logFile, col := hostileCollector(t, "plaintext", "    join_wait: 200ms")
	for _, path := range []string{"/v1/traces", "/v1/logs"} {
		for _, req := range []struct{ ctype, body string }{
			{"application/json", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"gen_ai.input.messages","value":{"stringValue":"` + marker + `"}}],"traceId":"` + marker + `"}]}]}]}`},
			{"application/json", `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"` + marker + `"},"timeUnixNano":"` + marker + `"}]}]}]}`},
			{"application/json", `{"x": "` + marker + ``},
			{"application/x-protobuf", "\x0a\xff\xff\xff\x0f" + marker},
		} {
			res, err := http.Post(base+path, req.ctype, strings.NewReader(req.body))
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			assert.Less(t, res.StatusCode, 500, "%s %s", path, req.body) // 400, or 200 for the other signal's body
		}
	}

	var tid [16]byte
	_, _ = rand.Read(tid[:])
	rec := func(i int, name, body string) string {
		b := ""
		if body != "" {
			b = `"body":` + body + ","
		}
		return fmt.Sprintf(`{"timeUnixNano":"%d","eventName":%q,"traceId":"%x","spanId":"%016x",%s"attributes":[{"key":"gen_ai.system","value":{"stringValue":"openai"}}]}`,
			time.Now().UnixNano(), name, tid, i+1, b)
	}
	records := []string{
		rec(0, "gen_ai.user.message", str(marker+" body is a string")),
		rec(1, "gen_ai.user.message", `{"arrayValue":{"values":[`+str(marker)+`,{"intValue":"3"}]}}`),
		rec(2, "gen_ai.choice", kv("message", str(marker+" message is a string"), "finish_reason", `{"intValue":"1"}`)),
		rec(3, "gen_ai.choice", kv("message", kv("content", `{"intValue":"5"}`, "tool_calls", str(marker)))),
		rec(4, "gen_ai.assistant.message", kv("tool_calls", `{"arrayValue":{"values":[`+str(marker)+`,{"kvlistValue":{"values":[{"key":"function","value":`+str("f")+`}]}}]}}`)),
		rec(5, "gen_ai.client.inference.operation.details", kv("gen_ai.input.messages", str(marker))),
		rec(6, "gen_ai.tool.message", ""),
		rec(7, "gen_ai.system.message", `{"bytesValue":"AAEC"}`),
	}
	body := `{"resourceLogs":[{"resource":{},"scopeLogs":[{"scope":{"name":"x"},"logRecords":[` + strings.Join(records, ",") + `]}]}]}`
	post(t, base+"/v1/logs", body)
	require.NoError(t, col.Stop())

	st, err := filestore.New(dir, filestore.WithReadOnly())
	require.NoError(t, err)
	got := readAll(t, st)
	assert.Len(t, got, len(records), "one entry per call")
	logs := readLog(t, logFile)
	assert.NotContains(t, logs, marker, "content in the Collector's log")
}

// TestJoinWithoutTimeout: timeout: 0 (exporterhelper's "no timeout") with
// the exporter in a logs pipeline. The join wrote its calls with a context
// that had already ended, so a span without content never became an entry
// and its push was retried until shutdown.
func TestJoinWithoutTimeout(t *testing.T) {
	base, dir, _, col := hostileCollector(t, "hash", "    timeout: 0s\n    join_wait: 100ms")
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	held := genAISpan(ss) // no content: waits in the join
	code, msg := postTraces(t, base, td)
	require.Equal(t, http.StatusOK, code, msg)
	st, err := filestore.New(dir, filestore.WithReadOnly())
	require.NoError(t, err)
	defer st.Close()
	require.Eventually(t, func() bool {
		es, err := st.ListEntries(t.Context(), time.Time{}, time.Now().Add(time.Hour))
		return err == nil && len(es) == 1 && es[0].SpanID == held.SpanID().String()
	}, 10*time.Second, 50*time.Millisecond, "the held span's entry")
	require.NoError(t, col.Stop())
}

// TestEventsWithoutIDsLogged: GenAI content events emitted outside a span
// (no trace and span id) cannot be joined; the Collector's log says how
// many were not audited, without their content.
func TestEventsWithoutIDsLogged(t *testing.T) {
	base, dir, logFile, col := hostileCollector(t, "hash", "    join_wait: 100ms")
	records := []string{
		fmt.Sprintf(`{"timeUnixNano":"%d","eventName":"gen_ai.user.message","body":%s}`, time.Now().UnixNano(), kv("content", str(marker))),
		fmt.Sprintf(`{"timeUnixNano":"%d","eventName":"gen_ai.choice","body":%s}`, time.Now().UnixNano(), kv("message", kv("content", str(marker)))),
	}
	post(t, base+"/v1/logs", `{"resourceLogs":[{"resource":{},"scopeLogs":[{"scope":{"name":"x"},"logRecords":[`+strings.Join(records, ",")+`]}]}]}`)
	require.NoError(t, col.Stop())
	st, err := filestore.New(dir, filestore.WithReadOnly())
	require.NoError(t, err)
	assert.Empty(t, readAll(t, st))
	logs := readLog(t, logFile)
	assert.Contains(t, logs, `without a trace and span id are not audited`)
	assert.Contains(t, logs, `"events": 2`)
	assert.NotContains(t, logs, marker)
}

// TestOpenLLMetrySpan: a span as OpenLLMetry-style instrumentations send
// it (semconv before 1.37: gen_ai.system, indexed gen_ai.prompt.<i>.* and
// gen_ai.completion.<i>.* attributes) is one entry with its prompts as
// input and its completion as output, not an entry of empty content.
func TestOpenLLMetrySpan(t *testing.T) {
	base, dir, _, col := hostileCollector(t, "plaintext", "")
	td := ptrace.NewTraces()
	s := newSpan(td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty(), "openai.chat")
	a := s.Attributes()
	a.PutStr("gen_ai.system", "openai")
	a.PutStr("gen_ai.request.model", "gpt-4o")
	a.PutStr("gen_ai.prompt.0.role", "system")
	a.PutStr("gen_ai.prompt.0.content", "You are terse.")
	a.PutStr("gen_ai.prompt.1.role", "user")
	a.PutStr("gen_ai.prompt.1.content", marker+" question")
	a.PutStr("gen_ai.completion.0.role", "assistant")
	a.PutStr("gen_ai.completion.0.content", "the answer")
	a.PutInt("gen_ai.usage.prompt_tokens", 12)
	a.PutInt("gen_ai.usage.completion_tokens", 3)
	code, body := postTraces(t, base, td)
	require.Equal(t, http.StatusOK, code, body)
	require.NoError(t, col.Stop())

	st, err := filestore.New(dir, filestore.WithReadOnly())
	require.NoError(t, err)
	got := readAll(t, st)
	require.Len(t, got, 1)
	for _, e := range got {
		assert.Equal(t, s.SpanID().String(), e.SpanID)
		require.NotNil(t, e.InputContent)
		require.NotNil(t, e.OutputContent)
		assert.Equal(t, "You are terse.\n"+marker+" question", *e.InputContent)
		assert.Equal(t, "the answer", *e.OutputContent)
		assert.Equal(t, "gpt-4o", *e.Model)
		require.NotNil(t, e.InputTokens)
		assert.Equal(t, int64(12), *e.InputTokens)
	}
}

// TestOpenInferenceAndLegacyNotHeld: an OpenInference LLM span (Phoenix's
// instrumentations: llm.* keys, no gen_ai.*) is one entry with its
// messages as content; it and an OpenLLMetry-style span carry their
// content themselves, so the join does not hold them for events: with
// the sending queue disabled the push is answered well before join_wait,
// already written.
func TestOpenInferenceAndLegacyNotHeld(t *testing.T) {
	base, dir, _, col := hostileCollector(t, "plaintext", "    timeout: 20s\n    join_wait: 8s\n    sending_queue:\n      enabled: false")
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	oi := newSpan(ss, "ChatCompletion")
	a := oi.Attributes()
	a.PutStr("openinference.span.kind", "LLM")
	a.PutStr("llm.system", "openai")
	a.PutStr("llm.model_name", "gpt-4o-mini")
	a.PutStr("input.value", `{"messages": [{"role": "user", "content": "`+marker+` question"}]}`)
	a.PutStr("llm.input_messages.0.message.role", "user")
	a.PutStr("llm.input_messages.0.message.content", marker+" question")
	a.PutStr("llm.output_messages.0.message.role", "assistant")
	a.PutStr("llm.output_messages.0.message.content", "the answer")
	a.PutInt("llm.token_count.prompt", 9)
	a.PutStr("session.id", "sess-9")
	legacy := newSpan(ss, "openai.chat")
	legacy.Attributes().PutStr("gen_ai.system", "openai")
	legacy.Attributes().PutStr("gen_ai.prompt.0.content", marker+" legacy")
	chain := newSpan(ss, "RunnableSequence") // not a model call: not audited
	chain.Attributes().PutStr("openinference.span.kind", "CHAIN")
	chain.Attributes().PutStr("input.value", marker)

	bySpan := postNotHeld(t, base, dir, td, 2, "written before the push was answered, the chain span not audited")
	e := bySpan[oi.SpanID().String()]
	require.NotNil(t, e)
	require.NotNil(t, e.InputContent)
	require.NotNil(t, e.OutputContent)
	assert.Equal(t, marker+" question", *e.InputContent)
	assert.Equal(t, "the answer", *e.OutputContent)
	assert.Equal(t, "gpt-4o-mini", *e.Model)
	assert.Equal(t, "openai", *e.Provider)
	assert.Equal(t, "chat", e.Operation)
	assert.Equal(t, "sess-9", *e.ConversationID)
	require.NotNil(t, e.InputTokens)
	assert.Equal(t, int64(9), *e.InputTokens)
	require.NotNil(t, bySpan[legacy.SpanID().String()])
	assert.Equal(t, marker+" legacy", *bySpan[legacy.SpanID().String()].InputContent)
	require.NoError(t, col.Stop())
}

// TestHostileRedeliveryAndClaimedIDs: spans delivered twice (a client
// retrying a push it gave up on, one span twice in one push) make one
// entry each; a span that names another span's entry id in
// audit.entry_id, or the id derived from another span, is written under
// its own span's id with the id it claimed in its metadata, and every
// entry id in the store stays unique.
func TestHostileRedeliveryAndClaimedIDs(t *testing.T) {
	// Pushes answered once written (no sending queue), spans with content
	// (not held by the join): the order of writes is the order of posts.
	base, dir, logFile, col := hostileCollector(t, "hash", "    timeout: 10s\n    join_wait: 1s\n    sending_queue:\n      enabled: false")
	const claimedID = "0190f0a0-0000-7000-8000-000000000001"
	genAISpan := func(ss ptrace.ScopeSpans) ptrace.Span {
		s := genAISpan(ss)
		s.Attributes().PutStr("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"hi"}]}]`)
		return s
	}

	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	a := genAISpan(ss) // its entry id derived from the span
	b := genAISpan(ss) // names its own id
	b.Attributes().PutStr("audit.entry_id", claimedID)
	a.CopyTo(ss.Spans().AppendEmpty()) // a again in the same push
	for range 2 {                      // the whole push delivered twice
		code, msg := postTraces(t, base, td)
		require.Equal(t, http.StatusOK, code, msg)
	}

	td2 := ptrace.NewTraces()
	ss2 := td2.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	c := genAISpan(ss2) // claims b's id
	c.Attributes().PutStr("audit.entry_id", claimedID)
	d := genAISpan(ss2) // claims the id derived from a
	aID := auditexporter.EntryIDForSpan(pdataSpanContext(a), a.StartTimestamp().AsTime())
	d.Attributes().PutStr("audit.entry_id", aID)
	code, msg := postTraces(t, base, td2)
	require.Equal(t, http.StatusOK, code, msg)
	code, msg = postTraces(t, base, td2) // and again
	require.Equal(t, http.StatusOK, code, msg)
	require.NoError(t, col.Stop())

	st, err := filestore.New(dir, filestore.WithReadOnly())
	require.NoError(t, err)
	byID := readAll(t, st) // fails on an id stored twice
	require.Len(t, byID, 4, "one entry per span")
	bySpan := map[string]*storage.AuditEntry{}
	for _, e := range byID {
		bySpan[e.SpanID] = e
	}
	spanID := func(s ptrace.Span) string { id := s.SpanID(); return hex.EncodeToString(id[:]) }
	assert.Equal(t, aID, bySpan[spanID(a)].ID)
	assert.Equal(t, claimedID, bySpan[spanID(b)].ID)
	for _, s := range []ptrace.Span{c, d} {
		e := bySpan[spanID(s)]
		require.NotNil(t, e)
		assert.Equal(t, auditexporter.EntryIDForSpan(pdataSpanContext(s), s.StartTimestamp().AsTime()), e.ID, "written under its own span's id")
		assert.NotNil(t, e.Metadata["claimed_entry_id"])
	}
	assert.Equal(t, claimedID, bySpan[spanID(c)].Metadata["claimed_entry_id"])
	assert.Equal(t, aID, bySpan[spanID(d)].Metadata["claimed_entry_id"])
	logs := readLog(t, logFile)
	assert.Contains(t, logs, "delivered again were not written again")
	assert.Contains(t, logs, "named in audit.entry_id the entry of another span")
}

func pdataSpanContext(s ptrace.Span) trace.SpanContext {
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID(s.TraceID()), SpanID: trace.SpanID(s.SpanID())})
}

// postNotHeld posts td to a Collector whose join waits 8 s (join_wait)
// and whose sending queue is off, checks that the push was answered well
// before that wait, and returns the n entries then in the file store at
// dir, by span id.
func postNotHeld(t *testing.T, base, dir string, td ptrace.Traces, n int, why string) map[string]*storage.AuditEntry {
	t.Helper()
	start := time.Now()
	code, body := postTraces(t, base, td)
	require.Equal(t, http.StatusOK, code, body)
	assert.Less(t, time.Since(start), 4*time.Second, "the push waited for events (join_wait 8s)")
	st, err := filestore.New(dir, filestore.WithReadOnly())
	require.NoError(t, err)
	got := readAll(t, st)
	require.NoError(t, st.Close())
	require.Len(t, got, n, why)
	bySpan := map[string]*storage.AuditEntry{}
	for _, e := range got {
		bySpan[e.SpanID] = e
	}
	return bySpan
}

// TestOtherInstrumentationsNotHeld: a Google ADK call_llm span and a Vercel
// AI SDK doGenerate span carry their call's content under keys of their
// own: each is written at once (not held join_wait for events) with that
// content, and the push is answered before the join's wait.
func TestOtherInstrumentationsNotHeld(t *testing.T) {
	base, dir, _, col := hostileCollector(t, "plaintext", "    timeout: 20s\n    join_wait: 8s\n    sending_queue:\n      enabled: false")
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	const adkRequest = `{"content":[{"parts":[{"text":"` + marker + ` adk"}],"role":"user"}],"model":"gemini-2.5-flash"}`
	adk := newSpan(ss, "call_llm")
	a := adk.Attributes()
	a.PutStr("gen_ai.system", "gcp.vertex.agent")
	a.PutStr("gen_ai.request.model", "gemini-2.5-flash")
	a.PutStr("gcp.vertex.agent.llm_request", adkRequest)
	a.PutStr("gcp.vertex.agent.llm_response", `{"content":{"parts":[{"text":"adk answer"}],"role":"model"}}`)
	vercel := newSpan(ss, "ai.generateText.doGenerate")
	v := vercel.Attributes()
	v.PutStr("gen_ai.system", "openai.chat")
	v.PutStr("gen_ai.request.model", "gpt-4o")
	v.PutStr("ai.prompt.messages", `[{"role":"user","content":"`+marker+` vercel"}]`)
	v.PutStr("ai.response.text", "vercel answer")
	tool := newSpan(ss, "ai.toolCall") // no gen_ai.* attribute: its ai.operationId tells
	tool.Attributes().PutStr("ai.operationId", "ai.toolCall")
	tool.Attributes().PutStr("ai.toolCall.name", "weather")
	tool.Attributes().PutStr("ai.toolCall.args", `{"city":"`+marker+`"}`)
	tool.Attributes().PutStr("ai.toolCall.result", `{"temp":21}`)
	outer := newSpan(ss, "ai.generateText") // around the doGenerate span: not a call of its own
	outer.Attributes().PutStr("ai.operationId", "ai.generateText")
	outer.Attributes().PutStr("ai.prompt", marker)

	bySpan := postNotHeld(t, base, dir, td, 3, "all written before the push was answered, the outer span not audited")
	e := bySpan[adk.SpanID().String()]
	require.NotNil(t, e)
	require.NotNil(t, e.InputContent)
	require.NotNil(t, e.OutputContent)
	assert.Equal(t, adkRequest, *e.InputContent)
	assert.Equal(t, `{"content":{"parts":[{"text":"adk answer"}],"role":"model"}}`, *e.OutputContent)
	assert.Equal(t, "gcp.vertex.agent", *e.Provider)
	assert.Equal(t, "generate_content", e.Operation)
	e = bySpan[vercel.SpanID().String()]
	require.NotNil(t, e)
	require.NotNil(t, e.InputContent)
	assert.Equal(t, `[{"role":"user","content":"`+marker+` vercel"}]`, *e.InputContent)
	require.NotNil(t, e.OutputContent)
	assert.Equal(t, "vercel answer", *e.OutputContent)
	e = bySpan[tool.SpanID().String()]
	require.NotNil(t, e)
	assert.Equal(t, "execute_tool", e.Operation)
	require.NotNil(t, e.InputContent)
	assert.Equal(t, `{"city":"`+marker+`"}`, *e.InputContent)
	require.NoError(t, col.Stop())
}
