package otelaudit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/internal/audittest"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

func newRecorder(t *testing.T) (*tracetest.SpanRecorder, *sdktrace.TracerProvider) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return rec, tp
}

func attrMap(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

type jsonPart struct {
	Type    string `json:"type"`
	Content string `json:"content"`
}

type jsonMessage struct {
	Role         string     `json:"role"`
	Parts        []jsonPart `json:"parts"`
	FinishReason string     `json:"finish_reason,omitempty"`
}

func TestStartCallRecordsGenAISpan(t *testing.T) {
	rec, tp := newRecorder(t)
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ctx, call := otelaudit.StartCall(t.Context(), otelaudit.Request{
		Operation:          "chat",
		Provider:           "openai",
		Model:              "gpt-4o",
		ConversationID:     "conv-1",
		SystemInstructions: "be brief",
		Input:              []otelaudit.Message{{Content: "hello \"world\"\n"}, {Role: "assistant", Content: "hi"}, {Content: "again"}},
		Metadata:           map[string]any{"user": "u1", "n": 3, "ok": true, "nested": map[string]any{"a": 1}},
	}, otelaudit.WithTracerProvider(tp), otelaudit.WithStartTime(start), otelaudit.WithContentOnSpan(true),
		otelaudit.WithAttributes(semconv.ServerAddressKey.String("api.example")))
	require.True(t, trace.SpanFromContext(ctx).SpanContext().IsValid())
	assert.Equal(t, call.Span().SpanContext(), trace.SpanFromContext(ctx).SpanContext())

	call.SetResponse("resp-1", "gpt-4o-2024")
	call.SetUsage(12, -1)
	call.SetOutput(otelaudit.Message{Content: "answer", FinishReason: "stop"}, otelaudit.Message{Content: "other", FinishReason: "length"})
	call.SetSafety(otelaudit.Safety{Passed: true, Alerts: []string{"a1"}})
	call.End()

	spans := rec.Ended()
	require.Len(t, spans, 1)
	assert.Equal(t, otelaudit.Version, spans[0].InstrumentationScope().Version)
	assert.Equal(t, "https://opentelemetry.io/schemas/1.41.0", spans[0].InstrumentationScope().SchemaURL)
	s := spans[0]
	assert.Equal(t, "chat gpt-4o", s.Name())
	assert.Equal(t, trace.SpanKindClient, s.SpanKind())
	assert.Equal(t, otelaudit.ScopeName, s.InstrumentationScope().Name)
	assert.Equal(t, start, s.StartTime())
	a := attrMap(s)
	assert.Equal(t, "chat", a[semconv.GenAIOperationNameKey].AsString())
	assert.Equal(t, "openai", a[semconv.GenAIProviderNameKey].AsString())
	assert.Equal(t, "gpt-4o", a[semconv.GenAIRequestModelKey].AsString())
	assert.Equal(t, "gpt-4o-2024", a[semconv.GenAIResponseModelKey].AsString())
	assert.Equal(t, "resp-1", a[semconv.GenAIResponseIDKey].AsString())
	assert.Equal(t, "conv-1", a[semconv.GenAIConversationIDKey].AsString())
	assert.Equal(t, int64(12), a[semconv.GenAIUsageInputTokensKey].AsInt64())
	_, hasOut := a[semconv.GenAIUsageOutputTokensKey]
	assert.False(t, hasOut, "unknown output tokens must not be recorded")
	assert.Equal(t, []string{"stop", "length"}, a[semconv.GenAIResponseFinishReasonsKey].AsStringSlice())
	assert.Equal(t, "api.example", a[semconv.ServerAddressKey].AsString())
	assert.True(t, a[otelaudit.AuditSafetyPassedKey].AsBool())
	assert.Equal(t, []string{"a1"}, a[otelaudit.AuditAlertsKey].AsStringSlice())
	assert.Equal(t, "u1", a[otelaudit.AuditMetadataKey("user")].AsString())
	assert.Equal(t, int64(3), a[otelaudit.AuditMetadataKey("n")].AsInt64())
	assert.True(t, a[otelaudit.AuditMetadataKey("ok")].AsBool())
	assert.JSONEq(t, `{"a":1}`, a[otelaudit.AuditMetadataKey("nested")].AsString())

	id := a[otelaudit.AuditEntryIDKey].AsString()
	assert.Equal(t, call.EntryID(), id)
	u, err := uuid.Parse(id)
	require.NoError(t, err)
	assert.Equal(t, uuid.Version(7), u.Version())

	var in []jsonMessage
	require.NoError(t, json.Unmarshal([]byte(a[semconv.GenAIInputMessagesKey].AsString()), &in))
	assert.Equal(t, []jsonMessage{
		{Role: "user", Parts: []jsonPart{{"text", "hello \"world\"\n"}}},
		{Role: "assistant", Parts: []jsonPart{{"text", "hi"}}},
		{Role: "user", Parts: []jsonPart{{"text", "again"}}},
	}, in)
	var out []jsonMessage
	require.NoError(t, json.Unmarshal([]byte(a[semconv.GenAIOutputMessagesKey].AsString()), &out))
	assert.Equal(t, []jsonMessage{
		{Role: "assistant", Parts: []jsonPart{{"text", "answer"}}, FinishReason: "stop"},
		{Role: "assistant", Parts: []jsonPart{{"text", "other"}}, FinishReason: "length"},
	}, out)
	var sys []jsonPart
	require.NoError(t, json.Unmarshal([]byte(a[semconv.GenAISystemInstructionsKey].AsString()), &sys))
	assert.Equal(t, []jsonPart{{"text", "be brief"}}, sys)
}

func TestStartCallAttributesPresentAtStart(t *testing.T) {
	rec, tp := newRecorder(t)
	_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Provider: "anthropic", Model: "claude", Input: []otelaudit.Message{{Content: "x"}}}, otelaudit.WithTracerProvider(tp), otelaudit.WithContentOnSpan(true))
	started := rec.Started()
	require.Len(t, started, 1)
	a := attrMap(started[0])
	assert.Equal(t, otelaudit.DefaultOperation, a[semconv.GenAIOperationNameKey].AsString())
	assert.Equal(t, "anthropic", a[semconv.GenAIProviderNameKey].AsString())
	assert.Equal(t, call.EntryID(), a[otelaudit.AuditEntryIDKey].AsString())
	assert.Contains(t, a, semconv.GenAIInputMessagesKey)
	call.End()
}

func TestBlockedCall(t *testing.T) {
	rec, tp := newRecorder(t)
	_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Operation: "chat"}, otelaudit.WithTracerProvider(tp))
	call.Block("pii detected", "pii", "ssn")
	call.End()
	s := rec.Ended()[0]
	assert.Equal(t, "chat", s.Name(), "no model: name is the operation alone")
	a := attrMap(s)
	assert.False(t, a[otelaudit.AuditSafetyPassedKey].AsBool())
	assert.Equal(t, "pii detected", a[otelaudit.AuditBlockReasonKey].AsString())
	assert.Equal(t, []string{"pii", "ssn"}, a[otelaudit.AuditDetectorsTriggeredKey].AsStringSlice())
	assert.NotContains(t, a, semconv.GenAIOutputMessagesKey)
}

type typedErr struct{}

func (typedErr) Error() string     { return "secret prompt quoted here" }
func (typedErr) ErrorType() string { return "rate_limited" }

func TestSetError(t *testing.T) {
	tests := []struct {
		name string
		set  func(*otelaudit.Call)
		want string
	}{
		{"typed", func(c *otelaudit.Call) { c.SetError(typedErr{}) }, "rate_limited"},
		{"wrapped", func(c *otelaudit.Call) { c.SetError(errors.Join(typedErr{})) }, "rate_limited"},
		{"explicit", func(c *otelaudit.Call) { c.SetErrorType("429") }, "429"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, tp := newRecorder(t)
			_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Model: "m"}, otelaudit.WithTracerProvider(tp))
			tc.set(call)
			call.SetError(nil) // ignored
			call.End()
			s := rec.Ended()[0]
			assert.Equal(t, tc.want, attrMap(s)[semconv.ErrorTypeKey].AsString())
			assert.Equal(t, codes.Error, s.Status().Code)
			assert.NotContains(t, s.Status().Description, "secret")
			assert.Empty(t, s.Events(), "the error message is not recorded")
		})
	}
}

func TestWithContentFalse(t *testing.T) {
	rec, tp := newRecorder(t)
	_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{
		SystemInstructions: "sys", Input: []otelaudit.Message{{Content: "in"}},
	}, otelaudit.WithTracerProvider(tp), otelaudit.WithContent(false))
	call.SetInput(otelaudit.Message{Content: "in2"})
	call.SetSystemInstructions("sys2")
	call.SetOutput(otelaudit.Message{Content: "out", FinishReason: "stop"})
	call.End()
	a := attrMap(rec.Ended()[0])
	for k := range a {
		assert.False(t, otelaudit.IsContentKey(k), "content attribute %s recorded", k)
	}
	assert.Equal(t, []string{"stop"}, a[semconv.GenAIResponseFinishReasonsKey].AsStringSlice())
}

func TestNilCallIsNoop(t *testing.T) {
	var c *otelaudit.Call
	assert.NotPanics(t, func() {
		c.SetInput(otelaudit.Message{Content: "x"})
		c.SetSystemInstructions("x")
		c.SetOutput(otelaudit.Message{Content: "x"})
		c.SetResponse("a", "b")
		c.SetUsage(1, 2)
		c.SetError(errors.New("x"))
		c.SetErrorType("x")
		c.SetSafety(otelaudit.Safety{})
		c.Block("x")
		c.SetMetadata("k", 1)
		c.End()
	})
	assert.Empty(t, c.EntryID())
	assert.False(t, c.Span().SpanContext().IsValid())
}

func TestSetMetadataTypes(t *testing.T) {
	rec, tp := newRecorder(t)
	_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{}, otelaudit.WithTracerProvider(tp), otelaudit.WithContentOnSpan(true))
	call.SetMetadata("s", "v")
	call.SetMetadata("f", 1.5)
	call.SetMetadata("nan", math.NaN())
	call.SetMetadata("ss", []string{"a", "b"})
	call.SetMetadata("i64", int64(7))
	call.SetMetadata("", "ignored")
	call.End()
	a := attrMap(rec.Ended()[0])
	assert.Equal(t, "v", a[otelaudit.AuditMetadataKey("s")].AsString())
	assert.Equal(t, 1.5, a[otelaudit.AuditMetadataKey("f")].AsFloat64())
	assert.Equal(t, "NaN", a[otelaudit.AuditMetadataKey("nan")].AsString())
	assert.Equal(t, []string{"a", "b"}, a[otelaudit.AuditMetadataKey("ss")].AsStringSlice())
	assert.Equal(t, int64(7), a[otelaudit.AuditMetadataKey("i64")].AsInt64())
	assert.NotContains(t, a, otelaudit.AuditMetadataKey(""))
}

func TestMessagesJSONEscaping(t *testing.T) {
	tests := map[string]string{
		"quotes":   `he said "hi" \ bye`,
		"controls": "a\x00b\x1fc\td\re\nf",
		"unicode":  "héllo 世界 🎉 \u2028\u2029",
		"html":     "<script>&</script>",
		"empty":    "",
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			var got []jsonMessage
			require.NoError(t, json.Unmarshal([]byte(otelaudit.MessagesJSON([]otelaudit.Message{{Role: "user", Content: s}}, "")), &got))
			require.Len(t, got, 1)
			assert.Equal(t, s, got[0].Parts[0].Content)
			var sys []jsonPart
			require.NoError(t, json.Unmarshal([]byte(otelaudit.SystemInstructionsJSON(s)), &sys))
			assert.Equal(t, s, sys[0].Content)
		})
	}
	t.Run("invalid utf8", func(t *testing.T) {
		var got []jsonMessage
		require.NoError(t, json.Unmarshal([]byte(otelaudit.MessagesJSON([]otelaudit.Message{{Content: "a\xffb"}}, "user")), &got))
		assert.Equal(t, "a\uFFFDb", got[0].Parts[0].Content)
	})
	assert.Equal(t, "[]", otelaudit.MessagesJSON(nil, "user"))
}

func TestIsContentKey(t *testing.T) {
	content := []attribute.Key{
		semconv.GenAIInputMessagesKey, semconv.GenAIOutputMessagesKey, semconv.GenAISystemInstructionsKey,
		semconv.GenAIToolCallArgumentsKey, semconv.GenAIToolCallResultKey, semconv.GenAIToolDefinitionsKey,
		semconv.GenAIRetrievalDocumentsKey, semconv.GenAIRetrievalQueryTextKey,
		"gen_ai.prompt.0.content", "gen_ai.completion.0.content", "gen_ai.prompt", "gen_ai.completion",
		otelaudit.AuditMetadataKey("user"),
		// An evaluation's explanation may quote the content it judges.
		semconv.GenAIEvaluationExplanationKey,
		// Other instrumentations' content (internal/contentkeys has them all).
		"gcp.vertex.agent.llm_request", "gcp.vertex.agent.llm_response", "ai.prompt.messages",
		"ai.response.text", "traceloop.entity.input", "llm.request.functions.0.description",
		"langfuse.observation.output", "request_data",
	}
	for _, k := range content {
		assert.True(t, otelaudit.IsContentKey(k), k)
	}
	plain := []attribute.Key{
		semconv.GenAIOperationNameKey, semconv.GenAIRequestModelKey, semconv.GenAIPromptNameKey,
		semconv.GenAIUsageInputTokensKey, otelaudit.AuditEntryIDKey, otelaudit.AuditSafetyPassedKey,
		semconv.GenAIToolNameKey, semconv.ErrorTypeKey,
		semconv.GenAIEvaluationNameKey, semconv.GenAIEvaluationScoreLabelKey, semconv.GenAIEvaluationScoreValueKey,
		"gcp.vertex.agent.session_id", "ai.model.id", "traceloop.entity.name", "llm.request.type", "langfuse.observation.type",
	}
	for _, k := range plain {
		assert.False(t, otelaudit.IsContentKey(k), k)
	}
}

func TestStartCallUsesGlobalProvider(t *testing.T) {
	// Without a provider option the global (no-op by default) provider is
	// used; the call still works and has an entry id.
	_, call := otelaudit.StartCall(context.Background(), otelaudit.Request{Model: "m"})
	assert.NotEmpty(t, call.EntryID())
	call.End()
}

// TestHandedOverContentHashesLikeSpanContent: the content StartCall hands
// to the audit processor beside the span gives the same entry as the same
// content on the span (WithContentOnSpan), also for invalid UTF-8, text
// that looks like JSON, one message and several.
func TestHandedOverContentHashesLikeSpanContent(t *testing.T) {
	texts := []string{"plain", "bad \xff\xfe utf8 \xc3", `["looks",{"like":"json"}]`, "multi\nline \"quoted\"", ""}
	for _, txt := range texts {
		for _, several := range []bool{true, false} {
			req := otelaudit.Request{Model: "m", SystemInstructions: "sys " + txt,
				Input: []otelaudit.Message{{Content: txt}, {Role: "assistant", Content: "a"}, {Content: txt + "2"}}}
			output := []otelaudit.Message{{Content: txt}, {Content: "x"}}
			if !several {
				req.SystemInstructions, req.Input, output = "", req.Input[:1], output[:1]
			}
			var hashes [2][2]string
			for i, onSpan := range []bool{false, true} {
				mem, tp, _, _ := audittest.Provider(t)
				_, call := otelaudit.StartCall(t.Context(), req, otelaudit.WithTracerProvider(tp), otelaudit.WithContentOnSpan(onSpan))
				call.SetOutput(output...)
				call.End()
				require.NoError(t, tp.Shutdown(t.Context()))
				e, err := mem.Read(t.Context(), call.EntryID())
				require.NoError(t, err)
				hashes[i] = [2]string{e.InputHash, e.OutputHash}
			}
			assert.Equal(t, hashes[1], hashes[0], "text %q, several messages %v", txt, several)
		}
	}
}

// TestSetContentText: content given by its audit text is hashed and kept
// as it is, off the span by default; on the span as a one-string slice
// with WithContentOnSpan; nowhere with WithContent(false). A lazy text
// (SetLazyContentText) gives the same results, and is made by the audit
// after the span ended (at once with WithContentOnSpan, never without
// content).
func TestSetContentText(t *testing.T) {
	const in, out = `[not json {"a": 1}]`, "answer\nline"
	for _, c := range []struct {
		name          string
		opts          []otelaudit.CallOption
		stored, onTap bool
	}{
		{"beside the span", nil, true, false},
		{"on the span", []otelaudit.CallOption{otelaudit.WithContentOnSpan(true)}, true, true},
		{"no content", []otelaudit.CallOption{otelaudit.WithContent(false)}, false, false},
	} {
		for _, lazy := range []bool{false, true} {
			name := c.name
			if lazy {
				name += "/lazy"
			}
			t.Run(name, func(t *testing.T) {
				mem, tp, _, rec := audittest.Provider(t)
				lin, lout := &countedText{s: in}, &countedText{s: out}
				_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Model: "m"}, append(c.opts, otelaudit.WithTracerProvider(tp))...)
				if lazy {
					call.SetLazyContentText(semconv.GenAIInputMessagesKey, lin)
					call.SetLazyContentText(semconv.GenAIOutputMessagesKey, lout)
					if c.onTap {
						assert.Equal(t, int32(1), lin.n.Load(), "made at once for the span")
					} else {
						assert.Zero(t, lin.n.Load(), "made before the span ended")
					}
				} else {
					call.SetContentText(semconv.GenAIInputMessagesKey, in)
					call.SetContentText(semconv.GenAIOutputMessagesKey, out)
				}
				call.End()
				require.NoError(t, tp.Shutdown(t.Context()))
				e, err := mem.Read(t.Context(), call.EntryID())
				require.NoError(t, err)
				wantIn, wantOut := "", ""
				if c.stored {
					wantIn, wantOut = in, out
				}
				if lazy {
					if c.stored {
						assert.NotZero(t, lin.n.Load())
					} else {
						assert.Zero(t, lin.n.Load()+lout.n.Load(), "made although no content is recorded")
					}
				}
				assert.Equal(t, otelaudit.HashContent(wantIn), e.InputHash)
				assert.Equal(t, otelaudit.HashContent(wantOut), e.OutputHash)
				v, ok := attrMap(rec.Ended()[0])[semconv.GenAIInputMessagesKey]
				assert.Equal(t, c.onTap, ok, "input on the span")
				if c.onTap {
					assert.Equal(t, []string{in}, v.AsStringSlice())
				}
			})
		}
	}
}

// countedText is a LazyText that counts how often it was made.
type countedText struct {
	s string
	n atomic.Int32
}

func (c *countedText) Text() string { c.n.Add(1); return c.s }

// TestStartAttributesAnyCount checks that a call's start attributes are
// all on the span, in order of precedence, whether they fit the Call's own
// buffer or not: few, exactly as many as it holds, and more (with content
// and metadata on the span).
func TestStartAttributesAnyCount(t *testing.T) {
	for _, n := range []int{0, 3, 7, 8, 20} {
		rec, tp := newRecorder(t)
		extra := make([]attribute.KeyValue, 0, n+1)
		for i := range n {
			extra = append(extra, attribute.Int(fmt.Sprintf("test.extra.%d", i), i))
		}
		// A later attribute overrides a GenAI one of the same key.
		extra = append(extra, attribute.String("gen_ai.request.model", "override"))
		opts := []otelaudit.CallOption{otelaudit.WithTracerProvider(tp), otelaudit.WithAttributes(extra...)}
		req := otelaudit.Request{Provider: "openai", Model: "m", ConversationID: "c"}
		if n == 20 {
			opts = append(opts, otelaudit.WithContentOnSpan(true))
			req.Input = []otelaudit.Message{{Content: "hi"}}
			req.SystemInstructions = "be brief"
			req.Metadata = map[string]any{"a": "1", "b": "2"}
		}
		_, call := otelaudit.StartCall(t.Context(), req, opts...)
		call.End()
		spans := rec.Ended()
		require.Len(t, spans, 1, "n=%d", n)
		m := attrMap(spans[0])
		for i := range n {
			assert.Equal(t, int64(i), m[attribute.Key(fmt.Sprintf("test.extra.%d", i))].AsInt64(), "n=%d", n)
		}
		assert.Equal(t, "override", m["gen_ai.request.model"].AsString(), "n=%d", n)
		assert.Equal(t, "openai", m["gen_ai.provider.name"].AsString(), "n=%d", n)
		assert.Equal(t, "c", m["gen_ai.conversation.id"].AsString(), "n=%d", n)
		assert.Equal(t, call.EntryID(), m[otelaudit.AuditEntryIDKey].AsString(), "n=%d", n)
		if n == 20 {
			assert.Contains(t, m["gen_ai.input.messages"].AsString(), "hi")
			assert.Contains(t, m["gen_ai.system_instructions"].AsString(), "be brief")
			assert.Equal(t, "1", m[otelaudit.AuditMetadataKey("a")].AsString())
		}
	}
}
