package genaijoin

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	auditexporter "github.com/otelaudit/otelaudit-go/exporter"
)

// TestJoinMemoryCap: over its cap the join writes the oldest calls at
// once and counts them; nothing is lost, and every push returns.
func TestJoinMemoryCap(t *testing.T) {
	var mu sync.Mutex
	written := map[trace.SpanID]bool{}
	j := New(time.Hour, 4096, time.Minute, func(_ context.Context, vs []auditexporter.SpanView) error {
		mu.Lock()
		defer mu.Unlock()
		for _, v := range vs {
			written[v.SpanContext().SpanID()] = true
		}
		return nil
	})
	defer j.Close()
	var wg sync.WaitGroup
	const n = 200
	for i := range n {
		v := &View{
			SC:    trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{byte(i), byte(i >> 8), 1}}),
			Attrs: []attribute.KeyValue{attribute.String("gen_ai.operation.name", "chat"), attribute.String("pad", string(make([]byte, 100)))},
		}
		w := j.AddSpans([]*View{v})
		wg.Go(func() { assert.NoError(t, Wait(t.Context(), w)) })
	}
	j.mu.Lock()
	held, mem := len(j.calls), j.mem
	j.mu.Unlock()
	assert.LessOrEqual(t, mem, 4096, "memory stays under the cap")
	assert.Less(t, held, n)
	assert.Positive(t, j.Stats().OverCap)
	j.Close() // writes the rest
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, written, n, "every call is written, none lost")
}

// A span is written without waiting for events only when it carries its
// messages itself; content keys that an instrumentation may record beside
// message events (tool definitions, retrieval, a prompt template's name,
// caller metadata) keep it waiting.
func TestCarriesMessages(t *testing.T) {
	for _, k := range []string{
		"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
		"gen_ai.tool.call.arguments", "gen_ai.tool.call.result",
		"gen_ai.prompt.0.content", "gen_ai.completion.12.tool_calls.0.name",
		"input.value", "output.value", "llm.prompts", "llm.prompts.0.prompt.text",
		"llm.input_messages.0.message.content", "llm.output_messages.1.message.role",
		"llm.choices.0.completion.text", "embedding.embeddings.0.embedding.text",
		"gcp.vertex.agent.llm_request", "gcp.vertex.agent.tool_response", "ai.prompt.messages", "ai.response.text",
		"traceloop.entity.input", "langfuse.observation.output", "llm.completions.0.content", "llm.prompts.1.content",
		"gen_ai.retrieval.query.text", "gen_ai.retrieval.documents",
	} {
		if !carriesMessages(k) {
			t.Errorf("%s: not taken for the call's messages", k)
		}
	}
	for _, k := range []string{
		"gen_ai.tool.definitions", "gen_ai.prompt.name", "gen_ai.prompt.",
		"gen_ai.prompt", "gen_ai.evaluation.explanation", "audit.metadata.user", "llm.prompt_template.variables",
		"llm.tools.0.tool.json_schema", "gen_ai.operation.name", "openinference.span.kind", "",
		"gcp.vertex.agent.data", "gcp.vertex.agent.session_id", "ai.prompt.tools", "traceloop.prompt.template",
	} {
		if carriesMessages(k) {
			t.Errorf("%s: taken for the call's messages", k)
		}
	}
}
