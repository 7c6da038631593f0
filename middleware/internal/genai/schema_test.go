package genai

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// schema is what the checks below read from a semconv v1.41.0 message
// schema (testdata/semconv): the required members of a message and of
// each part type, and the FinishReason enum.
type schema struct {
	message  []string            // required members of a message
	parts    map[string][]string // part type -> required members
	generic  []string            // GenericPart's required members
	finishes []string            // FinishReason enum (output schema)
	details  []string            // GenericServerToolCall(Response) required members
}

func loadSchema(t *testing.T, file string) schema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "semconv", file))
	require.NoError(t, err)
	var doc struct {
		Defs map[string]struct {
			Required   []string `json:"required"`
			Enum       []string `json:"enum"`
			Properties map[string]struct {
				Const string `json:"const"`
			} `json:"properties"`
		} `json:"$defs"`
		Items struct {
			Ref string `json:"$ref"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	s := schema{parts: map[string][]string{}}
	s.message = doc.Defs[strings.TrimPrefix(doc.Items.Ref, "#/$defs/")].Required
	for name, d := range doc.Defs {
		if c := d.Properties["type"].Const; c != "" {
			s.parts[c] = d.Required
		}
		switch name {
		case "GenericPart":
			s.generic = d.Required
		case "FinishReason":
			s.finishes = d.Enum
		case "GenericServerToolCall":
			s.details = d.Required
		}
	}
	require.NotEmpty(t, s.message)
	require.Contains(t, s.parts, "server_tool_call", "the v1.41.0 schema names the part server_tool_call")
	return s
}

// check validates the messages JSON js against s and returns the parts by
// type.
func (s schema) check(t *testing.T, js string) map[string][]map[string]any {
	t.Helper()
	var ms []map[string]any
	require.NoError(t, json.Unmarshal([]byte(js), &ms), js)
	out := map[string][]map[string]any{}
	for _, m := range ms {
		for _, k := range s.message {
			assert.Contains(t, m, k, "message member required by the schema: %s", js)
		}
		parts, _ := m["parts"].([]any)
		for _, p := range parts {
			part := p.(map[string]any)
			typ, _ := part["type"].(string)
			req, known := s.parts[typ]
			if !known {
				req = s.generic
			}
			for _, k := range req {
				assert.Contains(t, part, k, "%s part: member required by the schema", typ)
			}
			for _, k := range []string{"server_tool_call", "server_tool_call_response"} {
				if d, ok := part[k]; ok {
					for _, r := range s.details {
						assert.Contains(t, d, r, "%s details", k)
					}
				}
			}
			out[typ] = append(out[typ], part)
		}
	}
	return out
}

func request(t *testing.T, api API, body string) *Request {
	t.Helper()
	r, err := ParseRequest(api, []byte(body))
	require.NoError(t, err)
	return r
}

func response(t *testing.T, api API, body string) *Response {
	t.Helper()
	r, err := ParseResponse(api, []byte(body))
	require.NoError(t, err)
	return r
}

// Real-shaped request bodies (the providers' API references) with every
// kind of media part.
func TestInputPartsFollowTheSchema(t *testing.T) {
	in := loadSchema(t, "gen-ai-input-messages.json")
	tests := []struct {
		name string
		api  API
		body string
		want map[string][]map[string]any // parts that must appear, by type
	}{
		{"openai chat", APIChatCompletions, `{"model":"gpt-4o","messages":[{"role":"user","content":[
			{"type":"text","text":"What is in these?"},
			{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0K","detail":"low"}},
			{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}},
			{"type":"file","file":{"file_id":"file-6F2ksmvXxt4VdoqmHRw6kL"}},
			{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0x"}},
			{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}}]}]}`,
			map[string][]map[string]any{
				"blob": {{"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBORw0K"},
					{"type": "blob", "modality": "document", "mime_type": "application/pdf", "content": "JVBERi0x"},
					{"type": "blob", "modality": "audio", "mime_type": "audio/wav", "content": "UklGRg=="}},
				"uri":  {{"type": "uri", "modality": "image", "uri": "https://example.com/cat.png"}},
				"file": {{"type": "file", "modality": "document", "file_id": "file-6F2ksmvXxt4VdoqmHRw6kL"}},
			}},
		{"openai responses", APIResponses, `{"model":"gpt-4.1","input":[{"role":"user","content":[
			{"type":"input_text","text":"Describe"},
			{"type":"input_image","file_id":"file-img1"},
			{"type":"input_file","file_id":"file-doc1"},
			{"type":"input_file","file_url":"https://example.com/a.pdf"}]}]}`,
			map[string][]map[string]any{
				"file": {{"type": "file", "modality": "image", "file_id": "file-img1"},
					{"type": "file", "modality": "document", "file_id": "file-doc1"}},
				"uri": {{"type": "uri", "modality": "document", "uri": "https://example.com/a.pdf"}},
			}},
		{"anthropic", APIAnthropic, `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":[
			{"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/4AAQ"}},
			{"type":"image","source":{"type":"url","url":"https://example.com/a.jpg"}},
			{"type":"document","source":{"type":"file","file_id":"file_011CNha8iCJcU1wXNR6q4V8w"}},
			{"type":"document","source":{"type":"text","media_type":"text/plain","data":"The grass is green."}},
			{"type":"text","text":"Summarise."}]},
			{"role":"assistant","content":[{"type":"server_tool_use","id":"srvtoolu_01","name":"web_search","input":{"query":"audit trail"}},
			{"type":"web_search_tool_result","tool_use_id":"srvtoolu_01","content":[{"type":"web_search_result","url":"https://e.x","title":"E"}]}]}]}`,
			map[string][]map[string]any{
				"blob": {{"type": "blob", "modality": "image", "mime_type": "image/jpeg", "content": "/9j/4AAQ"}},
				"uri":  {{"type": "uri", "modality": "image", "uri": "https://example.com/a.jpg"}},
				"file": {{"type": "file", "modality": "document", "file_id": "file_011CNha8iCJcU1wXNR6q4V8w"}},
				"server_tool_call": {{"type": "server_tool_call", "id": "srvtoolu_01", "name": "web_search",
					"server_tool_call": map[string]any{"type": "web_search", "input": map[string]any{"query": "audit trail"}}}},
				"server_tool_call_response": {{"type": "server_tool_call_response", "id": "srvtoolu_01",
					"server_tool_call_response": map[string]any{"type": "web_search_tool_result", "tool_use_id": "srvtoolu_01",
						"content": []any{map[string]any{"type": "web_search_result", "url": "https://e.x", "title": "E"}}}}},
			}},
		{"gemini", APIGemini, `{"contents":[{"role":"user","parts":[
			{"text":"Listen"},
			{"inlineData":{"mimeType":"audio/mp3","data":"SUQz"}},
			{"fileData":{"mimeType":"video/mp4","fileUri":"https://generativelanguage.googleapis.com/v1beta/files/abc"}},
			{"fileData":{"mimeType":"application/pdf","fileUri":"gs://bucket/doc.pdf"}}]}]}`,
			map[string][]map[string]any{
				"blob": {{"type": "blob", "modality": "audio", "mime_type": "audio/mp3", "content": "SUQz"}},
				"uri": {{"type": "uri", "modality": "video", "mime_type": "video/mp4", "uri": "https://generativelanguage.googleapis.com/v1beta/files/abc"},
					{"type": "uri", "modality": "document", "mime_type": "application/pdf", "uri": "gs://bucket/doc.pdf"}},
			}},
		{"bedrock converse", APIBedrockConverse, `{"messages":[{"role":"user","content":[
			{"text":"Compare"},
			{"image":{"format":"png","source":{"bytes":"iVBORw0K"}}},
			{"document":{"format":"pdf","name":"report","source":{"bytes":"JVBERi0x"}}},
			{"video":{"format":"mp4","source":{"s3Location":{"uri":"s3://bucket/clip.mp4"}}}}]}]}`,
			map[string][]map[string]any{
				"blob": {{"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBORw0K"},
					{"type": "blob", "modality": "document", "mime_type": "application/pdf", "content": "JVBERi0x"}},
				"uri": {{"type": "uri", "modality": "video", "mime_type": "video/mp4", "uri": "s3://bucket/clip.mp4"}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := in.check(t, MessagesJSON(request(t, tt.api, tt.body).Messages))
			for typ, want := range tt.want {
				assert.Equal(t, want, got[typ], typ)
			}
		})
	}
}

// Real-shaped replies: every output message carries finish_reason, mapped
// to the schema's enum where it lists the provider's reason, while the
// span's gen_ai.response.finish_reasons keeps the provider's value.
func TestOutputMessagesFollowTheSchema(t *testing.T) {
	out := loadSchema(t, "gen-ai-output-messages.json")
	require.Contains(t, out.message, "finish_reason", "the output schema requires finish_reason")
	tests := []struct {
		name       string
		res        func(t *testing.T) *Response
		raw        []string // Response.FinishReasons
		finish     []string // finish_reason in the JSON
		wantParts  map[string][]map[string]any
		otherParts []string // part types that must appear
	}{
		{"openai tool call", func(t *testing.T) *Response {
			return response(t, APIChatCompletions, `{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-2024-08-06","choices":[
				{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]},"finish_reason":"tool_calls"},
				{"index":1,"message":{"role":"assistant","content":"Hi"},"finish_reason":"length"}]}`)
		}, []string{"tool_calls", "length"}, []string{"tool_call", "length"}, nil, []string{"tool_call", "text"}},
		{"openai responses built-in tool", func(t *testing.T) *Response {
			return response(t, APIResponses, `{"id":"resp_1","object":"response","status":"completed","model":"gpt-4.1","output":[
				{"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search","query":"otel"}},
				{"type":"message","id":"msg_1","role":"assistant","content":[{"type":"output_text","text":"Found it."}]}]}`)
		}, []string{"stop"}, []string{"stop"}, map[string][]map[string]any{
			"server_tool_call": {{"type": "server_tool_call", "id": "ws_1", "name": "web_search", "server_tool_call": map[string]any{
				"type": "web_search_call", "id": "ws_1", "status": "completed", "action": map[string]any{"type": "search", "query": "otel"}}}},
		}, []string{"text"}},
		{"anthropic server tool", func(t *testing.T) *Response {
			return response(t, APIAnthropic, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[
				{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"otel"}},
				{"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[{"type":"web_search_result","url":"https://e.x","title":"E","encrypted_content":"x"}]},
				{"type":"text","text":"OTel is..."}],"stop_reason":"end_turn","usage":{"input_tokens":10,"output_tokens":5}}`)
		}, []string{"end_turn"}, []string{"stop"}, map[string][]map[string]any{
			"server_tool_call": {{"type": "server_tool_call", "id": "srvtoolu_1", "name": "web_search",
				"server_tool_call": map[string]any{"type": "web_search", "input": map[string]any{"query": "otel"}}}},
		}, []string{"server_tool_call_response", "text"}},
		{"anthropic stream with server tool", func(t *testing.T) *Response {
			return replay(APIAnthropic, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"+
				"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"server_tool_use\",\"id\":\"srvtoolu_1\",\"name\":\"web_search\",\"input\":{}}}\n\n"+
				"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"query\\\":\\\"otel\\\"}\"}}\n\n"+
				"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"+
				"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"web_search_tool_result\",\"tool_use_id\":\"srvtoolu_1\",\"content\":[{\"type\":\"web_search_result\",\"url\":\"https://e.x\",\"title\":\"E\"}]}}\n\n"+
				"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"+
				"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"text_delta\",\"text\":\"OTel is...\"}}\n\n"+
				"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":{\"output_tokens\":9}}\n\n"+
				"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n").Result()
		}, []string{"max_tokens"}, []string{"length"}, map[string][]map[string]any{
			"server_tool_call": {{"type": "server_tool_call", "id": "srvtoolu_1", "name": "web_search",
				"server_tool_call": map[string]any{"type": "web_search", "input": map[string]any{"query": "otel"}}}},
			"server_tool_call_response": {{"type": "server_tool_call_response", "id": "srvtoolu_1",
				"server_tool_call_response": map[string]any{"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1",
					"content": []any{map[string]any{"type": "web_search_result", "url": "https://e.x", "title": "E"}}}}},
		}, []string{"text"}},
		{"gemini code execution, blocked candidate", func(t *testing.T) *Response {
			return response(t, APIGemini, `{"candidates":[
				{"content":{"role":"model","parts":[{"executableCode":{"language":"PYTHON","code":"print(1)"}},{"codeExecutionResult":{"outcome":"OUTCOME_OK","output":"1\n"}},{"text":"It prints 1."}]},"finishReason":"STOP","index":0},
				{"content":{"role":"model","parts":[]},"finishReason":"SAFETY","index":1}],
				"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":7},"modelVersion":"gemini-2.5-flash","responseId":"r1"}`)
		}, []string{"STOP", "SAFETY"}, []string{"stop", "content_filter"}, map[string][]map[string]any{
			"server_tool_call": {{"type": "server_tool_call", "name": "code_execution",
				"server_tool_call": map[string]any{"type": "executable_code", "language": "PYTHON", "code": "print(1)"}}},
			"server_tool_call_response": {{"type": "server_tool_call_response",
				"server_tool_call_response": map[string]any{"type": "code_execution_result", "outcome": "OUTCOME_OK", "output": "1\n"}}},
		}, []string{"text"}},
		{"bedrock converse tool use", func(t *testing.T) *Response {
			return response(t, APIBedrockConverse, `{"output":{"message":{"role":"assistant","content":[{"toolUse":{"toolUseId":"tooluse_1","name":"top_song","input":{"sign":"WZPZ"}}}]}},
				"stopReason":"tool_use","usage":{"inputTokens":30,"outputTokens":12,"totalTokens":42},"metrics":{"latencyMs":300}}`)
		}, []string{"tool_use"}, []string{"tool_call"}, nil, []string{"tool_call"}},
		{"bedrock guardrail", func(t *testing.T) *Response {
			return response(t, APIBedrockConverse, `{"output":{"message":{"role":"assistant","content":[{"text":"Sorry."}]}},"stopReason":"guardrail_intervened"}`)
		}, []string{"guardrail_intervened"}, []string{"content_filter"}, nil, []string{"text"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.res(t)
			assert.Equal(t, tt.raw, res.FinishReasons, "the attribute keeps the provider's values")
			js := OutputMessagesJSON(res.Messages, "unknown")
			parts := out.check(t, js)
			var ms []struct {
				FinishReason string `json:"finish_reason"`
			}
			require.NoError(t, json.Unmarshal([]byte(js), &ms))
			var got []string
			for _, m := range ms {
				got = append(got, m.FinishReason)
				assert.True(t, slices.Contains(out.finishes, m.FinishReason), "%q is in the schema's enum", m.FinishReason)
			}
			assert.Equal(t, tt.finish, got)
			for typ, want := range tt.wantParts {
				assert.Equal(t, want, parts[typ], typ)
			}
			for _, typ := range tt.otherParts {
				assert.NotEmpty(t, parts[typ], "%s part in %s", typ, js)
			}
		})
	}
}

// A message without a reason gets the fallback; a reason the schema does
// not list is kept as the provider sent it.
func TestOutputFinishReasonFallbackAndRaw(t *testing.T) {
	ms := []Message{{Role: "assistant", Parts: []Part{textPart("a")}}, {Role: "assistant", Parts: []Part{textPart("b")}, FinishReason: "pause_turn"}}
	assert.Equal(t, `[{"role":"assistant","parts":[{"type":"text","content":"a"}],"finish_reason":"error"},`+
		`{"role":"assistant","parts":[{"type":"text","content":"b"}],"finish_reason":"pause_turn"}]`, OutputMessagesJSON(ms, "error"))
	// Input messages carry no finish_reason.
	assert.NotContains(t, MessagesJSON(ms[:1]), "finish_reason")
	for raw, want := range map[string]string{"end_turn": "stop", "MAX_TOKENS": "length", "tool_calls": "tool_call",
		"RECITATION": "content_filter", "MALFORMED_FUNCTION_CALL": "error", "OTHER": "OTHER"} {
		assert.Equal(t, want, FinishReason(raw), fmt.Sprint(raw))
	}
}
