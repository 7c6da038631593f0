package exporter

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// TestCheckedMetadataEntryAsBefore: the exporter's entry step, which skips
// the second walk over metadata it checked as it made it, gives for every
// span exactly what Logger.Entry gives for the span's interaction (the
// step before the shortcut): the same entry, or the same error. Spans
// with metadata the store rejects (invalid UTF-8 in a value or key, a
// structure nested too deep) must not take the shortcut and are still
// rejected; NaN attributes are still stored as their string form, and
// invalid UTF-8 in other fields still repaired.
func TestCheckedMetadataEntryAsBefore(t *testing.T) {
	deep := attribute.StringValue("x")
	for range storage.MaxNesting + 1 {
		deep = attribute.SliceValue(deep)
	}
	tests := []struct {
		name    string
		attrs   []attribute.KeyValue
		checked bool
		reject  bool                                  // Entry fails with ErrInvalidEntry
		check   func(*testing.T, *storage.AuditEntry) // on the entry otherwise
	}{
		{name: "valid", checked: true, attrs: []attribute.KeyValue{
			attribute.String("audit.metadata.team", "search"), attribute.Float64("audit.metadata.score", 0.5),
			semconv.GenAIResponseIDKey.String("resp-1"), semconv.GenAIResponseFinishReasonsKey.StringSlice([]string{"stop"}),
		}, check: func(t *testing.T, e *storage.AuditEntry) {
			assert.Equal(t, map[string]any{"team": "search", "score": 0.5, "gen_ai.response.id": "resp-1",
				"gen_ai.response.finish_reasons": []any{"stop"}}, e.Metadata)
		}},
		{name: "NaN attribute stored as its string", checked: true, attrs: []attribute.KeyValue{
			attribute.Float64("audit.metadata.score", math.NaN()),
			attribute.Float64Slice("audit.metadata.scores", []float64{1, math.Inf(-1)}),
		}, check: func(t *testing.T, e *storage.AuditEntry) {
			assert.Equal(t, "NaN", e.Metadata["score"])
			assert.Equal(t, []any{1.0, "-Inf"}, e.Metadata["scores"])
		}},
		{name: "invalid UTF-8 provider repaired", checked: true, attrs: []attribute.KeyValue{
			semconv.GenAIProviderNameKey.String("open\xffai"), attribute.String("audit.metadata.team", "search"),
		}, check: func(t *testing.T, e *storage.AuditEntry) {
			require.NotNil(t, e.Provider)
			assert.Equal(t, "open\uFFFDai", *e.Provider)
			assert.Equal(t, "search", e.Metadata["team"])
		}},
		{name: "invalid UTF-8 metadata value", reject: true, attrs: []attribute.KeyValue{
			attribute.String("audit.metadata.team", "se\xffarch"),
		}},
		{name: "invalid UTF-8 metadata key", reject: true, attrs: []attribute.KeyValue{
			attribute.String("audit.metadata.te\xffam", "search"),
		}},
		{name: "invalid UTF-8 in a string slice", reject: true, attrs: []attribute.KeyValue{
			attribute.StringSlice("audit.metadata.tags", []string{"a", "\xfe"}),
		}},
		{name: "invalid UTF-8 response id", reject: true, attrs: []attribute.KeyValue{
			semconv.GenAIResponseIDKey.String("resp-\xff"),
		}},
		{name: "invalid UTF-8 finish reason", reject: true, attrs: []attribute.KeyValue{
			semconv.GenAIResponseFinishReasonsKey.StringSlice([]string{"st\xffop"}),
		}},
		{name: "nested deeper than the store allows", reject: true, attrs: []attribute.KeyValue{
			attribute.KeyValue{Key: "audit.metadata.deep", Value: deep},
		}},
	}
	for _, store := range []bool{false, true} {
		logger, err := otelaudit.NewLogger(storage.NewMemoryStorage(0), otelaudit.WithStoreContent(store))
		require.NoError(t, err)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				start := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
				span := tracetest.SpanStub{
					SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}}),
					StartTime:   start, EndTime: start.Add(time.Second),
					Attributes: append([]attribute.KeyValue{semconv.GenAIOperationNameKey.String("chat")}, tc.attrs...),
				}.Snapshot()
				in, checked, _ := interactionFromSpan(span, nil)
				assert.Equal(t, tc.checked, checked, "metadata checked")
				assert.Equal(t, InteractionFromSpan(span), in)
				want, wantErr := logger.Entry(in)
				got, _, err := loggerEntry(logger, in, checked, false)
				if tc.reject {
					require.Error(t, wantErr)
					require.True(t, errors.Is(err, storage.ErrInvalidEntry), "error %v", err)
					assert.Equal(t, wantErr.Error(), err.Error())
					assert.Nil(t, got)
					return
				}
				require.NoError(t, wantErr)
				require.NoError(t, err)
				assert.Equal(t, want, got)
				tc.check(t, got)
			})
		}
	}
}
