package exporter

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/otelaudit/otelaudit-go/internal/handletest"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// TestWarnContentOnSpanWiredByHand: on a provider wired by hand (the audit
// processor beside an exporter no Redact wraps), a GenAI span of another
// instrumentation that carries its prompt on the span is reported once,
// naming the key and never the value; the same spans through
// ProviderOptions, or once the process wraps an exporter with Redact, are
// not reported, and neither are this module's own spans.
func TestWarnContentOnSpanWiredByHand(t *testing.T) {
	reports := handletest.Capture(t)
	// Other tests of the package make Redact exporters; this one starts
	// from a process that has none, and leaves the flag as it found it.
	was := redactInUse.Load()
	redactInUse.Store(false)
	t.Cleanup(func() { redactInUse.Store(was) })

	adkCall := func(tp *sdktrace.TracerProvider) {
		_, s := tp.Tracer("gcp.vertex.agent").Start(context.Background(), "call_llm")
		s.SetAttributes(attribute.String("gen_ai.system", "gcp.vertex.agent"),
			attribute.String("gcp.vertex.agent.llm_request", `{"content":"SECRETPROMPT"}`))
		s.End()
	}
	ownCall := func(tp *sdktrace.TracerProvider) {
		_, call := otelaudit.StartCall(context.Background(), otelaudit.Request{Model: "m",
			Input: []otelaudit.Message{{Content: "SECRETPROMPT"}}},
			otelaudit.WithTracerProvider(tp), otelaudit.WithContentOnSpan(true))
		call.End()
	}
	byHand := func() *sdktrace.TracerProvider {
		logger, err := otelaudit.NewLogger(storage.NewMemoryStorage(0))
		require.NoError(t, err)
		exp, err := New(logger)
		require.NoError(t, err)
		return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(NewProcessor(exp)),
			sdktrace.WithSyncer(tracetest.NewInMemoryExporter()))
	}

	// Our own spans, content on them by the user's choice: not reported.
	tp := byHand()
	ownCall(tp)
	require.NoError(t, tp.Shutdown(t.Context()))
	assert.Empty(t, reports())

	// Through ProviderOptions with no other exporter: not reported.
	logger, err := otelaudit.NewLogger(storage.NewMemoryStorage(0))
	require.NoError(t, err)
	opts, _, err := ProviderOptions(logger)
	require.NoError(t, err)
	tp = sdktrace.NewTracerProvider(opts...)
	adkCall(tp)
	require.NoError(t, tp.Shutdown(t.Context()))
	assert.Empty(t, reports())

	// By hand: reported once for all its spans, by key, without the value.
	tp = byHand()
	for range 5 {
		adkCall(tp)
	}
	require.NoError(t, tp.Shutdown(t.Context()))
	got := reports()
	require.Len(t, got, 1, "%q", got)
	assert.Contains(t, got[0], `"call_llm"`)
	assert.Contains(t, got[0], "gcp.vertex.agent.llm_request")
	assert.Contains(t, got[0], "exporter.Redact")
	assert.NotContains(t, got[0], "SECRET")

	// Once the process wraps an exporter with Redact, a new hand-wired
	// processor stays quiet.
	_ = Redact(tracetest.NewInMemoryExporter())
	tp = byHand()
	adkCall(tp)
	require.NoError(t, tp.Shutdown(t.Context()))
	assert.Len(t, reports(), 1)
	for _, r := range reports() {
		assert.False(t, strings.Contains(r, "SECRET"))
	}
}
