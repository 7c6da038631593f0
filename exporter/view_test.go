package exporter_test

import (
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
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// plainView is a SpanView that is not an SDK span, as the Collector's
// pdata adapter is.
type plainView struct {
	sc         trace.SpanContext
	start, end time.Time
	attrs      []attribute.KeyValue
}

func (v plainView) SpanContext() trace.SpanContext   { return v.sc }
func (v plainView) StartTime() time.Time             { return v.start }
func (v plainView) EndTime() time.Time               { return v.end }
func (v plainView) Attributes() []attribute.KeyValue { return v.attrs }

// TestExportViewsEqualsExportSpans: the same span, once as an SDK span
// through ExportSpans and once as another SpanView through ExportViews,
// gives byte-equal entries (chain fields aside, which depend on the store).
func TestExportViewsEqualsExportSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	start := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)
	_, s := tp.Tracer("t").Start(t.Context(), "chat m", trace.WithTimestamp(start), trace.WithAttributes(
		semconv.GenAIOperationNameChat, semconv.GenAIProviderNameOpenAI, semconv.GenAIRequestModel("m"),
		semconv.GenAIUsageInputTokens(3), attribute.Int64("gen_ai.usage.completion_tokens", 4),
		semconv.GenAIInputMessagesKey.String(otelaudit.MessagesJSON([]otelaudit.Message{{Content: "in"}}, "user")),
		semconv.GenAIOutputMessagesKey.String(`[{"role":"assistant","parts":[{"type":"text","content":"out"}]}]`),
		otelaudit.AuditMetadataKey("k").Int64(7), semconv.ErrorTypeKey.String("e"),
	))
	s.End(trace.WithTimestamp(start.Add(250 * time.Millisecond)))
	sdkSpan := rec.Ended()[0]

	for _, content := range []bool{false, true} {
		sdkStore, viewStore := storage.NewMemoryStorage(0), storage.NewMemoryStorage(0)
		write := func(st storage.Backend, f func(e *exporter.Exporter) error) {
			l, err := otelaudit.NewLogger(st, otelaudit.WithStoreContent(content))
			require.NoError(t, err)
			e, err := exporter.New(l)
			require.NoError(t, err)
			require.NoError(t, f(e))
		}
		write(sdkStore, func(e *exporter.Exporter) error { return e.ExportSpans(t.Context(), []sdktrace.ReadOnlySpan{sdkSpan}) })
		view := plainView{sc: sdkSpan.SpanContext(), start: sdkSpan.StartTime(), end: sdkSpan.EndTime(), attrs: sdkSpan.Attributes()}
		write(viewStore, func(e *exporter.Exporter) error {
			return e.ExportViews(t.Context(), []exporter.SpanView{nil, view, plainView{attrs: []attribute.KeyValue{attribute.String("http.method", "GET")}}}, false)
		})
		want, err := sdkStore.ListEntries(t.Context(), time.Time{}, start.Add(time.Hour))
		require.NoError(t, err)
		got, err := viewStore.ListEntries(t.Context(), time.Time{}, start.Add(time.Hour))
		require.NoError(t, err)
		require.Len(t, want, 1)
		require.Len(t, got, 1, "the non-GenAI view and the nil view are skipped")
		assert.Equal(t, want[0], got[0])
		assert.Equal(t, otelaudit.HashContent("in"), got[0].InputHash)
		assert.Equal(t, int64(4), *got[0].OutputTokens)
	}
}

// TestExportViewsDedupe: with dedupe, a batch delivered twice (a persistent
// queue after a crash) is stored once, even by a store that appends
// duplicate ids.
func TestExportViewsDedupe(t *testing.T) {
	st, err := filestore.New(t.TempDir())
	require.NoError(t, err)
	defer st.Close()
	l, err := otelaudit.NewLogger(st)
	require.NoError(t, err)
	e, err := exporter.New(l)
	require.NoError(t, err)
	var views []exporter.SpanView
	start := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	for i := range 10 {
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, byte(i)}, SpanID: trace.SpanID{2, byte(i)}})
		views = append(views, plainView{sc: sc, start: start, end: start, attrs: []attribute.KeyValue{semconv.GenAIOperationNameChat}})
	}
	require.NoError(t, e.ExportViews(t.Context(), views[:4], true))
	require.NoError(t, e.ExportViews(t.Context(), views, true))
	n, err := st.Count(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 10, n)
	// Without dedupe the file store keeps the duplicate: the flag is what
	// prevents it.
	require.NoError(t, e.ExportViews(t.Context(), views[:1], false))
	n, err = st.Count(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 11, n)
}

func TestIsContentAttribute(t *testing.T) {
	tests := []struct {
		event, key string
		want       bool
	}{
		{"", "gen_ai.input.messages", true},
		{"", "gen_ai.output.messages", true},
		{"", "gen_ai.system_instructions", true},
		{"", "gen_ai.prompt.0.content", true},
		{"", "audit.metadata.user", true},
		{"", "gen_ai.request.model", false},
		{"", "content", false},
		{"gen_ai.user.message", "content", true},
		{"gen_ai.choice", "message", true},
		{"gen_ai.client.inference.operation.details", "gen_ai.input.messages", true},
		{"gen_ai.user.message", "gen_ai.provider.name", false},
		{"gen_ai.user.message", "event.name", false},
		{"exception", "exception.message", false},
		{"exception", "gen_ai.output.messages", true},
		// The evaluation's explanation may quote the content judged: it is
		// content on any event (and anywhere else); the verdict is not.
		{"", "gen_ai.evaluation.explanation", true},
		{"gen_ai.evaluation.result", "gen_ai.evaluation.explanation", true},
		{"gen_ai.evaluation.result", "gen_ai.evaluation.name", false},
		{"gen_ai.evaluation.result", "gen_ai.evaluation.score.label", false},
		{"gen_ai.evaluation.result", "gen_ai.evaluation.score.value", false},
	}
	for _, tc := range tests {
		t.Run(tc.event+"/"+tc.key, func(t *testing.T) {
			assert.Equal(t, tc.want, exporter.IsContentAttribute(tc.event, attribute.Key(tc.key)))
		})
	}
}
