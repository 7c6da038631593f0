package logaudit_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
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
	"github.com/otelaudit/otelaudit-go/storage/filestore"
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
			tp, lp := auditBesideProcessor(t, mem, 50*time.Millisecond)
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

// TestAuditorBesideProcessorLayeredConcurrent: the same under load, with
// SDK spans that pair and spans of an SDK that calls no Transport, some
// longer than the join window, on many goroutines: those are the
// Auditor's, joined with their events, and the processor beside it leaves
// them (it wrote each again without content, under the same id).
// TestAuditorOwnsEventSpans shows that alone.
func TestAuditorBesideProcessorLayeredConcurrent(t *testing.T) {
	srv := fakellm.Start(fakellm.WithReply("the answer"))
	defer srv.Close()
	mem := storage.NewMemoryStorage(0)
	tp, lp := auditBesideProcessor(t, mem, 30*time.Millisecond)
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	httpc := &http.Client{Transport: middleware.Transport(base, middleware.WithTracerProvider(tp))}
	logger := lp.Logger("sdk-instrumentation")
	emit := func(ctx context.Context, name string, body attribute.Value) {
		var r log.Record
		r.SetEventName(name)
		r.SetBody(body)
		logger.Emit(ctx, r)
	}
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			q := fmt.Sprintf("question %d", i)
			ctx, sdk := tp.Tracer("sdk-instrumentation").Start(context.Background(), "chat gpt-4o",
				trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(semconv.GenAIOperationNameKey.String("chat")))
			emit(ctx, "gen_ai.user.message", attribute.MapValue(attribute.String("content", q)))
			if i%2 == 0 { // through the Transport: paired, the processor's
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.OpenAIBaseURL()+"chat/completions",
					strings.NewReader(fmt.Sprintf(`{"model":"gpt-4o","messages":[{"role":"user","content":%q}]}`, q)))
				req.Header.Set("Content-Type", "application/json")
				res, err := httpc.Do(req)
				if assert.NoError(t, err) {
					_, _ = io.Copy(io.Discard, res.Body)
					_ = res.Body.Close()
				}
			} else {
				time.Sleep(time.Duration(i%5) * 20 * time.Millisecond) // some outlast the window
			}
			emit(ctx, "gen_ai.choice", attribute.MapValue(attribute.Int("index", 0), attribute.String("finish_reason", "stop"),
				attribute.Map("message", attribute.String("content", "the answer"))))
			sdk.End()
		})
	}
	wg.Wait()
	require.NoError(t, tp.Shutdown(context.Background()))
	require.NoError(t, lp.Shutdown(context.Background()))
	es, err := mem.ListEntries(context.Background(), time.Time{}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	byInput := map[string]int{}
	for _, en := range es {
		byInput[en.InputHash]++
		assert.Equal(t, otelaudit.HashContent("the answer"), en.OutputHash)
	}
	for i := range n {
		assert.Equal(t, 1, byInput[otelaudit.HashContent(fmt.Sprintf("question %d", i))], "call %d", i)
	}
	assert.Len(t, es, n)
}

// TestAuditorOwnsEventSpans: with the Auditor beside the audit processor
// of exporter.ProviderOptions (the README's wiring for instrumentations
// that emit their content as events), a GenAI span of such an
// instrumentation is one entry, the Auditor's, with the content of its
// events. The processor also wrote it, without that content, under the
// same id: a file store held two entries for the call, one claiming an
// empty prompt and answer (a memory store kept whichever came last).
func TestAuditorOwnsEventSpans(t *testing.T) {
	fs, err := filestore.New(t.TempDir())
	require.NoError(t, err)
	defer fs.Close()
	tp, lp := auditBesideProcessor(t, fs, 50*time.Millisecond)
	emit := func(ctx context.Context, name string, body attribute.Value) {
		var r log.Record
		r.SetEventName(name)
		r.SetBody(body)
		lp.Logger("sdk-instrumentation").Emit(ctx, r)
	}
	for i := range 5 {
		ctx, sdk := tp.Tracer("sdk-instrumentation").Start(context.Background(), "chat gpt-4o",
			trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(semconv.GenAIOperationNameKey.String("chat")))
		emit(ctx, "gen_ai.user.message", attribute.MapValue(attribute.String("content", fmt.Sprint("question ", i))))
		emit(ctx, "gen_ai.choice", attribute.MapValue(attribute.Int("index", 0), attribute.String("finish_reason", "stop"),
			attribute.Map("message", attribute.String("content", "the answer"))))
		sdk.End()
	}
	require.NoError(t, tp.Shutdown(context.Background()))
	require.NoError(t, lp.Shutdown(context.Background()))
	es, err := fs.ListEntries(context.Background(), time.Time{}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, es, 5, "one entry per call")
	for _, en := range es {
		assert.Equal(t, otelaudit.HashContent("the answer"), en.OutputHash, "entry %s", en.ID)
	}
}

// auditBesideProcessor wires the Auditor as a service that already has
// the audit processor would: ProviderOptions for the trace provider, the
// Auditor added to it and to a log provider, one logger over st.
func auditBesideProcessor(t *testing.T, st storage.Backend, joinWait time.Duration) (*sdktrace.TracerProvider, *sdklog.LoggerProvider) {
	t.Helper()
	l, err := otelaudit.NewLogger(st)
	require.NoError(t, err)
	opts, _, err := exporter.ProviderOptions(l)
	require.NoError(t, err)
	e, err := exporter.New(l)
	require.NoError(t, err)
	a, err := logaudit.New(e, logaudit.WithJoinWait(joinWait))
	require.NoError(t, err)
	return sdktrace.NewTracerProvider(append(opts, sdktrace.WithSpanProcessor(a))...), sdklog.NewLoggerProvider(sdklog.WithProcessor(a))
}
