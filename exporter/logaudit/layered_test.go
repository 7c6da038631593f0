package logaudit_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/exporter/logaudit"
	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// TestAuditorBesideProcessorLayered: an SDK instrumentation's GenAI span
// around middleware.Transport's (or around StartCall's around the
// Transport's) is one call, which the audit processor pairs and stores
// once. The Auditor beside it leaves the SDK's span and the content events
// the SDK emits for it, before and after its end: it wrote the span again
// (without content, or from its events), a second entry of the call.
func TestAuditorBesideProcessorLayered(t *testing.T) {
	srv := fakellm.Start(fakellm.WithReply("the answer"))
	defer srv.Close()
	for _, tc := range []struct {
		name             string
		withCall, events bool
	}{
		{"SDK span around Transport", false, false},
		{"SDK span around StartCall around Transport", true, false},
		{"SDK span with content events around Transport", false, true},
		{"SDK span with content events around StartCall around Transport", true, true},
	} {
		withCall := tc.withCall
		t.Run(tc.name, func(t *testing.T) {
			mem := storage.NewMemoryStorage(0)
			l, err := otelaudit.NewLogger(mem)
			require.NoError(t, err)
			opts, _, err := exporter.ProviderOptions(l)
			require.NoError(t, err)
			e, err := exporter.New(l)
			require.NoError(t, err)
			a, err := logaudit.New(e, logaudit.WithJoinWait(50*time.Millisecond))
			require.NoError(t, err)
			tp := sdktrace.NewTracerProvider(append(opts, sdktrace.WithSpanProcessor(a))...)
			lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(a))
			emit := func(sc trace.SpanContext, name string, body attribute.Value) {
				if !tc.events {
					return
				}
				var r log.Record
				r.SetEventName(name)
				r.SetBody(body)
				lp.Logger("sdk-instrumentation").Emit(trace.ContextWithSpanContext(context.Background(), sc), r)
			}
			httpc := &http.Client{Transport: middleware.Transport(nil, middleware.WithTracerProvider(tp))}

			ctx, sdk := tp.Tracer("sdk-instrumentation").Start(context.Background(), "chat gpt-4o",
				trace.WithSpanKind(trace.SpanKindClient),
				trace.WithAttributes(semconv.GenAIOperationNameKey.String("chat"), semconv.GenAIProviderNameKey.String("openai"),
					semconv.GenAIRequestModelKey.String("gpt-4o")))
			emit(sdk.SpanContext(), "gen_ai.user.message", attribute.MapValue(attribute.String("content", "the question")))
			var call *otelaudit.Call
			if withCall {
				ctx, call = otelaudit.StartCall(ctx, otelaudit.Request{Provider: "openai", Model: "gpt-4o",
					Input: []otelaudit.Message{{Content: "the question"}}}, otelaudit.WithTracerProvider(tp))
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.OpenAIBaseURL()+"chat/completions",
				strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"the question"}]}`))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			res, err := httpc.Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, res.Body)
			require.NoError(t, res.Body.Close())
			call.End()
			sdk.SetAttributes(semconv.GenAIUsageInputTokensKey.Int(11))
			sdk.End()
			emit(sdk.SpanContext(), "gen_ai.choice", attribute.MapValue(attribute.Int("index", 0), attribute.String("finish_reason", "stop"),
				attribute.Map("message", attribute.String("content", "the answer"))))
			time.Sleep(100 * time.Millisecond) // past the join's window: held events would be written
			require.NoError(t, tp.Shutdown(context.Background()))
			require.NoError(t, lp.Shutdown(context.Background()))

			es, err := mem.ListEntries(context.Background(), time.Time{}, time.Now().Add(time.Hour))
			require.NoError(t, err)
			require.Len(t, es, 1, "one call, one entry")
			assert.Equal(t, otelaudit.HashContent("the question"), es[0].InputHash)
			assert.Equal(t, otelaudit.HashContent("the answer"), es[0].OutputHash)
			if withCall {
				_, err := mem.Read(context.Background(), call.EntryID())
				assert.NoError(t, err)
			}
		})
	}
}
