package exporter_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// contentMarkers appear in every content string of the leak test and
// nowhere else.
var contentMarkers = []string{"SECRETIN", "SECRETOUT", "SECRETSYS", "SECRETMETA", "SECRETTOOL"}

func assertNoContent(t *testing.T, where string, v string) {
	t.Helper()
	for _, m := range contentMarkers {
		if strings.Contains(v, m) {
			t.Fatalf("content marker %s leaked into %s", m, where)
		}
	}
}

func checkSpanClean(t *testing.T, s tracetest.SpanStub) {
	t.Helper()
	assertNoContent(t, "span name", s.Name)
	assertNoContent(t, "status", s.Status.Description)
	for _, kv := range s.Attributes {
		assertNoContent(t, "attribute "+string(kv.Key), string(kv.Key)+"="+kv.Value.String())
	}
	for _, ev := range s.Events {
		assertNoContent(t, "event name", ev.Name)
		for _, kv := range ev.Attributes {
			assertNoContent(t, "event attribute "+string(kv.Key), string(kv.Key)+"="+kv.Value.String())
		}
	}
	for _, l := range s.Links {
		for _, kv := range l.Attributes {
			assertNoContent(t, "link attribute "+string(kv.Key), string(kv.Key)+"="+kv.Value.String())
		}
	}
	if s.Resource != nil {
		for _, kv := range s.Resource.Attributes() {
			assertNoContent(t, "resource attribute "+string(kv.Key), kv.Value.String())
		}
	}
}

func TestThousandCallsNoContentLeaks(t *testing.T) {
	key, err := otelaudit.GenerateKey()
	require.NoError(t, err)
	ring, err := otelaudit.NewEncryptionManager(key)
	require.NoError(t, err)
	modes := []struct {
		name string
		opts []otelaudit.Option
	}{
		{"hash only", nil},
		{"encrypted", []otelaudit.Option{otelaudit.WithEncryption(ring)}},
		{"keyed hash", []otelaudit.Option{otelaudit.WithHashKey("k1", []byte("0123456789abcdef0123"))}},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			const n = 1000
			st := storage.NewMemoryStorage(0)
			logger, err := otelaudit.NewLogger(st, mode.opts...)
			require.NoError(t, err)
			other := tracetest.NewInMemoryExporter()
			res := resource.NewSchemaless(attribute.String("service.name", "leaktest"),
				attribute.String("gen_ai.prompt", "SECRETIN in the resource"))
			tp, exp, err := exporter.NewTracerProvider(logger, exporter.WithExporter(other), exporter.WithResource(res))
			require.NoError(t, err)
			raw := tracetest.NewSpanRecorder() // control: sees the spans unredacted
			tp.RegisterSpanProcessor(raw)
			tracer := tp.Tracer("app")

			type want struct{ in, out, traceID, spanID string }
			wants := map[string]want{}
			for i := range n {
				ctx, parent := tracer.Start(t.Context(), "handler")
				in := fmt.Sprintf("SECRETIN-%d what is the meaning of life?", i)
				sys := fmt.Sprintf("SECRETSYS-%d be brief", i)
				out := fmt.Sprintf("SECRETOUT-%d forty-two", i)
				_, call := otelaudit.StartCall(ctx, otelaudit.Request{
					Provider: "openai", Model: "gpt-4o", SystemInstructions: sys,
					Input:    []otelaudit.Message{{Content: in}},
					Metadata: map[string]any{"note": fmt.Sprintf("SECRETMETA-%d", i), "tenant": "t1"},
				}, otelaudit.WithTracerProvider(tp))
				// Content in an event and a link, as other instrumentations do.
				call.Span().AddEvent("gen_ai.client.inference.operation.details", trace.WithAttributes(
					semconv.GenAIInputMessagesKey.String(in), attribute.String("content", in),
					semconv.GenAIOperationNameKey.String("chat")))
				call.Span().AddEvent("note", trace.WithAttributes(semconv.GenAIToolCallArgumentsKey.String("SECRETTOOL")))
				call.Span().AddLink(trace.Link{SpanContext: parent.SpanContext(),
					Attributes: []attribute.KeyValue{semconv.GenAIToolCallResultKey.String("SECRETTOOL result")}})
				call.SetOutput(otelaudit.Message{Content: out, FinishReason: "stop"})
				call.SetUsage(10, 3)
				sc := call.Span().SpanContext()
				wants[call.EntryID()] = want{in: sys + "\n" + in, out: out, traceID: sc.TraceID().String(), spanID: sc.SpanID().String()}
				call.End()
				parent.End()
			}
			require.NoError(t, tp.ForceFlush(t.Context()))
			spans := other.GetSpans() // before Shutdown, which resets the in-memory exporter
			require.NoError(t, tp.Shutdown(t.Context()))

			require.Len(t, spans, 2*n, "the other exporter gets every sampled span, redacted")
			gen := 0
			for _, s := range spans {
				checkSpanClean(t, s)
				for _, kv := range s.Attributes {
					if kv.Key == otelaudit.AuditEntryIDKey {
						gen++
						_, ok := wants[kv.Value.AsString()]
						assert.True(t, ok, "entry id on the exported span is a stored entry")
					}
				}
			}
			assert.Equal(t, n, gen)
			// Control: the markers were on the raw spans (in the event this
			// test adds by hand), so the check above can fail. The
			// attributes of the raw spans hold no content at all: StartCall
			// hands it to the audit processor beside the span.
			rawLeaks := 0
			for _, s := range raw.Ended() {
				for _, kv := range s.Attributes() {
					assert.NotContains(t, kv.Value.String(), "SECRET", "content on a span attribute")
				}
				for _, ev := range s.Events() {
					for _, kv := range ev.Attributes {
						if kv.Key == semconv.GenAIInputMessagesKey && strings.Contains(kv.Value.String(), "SECRETIN") {
							rawLeaks++
						}
					}
				}
			}
			assert.Equal(t, n, rawLeaks)

			count, err := st.Count(t.Context())
			require.NoError(t, err)
			require.Equal(t, n, count)
			for id, w := range wants {
				e, err := st.Read(t.Context(), id)
				require.NoError(t, err)
				assert.Equal(t, w.traceID, e.TraceID)
				assert.Equal(t, w.spanID, e.SpanID)
				assert.True(t, logger.VerifyHash(w.in, e.InputHash), "input hash")
				assert.True(t, logger.VerifyHash(w.out, e.OutputHash), "output hash")
				assert.Equal(t, "SECRETMETA", e.Metadata["note"].(string)[:10])
				if mode.name == "encrypted" {
					require.NotNil(t, e.InputContent)
					assertNoContent(t, "ciphertext", *e.InputContent+*e.OutputContent)
					gotIn, gotOut, err := logger.DecryptContent(e)
					require.NoError(t, err)
					assert.Equal(t, w.in, gotIn)
					assert.Equal(t, w.out, gotOut)
				} else {
					assert.Nil(t, e.InputContent)
					assert.Nil(t, e.OutputContent)
				}
				if mode.name == "keyed hash" {
					assert.True(t, strings.HasPrefix(e.InputHash, "hmac-sha256:k1:"))
				} else {
					assert.Equal(t, otelaudit.HashContent(w.in), e.InputHash)
				}
			}
			s := exp.Stats()
			assert.Equal(t, int64(n), s.Written)
			assert.Zero(t, s.Dropped)
		})
	}
}

func TestSamplerDroppingEverythingStillAudits(t *testing.T) {
	st := storage.NewMemoryStorage(0)
	logger, err := otelaudit.NewLogger(st)
	require.NoError(t, err)
	other := tracetest.NewInMemoryExporter()
	tp, exp, err := exporter.NewTracerProvider(logger, exporter.WithExporter(other), exporter.WithSampler(sdktrace.NeverSample()))
	require.NoError(t, err)
	tracer := tp.Tracer("app")
	const n = 200
	ids := map[string]bool{}
	for i := range n {
		ctx, parent := tracer.Start(t.Context(), "handler") // dropped, not GenAI
		_, call := otelaudit.StartCall(ctx, otelaudit.Request{Model: "m", Input: []otelaudit.Message{{Content: fmt.Sprint("q", i)}}}, otelaudit.WithTracerProvider(tp))
		assert.False(t, call.Span().SpanContext().IsSampled())
		assert.True(t, call.Span().IsRecording())
		ids[call.EntryID()] = true
		call.End()
		parent.End()
		// A third-party GenAI span with the operation at start.
		_, s := tracer.Start(ctx, "chat x", trace.WithAttributes(semconv.GenAIOperationNameChat))
		s.End()
	}
	require.NoError(t, tp.ForceFlush(t.Context()))
	assert.Empty(t, other.GetSpans(), "the other exporter receives nothing")
	require.NoError(t, tp.Shutdown(t.Context()))
	count, err := st.Count(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 2*n, count)
	for id := range ids {
		_, err := st.Read(t.Context(), id)
		assert.NoError(t, err)
	}
	assert.Zero(t, exp.Stats().Dropped)
}

func TestSamplerDecisions(t *testing.T) {
	genai := []attribute.KeyValue{semconv.GenAIOperationNameChat}
	tests := []struct {
		name  string
		base  sdktrace.Sampler
		attrs []attribute.KeyValue
		want  sdktrace.SamplingDecision
	}{
		{"drop genai", sdktrace.NeverSample(), genai, sdktrace.RecordOnly},
		{"drop other", sdktrace.NeverSample(), nil, sdktrace.Drop},
		{"sample genai", sdktrace.AlwaysSample(), genai, sdktrace.RecordAndSample},
		{"provider only", sdktrace.NeverSample(), []attribute.KeyValue{semconv.GenAIProviderNameOpenAI}, sdktrace.RecordOnly},
		{"nil base samples", nil, nil, sdktrace.RecordAndSample},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := exporter.Sampler(tc.base)
			r := s.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: trace.TraceID{1}, Name: "x", Attributes: tc.attrs})
			assert.Equal(t, tc.want, r.Decision)
			assert.Contains(t, s.Description(), "AuditSampler{")
		})
	}
}

// TestThirdPartySpans: spans made with a plain tracer and semconv GenAI
// attributes set by hand become correct entries.
func TestThirdPartySpans(t *testing.T) {
	st := storage.NewMemoryStorage(0)
	logger, err := otelaudit.NewLogger(st, otelaudit.WithStoreContent(true))
	require.NoError(t, err)
	tp, _, err := exporter.NewTracerProvider(logger)
	require.NoError(t, err)
	tracer := tp.Tracer("thirdparty")
	start := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

	// 1: JSON string form, tool call, system instructions, no entry id.
	_, s1 := tracer.Start(t.Context(), "chat gpt-4o", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(start),
		trace.WithAttributes(semconv.GenAIOperationNameChat, semconv.GenAIProviderNameOpenAI, semconv.GenAIRequestModel("gpt-4o")))
	s1.SetAttributes(
		semconv.GenAIResponseModel("gpt-4o-2024-08-06"),
		semconv.GenAIResponseID("chatcmpl-1"),
		semconv.GenAIUsageInputTokens(21), semconv.GenAIUsageOutputTokens(7),
		semconv.GenAIConversationID("conv-9"),
		semconv.GenAIResponseFinishReasons("tool_calls"),
		semconv.GenAISystemInstructionsKey.String(`[{"type":"text","content":"You are helpful."}]`),
		semconv.GenAIInputMessagesKey.String(`[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]},`+
			`{"role":"assistant","parts":[{"type":"tool_call","id":"c1","name":"get_weather","arguments":{"location":"Paris"}}]},`+
			`{"role":"tool","parts":[{"type":"tool_call_response","id":"c1","response":"rainy"}]}]`),
		semconv.GenAIOutputMessagesKey.String(`[{"role":"assistant","parts":[{"type":"text","content":"It is rainy."}],"finish_reason":"stop"}]`),
		otelaudit.AuditMetadataKey("team").String("search"),
	)
	s1.End(trace.WithTimestamp(start.Add(1500 * time.Millisecond)))

	// 2: structured (map/slice) form, legacy provider and token keys, error.
	_, s2 := tracer.Start(t.Context(), "text_completion", trace.WithAttributes(
		attribute.String("gen_ai.system", "anthropic"),
		semconv.GenAIOperationNameTextCompletion,
	))
	s2.SetAttributes(
		attribute.Int64("gen_ai.usage.prompt_tokens", 5),
		attribute.Slice(string(semconv.GenAIInputMessagesKey), attribute.MapValue(
			attribute.String("role", "user"),
			attribute.Slice("parts", attribute.MapValue(attribute.String("type", "text"), attribute.String("content", "structured hi"))),
		)),
		semconv.ErrorTypeKey.String("timeout"),
		otelaudit.AuditSafetyPassedKey.Bool(false),
		otelaudit.AuditDetectorsTriggeredKey.StringSlice([]string{"toxicity"}),
		otelaudit.AuditAlertsKey.String("single alert"),
	)
	s2.End()

	// 3: not a GenAI span: ignored.
	_, s3 := tracer.Start(t.Context(), "GET /", trace.WithAttributes(attribute.String("http.method", "GET")))
	s3.End()
	require.NoError(t, tp.Shutdown(t.Context()))

	count, err := st.Count(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, count)

	e1, err := st.Read(t.Context(), exporter.EntryIDForSpan(s1.SpanContext(), start))
	require.NoError(t, err, "entry id derived from the span")
	assert.Equal(t, s1.SpanContext().TraceID().String(), e1.TraceID)
	assert.Equal(t, "openai", *e1.Provider)
	assert.Equal(t, "gpt-4o", *e1.Model)
	assert.Equal(t, "chat", e1.Operation)
	assert.Equal(t, "conv-9", *e1.ConversationID)
	assert.Equal(t, int64(21), *e1.InputTokens)
	assert.Equal(t, int64(7), *e1.OutputTokens)
	assert.InDelta(t, 1500, e1.LatencyMS, 0.001)
	assert.True(t, e1.Timestamp.Equal(start))
	wantIn := "You are helpful.\nWeather in Paris?\n" +
		`{"arguments":{"location":"Paris"},"id":"c1","name":"get_weather","type":"tool_call"}` + "\n" +
		`{"id":"c1","response":"rainy","type":"tool_call_response"}`
	assert.Equal(t, wantIn, *e1.InputContent)
	assert.Equal(t, otelaudit.HashContent(wantIn), e1.InputHash)
	assert.Equal(t, "It is rainy.", *e1.OutputContent)
	assert.Equal(t, "search", e1.Metadata["team"])
	assert.Equal(t, "chatcmpl-1", e1.Metadata["gen_ai.response.id"])
	assert.Equal(t, "gpt-4o-2024-08-06", e1.Metadata["gen_ai.response.model"])
	assert.Equal(t, []any{"tool_calls"}, e1.Metadata["gen_ai.response.finish_reasons"])
	assert.True(t, e1.SafetyPassed)

	e2, err := st.Read(t.Context(), exporter.EntryIDForSpan(s2.SpanContext(), s2.(sdktrace.ReadOnlySpan).StartTime()))
	require.NoError(t, err)
	assert.Equal(t, "anthropic", *e2.Provider)
	assert.Nil(t, e2.Model)
	assert.Equal(t, int64(5), *e2.InputTokens)
	assert.Nil(t, e2.OutputTokens, "unknown stays null")
	assert.Equal(t, "structured hi", *e2.InputContent)
	assert.Equal(t, otelaudit.HashContent(""), e2.OutputHash)
	assert.False(t, e2.SafetyPassed)
	assert.Equal(t, []string{"toxicity"}, e2.DetectorsTriggered)
	assert.Equal(t, []string{"single alert"}, e2.Alerts)
	assert.Equal(t, "timeout", e2.Metadata["error.type"])
}

func TestBlockedRequestAudited(t *testing.T) {
	st := storage.NewMemoryStorage(0)
	logger, err := otelaudit.NewLogger(st)
	require.NoError(t, err)
	tp, _, err := exporter.NewTracerProvider(logger)
	require.NoError(t, err)
	_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Provider: "openai", Model: "gpt-4o", Input: []otelaudit.Message{{Content: "my ssn is 123"}}}, otelaudit.WithTracerProvider(tp))
	call.Block("pii", "ssn-detector")
	call.End()
	require.NoError(t, tp.Shutdown(t.Context()))
	e, err := st.Read(t.Context(), call.EntryID())
	require.NoError(t, err)
	assert.False(t, e.SafetyPassed)
	assert.Equal(t, "pii", *e.BlockReason)
	assert.Equal(t, []string{"ssn-detector"}, e.DetectorsTriggered)
	assert.Equal(t, otelaudit.HashContent("my ssn is 123"), e.InputHash)
	assert.Equal(t, otelaudit.HashContent(""), e.OutputHash)
	assert.Nil(t, e.OutputTokens)
}
