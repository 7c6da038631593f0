package exporter_test

import (
	"bytes"
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

	t.Run("SDK span around Transport", func(t *testing.T) {
		s := newSetup(t)
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
	})

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
