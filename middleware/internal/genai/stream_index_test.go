package genai

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestStreamIndexBounds: every index a provider may use is kept (OpenAI's
// n goes up to 128), and what an index out of bounds carried is never
// dropped without a trace: the reply is marked truncated.
func TestStreamIndexBounds(t *testing.T) {
	for _, tc := range []struct {
		name      string
		api       API
		typ       string
		event     string // %d: the index
		index     int
		wantKept  bool
		wantTrunc bool
	}{
		{"chat choice 0", APIChatCompletions, "", `{"choices":[{"index":%d,"delta":{"content":"x"}}]}`, 0, true, false},
		{"chat choice 127 (OpenAI's n up to 128)", APIChatCompletions, "", `{"choices":[{"index":%d,"delta":{"content":"x"}}]}`, 127, true, false},
		{"chat choice at the bound", APIChatCompletions, "", `{"choices":[{"index":%d,"delta":{"content":"x"}}]}`, maxIndex - 1, true, false},
		{"chat choice past the bound", APIChatCompletions, "", `{"choices":[{"index":%d,"delta":{"content":"x"}}]}`, maxIndex, false, true},
		{"chat choice hostile", APIChatCompletions, "", `{"choices":[{"index":%d,"delta":{"content":"x"}}]}`, 1000000000, false, true},
		{"chat choice negative", APIChatCompletions, "", `{"choices":[{"index":%d,"delta":{"content":"x"}}]}`, -1, false, true},
		{"chat tool call 200", APIChatCompletions, "", `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":%d,"id":"x","function":{"name":"f","arguments":"{}"}}]}}]}`, 200, true, false},
		{"chat tool call past the bound", APIChatCompletions, "", `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":%d,"id":"x","function":{"name":"f","arguments":"{}"}}]}}]}`, maxIndex, false, true},
		{"anthropic block 100", APIAnthropic, "content_block_delta", `{"type":"content_block_delta","index":%d,"delta":{"type":"text_delta","text":"x"}}`, 100, true, false},
		{"anthropic block start past the bound", APIAnthropic, "content_block_start", `{"type":"content_block_start","index":%d,"content_block":{"type":"text","text":"x"}}`, maxIndex, false, true},
		{"anthropic block past the bound", APIAnthropic, "content_block_delta", `{"type":"content_block_delta","index":%d,"delta":{"type":"text_delta","text":"x"}}`, maxIndex, false, true},
		{"responses item 100", APIResponses, "response.output_text.delta", `{"output_index":%d,"delta":"x"}`, 100, true, false},
		{"responses item past the bound", APIResponses, "response.output_text.delta", `{"output_index":%d,"delta":"x"}`, maxIndex, false, true},
		{"responses item done past the bound", APIResponses, "response.output_item.done", `{"output_index":%d,"item":{"type":"function_call","call_id":"x","name":"f","arguments":"{}"}}`, maxIndex, false, true},
		{"gemini candidate 100", APIGemini, "", `{"candidates":[{"index":%d,"content":{"parts":[{"text":"x"}]}}]}`, 100, true, false},
		{"gemini candidate past the bound", APIGemini, "", `{"candidates":[{"index":%d,"content":{"parts":[{"text":"x"}]}}]}`, maxIndex, false, true},
		{"bedrock block 100", APIBedrockConverse, "contentBlockDelta", `{"contentBlockIndex":%d,"delta":{"text":"x"}}`, 100, true, false},
		{"bedrock block start past the bound", APIBedrockConverse, "contentBlockStart", `{"contentBlockIndex":%d,"start":{"toolUse":{"toolUseId":"x","name":"f"}}}`, maxIndex, false, true},
		{"bedrock block past the bound", APIBedrockConverse, "contentBlockDelta", `{"contentBlockIndex":%d,"delta":{"text":"x"}}`, maxIndex, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStream(tc.api, 0)
			s.Event(tc.typ, fmt.Appendf(nil, tc.event, tc.index))
			r := s.Result()
			assert.Equal(t, tc.wantTrunc, r.Truncated, "truncated")
			// Every event carries "x" (a text, or a tool call's id).
			if tc.wantKept {
				assert.Contains(t, MessagesJSON(r.Messages), `"x"`, "the event's content is kept")
			} else {
				assert.NotContains(t, MessagesJSON(r.Messages), `"x"`, "nothing of the refused index is kept")
			}
		})
	}
}

// TestStreamManyChoicesKept: a reply of 128 choices (OpenAI's maximum n),
// streamed interleaved, keeps every choice in order, untruncated.
func TestStreamManyChoicesKept(t *testing.T) {
	const n = 128
	s := NewStream(APIChatCompletions, 0)
	for i := n - 1; i >= 0; i-- {
		s.Event("", fmt.Appendf(nil, `{"choices":[{"index":%d,"delta":{"role":"assistant","content":"c%d"},"finish_reason":"stop"}]}`, i, i))
	}
	r := s.Result()
	assert.False(t, r.Truncated)
	assert.Len(t, r.Messages, n)
	assert.Len(t, r.FinishReasons, n)
	for i, m := range r.Messages {
		assert.Equal(t, fmt.Sprintf("c%d", i), Text([]Message{m}))
	}
}

// TestStreamSlotsBounded: indexes each within bounds, in every choice,
// cannot make the accumulator hold more than maxSlots entries; what they
// carried past it marks the reply truncated.
func TestStreamSlotsBounded(t *testing.T) {
	s := NewStream(APIChatCompletions, 0)
	for i := range maxIndex {
		s.Event("", fmt.Appendf(nil, `{"choices":[{"index":%d,"delta":{"tool_calls":[{"index":%d,"function":{"name":"f"}}]}}]}`, i, maxIndex-1))
	}
	assert.LessOrEqual(t, s.slots, maxSlots)
	n := len(s.choices)
	for i := range s.choices {
		n += len(s.choices[i].tools)
	}
	assert.LessOrEqual(t, n, maxSlots)
	assert.True(t, s.Result().Truncated)
}
