package genai

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestStreamKeptStringsWithinCap: what a stream keeps of an event besides
// its text (a tool call's id and name, a block's type, a whole block) is
// output too, and counts toward the cap: many events each within the cap
// cannot make the reply hold more than the cap.
func TestStreamKeptStringsWithinCap(t *testing.T) {
	const limit = 1000
	long := strings.Repeat("n", 100)
	for _, tc := range []struct {
		name  string
		api   API
		typ   string
		event string // %d: an index, %s: a long string
	}{
		{"chat tool call", APIChatCompletions, "", `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":%d,"id":"%[2]s","function":{"name":"%[2]s"}}]}}]}`},
		{"chat choice role and finish", APIChatCompletions, "", `{"choices":[{"index":%d,"delta":{"role":"%[2]s"},"finish_reason":"%[2]s"}]}`},
		{"anthropic tool_use", APIAnthropic, "content_block_start", `{"index":%d,"content_block":{"type":"tool_use","id":"%[2]s","name":"%[2]s"}}`},
		{"anthropic server tool", APIAnthropic, "content_block_start", `{"index":%d,"content_block":{"type":"server_tool_use","id":"i","name":"%[2]s"}}`},
		{"anthropic block type", APIAnthropic, "content_block_start", `{"index":%d,"content_block":{"type":"%[2]s"}}`},
		{"anthropic whole block", APIAnthropic, "content_block_start", `{"index":%d,"content_block":{"type":"web_search_tool_result","tool_use_id":"%[2]s","content":[]}}`},
		{"responses function call", APIResponses, "response.output_item.done", `{"output_index":%d,"item":{"type":"function_call","call_id":"%[2]s","name":"%[2]s","arguments":"{}"}}`},
		{"converse tool use", APIBedrockConverse, "contentBlockStart", `{"contentBlockIndex":%d,"start":{"toolUse":{"toolUseId":"%[2]s","name":"%[2]s"}}}`},
		{"gemini function call", APIGemini, "", `{"candidates":[{"index":0,"content":{"parts":[{"functionCall":{"id":"%[2]s","name":"%[2]s","args":{"i":%[1]d}}}]}}]}`},
		{"gemini candidate finish", APIGemini, "", `{"candidates":[{"index":%d,"content":{"parts":[]},"finishReason":"%[2]s"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStream(tc.api, limit)
			for i := range 30 {
				s.Event(tc.typ, fmt.Appendf(nil, tc.event, i, long))
			}
			res := s.Result()
			n, parts := keptBytes(res)
			assert.LessOrEqual(t, n, limit+partOverhead*(parts+len(res.Messages)), "bytes kept in %d parts", parts)
			assert.True(t, res.Truncated, "what did not fit is missing: the reply says so")
		})
	}
}

// TestStreamKeepsNoEventCopy: a string kept from an event (a tool call's
// name, a choice's role and finish reason) must not keep the whole event
// in memory: events of half the cap, each giving one, hold about the
// strings, not the events.
func TestStreamKeepsNoEventCopy(t *testing.T) {
	const events, size = 64, 512 << 10
	pad := strings.Repeat("p", size)
	for _, tc := range []struct {
		name, typ, event string // %d: an index, %s: the padding
		api              API
	}{
		{"anthropic tool name", "content_block_start", `{"index":%d,"pad":"%s","content_block":{"type":"tool_use","id":"t","name":"f"}}`, APIAnthropic},
		{"chat role and finish", "", `{"pad":"%[2]s","choices":[{"index":%[1]d,"delta":{"role":"assistant"},"finish_reason":"stop"}]}`, APIChatCompletions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			s := NewStream(tc.api, 0)
			for i := range events {
				s.Event(tc.typ, fmt.Appendf(nil, tc.event, i, pad))
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			assert.Less(t, held, int64(4<<20), "bytes held after %d events of %d bytes", events, size)
			_, parts := keptBytes(s.Result())
			assert.Equal(t, events, parts)
			runtime.KeepAlive(s)
		})
	}
}

// TestGeminiStreamPartsBounded: a Gemini candidate whose parts alternate
// text and thought (each a new part of the reply) cannot make the stream
// hold more than maxSlots parts, however many the events carry.
func TestGeminiStreamPartsBounded(t *testing.T) {
	s := NewStream(APIGemini, 0)
	ev := `{"candidates":[{"content":{"parts":[` + strings.Repeat(`{"text":""},{"thought":true,"text":""},`, 1000) + `{"text":""}]}}]}`
	for range 10 {
		s.Event("", []byte(ev))
	}
	res := s.Result()
	_, parts := keptBytes(res)
	assert.LessOrEqual(t, parts, maxSlots)
	assert.True(t, res.Truncated)
}

// TestStreamUnparsedEvents: an event whose data is not a JSON object
// (garbage, JSON cut short) is left out of the reply and recorded; an
// event with no data, the [DONE] sentinel and well-formed events are not.
func TestStreamUnparsedEvents(t *testing.T) {
	good := []byte(`{"choices":[{"index":0,"delta":{"content":"a"}}]}`)
	for _, tc := range []struct {
		name string
		feed func(s *Stream)
		want bool
	}{
		{"well-formed", func(s *Stream) { s.Event("", good) }, false},
		{"no data", func(s *Stream) { s.Event("", []byte(" \r\n")) }, false},
		{"DONE", func(s *Stream) { s.Event("", []byte("[DONE]")) }, false},
		{"cut JSON", func(s *Stream) { s.Event("", good[:20]) }, true},
		{"garbage", func(s *Stream) { s.Event("", []byte("upstream timeout")) }, true},
		{"not an object", func(s *Stream) { s.Event("", []byte(`["a"]`)) }, true},
		{"chunk not base64", func(s *Stream) { s.EventStreamMessage("event", "chunk", "", []byte(`{"bytes":"%%%"}`)) }, true},
		{"chunk without bytes", func(s *Stream) { s.EventStreamMessage("event", "chunk", "", []byte(`{"p":"x"}`)) }, true},
		{"chunk of garbage", func(s *Stream) { s.EventStreamMessage("event", "chunk", "", []byte(`{"bytes":"eHl6"}`)) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStream(APIChatCompletions, 0)
			s.Event("", good)
			tc.feed(s)
			assert.Equal(t, tc.want, s.Unparsed())
			want := "a" // garbage adds nothing to the reply
			if tc.name == "well-formed" {
				want = "aa"
			}
			assert.Equal(t, want, Text(s.Result().Messages))
		})
	}
}
