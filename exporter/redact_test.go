package exporter_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

func sampledSC(sampled bool) trace.SpanContext {
	cfg := trace.SpanContextConfig{TraceID: trace.TraceID{9}, SpanID: trace.SpanID{8}}
	if sampled {
		cfg.TraceFlags = trace.FlagsSampled
	}
	return trace.NewSpanContext(cfg)
}

func TestRedactSpan(t *testing.T) {
	stub := tracetest.SpanStub{
		Name:        "chat m",
		SpanContext: sampledSC(true),
		Attributes: []attribute.KeyValue{
			semconv.GenAIOperationNameChat,
			semconv.GenAIInputMessagesKey.String("PROMPT"),
			semconv.GenAIOutputMessagesKey.String("ANSWER"),
			semconv.GenAISystemInstructionsKey.String("SYS"),
			otelaudit.AuditMetadataKey("user").String("META"),
			otelaudit.AuditEntryIDKey.String("id-1"),
			semconv.GenAIUsageInputTokens(3),
		},
		Events: []sdktrace.Event{
			{Name: "gen_ai.user.message", Attributes: []attribute.KeyValue{attribute.String("content", "PROMPT"), attribute.String("gen_ai.system", "openai")}},
			{Name: "exception", Attributes: []attribute.KeyValue{attribute.String("exception.type", "x"), semconv.GenAIToolCallResultKey.String("TOOL")}},
			{Name: "plain", Attributes: []attribute.KeyValue{attribute.String("k", "v")}},
			{Name: "gen_ai.evaluation.result", Attributes: []attribute.KeyValue{semconv.GenAIEvaluationNameKey.String("groundedness"),
				semconv.GenAIEvaluationScoreLabelKey.String("fail"), semconv.GenAIEvaluationExplanationKey.String(`the answer "ANSWER" ignores "PROMPT"`)}},
		},
		Links:    []sdktrace.Link{{SpanContext: sampledSC(true), Attributes: []attribute.KeyValue{semconv.GenAIRetrievalQueryTextKey.String("QUERY"), attribute.String("ok", "1")}}},
		Resource: resource.NewSchemaless(attribute.String("service.name", "svc"), attribute.String("gen_ai.prompt", "RES")),
	}
	in := stub.Snapshot()
	got := tracetest.SpanStubFromReadOnlySpan(exporter.RedactSpan(in))
	assert.Equal(t, []attribute.KeyValue{semconv.GenAIOperationNameChat, otelaudit.AuditEntryIDKey.String("id-1"), semconv.GenAIUsageInputTokens(3)}, got.Attributes)
	require.Len(t, got.Events, 4, "events are kept, their content attributes removed")
	assert.Equal(t, []attribute.KeyValue{attribute.String("gen_ai.system", "openai")}, got.Events[0].Attributes)
	assert.Equal(t, []attribute.KeyValue{attribute.String("exception.type", "x")}, got.Events[1].Attributes)
	assert.Equal(t, []attribute.KeyValue{attribute.String("k", "v")}, got.Events[2].Attributes)
	assert.Equal(t, []attribute.KeyValue{semconv.GenAIEvaluationNameKey.String("groundedness"), semconv.GenAIEvaluationScoreLabelKey.String("fail")},
		got.Events[3].Attributes, "the verdict is kept, the explanation (which may quote content) removed")
	assert.Equal(t, []attribute.KeyValue{attribute.String("ok", "1")}, got.Links[0].Attributes)
	assert.Equal(t, []attribute.KeyValue{attribute.String("service.name", "svc")}, got.Resource.Attributes())
	assert.Equal(t, "chat m", got.Name)
	assert.Equal(t, in.SpanContext(), got.SpanContext)
	// The original is untouched.
	assert.Len(t, in.Attributes(), 7)
	assert.Len(t, in.Events()[0].Attributes, 2)
	assert.Len(t, in.Events()[3].Attributes, 3)

	clean := tracetest.SpanStub{Name: "GET", SpanContext: sampledSC(true), Attributes: []attribute.KeyValue{attribute.String("http.method", "GET")}}.Snapshot()
	assert.Equal(t, clean, exporter.RedactSpan(clean), "spans without content are passed as they are")
}

func TestRedactExporterDropsUnsampled(t *testing.T) {
	mem := tracetest.NewInMemoryExporter()
	r := exporter.Redact(mem)
	spans := []sdktrace.ReadOnlySpan{
		tracetest.SpanStub{Name: "sampled", SpanContext: sampledSC(true)}.Snapshot(),
		tracetest.SpanStub{Name: "audit only", SpanContext: sampledSC(false)}.Snapshot(),
		nil,
	}
	require.NoError(t, r.ExportSpans(t.Context(), spans))
	got := mem.GetSpans()
	require.Len(t, got, 1)
	assert.Equal(t, "sampled", got[0].Name)
	require.NoError(t, r.ExportSpans(t.Context(), spans[1:2]), "nothing left: Next not called")
	assert.Len(t, mem.GetSpans(), 1)
	assert.NoError(t, r.(*exporter.RedactExporter).ForceFlush(t.Context()))
	assert.NoError(t, r.Shutdown(t.Context()))
	assert.Empty(t, mem.GetSpans(), "Shutdown passed through (the in-memory exporter resets)")
}

// TestSpoolTornLineAndPermissions replays a spool left by a crashed run
// whose last line was cut mid-write.
func TestSpoolTornLineAndPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	var buf []byte
	var ids []string
	for i := range 3 {
		e := &storage.AuditEntry{ID: storage.NewEntryID(), Timestamp: time.Now().UTC(), InputHash: "a", OutputHash: "b", SafetyPassed: true, Metadata: map[string]any{"i": i}}
		var err error
		buf, err = e.AppendJSON(buf)
		require.NoError(t, err)
		buf = append(buf, '\n')
		ids = append(ids, e.ID)
	}
	buf = append(buf, `{"id":"torn","timest`...)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "spool-00000000000000000007.jsonl"), buf, 0o600))

	b := newFakeBackend()
	p := newPipeline(t, b, nil, exporter.WithSpool(dir))
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "spool dir tightened to 0700")
	require.NoError(t, p.tp.ForceFlush(t.Context()))
	for _, id := range ids {
		_, err := b.Read(t.Context(), id)
		assert.NoError(t, err)
	}
	s := p.exp.Stats()
	assert.Equal(t, int64(3), s.Replayed)
	assert.Equal(t, int64(1), s.Invalid, "the torn line is counted")
	require.NoError(t, p.tp.Shutdown(t.Context()))
	left, _ := filepath.Glob(filepath.Join(dir, "spool-*"))
	assert.Empty(t, left)
}
