package otelaudit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/internal/callstart"
	"github.com/otelaudit/otelaudit-go/internal/handoff"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// The middleware's start of a call in its own memory (internal/callstart)
// gives the span StartCall gives for the same request, start time and
// attributes.
func TestCallStartIntoIsStartCall(t *testing.T) {
	rec, tp := newRecorder(t)
	start := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	req := otelaudit.Request{Provider: "openai", Model: "gpt-4o", ConversationID: "conv-1"}
	extra := []attribute.KeyValue{semconv.ServerAddress("api.openai.com"), semconv.ServerPort(443)}
	opts := []otelaudit.CallOption{otelaudit.WithTracerProvider(tp)}

	_, call := otelaudit.StartCall(context.Background(), req, append(opts, otelaudit.WithStartTime(start), otelaudit.WithAttributes(extra...))...)
	call.End()

	into := callstart.Start.(func(ctx context.Context, c *otelaudit.Call, sl *handoff.Slot, req otelaudit.Request,
		name string, start time.Time, extra []attribute.KeyValue, opts []otelaudit.CallOption) context.Context)
	var c otelaudit.Call
	var sl handoff.Slot
	ctx := into(context.Background(), &c, &sl, req, "chat gpt-4o", start, extra, opts)
	assert.Equal(t, c.Span(), trace.SpanFromContext(ctx), "the context carries the call's span")
	c.End()

	ended := rec.Ended()
	require.Len(t, ended, 2)
	want, got := ended[0], ended[1]
	assert.Equal(t, want.Name(), got.Name())
	assert.Equal(t, want.SpanKind(), got.SpanKind())
	assert.Equal(t, start, got.StartTime())
	wantAttrs, gotAttrs := attrMap(want), attrMap(got)
	assert.NotEqual(t, wantAttrs[otelaudit.AuditEntryIDKey], gotAttrs[otelaudit.AuditEntryIDKey], "each call has its own entry id")
	delete(wantAttrs, otelaudit.AuditEntryIDKey)
	delete(gotAttrs, otelaudit.AuditEntryIDKey)
	assert.Equal(t, wantAttrs, gotAttrs)
}
