package exporter

import (
	"cmp"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/otelaudit"
)

func TestContentTextRule(t *testing.T) {
	tests := []struct {
		name string
		v    attribute.Value
		want string
	}{
		{"one user message", attribute.StringValue(otelaudit.MessagesJSON([]otelaudit.Message{{Content: "hi"}}, "user")), "hi"},
		{"several messages joined by newline", attribute.StringValue(otelaudit.MessagesJSON([]otelaudit.Message{{Content: "a"}, {Role: "assistant", Content: "b\nc"}}, "user")), "a\nb\nc"},
		{"system instructions", attribute.StringValue(otelaudit.SystemInstructionsJSON("be \"nice\"")), "be \"nice\""},
		{"non-text part as canonical JSON", attribute.StringValue(`[{"role":"assistant","parts":[ {"type":"tool_call", "id":"1","arguments":{"x": 1}} ]}]`), `{"arguments":{"x":1},"id":"1","type":"tool_call"}`},
		{"old shape with string content", attribute.StringValue(`[{"role":"user","content":"legacy"}]`), "legacy"},
		{"not JSON is verbatim", attribute.StringValue("just a prompt"), "just a prompt"},
		{"broken JSON is verbatim", attribute.StringValue(`[{"role":`), `[{"role":`},
		{"string slice", attribute.StringSliceValue([]string{"x", "y"}), "x\ny"},
		{"empty array", attribute.StringValue("[]"), ""},
		{"whitespace and key order", attribute.StringValue(` [ {"parts":[{"content":"p","type":"text"}],"role":"user"} ] `), "p"},
		{"structured", attribute.SliceValue(attribute.MapValue(attribute.String("role", "user"),
			attribute.Slice("parts", attribute.MapValue(attribute.String("type", "text"), attribute.String("content", "s"))))), "s"},
		{"escapes", attribute.StringValue(`[{"role":"user","parts":[{"type":"text","content":"a\"b\\c\u00e9\n"}]}]`), "a\"b\\cé\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ContentText(tc.v))
		})
	}
}

// The fast parser must agree with the general one wherever it accepts.
func FuzzFastMessagesText(f *testing.F) {
	f.Add("hi", "user", "stop", true)
	f.Add("a\"b\\\n\x00\xff", "", "", false)
	f.Add("", "assistant", "length", true)
	f.Fuzz(func(t *testing.T, content, role, finish string, system bool) {
		var js string
		if system {
			js = otelaudit.SystemInstructionsJSON(content)
		} else {
			js = otelaudit.MessagesJSON([]otelaudit.Message{{Role: role, Content: content, FinishReason: finish}, {Content: content}}, "user")
		}
		fast, ok := fastMessagesText(nil, js)
		require.True(t, ok, "fast parser rejects what MessagesJSON writes: %q", js)
		assert.Equal(t, slowMessagesText(nil, js), fast)
		// Arbitrary input never panics ...
		_ = ContentText(attribute.StringValue(content))
		// ... and never disagrees when the fast parser accepts it.
		if f2, ok := fastMessagesText(nil, content); ok {
			assert.Equal(t, slowMessagesText(nil, content), f2)
		}
	})
}

func TestEntryIDForSpan(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, 2}, SpanID: trace.SpanID{3}})
	start := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)
	id := EntryIDForSpan(sc, start)
	assert.Equal(t, id, EntryIDForSpan(sc, start), "deterministic")
	u, err := uuid.Parse(id)
	require.NoError(t, err)
	assert.Equal(t, uuid.Version(7), u.Version())
	assert.Equal(t, uuid.RFC4122, u.Variant())
	sec, nsec := u.Time().UnixTime()
	assert.Equal(t, start.Truncate(time.Millisecond), time.Unix(sec, nsec).UTC())
	other := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, 2}, SpanID: trace.SpanID{4}})
	assert.NotEqual(t, id, EntryIDForSpan(other, start))
	assert.True(t, strings.Compare(EntryIDForSpan(sc, start), EntryIDForSpan(sc, start.Add(time.Second))) < 0, "sorts by time")
}

// BenchmarkContentText is the exporter's content extraction for a 1 KiB
// message in the shape otelaudit.MessagesJSON writes.
func BenchmarkContentText(b *testing.B) {
	v := attribute.StringValue(otelaudit.MessagesJSON([]otelaudit.Message{{Content: strings.Repeat("audit trail ", 85)}}, "user"))
	b.ReportAllocs()
	for b.Loop() {
		_ = ContentText(v)
	}
}

// A tool execution recorded by another instrumentation (arguments and
// result on the span, opt-in content) is audited with the arguments as
// input and the result as output; structured values as their JSON.
func TestToolSpanFromOtherInstrumentation(t *testing.T) {
	for _, tc := range []struct {
		name        string
		args, res   attribute.Value
		input, outp string
	}{
		{"strings", attribute.StringValue(`{"city":"Paris"}`), attribute.StringValue("21 C"), `{"city":"Paris"}`, "21 C"},
		{"slices", attribute.StringSliceValue([]string{"a", "b"}), attribute.Int64Value(21), `["a","b"]`, "21"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			span := tracetest.SpanStub{
				SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}}),
				Name:        "execute_tool get_weather",
				StartTime:   time.Unix(100, 0), EndTime: time.Unix(101, 0),
				Attributes: []attribute.KeyValue{
					attribute.String("gen_ai.operation.name", "execute_tool"),
					attribute.String("gen_ai.tool.name", "get_weather"),
					attribute.String("gen_ai.tool.call.id", "call_9"),
					{Key: "gen_ai.tool.call.arguments", Value: tc.args},
					{Key: "gen_ai.tool.call.result", Value: tc.res},
				},
			}.Snapshot()
			require.True(t, IsGenAI(span.Attributes()))
			in := InteractionFromSpan(span)
			assert.Equal(t, "execute_tool", in.Operation)
			assert.Equal(t, tc.input, in.Input)
			assert.Equal(t, tc.outp, in.Output)
			assert.Equal(t, "get_weather", in.Metadata["gen_ai.tool.name"])
			assert.Equal(t, "call_9", in.Metadata["gen_ai.tool.call.id"])
		})
	}
}

// Evaluation events travel with the entry: their name, score and label in
// metadata, an alert each; the explanation, which may quote content, not.
func TestEvaluationEventsOnTheEntry(t *testing.T) {
	score := 0.2
	span := tracetest.SpanStub{
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}}),
		Name:        "chat gpt-4o", StartTime: time.Unix(100, 0), EndTime: time.Unix(101, 0),
		Attributes: []attribute.KeyValue{attribute.String("gen_ai.operation.name", "chat"), otelaudit.AuditAlertsKey.StringSlice([]string{"pii"})},
		Events: []sdktrace.Event{
			{Name: "gen_ai.evaluation.result", Attributes: []attribute.KeyValue{attribute.String("gen_ai.evaluation.name", "toxicity"),
				attribute.Float64("gen_ai.evaluation.score.value", score), attribute.String("gen_ai.evaluation.score.label", "pass"),
				attribute.String("gen_ai.evaluation.explanation", "the answer quotes the secret prompt")}},
			{Name: "gen_ai.evaluation.result", Attributes: []attribute.KeyValue{attribute.String("gen_ai.evaluation.name", "relevance"),
				attribute.Float64("gen_ai.evaluation.score.value", 0.75)}},
			{Name: "exception"},
		},
	}.Snapshot()
	in := InteractionFromSpan(span)
	assert.Equal(t, []any{map[string]any{"name": "toxicity", "score": 0.2, "label": "pass"}, map[string]any{"name": "relevance", "score": 0.75}},
		in.Metadata["gen_ai.evaluation.results"])
	assert.Equal(t, []string{"pii", "evaluation:toxicity=pass", "evaluation:relevance=0.75"}, in.Alerts)
	assert.NotContains(t, fmt.Sprint(in.Metadata), "secret prompt")
}

// TestFinishReasonsEachEntrysOwn: finish reasons reach the metadata as a
// list of strings in order, common ones and others alike, and each
// conversion gets a list of its own.
func TestFinishReasonsEachEntrysOwn(t *testing.T) {
	span := func(reasons ...string) SpanView {
		return tracetest.SpanStub{
			Attributes: []attribute.KeyValue{
				semconv.GenAIOperationNameKey.String("chat"),
				semconv.GenAIResponseFinishReasonsKey.StringSlice(reasons),
			},
		}.Snapshot()
	}
	a := InteractionFromSpan(span("stop", "weird_reason", "length"))
	b := InteractionFromSpan(span("stop"))
	key := string(semconv.GenAIResponseFinishReasonsKey)
	la, lb := a.Metadata[key].([]any), b.Metadata[key].([]any)
	if !reflect.DeepEqual(la, []any{"stop", "weird_reason", "length"}) || !reflect.DeepEqual(lb, []any{"stop"}) {
		t.Fatalf("finish reasons = %#v and %#v", la, lb)
	}
	la[0] = "changed"
	if c := InteractionFromSpan(span("stop")).Metadata[key].([]any); c[0] != "stop" || lb[0] != "stop" {
		t.Fatalf("one entry's list changed another's: %#v %#v", lb, c)
	}
}

// An OpenLLMetry-style span (semconv before 1.37: gen_ai.system, indexed
// gen_ai.prompt.<i>.* and gen_ai.completion.<i>.* attributes, legacy token
// keys) is audited with its content: the prompts' texts in index order as
// input, the completions' as output. The semconv message attributes win
// when a span has both; a non-string or malformed indexed key is ignored.
func TestLegacyIndexedContent(t *testing.T) {
	base := []attribute.KeyValue{
		attribute.String("gen_ai.system", "openai"),
		attribute.String("gen_ai.request.model", "gpt-4o"),
		attribute.Int("gen_ai.usage.prompt_tokens", 31),
		attribute.Int("gen_ai.usage.completion_tokens", 7),
		// Out of order, and index 10 after 2 (numeric, not text order).
		attribute.String("gen_ai.prompt.10.content", "third question"),
		attribute.String("gen_ai.prompt.1.role", "user"),
		attribute.String("gen_ai.prompt.1.content", "first question"),
		attribute.String("gen_ai.completion.0.role", "assistant"),
		attribute.String("gen_ai.completion.0.content", "the answer"),
		attribute.String("gen_ai.prompt.0.role", "system"),
		attribute.String("gen_ai.prompt.0.content", "You are terse."),
		attribute.String("gen_ai.prompt.2.content", "second question"),
		attribute.Int("gen_ai.prompt.3.content", 5),
		attribute.String("gen_ai.prompt.x.content", "not an index"),
		attribute.String("gen_ai.prompt.4.contents", "not the content key"),
	}
	span := func(extra ...attribute.KeyValue) sdktrace.ReadOnlySpan {
		return tracetest.SpanStub{
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}}),
			Name:        "openai.chat",
			StartTime:   time.Unix(100, 0), EndTime: time.Unix(101, 0),
			Attributes: append(append([]attribute.KeyValue{}, base...), extra...),
		}.Snapshot()
	}
	s := span()
	require.True(t, IsGenAI(s.Attributes()))
	in := InteractionFromSpan(s)
	assert.Equal(t, "openai", in.Provider)
	assert.Equal(t, "gpt-4o", in.Model)
	assert.Equal(t, "You are terse.\nfirst question\nsecond question\nthird question", in.Input)
	assert.Equal(t, "the answer", in.Output)
	require.NotNil(t, in.InputTokens)
	assert.Equal(t, int64(31), *in.InputTokens)

	// Tool calls, asked for by the model and sent back in a later prompt,
	// are part of the content: after their message's text, as tool_call
	// parts' JSON.
	in = InteractionFromSpan(span(
		attribute.String("gen_ai.completion.0.tool_calls.0.name", "get_weather"),
		attribute.String("gen_ai.completion.0.tool_calls.0.arguments", `{"city":"Paris"}`),
		attribute.String("gen_ai.completion.0.tool_calls.0.id", "call_1"),
		attribute.String("gen_ai.completion.0.tool_calls.1.name", "get_time"),
		attribute.String("gen_ai.prompt.3.tool_calls.0.id", "call_0"),
		attribute.String("gen_ai.prompt.3.tool_calls.0.name", "lookup"),
	))
	assert.Equal(t, "the answer\n"+
		`{"arguments":{"city":"Paris"},"id":"call_1","name":"get_weather","type":"tool_call"}`+"\n"+
		`{"name":"get_time","type":"tool_call"}`, in.Output)
	assert.Equal(t, "You are terse.\nfirst question\nsecond question\n"+
		`{"id":"call_0","name":"lookup","type":"tool_call"}`+"\nthird question", in.Input)

	in = InteractionFromSpan(span(
		attribute.String("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"semconv question"}]}]`),
		attribute.String("gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"semconv answer"}],"finish_reason":"stop"}]`),
	))
	assert.Equal(t, "semconv question", in.Input)
	assert.Equal(t, "semconv answer", in.Output)
}

func TestParseLegacyKey(t *testing.T) {
	checkParsedKeys(t, func(k string) (legacyPart, bool, bool) { return parseLegacyKey(attribute.Key(k)) }, map[string]parsedKey{
		"gen_ai.prompt.0.content":                    {legacyPart{msg: 0, call: -1, field: "content"}, false, true},
		"gen_ai.prompt.42.content":                   {legacyPart{msg: 42, call: -1, field: "content"}, false, true},
		"gen_ai.completion.3.content":                {legacyPart{msg: 3, call: -1, field: "content"}, true, true},
		"gen_ai.completion.0.tool_calls.2.arguments": {legacyPart{msg: 0, call: 2, field: "arguments"}, true, true},
		"gen_ai.prompt.1.tool_calls.0.id":            {legacyPart{msg: 1, call: 0, field: "id"}, false, true},
		"gen_ai.prompt..content":                     {},
		"gen_ai.prompt.1.role":                       {},
		"gen_ai.prompt.-1.content":                   {},
		"gen_ai.prompt.1234567.content":              {},
		"gen_ai.completion.0.tool_calls.0":           {},
		"gen_ai.completion.0.tool_calls.x.name":      {},
		"gen_ai.completion.0.tool_calls.0.type":      {},
		"gen_ai.completion.0.tool_calls.0.name.more": {},
		"gen_ai.input.messages":                      {},
		"gen_ai.completion.0.finish_reason":          {},
		// OpenLLMetry's first names, its Go SDK's still.
		"llm.prompts.0.content":             {legacyPart{msg: 0, call: -1, field: "content"}, false, true},
		"llm.completions.2.content":         {legacyPart{msg: 2, call: -1, field: "content"}, true, true},
		"llm.prompts.0.role":                {},
		"llm.prompts.0.prompt.text":         {}, // OpenInference's
		"llm.completions":                   {},
		"llm.input_messages.0.message.role": {},
	})
}

// parsedKey is what a content key parses to (p and out only when ok).
type parsedKey struct {
	p       legacyPart
	out, ok bool
}

// checkParsedKeys checks that parse gives each key of table its entry.
func checkParsedKeys(t *testing.T, parse func(string) (legacyPart, bool, bool), table map[string]parsedKey) {
	t.Helper()
	for k, want := range table {
		p, out, ok := parse(k)
		assert.Equal(t, want.ok, ok, k)
		if ok {
			assert.Equal(t, want.p, p, k)
			assert.Equal(t, want.out, out, k)
		}
	}
}

// wantText is a content text a fuzz input names, with the message and
// part it belongs to.
type wantText struct {
	msg, part int
	text      string
}

// requireInOrder fails unless each of ws's texts is in got, in order of
// message then part.
func requireInOrder(t *testing.T, got string, ws []wantText) {
	t.Helper()
	slices.SortStableFunc(ws, func(a, b wantText) int { return cmp.Or(cmp.Compare(a.msg, b.msg), cmp.Compare(a.part, b.part)) })
	rest := got
	for _, w := range ws {
		i := strings.Index(rest, w.text)
		require.GreaterOrEqual(t, i, 0, "%q missing from %q", w.text, got)
		rest = rest[i+len(w.text):]
	}
}

// FuzzLegacyContent: any set of gen_ai.prompt.* / gen_ai.completion.*
// (or llm.prompts.* / llm.completions.*) keys and values converts without
// a panic; every prompt and completion
// content the keys name is in the input or output, in index order, and
// nothing else is taken for content.
func FuzzLegacyContent(f *testing.F) {
	f.Add("gen_ai.prompt.1.content\nfirst\ngen_ai.prompt.0.content\nzeroth\ngen_ai.completion.0.tool_calls.0.name\nf")
	f.Add("gen_ai.prompt.9.content\n\xff\ngen_ai.prompt.x.content\nno\ngen_ai.completion.0.content\n")
	f.Add("gen_ai.completion.000001.content\na\ngen_ai.completion.1.content\nb")
	f.Add("llm.prompts.1.content\nsecond\nllm.prompts.0.content\nfirst\nllm.completions.0.content\nout")
	f.Fuzz(func(t *testing.T, spec string) {
		attrs := []attribute.KeyValue{attribute.String("gen_ai.system", "openai")}
		var wantIn, wantOut []wantText
		onlyPrompts := true // every key a gen_ai.prompt.* one
		lines := strings.Split(spec, "\n")
		for i := 0; i+1 < len(lines) && len(attrs) < 64; i += 2 {
			k, v := attribute.Key(lines[i]), lines[i+1]
			attrs = append(attrs, attribute.String(string(k), v))
			onlyPrompts = onlyPrompts && strings.HasPrefix(string(k), "gen_ai.prompt.")
			if p, out, ok := parseLegacyKey(k); ok && p.field == "content" {
				if out {
					wantOut = append(wantOut, wantText{msg: p.msg, text: v})
				} else {
					wantIn = append(wantIn, wantText{msg: p.msg, text: v})
				}
			}
		}
		span := tracetest.SpanStub{
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}}),
			StartTime:   time.Unix(100, 0), EndTime: time.Unix(101, 0),
			Attributes: attrs,
		}.Snapshot()
		in := InteractionFromSpan(span)
		// Each wanted text appears, in order of its message's index.
		requireInOrder(t, in.Input, wantIn)
		requireInOrder(t, in.Output, wantOut)
		// Keys that name no content give none.
		if onlyPrompts && len(wantIn) == 0 && !strings.Contains(spec, "tool_calls.") {
			assert.Empty(t, in.Input)
			assert.Empty(t, in.Output)
		}
	})
}

// One tool call hashes the same whichever way its instrumentation wrote
// it: semconv messages from encoding/json (which escapes '<', '>' and
// '&'), from Python's json.dumps (which escapes every non-ASCII rune),
// pretty-printed, or as legacy indexed attributes whose arguments are a
// JSON string.
func TestToolCallContentSameAcrossInstrumentations(t *testing.T) {
	args := map[string]any{"html": "<b>a & b</b>", "city": "Zürich", "n": 2}
	argText, err := json.Marshal(args)
	require.NoError(t, err)
	want := `{"arguments":{"city":"Zürich","html":"<b>a & b</b>","n":2},"id":"call_1","name":"lookup","type":"tool_call"}`

	goJSON, err := json.Marshal([]map[string]any{{"role": "assistant", "parts": []any{
		map[string]any{"type": "tool_call", "id": "call_1", "name": "lookup", "arguments": json.RawMessage(argText)},
	}}})
	require.NoError(t, err)
	require.Contains(t, string(goJSON), `\u003cb\u003e`, "encoding/json escapes HTML")
	forms := map[string]attribute.Value{
		"encoding/json": attribute.StringValue(string(goJSON)),
		"json.dumps": attribute.StringValue(`[{"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1", "name": "lookup", ` +
			`"arguments": {"city": "Z\u00fcrich", "html": "<b>a & b<\/b>", "n": 2}}]}]`),
		"indented": attribute.StringValue("[\n  {\n    \"role\": \"assistant\",\n    \"parts\": [\n      {\"type\": \"tool_call\", \"id\": \"call_1\", \"name\": \"lookup\",\n" +
			"       \"arguments\": {\"city\": \"Zürich\", \"html\": \"<b>a & b</b>\", \"n\": 2}}\n    ]\n  }\n]"),
	}
	for name, v := range forms {
		assert.Equal(t, want, ContentText(v), name)
	}

	legacy := tracetest.SpanStub{
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}}),
		Name:        "openai.chat", StartTime: time.Unix(100, 0), EndTime: time.Unix(101, 0),
		Attributes: []attribute.KeyValue{
			attribute.String("gen_ai.system", "openai"),
			attribute.String("gen_ai.completion.0.tool_calls.0.id", "call_1"),
			attribute.String("gen_ai.completion.0.tool_calls.0.name", "lookup"),
			// As OpenAI sends them: a string of JSON text, with spaces.
			attribute.String("gen_ai.completion.0.tool_calls.0.arguments", `{"city": "Z\u00fcrich", "html": "<b>a & b</b>", "n": 2}`),
		},
	}.Snapshot()
	assert.Equal(t, want, InteractionFromSpan(legacy).Output, "legacy indexed attributes")

	// Arguments that are not JSON stay a string.
	assert.Equal(t, `{"arguments":"not <json>","name":"f","type":"tool_call"}`, legacyToolCall("", "f", "not <json>"))
	assert.Equal(t, `{"arguments":"  ","name":"f","type":"tool_call"}`, legacyToolCall("", "f", "  "))
}

// EntryID gives the id the conversion gives the span's entry.
func TestEntryIDMatchesConversion(t *testing.T) {
	for name, attrs := range map[string][]attribute.KeyValue{
		"derived":        nil,
		"named":          {attribute.String("audit.entry_id", "0190f0a0-0000-7000-8000-00000000000a")},
		"empty":          {attribute.String("audit.entry_id", "")},
		"not a string":   {attribute.Int("audit.entry_id", 7)},
		"not a UUID":     {attribute.String("audit.entry_id", "call-42")},
		"named then int": {attribute.String("audit.entry_id", "x"), attribute.Int("audit.entry_id", 7)},
	} {
		s := tracetest.SpanStub{
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{3}, SpanID: trace.SpanID{4}}),
			Name:        "chat m", StartTime: time.Unix(100, 0), EndTime: time.Unix(101, 0),
			Attributes: append([]attribute.KeyValue{semconv.GenAIOperationNameChat}, attrs...),
		}.Snapshot()
		assert.Equal(t, InteractionFromSpan(s).ID, EntryID(s), name)
	}
}
