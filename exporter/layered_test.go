package exporter_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/audittest"
	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// TestLayeredInstrumentationOneEntry: one model call described by two
// spans gives one entry, from the richer span, and both spans are marked.
func TestLayeredInstrumentationOneEntry(t *testing.T) {
	srv := fakellm.Start(fakellm.WithReply("the answer"))
	defer srv.Close()
	const calls = 20
	type setup struct {
		tp    *sdktrace.TracerProvider
		st    *storage.MemoryStorage
		exp   *exporter.Exporter
		rec   *tracetest.SpanRecorder
		httpc *http.Client
		base  *http.Transport
	}
	newSetup := func(t *testing.T) *setup {
		st, tp, exp, rec := audittest.Provider(t)
		base := &http.Transport{}
		t.Cleanup(base.CloseIdleConnections)
		return &setup{tp: tp, st: st, exp: exp, rec: rec, base: base,
			httpc: &http.Client{Transport: middleware.Transport(base, middleware.WithTracerProvider(tp))}}
	}
	postTo := func(t *testing.T, s *setup, parent trace.Span, url, body string) {
		req, err := http.NewRequestWithContext(trace.ContextWithSpan(t.Context(), parent), http.MethodPost, url,
			bytes.NewReader([]byte(body)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		res, err := s.httpc.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		require.NoError(t, res.Body.Close())
	}
	post := func(t *testing.T, s *setup, parent trace.Span) {
		postTo(t, s, parent, srv.OpenAIBaseURL()+"chat/completions",
			`{"model":"gpt-4o","messages":[{"role":"user","content":"the question"}]}`)
	}
	entries := func(t *testing.T, s *setup) []*storage.AuditEntry {
		require.NoError(t, s.tp.Shutdown(t.Context()))
		es, err := s.st.ListEntries(t.Context(), time.Time{}, time.Now().Add(time.Hour))
		require.NoError(t, err)
		return es
	}
	// what a hand-made semconv span of a chat call starts with
	chatAttrs := []attribute.KeyValue{semconv.GenAIOperationNameKey.String("chat"),
		semconv.GenAIProviderNameKey.String("openai"), semconv.GenAIRequestModelKey.String("gpt-4o")}
	marked := func(t *testing.T, s *setup) int {
		n := 0
		for _, sp := range s.rec.Ended() {
			for _, kv := range sp.Attributes() {
				if kv.Key == exporter.AuditSameCallKey {
					n++
				}
			}
		}
		return n
	}

	sdkAroundTransport := func(t *testing.T, httpSpan bool) {
		s := newSetup(t)
		if httpSpan {
			s.httpc.Transport = httpSpanTransport{tr: s.tp.Tracer("otelhttp"), inner: s.httpc.Transport}
		}
		tr := s.tp.Tracer("sdk-instrumentation")
		for range calls {
			// A hand-made semconv span, as an SDK-level instrumentation
			// makes it, without content (the conventions' default).
			_, outer := tr.Start(t.Context(), "chat gpt-4o", trace.WithSpanKind(trace.SpanKindClient))
			outer.SetAttributes(semconv.GenAIOperationNameKey.String("chat"), semconv.GenAIProviderNameKey.String("openai"),
				semconv.GenAIRequestModelKey.String("gpt-4o"))
			post(t, s, outer)
			outer.End()
		}
		es := entries(t, s)
		require.Len(t, es, calls, "one entry per call")
		for _, e := range es {
			require.NotNil(t, e.InputContent)
			assert.Equal(t, "the question", *e.InputContent, "the richer span (the Transport's, with content) is stored")
			assert.Equal(t, otelaudit.HashContent("the answer"), e.OutputHash)
		}
		assert.Equal(t, int64(calls), s.exp.Stats().Layered)
		assert.Equal(t, 2*calls, marked(t, s), "both spans of each call are marked")
	}
	for _, tc := range []struct {
		name     string
		httpSpan bool
	}{
		{name: "SDK span around Transport"},
		// A service that traces its outgoing HTTP (otelhttp.NewTransport
		// around middleware.Transport): the HTTP span stands between the
		// SDK's GenAI span and the Transport's.
		{name: "SDK span, HTTP client span, Transport", httpSpan: true},
	} {
		t.Run(tc.name, func(t *testing.T) { sdkAroundTransport(t, tc.httpSpan) })
	}

	t.Run("ADK call_llm around Transport", func(t *testing.T) {
		s := newSetup(t)
		tr := s.tp.Tracer("gcp.vertex.agent")
		for range calls {
			// As ADK for Go records a model call: named call_llm, every
			// attribute set after Start, once the reply is in.
			_, outer := tr.Start(t.Context(), "call_llm")
			postTo(t, s, outer, srv.URL+"/v1beta/models/gemini-2.5-flash:generateContent",
				`{"contents":[{"role":"user","parts":[{"text":"the question"}]}]}`)
			outer.SetAttributes(
				attribute.String("gen_ai.system", "gcp.vertex.agent"),
				semconv.GenAIRequestModelKey.String("gemini-2.5-flash"),
				attribute.String("gcp.vertex.agent.llm_request", `{"content":[{"parts":[{"text":"the question"}],"role":"user"}]}`),
				attribute.String("gcp.vertex.agent.llm_response", `{"content":{"parts":[{"text":"the answer"}],"role":"model"}}`),
			)
			outer.End()
		}
		es := entries(t, s)
		require.Len(t, es, calls, "one entry per call")
		for _, e := range es {
			require.NotNil(t, e.InputContent)
			assert.Equal(t, "the question", *e.InputContent, "the richer span (the Transport's) is stored")
		}
		assert.Equal(t, int64(calls), s.exp.Stats().Layered)
		assert.Equal(t, 2*calls, marked(t, s))
	})

	t.Run("StartCall around an instrumentation span", func(t *testing.T) {
		s := newSetup(t)
		tr := s.tp.Tracer("sdk-instrumentation")
		for range calls {
			ctx, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Provider: "openai", Model: "gpt-4o",
				Input: []otelaudit.Message{{Content: "outer question"}}}, otelaudit.WithTracerProvider(s.tp))
			_, inner := tr.Start(ctx, "chat gpt-4o", trace.WithAttributes(semconv.GenAIOperationNameKey.String("chat")))
			inner.SetAttributes(semconv.GenAIUsageInputTokensKey.Int(3))
			inner.End()
			call.SetOutput(otelaudit.Message{Content: "outer answer"})
			call.End()
		}
		es := entries(t, s)
		require.Len(t, es, calls)
		for _, e := range es {
			require.NotNil(t, e.InputContent)
			assert.Equal(t, "outer question", *e.InputContent)
		}
		assert.Equal(t, int64(calls), s.exp.Stats().Layered)
	})

	t.Run("StartCall around Transport: the entry has the call's id", func(t *testing.T) {
		// The id StartCall gave the caller (Call.EntryID) is the id of the
		// one entry, though the Transport's span, with the reply's
		// content, is the one stored.
		s := newSetup(t)
		ids := map[string]bool{}
		for range calls {
			ctx, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Provider: "openai", Model: "gpt-4o",
				Input: []otelaudit.Message{{Content: "the question"}}}, otelaudit.WithTracerProvider(s.tp))
			post(t, s, trace.SpanFromContext(ctx))
			call.End()
			ids[call.EntryID()] = true
		}
		es := entries(t, s)
		require.Len(t, es, calls)
		for _, e := range es {
			assert.True(t, ids[e.ID], "entry %s has an id StartCall gave", e.ID)
			assert.Equal(t, otelaudit.HashContent("the answer"), e.OutputHash, "the Transport's span, with the reply, is stored")
		}
		assert.Equal(t, int64(calls), s.exp.Stats().Layered)
	})

	t.Run("StartCall around Transport: what the caller told the audit is kept", func(t *testing.T) {
		// The Transport's span is stored (it has the reply), with the
		// metadata, safety result and conversation the caller gave the
		// call's span.
		s := newSetup(t)
		for range calls {
			ctx, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Provider: "openai", Model: "gpt-4o",
				ConversationID: "conv-7", Metadata: map[string]any{"tenant": "acme"},
				Input: []otelaudit.Message{{Content: "the question"}}}, otelaudit.WithTracerProvider(s.tp))
			call.SetMetadata("user", "u-42")
			post(t, s, trace.SpanFromContext(ctx))
			call.SetSafety(otelaudit.Safety{Passed: false, DetectorsTriggered: []string{"pii"}, Alerts: []string{"review"}})
			call.End()
		}
		es := entries(t, s)
		require.Len(t, es, calls)
		for _, e := range es {
			assert.Equal(t, otelaudit.HashContent("the answer"), e.OutputHash, "the Transport's span is stored")
			assert.Equal(t, "acme", e.Metadata["tenant"])
			assert.Equal(t, "u-42", e.Metadata["user"])
			require.NotNil(t, e.ConversationID)
			assert.Equal(t, "conv-7", *e.ConversationID)
			assert.False(t, e.SafetyPassed)
			assert.Equal(t, []string{"pii"}, e.DetectorsTriggered)
			assert.Equal(t, []string{"review"}, e.Alerts)
		}
	})

	t.Run("StartCall (chat) around a Gemini call (generate_content)", func(t *testing.T) {
		// StartCall names a model call chat, the Transport names Gemini's
		// generateContent generate_content: one kind of call.
		s := newSetup(t)
		ids := map[string]bool{}
		for range calls {
			ctx, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Provider: "gcp.gemini", Model: "gemini-2.5-flash",
				Input: []otelaudit.Message{{Content: "the question"}}}, otelaudit.WithTracerProvider(s.tp))
			postTo(t, s, trace.SpanFromContext(ctx), srv.URL+"/v1beta/models/gemini-2.5-flash:generateContent",
				`{"contents":[{"role":"user","parts":[{"text":"the question"}]}]}`)
			call.End()
			ids[call.EntryID()] = true
		}
		es := entries(t, s)
		require.Len(t, es, calls, "one entry per call")
		for _, e := range es {
			assert.True(t, ids[e.ID])
			assert.Equal(t, "generate_content", e.Operation)
		}
		assert.Equal(t, 2*calls, marked(t, s))
	})

	t.Run("an SDK's retry: each attempt is a call", func(t *testing.T) {
		// The SDK's span sees a 429 and a retry: two requests, each
		// holding the prompt. The first attempt is audited alone, with its
		// error; the SDK's span pairs with the second and, recording more,
		// is the one stored. Paired with the first, it would have hidden
		// the failed attempt.
		s := newSetup(t)
		tr := s.tp.Tracer("sdk-instrumentation")
		const retried = 5
		for range retried {
			flaky := fakellm.Start(fakellm.WithReply("the answer"), fakellm.WithFailFirst(1, http.StatusTooManyRequests))
			_, outer := tr.Start(t.Context(), "chat gpt-4o", trace.WithSpanKind(trace.SpanKindClient))
			outer.SetAttributes(semconv.GenAIOperationNameKey.String("chat"), semconv.GenAIProviderNameKey.String("openai"),
				semconv.GenAIRequestModelKey.String("gpt-4o"))
			for range 2 {
				postTo(t, s, outer, flaky.OpenAIBaseURL()+"chat/completions",
					`{"model":"gpt-4o","messages":[{"role":"user","content":"the question"}]}`)
			}
			// As instrumentations do, the SDK's span gets the final
			// reply's data, and here (content capture on) the messages and
			// the system instructions: it records more than an attempt.
			outer.SetAttributes(semconv.GenAIUsageInputTokensKey.Int(10), semconv.GenAIUsageOutputTokensKey.Int(2),
				semconv.GenAIResponseIDKey.String("chatcmpl-1"), semconv.GenAIResponseModelKey.String("gpt-4o"),
				semconv.GenAIResponseFinishReasonsKey.StringSlice([]string{"stop"}),
				semconv.GenAISystemInstructionsKey.String(`[{"type":"text","content":"be brief"}]`),
				semconv.GenAIInputMessagesKey.String(`[{"role":"user","parts":[{"type":"text","content":"the question"}]}]`),
				semconv.GenAIOutputMessagesKey.String(`[{"role":"assistant","parts":[{"type":"text","content":"the answer"}],"finish_reason":"stop"}]`))
			outer.End()
			flaky.Close()
		}
		es := entries(t, s) // the provider shut down: every span ended
		// What a trace shows of each span's entry: its audit.entry_id, or
		// the id derived from it.
		traceIDs := map[string]bool{}
		for _, sp := range s.rec.Ended() {
			traceIDs[exporter.EntryID(sp)] = true
		}
		require.Len(t, es, 2*retried, "one entry per request sent")
		failed, paired := 0, 0
		for _, e := range es {
			require.NotNil(t, e.InputContent, "every attempt sent the prompt")
			assert.Contains(t, *e.InputContent, "the question")
			if e.Metadata["error.type"] != nil {
				failed++
			}
			assert.True(t, traceIDs[e.ID], "entry %s is found from its trace", e.ID)
			if e.OutputHash == otelaudit.HashContent("the answer") {
				paired++
			}
		}
		assert.Equal(t, retried, failed, "each failed attempt is audited, with its error")
		assert.Equal(t, retried, paired, "the SDK's span and its last attempt are one entry")
		assert.Equal(t, int64(retried), s.exp.Stats().Layered)
	})

	t.Run("attempts ended before the next starts", func(t *testing.T) {
		// An instrumentation below the SDK's that ends each attempt's span
		// before the SDK retries: the ended attempt is held for the SDK's
		// span when the next one starts, and given up to be audited alone.
		s := newSetup(t)
		tr := s.tp.Tracer("sdk-instrumentation")
		input := semconv.GenAIInputMessagesKey.String(`[{"role":"user","parts":[{"type":"text","content":"the question"}]}]`)
		output := semconv.GenAIOutputMessagesKey.String(`[{"role":"assistant","parts":[{"type":"text","content":"the answer"}]}]`)
		for range calls {
			ctx, outer := tr.Start(t.Context(), "chat gpt-4o", trace.WithAttributes(chatAttrs...))
			_, first := tr.Start(ctx, "chat gpt-4o", trace.WithAttributes(append(chatAttrs, input)...))
			first.SetAttributes(semconv.ErrorTypeKey.String("429"))
			first.End()
			_, second := tr.Start(ctx, "chat gpt-4o", trace.WithAttributes(append(chatAttrs, input)...))
			second.SetAttributes(output)
			second.End()
			outer.SetAttributes(semconv.GenAISystemInstructionsKey.String(`[{"type":"text","content":"be brief"}]`), input, output)
			outer.End()
		}
		es := entries(t, s)
		require.Len(t, es, 2*calls, "one entry per attempt")
		failed := 0
		for _, e := range es {
			if e.Metadata["error.type"] != nil {
				failed++
			}
		}
		assert.Equal(t, calls, failed, "each failed attempt is audited alone")
		assert.Equal(t, int64(calls), s.exp.Stats().Layered)
	})

	t.Run("content outweighs response data", func(t *testing.T) {
		// The outer span has the reply's usage and ids, the inner one
		// only the prompt (the reply never came): the prompt is kept.
		s := newSetup(t)
		tr := s.tp.Tracer("sdk-instrumentation")
		for range calls {
			ctx, outer := tr.Start(t.Context(), "chat gpt-4o", trace.WithAttributes(chatAttrs...))
			_, inner := tr.Start(ctx, "chat gpt-4o", trace.WithAttributes(append(chatAttrs,
				semconv.GenAIInputMessagesKey.String(`[{"role":"user","parts":[{"type":"text","content":"the question"}]}]`))...))
			inner.End()
			outer.SetAttributes(semconv.GenAIUsageInputTokensKey.Int(10), semconv.GenAIUsageOutputTokensKey.Int(2),
				semconv.GenAIResponseIDKey.String("chatcmpl-1"), semconv.GenAIResponseModelKey.String("gpt-4o"),
				semconv.GenAIResponseFinishReasonsKey.StringSlice([]string{"stop"}))
			outer.End()
		}
		es := entries(t, s)
		require.Len(t, es, calls)
		for _, e := range es {
			require.NotNil(t, e.InputContent)
			assert.Contains(t, *e.InputContent, "the question")
		}
	})

	t.Run("three layers of one call", func(t *testing.T) {
		// StartCall around an SDK's own span around the Transport's (and
		// the service's HTTP span), or the SDK's span around StartCall
		// around the Transport's (a service calling StartCall inside an
		// SDK's instrumented method, with the SDK's HTTP client): one
		// request to the model, one entry, under the caller's id, with
		// the reply, in the call's trace; the span that is neither the
		// caller's nor the request's steps aside. The SDK retries once
		// after a 429: that attempt is a call of its own.
		for _, tc := range []struct {
			name                        string
			sdkOutside, httpSpan, retry bool
		}{
			{name: "direct"},
			{name: "through an HTTP span", httpSpan: true},
			{name: "with a retry", httpSpan: true, retry: true},
			{name: "SDK span around StartCall", sdkOutside: true},
			{name: "SDK span around StartCall, through an HTTP span", sdkOutside: true, httpSpan: true},
			{name: "SDK span around StartCall, with a retry", sdkOutside: true, httpSpan: true, retry: true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := newSetup(t)
				if tc.httpSpan {
					s.httpc.Transport = httpSpanTransport{tr: s.tp.Tracer("otelhttp"), inner: s.httpc.Transport}
				}
				tr := s.tp.Tracer("sdk-instrumentation")
				traceOf := map[string]string{} // call.EntryID() to the call's trace id
				for range calls {
					url := srv.OpenAIBaseURL() + "chat/completions"
					attempts := 1
					if tc.retry {
						flaky := fakellm.Start(fakellm.WithReply("the answer"), fakellm.WithFailFirst(1, http.StatusTooManyRequests))
						defer flaky.Close()
						url, attempts = flaky.OpenAIBaseURL()+"chat/completions", 2
					}
					startCall := func(ctx context.Context) (context.Context, *otelaudit.Call) {
						return otelaudit.StartCall(ctx, otelaudit.Request{Provider: "openai", Model: "gpt-4o",
							Input: []otelaudit.Message{{Content: "the question"}}}, otelaudit.WithTracerProvider(s.tp))
					}
					startSDK := func(ctx context.Context) (context.Context, trace.Span) {
						return tr.Start(ctx, "chat gpt-4o", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(chatAttrs...))
					}
					var call *otelaudit.Call
					var sdk, requester trace.Span // requester: the span the requests are sent under
					if tc.sdkOutside {
						ctx, sdkSpan := startSDK(t.Context())
						ctx, call = startCall(ctx)
						sdk, requester = sdkSpan, trace.SpanFromContext(ctx)
					} else {
						ctx, c := startCall(t.Context())
						_, sdk = startSDK(ctx)
						call, requester = c, sdk
					}
					for range attempts {
						postTo(t, s, requester, url, `{"model":"gpt-4o","messages":[{"role":"user","content":"the question"}]}`)
					}
					if tc.sdkOutside {
						call.End()
						sdk.End()
					} else {
						sdk.End()
						call.End()
					}
					traceOf[call.EntryID()] = sdk.SpanContext().TraceID().String()
				}
				es := entries(t, s)
				failed := 0
				for _, e := range es {
					if e.Metadata["error.type"] != nil {
						failed++
						continue
					}
					assert.Contains(t, traceOf, e.ID, "the call's entry is under call.EntryID()")
					assert.Equal(t, traceOf[e.ID], e.TraceID, "in the call's trace")
					assert.Equal(t, otelaudit.HashContent("the question"), e.InputHash, "with the prompt")
					assert.Equal(t, otelaudit.HashContent("the answer"), e.OutputHash, "with the reply")
				}
				wantFailed := 0
				if tc.retry {
					wantFailed = calls
				}
				assert.Equal(t, wantFailed, failed)
				assert.Len(t, es, calls+wantFailed, "one entry per request sent")
				assert.Equal(t, int64(2*calls), s.exp.Stats().Layered, "the SDK's span and the Transport's (or the call's) are not stored")
			})
		}
	})

	t.Run("three layers, the outer ending first", func(t *testing.T) {
		s := newSetup(t)
		tr := s.tp.Tracer("sdk-instrumentation")
		var outerIDs []string
		for range calls {
			ctx, outer := tr.Start(t.Context(), "chat gpt-4o", trace.WithAttributes(chatAttrs...))
			ctx, mid := tr.Start(ctx, "chat gpt-4o", trace.WithAttributes(chatAttrs...))
			outer.End()
			_, child := tr.Start(ctx, "chat gpt-4o", trace.WithAttributes(chatAttrs...))
			child.End()
			mid.End()
			ro := outer.(sdktrace.ReadOnlySpan)
			outerIDs = append(outerIDs, exporter.EntryIDForSpan(ro.SpanContext(), ro.StartTime()))
		}
		es := entries(t, s)
		var got []string
		for _, e := range es {
			got = append(got, e.ID)
		}
		assert.ElementsMatch(t, outerIDs, got, "one entry per call, under the outer span's id")
		assert.Equal(t, int64(2*calls), s.exp.Stats().Layered)
	})

	t.Run("SDK span around StartCall, ended before the request", func(t *testing.T) {
		// The SDK's span ended before the call's request started: it did
		// not wrap the request, and is audited alone. The call's entry,
		// under the caller's id, has the reply.
		s := newSetup(t)
		tr := s.tp.Tracer("sdk-instrumentation")
		callIDs, sdkIDs := map[string]bool{}, map[string]bool{}
		for range calls {
			ctx, sdk := tr.Start(t.Context(), "chat gpt-4o", trace.WithAttributes(chatAttrs...))
			ctx, call := otelaudit.StartCall(ctx, otelaudit.Request{Provider: "openai", Model: "gpt-4o",
				Input: []otelaudit.Message{{Content: "the question"}}}, otelaudit.WithTracerProvider(s.tp))
			sdk.End()
			post(t, s, trace.SpanFromContext(ctx))
			call.End()
			callIDs[call.EntryID()] = true
			ro := sdk.(sdktrace.ReadOnlySpan)
			sdkIDs[exporter.EntryIDForSpan(ro.SpanContext(), ro.StartTime())] = true
		}
		es := entries(t, s)
		require.Len(t, es, 2*calls)
		for _, e := range es {
			if callIDs[e.ID] {
				assert.Equal(t, otelaudit.HashContent("the answer"), e.OutputHash, "the call's entry has the reply")
				continue
			}
			assert.True(t, sdkIDs[e.ID], "entry %s is the SDK span's", e.ID)
		}
		assert.Equal(t, int64(calls), s.exp.Stats().Layered)
	})

	t.Run("nested agents, tools and StartCalls are calls of their own", func(t *testing.T) {
		// An agent invoking an agent, a tool running a tool, a library's
		// StartCall inside a service's: each caller holds its own entry id,
		// and each is stored.
		s := newSetup(t)
		tp := otelaudit.WithTracerProvider(s.tp)
		tr := s.tp.Tracer("agent-framework")
		var ids []string
		pairs := 0 // the service's call with an SDK's span
		for range calls {
			ctx, planner := otelaudit.StartAgent(t.Context(), otelaudit.Agent{Name: "planner",
				Input: []otelaudit.Message{{Content: "plan the trip"}}}, tp)
			_, researcher := otelaudit.StartAgent(ctx, otelaudit.Agent{Name: "researcher",
				Input: []otelaudit.Message{{Content: "find flights"}}}, tp)
			researcher.End()
			planner.End()
			ctx, book := otelaudit.StartTool(t.Context(), otelaudit.Tool{Name: "book_trip", Arguments: `{"to":"BER"}`}, tp)
			_, charge := otelaudit.StartTool(ctx, otelaudit.Tool{Name: "charge_card", Arguments: `{"amount":420}`}, tp)
			charge.End()
			book.End()
			ctx, service := otelaudit.StartCall(t.Context(), otelaudit.Request{Provider: "openai", Model: "gpt-4o",
				Input: []otelaudit.Message{{Content: "q"}}}, tp)
			_, library := otelaudit.StartCall(ctx, otelaudit.Request{Provider: "openai", Model: "gpt-4o",
				Input: []otelaudit.Message{{Content: "q"}}}, tp)
			library.End()
			service.End()
			ids = append(ids, planner.EntryID(), researcher.EntryID(), book.EntryID(), charge.EntryID(),
				service.EntryID(), library.EntryID())
			// With an SDK's span between them: the SDK's span pairs with
			// the service's call, the library's call is its own.
			ctx, service = otelaudit.StartCall(t.Context(), otelaudit.Request{Provider: "openai", Model: "gpt-4o",
				Input: []otelaudit.Message{{Content: "q"}}}, tp)
			ctx, sdk := s.tp.Tracer("sdk-instrumentation").Start(ctx, "chat gpt-4o",
				trace.WithAttributes(semconv.GenAIOperationNameKey.String("chat")))
			_, library = otelaudit.StartCall(ctx, otelaudit.Request{Provider: "openai", Model: "gpt-4o",
				Input: []otelaudit.Message{{Content: "q"}}}, tp)
			library.End()
			sdk.End()
			service.End()
			ids = append(ids, service.EntryID(), library.EntryID())
			pairs++
			// The same agents as another instrumentation records them.
			agent := func(name string) []attribute.KeyValue {
				return []attribute.KeyValue{semconv.GenAIOperationNameKey.String("invoke_agent"),
					semconv.GenAIProviderNameKey.String("openai"), semconv.GenAIAgentNameKey.String(name)}
			}
			actx, outer := tr.Start(t.Context(), "invoke_agent planner", trace.WithAttributes(agent("planner")...))
			_, inner := tr.Start(actx, "invoke_agent researcher", trace.WithAttributes(agent("researcher")...))
			inner.End()
			outer.End()
			for _, sp := range []trace.Span{outer, inner} {
				ro := sp.(sdktrace.ReadOnlySpan)
				ids = append(ids, exporter.EntryIDForSpan(ro.SpanContext(), ro.StartTime()))
			}
		}
		es := entries(t, s)
		var got []string
		for _, e := range es {
			got = append(got, e.ID)
		}
		assert.ElementsMatch(t, ids, got)
		assert.Equal(t, int64(pairs), s.exp.Stats().Layered)
		assert.Equal(t, 2*pairs, marked(t, s))
	})

	t.Run("different operations are two calls", func(t *testing.T) {
		s := newSetup(t)
		for range calls {
			ctx, agent := otelaudit.StartCall(t.Context(), otelaudit.Request{Operation: "invoke_agent", Model: "planner"},
				otelaudit.WithTracerProvider(s.tp))
			_, call := otelaudit.StartCall(ctx, otelaudit.Request{Model: "gpt-4o"}, otelaudit.WithTracerProvider(s.tp))
			call.End()
			agent.End()
		}
		assert.Len(t, entries(t, s), 2*calls)
		assert.Zero(t, s.exp.Stats().Layered)
		assert.Zero(t, marked(t, s))
	})
}

// httpSpanTransport does what otelhttp.NewTransport does: a CLIENT span
// named after the method around the inner round trip, its context given
// on.
type httpSpanTransport struct {
	tr    trace.Tracer
	inner http.RoundTripper
}

func (h httpSpanTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, sp := h.tr.Start(r.Context(), r.Method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(semconv.HTTPRequestMethodKey.String(r.Method)))
	defer sp.End()
	return h.inner.RoundTrip(r.WithContext(ctx))
}
