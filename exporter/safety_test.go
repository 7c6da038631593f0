package exporter_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// TestHandWiredProviderNoContentLeaks wires a plain SDK provider by hand,
// the way a service that already has OpenTelemetry does: the audit
// processor and an in-memory exporter with no Redact in front of it. 1,000
// StartCall calls and 200 middleware.Transport calls against a fake OpenAI
// server: the other exporter must see no content anywhere, and the store
// must hold every call with the right hashes and trace ids.
func TestHandWiredProviderNoContentLeaks(t *testing.T) {
	const calls, httpCalls = 1000, 200
	st := storage.NewMemoryStorage(0)
	logger, err := otelaudit.NewLogger(st)
	require.NoError(t, err)
	exp, err := exporter.New(logger)
	require.NoError(t, err)
	other := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(exporter.NewProcessor(exp)),
		sdktrace.WithSyncer(other), // no Redact
	)
	const reply = "SECRETOUT the model's distinctive answer"
	srv := fakellm.Start(fakellm.WithReply(reply))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: middleware.Transport(base, middleware.WithTracerProvider(tp))}

	type want struct{ in, out, traceID, spanID string }
	wants := map[string]want{}   // by entry id
	byTrace := map[string]want{} // Transport calls, by trace id
	tracer := tp.Tracer("app")
	for i := range calls {
		ctx, parent := tracer.Start(t.Context(), "handler")
		in := fmt.Sprintf("SECRETIN-%d what is the meaning of life?", i)
		sys := fmt.Sprintf("SECRETSYS-%d be brief", i)
		out := fmt.Sprintf("SECRETOUT-%d forty-two", i)
		_, call := otelaudit.StartCall(ctx, otelaudit.Request{
			Provider: "openai", Model: "gpt-4o", SystemInstructions: sys,
			Input:    []otelaudit.Message{{Content: in}},
			Metadata: map[string]any{"note": fmt.Sprintf("SECRETMETA-%d", i)},
		}, otelaudit.WithTracerProvider(tp))
		call.SetOutput(otelaudit.Message{Content: out, FinishReason: "stop"})
		sc := call.Span().SpanContext()
		wants[call.EntryID()] = want{in: sys + "\n" + in, out: out, traceID: sc.TraceID().String(), spanID: sc.SpanID().String()}
		call.End()
		parent.End()
	}
	for i := range httpCalls {
		ctx, parent := tracer.Start(t.Context(), "handler")
		in := fmt.Sprintf("SECRETIN-http-%d tell me a secret", i)
		body := fmt.Sprintf(`{"model":"gpt-4o","messages":[{"role":"user","content":%q}]}`, in)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.OpenAIBaseURL()+"chat/completions", bytes.NewReader([]byte(body)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		require.NoError(t, err)
		got, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		require.Contains(t, string(got), "SECRETOUT")
		parent.End()
		byTrace[parent.SpanContext().TraceID().String()] = want{in: in, out: reply}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, tp.ForceFlush(ctx))
	spans := other.GetSpans()
	require.NoError(t, tp.Shutdown(ctx))

	require.Len(t, spans, 2*(calls+httpCalls), "the other exporter gets every span")
	genAI := 0
	for _, s := range spans {
		checkSpanClean(t, s)
		for _, kv := range s.Attributes {
			assert.False(t, otelaudit.IsContentKey(kv.Key), "content attribute %s on a span", kv.Key)
			if kv.Key == otelaudit.AuditEntryIDKey {
				genAI++
			}
		}
	}
	assert.Equal(t, calls+httpCalls, genAI)

	es, err := st.ListEntries(ctx, time.Time{}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, es, calls+httpCalls)
	httpSeen := 0
	for _, e := range es {
		w, ok := wants[e.ID]
		if !ok {
			w, ok = byTrace[e.TraceID]
			require.True(t, ok, "entry %s with trace %s belongs to no call", e.ID, e.TraceID)
			httpSeen++
		} else {
			assert.Equal(t, w.traceID, e.TraceID)
			assert.Equal(t, w.spanID, e.SpanID)
		}
		assert.Equal(t, otelaudit.HashContent(w.in), e.InputHash, "input hash of %s", e.ID)
		assert.Equal(t, otelaudit.HashContent(w.out), e.OutputHash, "output hash of %s", e.ID)
		assert.Nil(t, e.InputContent, "hash-only by default")
	}
	assert.Equal(t, httpCalls, httpSeen)
	// Nothing accumulates: every registered span was taken at its end.
	assert.Equal(t, int64(calls+httpCalls), exp.Stats().Written)
}

// TestNoAuditProcessorNoContent: a provider without the audit processor
// never receives content from StartCall or the Transport, and nothing is
// kept for it.
func TestNoAuditProcessorNoContent(t *testing.T) {
	other := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(other))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	srv := fakellm.Start(fakellm.WithReply("SECRETOUT reply"))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: middleware.Transport(base, middleware.WithTracerProvider(tp))}

	_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Model: "m", Input: []otelaudit.Message{{Content: "SECRETIN a"}}},
		otelaudit.WithTracerProvider(tp))
	assert.False(t, call.ContentWanted())
	call.SetOutput(otelaudit.Message{Content: "SECRETOUT b"})
	call.SetMetadata("k", "SECRETMETA")
	call.End()
	res, err := client.Post(srv.OpenAIBaseURL()+"chat/completions", "application/json",
		bytes.NewReader([]byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"SECRETIN c"}]}`)))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	require.NoError(t, res.Body.Close())

	spans := other.GetSpans()
	require.Len(t, spans, 2)
	for _, s := range spans {
		checkSpanClean(t, s)
	}
}

// TestEvaluationExplanationReachesNoExporter: an evaluation's explanation
// may quote the content it judges. In the default wiring (content beside
// the span) it is recorded nowhere: not on the span, so no other exporter
// gets it even without Redact, and not in the entry, whose metadata is
// plaintext. With WithContentOnSpan it is on the span, and Redact removes
// it for the exporters given through WithExporter. The verdict reaches
// the entry and the exporters either way.
func TestEvaluationExplanationReachesNoExporter(t *testing.T) {
	const why = `the answer "SECRETOUT reply" is not supported by "SECRETIN prompt"`
	for _, tc := range []struct {
		name  string
		build func(t *testing.T, l *otelaudit.Logger, other sdktrace.SpanExporter) *sdktrace.TracerProvider
		opts  []otelaudit.CallOption
	}{
		{"hand-wired without Redact", func(t *testing.T, l *otelaudit.Logger, other sdktrace.SpanExporter) *sdktrace.TracerProvider {
			exp, err := exporter.New(l)
			require.NoError(t, err)
			return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(exporter.NewProcessor(exp)), sdktrace.WithSyncer(other))
		}, nil},
		{"WithExporter, content on span", func(t *testing.T, l *otelaudit.Logger, other sdktrace.SpanExporter) *sdktrace.TracerProvider {
			tp, _, err := exporter.NewTracerProvider(l, exporter.WithExporter(other))
			require.NoError(t, err)
			return tp
		}, []otelaudit.CallOption{otelaudit.WithContentOnSpan(true)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := storage.NewMemoryStorage(0)
			l, err := otelaudit.NewLogger(st, otelaudit.WithStoreContent(true))
			require.NoError(t, err)
			other := tracetest.NewInMemoryExporter()
			tp := tc.build(t, l, other)
			_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Model: "m", Input: []otelaudit.Message{{Content: "SECRETIN prompt"}}},
				append([]otelaudit.CallOption{otelaudit.WithTracerProvider(tp)}, tc.opts...)...)
			call.SetOutput(otelaudit.Message{Content: "SECRETOUT reply"})
			call.RecordEvaluation(otelaudit.Evaluation{Name: "groundedness", Label: "fail", Explanation: why})
			call.End()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, tp.ForceFlush(ctx))
			spans := other.GetSpans()
			require.NoError(t, tp.Shutdown(ctx))

			require.Len(t, spans, 1)
			checkSpanClean(t, spans[0])
			require.Len(t, spans[0].Events, 1)
			assert.Equal(t, otelaudit.EvaluationEventName, spans[0].Events[0].Name)
			assert.Len(t, spans[0].Events[0].Attributes, 2, "the name and label stay")

			e, err := st.Read(ctx, call.EntryID())
			require.NoError(t, err)
			assert.Equal(t, []string{"evaluation:groundedness=fail"}, e.Alerts)
			b, err := e.AppendJSON(nil)
			require.NoError(t, err)
			assert.Contains(t, string(b), "SECRETIN prompt", "the content is kept (WithStoreContent)")
			assert.NotContains(t, string(b), "not supported by", "the explanation is not in the entry")
		})
	}
}
