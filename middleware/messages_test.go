package middleware_test

import (
	"encoding/json"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware"
)

// outputFinishReasons reads the finish_reason of each message of the
// span's gen_ai.output.messages.
func outputFinishReasons(t *testing.T, attrs map[string]any) []string {
	t.Helper()
	js, ok := attrs["gen_ai.output.messages"].(string)
	require.True(t, ok, "output messages on the span: %v", attrs)
	var ms []map[string]any
	require.NoError(t, json.Unmarshal([]byte(js), &ms))
	var out []string
	for _, m := range ms {
		r, ok := m["finish_reason"].(string)
		require.True(t, ok, "every output message carries finish_reason: %s", js)
		out = append(out, r)
	}
	return out
}

// TestOutputMessagesCarryFinishReason: through the transport, a complete
// Anthropic reply's end_turn is "stop" in the output message (the schema's
// value) and stays end_turn in gen_ai.response.finish_reasons; an
// abandoned stream, which has no reason of its own, says "error".
func TestOutputMessagesCarryFinishReason(t *testing.T) {
	r := newRig(t)
	params := anthropic.MessageNewParams{Model: "claude-haiku-4-5", MaxTokens: 10,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}
	client := func(s *fakellm.Server) anthropic.Client {
		return anthropic.NewClient(aoption.WithBaseURL(s.AnthropicBaseURL()), aoption.WithAPIKey("test"),
			aoption.WithMaxRetries(0), aoption.WithHTTPClient(r.client(middleware.WithContentOnSpan(true))))
	}

	done := fakellm.Start()
	defer done.Close()
	cd := client(done)
	_, err := cd.Messages.New(t.Context(), params)
	require.NoError(t, err)

	gate := make(chan struct{})
	defer close(gate)
	held := fakellm.Start(fakellm.WithGate(gate))
	defer held.Close()
	ch := client(held)
	st := ch.Messages.NewStreaming(t.Context(), params)
	for st.Next() {
		if st.Current().Type == "content_block_delta" {
			break // walk away after the first text
		}
	}
	require.NoError(t, st.Close())

	es := r.entries(t)
	require.Len(t, es, 2)
	assert.Equal(t, []string{"stop"}, outputFinishReasons(t, spanAttrs(r, es[0].SpanID)))
	assert.Equal(t, []any{"end_turn"}, es[0].Metadata["gen_ai.response.finish_reasons"])
	assert.Equal(t, middleware.ErrorTypeStreamAbandoned, es[1].Metadata["error.type"])
	assert.Equal(t, []string{"error"}, outputFinishReasons(t, spanAttrs(r, es[1].SpanID)))
}
