package genai

import (
	"fmt"
	"testing"
)

// benchStreams are streamed replies of about 140 chunks, as their APIs
// send them: a chat reply with a tool call, an Anthropic reply with a
// tool_use block, a Gemini reply.
var benchStreams = func() map[string]struct {
	api    API
	events [][2]string // event type, data
} {
	chat := [][2]string{{"", `{"id":"chatcmpl-b","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`}}
	anth := [][2]string{{"message_start", `{"type":"message_start","message":{"id":"msg_b","model":"claude-x","usage":{"input_tokens":151,"output_tokens":1}}}`},
		{"content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`}}
	var gem [][2]string
	for i := range 140 {
		chat = append(chat, [2]string{"", `{"id":"chatcmpl-b","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"trail "},"finish_reason":null}]}`})
		anth = append(anth, [2]string{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"trail "}}`})
		gem = append(gem, [2]string{"", fmt.Sprintf(`{"candidates":[{"content":{"role":"model","parts":[{"text":"trail %d "}]},"index":0}],"modelVersion":"gemini-2.5-flash","responseId":"r"}`, i)})
	}
	chat = append(chat,
		[2]string{"", `{"id":"chatcmpl-b","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_b","type":"function","function":{"name":"lookup","arguments":""}}]},"finish_reason":null}]}`},
		[2]string{"", `{"id":"chatcmpl-b","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"q\":1}"}}]},"finish_reason":null}]}`},
		[2]string{"", `{"id":"chatcmpl-b","model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":151,"completion_tokens":140}}`},
		[2]string{"", `[DONE]`})
	anth = append(anth,
		[2]string{"content_block_start", `{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_b","name":"lookup","input":{}}}`},
		[2]string{"content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"q\":1}"}}`},
		[2]string{"message_delta", `{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":140}}`},
		[2]string{"message_stop", `{"type":"message_stop"}`})
	gem = append(gem, [2]string{"", `{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"lookup","args":{"q":1}}}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":151,"candidatesTokenCount":140}}`})
	return map[string]struct {
		api    API
		events [][2]string
	}{"chat": {APIChatCompletions, chat}, "anthropic": {APIAnthropic, anth}, "gemini": {APIGemini, gem}}
}()

// BenchmarkStreamReassembly feeds a whole streamed reply, event by event,
// to a Stream and builds its reply and output JSON, as the middleware
// does for each streamed call.
func BenchmarkStreamReassembly(b *testing.B) {
	for _, name := range []string{"chat", "anthropic", "gemini"} {
		st := benchStreams[name]
		data := make([][]byte, len(st.events))
		n := 0
		for i, e := range st.events {
			data[i] = []byte(e[1])
			n += len(data[i])
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				s := NewStream(st.api, 0)
				for i, e := range st.events {
					s.Event(e[0], data[i])
				}
				_ = OutputMessagesJSON(s.Result().Messages, "stop")
			}
		})
	}
}
