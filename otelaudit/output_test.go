package otelaudit_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// The output message schema of semconv v1.41.0 requires finish_reason: a
// message given without one is recorded as "unknown", one given with one
// keeps it as given.
func TestOutputMessagesAlwaysCarryFinishReason(t *testing.T) {
	rec, tp := newRecorder(t)
	_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Model: "m"}, otelaudit.WithTracerProvider(tp), otelaudit.WithContentOnSpan(true))
	call.SetOutput(otelaudit.Message{Content: "a"}, otelaudit.Message{Content: "b", FinishReason: "end_turn"})
	call.End()
	spans := rec.Ended()
	require.Len(t, spans, 1)
	assert.Equal(t, `[{"role":"assistant","parts":[{"type":"text","content":"a"}],"finish_reason":"unknown"},`+
		`{"role":"assistant","parts":[{"type":"text","content":"b"}],"finish_reason":"end_turn"}]`,
		attrMap(spans[0])[semconv.GenAIOutputMessagesKey].AsString())
}
