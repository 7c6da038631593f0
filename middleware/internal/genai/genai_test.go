package genai

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware/internal/sse"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		host, path string
		want       Target
	}{
		{"api.openai.com", "/v1/chat/completions", Target{API: APIChatCompletions, Provider: "openai", Operation: "chat"}},
		{"api.openai.com", "/v1/responses", Target{API: APIResponses, Provider: "openai", Operation: "chat"}},
		{"api.openai.com", "/v1/embeddings", Target{API: APIEmbeddings, Provider: "openai", Operation: "embeddings"}},
		{"api.openai.com", "/v1/completions", Target{API: APICompletions, Provider: "openai", Operation: "text_completion"}},
		{"api.anthropic.com", "/v1/messages", Target{API: APIAnthropic, Provider: "anthropic", Operation: "chat"}},
		{"my.openai.azure.com", "/openai/deployments/gpt4o-prod/chat/completions", Target{API: APIChatCompletions, Provider: "azure.ai.openai", Operation: "chat", Model: "gpt4o-prod"}},
		{"localhost:11434", "/v1/chat/completions", Target{API: APIChatCompletions, Provider: "ollama", Operation: "chat"}},
		{"localhost:11434", "/api/chat", Target{API: APIOllamaChat, Provider: "ollama", Operation: "chat"}},
		{"ollama.internal", "/api/generate", Target{API: APIOllamaGenerate, Provider: "ollama", Operation: "text_completion"}},
		{"ollama.internal", "/api/embed", Target{API: APIOllamaEmbed, Provider: "ollama", Operation: "embeddings"}},
		{"vllm:8000", "/v1/chat/completions", Target{API: APIChatCompletions, Provider: "openai", Operation: "chat"}},
		{"litellm.corp:4000", "/chat/completions", Target{API: APIChatCompletions, Provider: "openai", Operation: "chat"}},
		{"127.0.0.1:9", "/v1/messages", Target{API: APIAnthropic, Provider: "anthropic", Operation: "chat"}},
		{"api.groq.com", "/openai/v1/chat/completions", Target{API: APIChatCompletions, Provider: "groq", Operation: "chat"}},
		{"example.com", "/healthz", Target{API: APIUnknown, Operation: "http"}},
	}
	for _, tc := range tests {
		t.Run(tc.host+tc.path, func(t *testing.T) {
			assert.Equal(t, tc.want, Detect(tc.host, tc.path))
		})
	}
}

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name    string
		api     API
		body    string
		model   string
		msgs    string
		system  string
		stream  bool
		usage   bool
		conv    string
		wantErr bool
	}{
		{name: "chat", api: APIChatCompletions,
			body:  `{"model":"gpt-4o","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}],"stream":true,"stream_options":{"include_usage":true}}`,
			model: "gpt-4o", stream: true, usage: true,
			msgs: `[{"role":"system","parts":[{"type":"text","content":"be brief"}]},{"role":"user","parts":[{"type":"text","content":"hi"},{"type":"uri","modality":"image","uri":"https://x/y.png"}]}]`},
		{name: "chat tools", api: APIChatCompletions,
			body:  `{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"c1","content":"42"}]}`,
			model: "m",
			msgs:  `[{"role":"assistant","parts":[{"type":"tool_call","id":"c1","name":"f","arguments":{"a":1}}]},{"role":"tool","parts":[{"type":"tool_call_response","id":"c1","response":"42"}]}]`},
		{name: "responses string", api: APIResponses, body: `{"model":"gpt-4.1","input":"hello","instructions":"sys","conversation":"conv_1"}`,
			model: "gpt-4.1", msgs: `[{"role":"user","parts":[{"type":"text","content":"hello"}]}]`, system: `[{"type":"text","content":"sys"}]`, conv: "conv_1"},
		{name: "responses items", api: APIResponses,
			body:  `{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"q"}]},{"type":"function_call_output","call_id":"x","output":"out"}],"conversation":{"id":"conv_2"}}`,
			model: "m", conv: "conv_2",
			msgs: `[{"role":"user","parts":[{"type":"text","content":"q"}]},{"role":"tool","parts":[{"type":"tool_call_response","id":"x","response":"out"}]}]`},
		{name: "anthropic", api: APIAnthropic,
			body:  `{"model":"claude","system":[{"type":"text","text":"S"}],"max_tokens":10,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"n","input":{"k":"v"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"r"}]}]}],"metadata":{"conversation_id":"c9"}}`,
			model: "claude", system: `[{"type":"text","content":"S"}]`, conv: "c9",
			msgs: `[{"role":"user","parts":[{"type":"text","content":"hi"}]},{"role":"assistant","parts":[{"type":"tool_call","id":"t","name":"n","arguments":{"k":"v"}}]},{"role":"user","parts":[{"type":"tool_call_response","id":"t","response":"r"}]}]`},
		{name: "embeddings list", api: APIEmbeddings, body: `{"model":"e","input":["a","b"]}`, model: "e",
			msgs: `[{"role":"user","parts":[{"type":"text","content":"a"},{"type":"text","content":"b"}]}]`},
		{name: "ollama chat streams by default", api: APIOllamaChat, body: `{"model":"llama3","messages":[{"role":"user","content":"x"}]}`,
			model: "llama3", stream: true, msgs: `[{"role":"user","parts":[{"type":"text","content":"x"}]}]`},
		{name: "completions", api: APICompletions, body: `{"model":"m","prompt":"p"}`, model: "m", msgs: `[{"role":"user","parts":[{"type":"text","content":"p"}]}]`},
		{name: "not json", api: APIChatCompletions, body: `hello`, wantErr: true},
		{name: "broken json", api: APIChatCompletions, body: `{"model":"m","messages":[`, wantErr: true},
		{name: "wrong types are ignored", api: APIChatCompletions, body: `{"model":1,"messages":{"role":"user"},"stream":"yes"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRequest(tc.api, []byte(tc.body))
			require.NotNil(t, r)
			if tc.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.model, r.Model)
			assert.Equal(t, tc.msgs, MessagesJSON(r.Messages))
			assert.Equal(t, tc.system, PartsJSON(r.System))
			assert.Equal(t, tc.stream, r.Stream)
			assert.Equal(t, tc.usage, r.IncludeUsage)
			assert.Equal(t, tc.conv, r.ConversationID)
		})
	}
}

// fakeReply runs the fake LLM for one request and returns the reply.
func fakeReply(t *testing.T, path, body string, opts ...fakellm.Option) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	fakellm.NewHandler(opts...).ServeHTTP(rec, req)
	return rec
}

func TestParseResponseFromFake(t *testing.T) {
	tests := []struct {
		name, path, body string
		api              API
		out              string
		finish           []string
		in, outTok       *int64
	}{
		{name: "chat", path: "/v1/chat/completions", api: APIChatCompletions, body: `{"model":"m","messages":[]}`,
			out: `[{"role":"assistant","parts":[{"type":"text","content":"a b"}],"finish_reason":"stop"}]`, finish: []string{"stop"}, in: ptr(3), outTok: ptr(2)},
		{name: "responses", path: "/v1/responses", api: APIResponses, body: `{"model":"m","input":"x"}`,
			out: `[{"role":"assistant","parts":[{"type":"text","content":"a b"}],"finish_reason":"stop"}]`, finish: []string{"stop"}, in: ptr(3), outTok: ptr(2)},
		{name: "anthropic", path: "/v1/messages", api: APIAnthropic, body: `{"model":"m","messages":[]}`,
			out: `[{"role":"assistant","parts":[{"type":"text","content":"a b"}],"finish_reason":"end_turn"}]`, finish: []string{"end_turn"}, in: ptr(3), outTok: ptr(2)},
		{name: "embeddings", path: "/v1/embeddings", api: APIEmbeddings, body: `{"model":"m","input":"x"}`, in: ptr(3)},
		{name: "ollama", path: "/api/chat", api: APIOllamaChat, body: `{"model":"m","stream":false}`,
			out: `[{"role":"assistant","parts":[{"type":"text","content":"a b"}],"finish_reason":"stop"}]`, finish: []string{"stop"}, in: ptr(3), outTok: ptr(2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := fakeReply(t, tc.path, tc.body, fakellm.WithReply("a b"), fakellm.WithUsage(3, -1))
			require.Equal(t, 200, rec.Code, rec.Body.String())
			r, err := ParseResponse(tc.api, rec.Body.Bytes())
			require.NoError(t, err)
			assert.Equal(t, tc.out, MessagesJSON(r.Messages))
			assert.Equal(t, tc.finish, r.FinishReasons)
			assert.Equal(t, tc.in, r.InputTokens)
			assert.Equal(t, tc.outTok, r.OutputTokens)
			assert.Equal(t, "m", r.Model)
			assert.Empty(t, r.ErrorType)
		})
	}
}

func ptr(v int64) *int64 { return &v }

func TestUsageAbsentStaysNil(t *testing.T) {
	rec := fakeReply(t, "/v1/chat/completions", `{"model":"m","messages":[]}`, fakellm.WithoutUsage())
	r, err := ParseResponse(APIChatCompletions, rec.Body.Bytes())
	require.NoError(t, err)
	assert.Nil(t, r.InputTokens)
	assert.Nil(t, r.OutputTokens)
}

func TestErrorType(t *testing.T) {
	for _, tc := range []struct {
		provider string
		status   int
		want     string
	}{
		{"openai", 429, "rate_limit_exceeded"},
		{"openai", 400, "invalid_value"},
		{"anthropic", 429, "rate_limit_error"},
		{"anthropic", 529, "overloaded_error"},
	} {
		assert.Equal(t, tc.want, ErrorType(tc.status, fakellm.ErrorBody(tc.provider, tc.status, "")))
	}
	assert.Equal(t, "502", ErrorType(502, []byte("<html>bad gateway</html>")))
	assert.Equal(t, "500", ErrorType(500, []byte(`{"error":"model not found"}`)))
	assert.Equal(t, "invalid_request_error", ErrorType(400, []byte(`{"error":{"type":"invalid_request_error","code":null}}`)))
}

// TestErrorTypeOnlyIdentifiers: a code, type or status that is not a short
// identifier (free text, which may quote the prompt) is never error.type:
// the next field that is one is, else the HTTP status (in a stream,
// "error", or the event-stream message type).
func TestErrorTypeOnlyIdentifiers(t *testing.T) {
	long := strings.Repeat("x", 65)
	for _, tc := range []struct {
		name, body, want string
	}{
		{"code quotes the prompt", `{"error":{"code":"rejected: secret prompt"}}`, "400"},
		{"code quotes the prompt, type is one", `{"error":{"code":"rejected: secret prompt","type":"invalid_request_error"}}`, "invalid_request_error"},
		{"type is free text", `{"error":{"type":"Your prompt secret prompt was flagged"}}`, "400"},
		{"status is free text", `{"error":{"status":"secret prompt"}}`, "400"},
		{"code too long", `{"error":{"code":"` + long + `"}}`, "400"},
		{"code of 64 bytes", `{"error":{"code":"` + long[:64] + `"}}`, long[:64]},
		{"code with newline", `{"error":{"code":"bad\nprompt"}}`, "400"},
		{"code not ASCII", `{"error":{"code":"refusé"}}`, "400"},
		{"numeric code", `{"error":{"code":429}}`, "429"},
		{"numeric code with exponent sign", `{"error":{"code":4e+2}}`, "400"},
		{"identifier with . : /", `{"error":{"code":"google.rpc/QuotaFailure:v1"}}`, "google.rpc/QuotaFailure:v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ErrorType(400, []byte(tc.body)))
		})
	}

	s := replay(APIChatCompletions, "data: {\"error\":{\"code\":\"secret prompt\"}}\n\n")
	assert.Equal(t, "error", s.Result().ErrorType, "chat stream")
	s = replay(APIAnthropic, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"secret prompt\"}}\n\n")
	assert.Equal(t, "error", s.Result().ErrorType, "Anthropic stream")
	s = NewStream(APIBedrockConverse, 0)
	s.EventStreamMessage("exception", "", "secret prompt", nil)
	assert.Equal(t, "exception", s.Result().ErrorType, "AWS event stream")
	s = NewStream(APIBedrockConverse, 0)
	s.EventStreamMessage("exception", "", "throttlingException", nil)
	assert.Equal(t, "throttlingException", s.Result().ErrorType, "AWS event stream")
}

// replay feeds a recorded stream through the SSE parser (or NDJSON lines)
// into a Stream.
func replay(api API, body string) *Stream {
	s := NewStream(api, 0)
	if api == APIOllamaChat {
		for _, l := range strings.Split(body, "\n") {
			s.Event("", []byte(l))
		}
		return s
	}
	p := sse.New(0, func(e sse.Event) { s.Event(e.Type, e.Data) })
	_, _ = p.Write([]byte(body))
	return s
}

func TestStreamsFromFake(t *testing.T) {
	tests := []struct {
		name, path, body string
		api              API
		finish           string
		in, out          *int64
	}{
		{"chat with usage", "/v1/chat/completions", `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`, APIChatCompletions, "stop", ptr(4), ptr(3)},
		{"chat without usage", "/v1/chat/completions", `{"model":"m","stream":true}`, APIChatCompletions, "stop", nil, nil},
		{"responses", "/v1/responses", `{"model":"m","stream":true}`, APIResponses, "stop", ptr(4), ptr(3)},
		{"anthropic", "/v1/messages", `{"model":"m","stream":true}`, APIAnthropic, "end_turn", ptr(4), ptr(3)},
		{"ollama", "/api/chat", `{"model":"m"}`, APIOllamaChat, "stop", ptr(4), ptr(3)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := fakeReply(t, tc.path, tc.body, fakellm.WithReply("x y z"), fakellm.WithUsage(4, -1))
			s := replay(tc.api, rec.Body.String())
			assert.True(t, s.Done())
			r := s.Result()
			assert.Equal(t, "x y z", Text(r.Messages))
			assert.Equal(t, []string{tc.finish}, r.FinishReasons)
			assert.Equal(t, tc.in, r.InputTokens)
			assert.Equal(t, tc.out, r.OutputTokens)
			assert.Equal(t, "m", r.Model)
			if tc.api != APIOllamaChat { // Ollama replies carry no id
				assert.NotEmpty(t, r.ID)
			}
		})
	}
}

func TestStreamPartialAndTools(t *testing.T) {
	// A chat stream with a tool call, cut before the end.
	body := `data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","function":{"name":"get","arguments":""}}]}}]}

data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"q\":"}}]}}]}

data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]},"finish_reason":"tool_calls"}]}

data: {"id":"c","choi`
	s := replay(APIChatCompletions, body)
	assert.False(t, s.Done())
	r := s.Result()
	assert.Equal(t, `[{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get","arguments":{"q":1}}],"finish_reason":"tool_calls"}]`, MessagesJSON(r.Messages))

	// Anthropic error event.
	s = replay(APIAnthropic, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"x\",\"model\":\"c\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n")
	assert.True(t, s.Done())
	assert.Equal(t, "overloaded_error", s.Result().ErrorType)

	// OpenAI error chunk.
	s = replay(APIChatCompletions, "data: {\"error\":{\"message\":\"m\",\"type\":\"server_error\",\"code\":null}}\n\n")
	assert.Equal(t, "server_error", s.Result().ErrorType)
}

func TestStreamBudget(t *testing.T) {
	s := NewStream(APIChatCompletions, 5)
	for range 4 {
		s.Event("", []byte(`{"choices":[{"index":0,"delta":{"content":"héllo"}}]}`))
	}
	r := s.Result()
	assert.True(t, r.Truncated)
	assert.Equal(t, "héll", Text(r.Messages))
	// Hostile indexes allocate nothing.
	s.Event("", []byte(`{"choices":[{"index":1000000000,"delta":{"content":"x"}}]}`))
	assert.Len(t, s.choices, 1)
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"stream":true}`,
		`{"model":"m","input":[{"type":"function_call","call_id":"x","arguments":"{"}]}`,
		`{"model":"claude","system":"s","messages":[{"role":"user","content":[{"type":"tool_result","content":[{"type":"image","source":{"type":"base64"}}]}]}]}`,
		`{"tools":[{"type":"function","function":{"name":"f","parameters":{}}},{"type":"web_search","name":"w"},{"functionDeclarations":[{"name":"g"}]},{"toolSpec":{"name":"h"}}]}`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	for _, s := range []struct {
		body []byte
		api  API
	}{{headGeminiReq, APIGemini}, {headConverseReq, APIBedrockConverse}, {headAnthropicReq, APIAnthropic}} {
		f.Add(s.body, uint8(s.api))
	}
	f.Fuzz(func(t *testing.T, body []byte, api uint8) {
		a := API(api % uint8(apiCount))
		r, _ := ParseRequest(a, body)
		if r == nil {
			t.Fatal("nil request")
		}
		checkRequestHead(t, a, body)
		// What the span gets must be JSON whatever the body held.
		for _, out := range []string{MessagesJSON(r.Messages), PartsJSON(r.System), ToolDefinitions(a, body)} {
			if out != "" && !json.Valid([]byte(out)) {
				t.Fatalf("invalid semconv JSON %q", out)
			}
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		`{"id":"x","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`,
		`{"id":"r","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[{"type":"message","content":[{"type":"output_text","text":"a"}]}]}`,
		`{"type":"error","error":{"type":"overloaded_error"}}`,
	} {
		f.Add([]byte(s), uint8(0), uint16(7))
	}
	for _, s := range []struct {
		body []byte
		api  API
	}{{headGeminiResp, APIGemini}, {headConverseResp, APIBedrockConverse}, {headAnthropicResp, APIAnthropic}} {
		f.Add(s.body, uint8(s.api), uint16(7))
	}
	f.Fuzz(func(t *testing.T, body []byte, api uint8, limit uint16) {
		a := API(api % uint8(apiCount))
		r, _ := ParseResponse(a, body)
		if r == nil {
			t.Fatal("nil response")
		}
		checkResponseHead(t, a, body)
		_ = ErrorType(400, body)
		// The same bytes as stream events, whole and line by line.
		s := NewStream(a, int(limit))
		s.Event("", body)
		for _, l := range strings.Split(string(body), "\n") {
			s.Event("message_start", []byte(l))
			s.Event("content_block_delta", []byte(l))
			s.Event("response.completed", []byte(l))
		}
		// And as the payloads of AWS event-stream messages.
		for _, typ := range []string{"chunk", "contentBlockDelta", "messageStop"} {
			s.EventStreamMessage("event", typ, "", body)
		}
		res := s.Result()
		for _, out := range []string{MessagesJSON(r.Messages), MessagesJSON(res.Messages), OutputMessagesJSON(r.Messages, "unknown"), OutputMessagesJSON(res.Messages, "error")} {
			if out != "" && !json.Valid([]byte(out)) {
				t.Fatalf("invalid semconv JSON %q", out)
			}
		}
		if a != APIResponses && limit > 0 && len(Text(res.Messages)) > int(limit)+len(res.Messages)*2 {
			t.Fatalf("output %d bytes over limit %d", len(Text(res.Messages)), limit)
		}
	})
}

func TestEscapedSurrogatesKeepText(t *testing.T) {
	// A lone escaped surrogate becomes U+FFFD and the text after it is
	// kept, as encoding/json decodes it.
	r, err := ParseRequest(APIChatCompletions, []byte(`{"messages":[{"role":"user","content":"\ud800\u0041 and \udc00\ud83d\ude00"}]}`))
	require.NoError(t, err)
	assert.Equal(t, "\uFFFDA and \uFFFD\U0001F600", Text(r.Messages))
}

func TestStreamEventCopiesReusedBuffer(t *testing.T) {
	// The middleware feeds events from a reused line buffer: what a
	// Stream keeps must not change when that buffer is overwritten.
	s := NewStream(APIChatCompletions, 0)
	buf := []byte(`{"id":"chat-1","model":"m-1","choices":[{"index":0,"delta":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`)
	s.Event("", buf)
	for i := range buf {
		buf[i] = 'x'
	}
	r := s.Result()
	assert.Equal(t, "chat-1", r.ID)
	assert.Equal(t, "m-1", r.Model)
	assert.Equal(t, `[{"role":"assistant","parts":[{"type":"text","content":"hi"}],"finish_reason":"stop"}]`, MessagesJSON(r.Messages))
}

func TestParseConcurrent(t *testing.T) {
	// Parses share pooled parser storage; each result must still be its
	// own body's, whatever runs alongside.
	bodies := make([][]byte, 8)
	for i := range bodies {
		bodies[i] = []byte(`{"model":"m` + strings.Repeat("x", i) + `","messages":[{"role":"user","content":"` + strings.Repeat("c", i*10) + `"}]}`)
	}
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for n := range 200 {
				i := (g + n) % len(bodies)
				r, err := ParseRequest(APIChatCompletions, bodies[i])
				if err != nil || r.Model != "m"+strings.Repeat("x", i) || Text(r.Messages) != strings.Repeat("c", i*10) {
					t.Errorf("body %d parsed as %q %q (%v)", i, r.Model, Text(r.Messages), err)
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}

// A list field that is null (or not a list) means no items: no empty tool
// call, no empty choice.
func TestNullListsAreEmpty(t *testing.T) {
	req, err := ParseRequest(APIChatCompletions, []byte(`{"model":"m","messages":[{"role":"assistant","content":"hi","tool_calls":null},{"role":"user","content":"q","tool_calls":{"id":"x"}}]}`))
	require.NoError(t, err)
	require.Len(t, req.Messages, 2)
	assert.Equal(t, []Part{{Type: "text", Content: "hi"}}, req.Messages[0].Parts)
	assert.Equal(t, []Part{{Type: "text", Content: "q"}}, req.Messages[1].Parts)

	resp, err := ParseResponse(APIChatCompletions, []byte(`{"id":"r","model":"m","choices":null}`))
	require.NoError(t, err)
	assert.Empty(t, resp.Messages)

	s := NewStream(APIChatCompletions, 0)
	s.Event("", []byte(`{"id":"r","choices":null}`))
	s.Event("", []byte(`{"id":"r","choices":[{"index":0,"delta":{"content":"ok","tool_calls":null},"finish_reason":"stop"}]}`))
	s.Event("", []byte(`[DONE]`))
	res := s.Result()
	require.Len(t, res.Messages, 1)
	assert.Equal(t, []Part{{Type: "text", Content: "ok"}}, res.Messages[0].Parts)
}
