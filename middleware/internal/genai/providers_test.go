package genai

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/middleware/internal/sse"
)

func TestDetectGoogleAndBedrock(t *testing.T) {
	tests := []struct {
		host, path string
		want       Target
	}{
		{"generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-flash:generateContent",
			Target{API: APIGemini, Provider: "gcp.gemini", Operation: "generate_content", Model: "gemini-2.5-flash"}},
		{"generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
			Target{API: APIGemini, Provider: "gcp.gemini", Operation: "generate_content", Model: "gemini-2.5-flash", Stream: true}},
		{"generativelanguage.googleapis.com", "/v1beta/models/text-embedding-004:batchEmbedContents",
			Target{API: APIGeminiEmbed, Provider: "gcp.gemini", Operation: "embeddings", Model: "text-embedding-004"}},
		{"us-central1-aiplatform.googleapis.com", "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent",
			Target{API: APIGemini, Provider: "gcp.vertex_ai", Operation: "generate_content", Model: "gemini-2.0-flash"}},
		{"aiplatform.googleapis.com", "/v1/projects/p/locations/global/publishers/google/models/gemini-2.0-flash:streamGenerateContent",
			Target{API: APIGemini, Provider: "gcp.vertex_ai", Operation: "generate_content", Model: "gemini-2.0-flash", Stream: true}},
		{"generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-flash:countTokens",
			Target{API: APIUnknown, Provider: "gcp.gemini", Operation: "http"}},
		{"bedrock-runtime.us-east-1.amazonaws.com", "/model/anthropic.claude-3-5-haiku-20241022-v1:0/converse",
			Target{API: APIBedrockConverse, Provider: "aws.bedrock", Operation: "chat", Model: "anthropic.claude-3-5-haiku-20241022-v1:0"}},
		{"bedrock-runtime.us-east-1.amazonaws.com", "/model/us.amazon.nova-pro-v1:0/converse-stream",
			Target{API: APIBedrockConverse, Provider: "aws.bedrock", Operation: "chat", Model: "us.amazon.nova-pro-v1:0", Stream: true}},
		// An inference-profile ARN, escaped in the request line and
		// decoded in URL.Path: both give the same model id.
		{"bedrock-runtime.us-east-1.amazonaws.com", "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fus.meta.llama3/invoke",
			Target{API: APIBedrockInvoke, Provider: "aws.bedrock", Operation: "chat", Model: "arn:aws:bedrock:us-east-1:1:inference-profile/us.meta.llama3"}},
		{"bedrock-runtime.us-east-1.amazonaws.com", "/model/arn:aws:bedrock:us-east-1:1:inference-profile/us.meta.llama3/invoke-with-response-stream",
			Target{API: APIBedrockInvoke, Provider: "aws.bedrock", Operation: "chat", Model: "arn:aws:bedrock:us-east-1:1:inference-profile/us.meta.llama3", Stream: true}},
		{"bedrock-runtime.eu-west-1.amazonaws.com", "/model/amazon.titan-embed-text-v2:0/invoke",
			Target{API: APIBedrockInvoke, Provider: "aws.bedrock", Operation: "embeddings", Model: "amazon.titan-embed-text-v2:0"}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			assert.Equal(t, tc.want, Detect(tc.host, tc.path))
		})
	}
}

func TestGeminiRequestParts(t *testing.T) {
	r, err := ParseRequest(APIGemini, []byte(`{
		"contents":[
			{"role":"user","parts":[{"text":"Look:"},{"inlineData":{"mimeType":"image/png","data":"iVBO"}},{"file_data":{"mime_type":"application/pdf","file_uri":"gs://b/f.pdf"}}]},
			{"role":"model","parts":[{"thought":true,"text":"hmm"},{"functionCall":{"id":"c1","name":"f","args":{"a":1}}}]},
			{"role":"user","parts":[{"functionResponse":{"id":"c1","name":"f","response":{"ok":true}}}]}],
		"systemInstruction":{"parts":[{"text":"Be brief."}]},
		"generationConfig":{"temperature":0.2,"topP":0.9,"maxOutputTokens":100}}`))
	require.NoError(t, err)
	assert.Equal(t, `[{"role":"user","parts":[{"type":"text","content":"Look:"},{"type":"blob","content":"iVBO","modality":"image","mime_type":"image/png"},`+
		`{"type":"uri","modality":"document","mime_type":"application/pdf","uri":"gs://b/f.pdf"}]},`+
		`{"role":"assistant","parts":[{"type":"reasoning","content":"hmm"},{"type":"tool_call","id":"c1","name":"f","arguments":{"a":1}}]},`+
		`{"role":"tool","parts":[{"type":"tool_call_response","id":"c1","name":"f","response":{"ok":true}}]}]`, MessagesJSON(r.Messages))
	assert.Equal(t, `[{"type":"text","content":"Be brief."}]`, PartsJSON(r.System))
	assert.Equal(t, int64(100), *r.MaxTokens)
	assert.Equal(t, 0.2, *r.Temperature)
	assert.Equal(t, 0.9, *r.TopP)
}

func TestGeminiStreamAsJSONArray(t *testing.T) {
	// streamGenerateContent without alt=sse: one JSON array of chunks.
	r, err := ParseResponse(APIGemini, []byte(`[{"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]}}],"responseId":"r1","modelVersion":"gemini-x"},
		{"candidates":[{"content":{"role":"model","parts":[{"text":"lo"}]},"finishReason":"MAX_TOKENS"}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2}}]`))
	require.NoError(t, err)
	assert.Equal(t, "Hello", Text(r.Messages))
	assert.Equal(t, []string{"MAX_TOKENS"}, r.FinishReasons)
	assert.Equal(t, "r1", r.ID)
	assert.Equal(t, "gemini-x", r.Model)
	assert.Equal(t, int64(3), *r.InputTokens)
	assert.Equal(t, int64(2), *r.OutputTokens)
}

func TestGeminiBlockedPrompt(t *testing.T) {
	r, err := ParseResponse(APIGemini, []byte(`{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":4}}`))
	require.NoError(t, err)
	assert.Equal(t, []string{"SAFETY"}, r.FinishReasons)
	assert.Equal(t, `[{"role":"assistant","parts":[],"finish_reason":"SAFETY"}]`, MessagesJSON(r.Messages))
}

func TestBedrockInvokeFamilies(t *testing.T) {
	tests := []struct {
		name, req, resp, input, output, finish string
		in, out                                int64
	}{
		{"llama", `{"prompt":"Hi","max_gen_len":10}`, `{"generation":"Yo","prompt_token_count":2,"generation_token_count":1,"stop_reason":"stop"}`, "Hi", "Yo", "stop", 2, 1},
		{"mistral", `{"prompt":"Hi","max_tokens":10}`, `{"outputs":[{"text":"Yo","stop_reason":"length"}]}`, "Hi", "Yo", "length", -1, -1},
		{"titan", `{"inputText":"Hi"}`, `{"inputTextTokenCount":2,"results":[{"tokenCount":1,"outputText":"Yo","completionReason":"FINISH"}]}`, "Hi", "Yo", "FINISH", 2, 1},
		{"nova", `{"system":[{"text":"S"}],"messages":[{"role":"user","content":[{"text":"Hi"}]}],"inferenceConfig":{"max_new_tokens":10}}`,
			`{"output":{"message":{"role":"assistant","content":[{"text":"Yo"}]}},"stopReason":"end_turn","usage":{"inputTokens":2,"outputTokens":1}}`, "S\nHi", "Yo", "end_turn", 2, 1},
		{"cohere", `{"message":"Hi"}`, `{"text":"Yo","finish_reason":"COMPLETE"}`, "Hi", "Yo", "COMPLETE", -1, -1},
		{"claude", `{"anthropic_version":"bedrock-2023-05-31","system":"S","messages":[{"role":"user","content":"Hi"}],"max_tokens":5}`,
			`{"id":"m","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"Yo"}],"stop_reason":"end_turn","usage":{"input_tokens":2,"output_tokens":1}}`, "S\nHi", "Yo", "end_turn", 2, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := ParseRequest(APIBedrockInvoke, []byte(tc.req))
			require.NoError(t, err)
			assert.Equal(t, tc.input, strings.Join(append(textsOf(req.System), Text(req.Messages)), "\n"))
			resp, err := ParseResponse(req.API, []byte(tc.resp))
			require.NoError(t, err)
			assert.Equal(t, tc.output, Text(resp.Messages))
			assert.Equal(t, []string{tc.finish}, resp.FinishReasons)
			assert.Equal(t, tc.in, deref(resp.InputTokens))
			assert.Equal(t, tc.out, deref(resp.OutputTokens))
		})
	}
}

func textsOf(ps []Part) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Content)
	}
	return out
}

func deref(p *int64) int64 {
	if p == nil {
		return -1
	}
	return *p
}

// geminiSSE builds a Gemini alt=sse stream whose candidate 0 says each
// piece in turn, the last chunk with finishReason STOP and usage.
func geminiSSE(pieces ...string) []byte {
	var b strings.Builder
	for i, p := range pieces {
		cand := map[string]any{"content": map[string]any{"role": "model", "parts": []any{map[string]any{"text": p}}}, "index": 0}
		chunk := map[string]any{"candidates": []any{cand}, "modelVersion": "gemini-x", "responseId": "r1"}
		if i == len(pieces)-1 {
			cand["finishReason"] = "STOP"
			chunk["usageMetadata"] = map[string]any{"promptTokenCount": 5, "candidatesTokenCount": len(pieces)}
		}
		j, _ := json.Marshal(chunk)
		b.WriteString("data: ")
		b.Write(j)
		b.WriteString("\r\n\r\n")
	}
	return []byte(b.String())
}

// feedGemini runs stream through the SSE parser into a Gemini Stream, in
// pieces of the given size.
func feedGemini(stream []byte, piece, limit int) *Stream {
	s := NewStream(APIGemini, limit)
	p := sse.New(0, func(e sse.Event) { s.Event(e.Type, e.Data) })
	for b := stream; len(b) > 0; b = b[min(piece, len(b)):] {
		_, _ = p.Write(b[:min(piece, len(b))])
	}
	return s
}

func TestGeminiStreamToolCallBetweenTexts(t *testing.T) {
	stream := `data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Let me "},{"text":"check."}]}}]}` + "\n\n" +
		`data: {"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"f","args":{"q":"x"}}}]}}]}` + "\n\n" +
		`data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Done"}]},"finishReason":"STOP"}]}` + "\n\n"
	s := feedGemini([]byte(stream), 7, 0)
	require.True(t, s.Done())
	r := s.Result()
	assert.Equal(t, `[{"role":"assistant","parts":[{"type":"text","content":"Let me check."},{"type":"tool_call","name":"f","arguments":{"q":"x"}},`+
		`{"type":"text","content":"Done"}],"finish_reason":"STOP"}]`, MessagesJSON(r.Messages))
}

func TestGeminiStreamSeed(t *testing.T) {
	b, err := os.ReadFile("testdata/gemini/text-tool-thought.sse")
	require.NoError(t, err)
	r := feedGemini(b, 13, 0).Result()
	assert.Equal(t, `[{"role":"assistant","parts":[{"type":"reasoning","content":"Thinking about it."},{"type":"text","content":"Let me look that up."},`+
		`{"type":"tool_call","id":"c1","name":"search","arguments":{"q":"audit trail"}},{"type":"text","content":"été 😀"}],"finish_reason":"STOP"}]`, MessagesJSON(r.Messages))
	assert.Equal(t, int64(9), *r.InputTokens)
	assert.Equal(t, int64(7), *r.OutputTokens)
	assert.Equal(t, "abc", r.ID)
}

func TestGeminiStreamErrorEvent(t *testing.T) {
	s := feedGemini([]byte("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}\n\ndata: {\"error\":{\"code\":503,\"message\":\"m\",\"status\":\"UNAVAILABLE\"}}\n\n"), 100, 0)
	assert.True(t, s.Done())
	assert.Equal(t, "UNAVAILABLE", s.Result().ErrorType)
	assert.Equal(t, "a", Text(s.Result().Messages), "the output before the error is kept")
}

// FuzzGeminiStream feeds arbitrary bytes as a Gemini SSE stream (never a
// panic, always valid semconv JSON, output within the limit), and a real
// stream built from three arbitrary texts in pieces of any size, whose
// reassembled text must be exactly the texts joined.
func FuzzGeminiStream(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/gemini/*.sse")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(b, "x", "y", "z", uint8(9), uint16(0))
	}
	f.Add([]byte(geminiSSE("Hello", " world")), "a", "é\u2028\"", "\x00}", uint8(3), uint16(0))
	f.Add([]byte("data: {\"candidates\":[{\"index\":63,\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\"}},{\"thought\":true,\"text\":\"t\"}]}}]}\n\n"), "", "", "", uint8(1), uint16(4))
	f.Add([]byte("data: {\"candidates\":[{\"content\":{\"parts\":[{\"executableCode\":{\"language\":\"PYTHON\",\"code\":\"x\",\"type\":1}},{\"codeExecutionResult\":{}}]},\"finishReason\":\"SAFETY\"}]}\n\n"), "", "", "", uint8(2), uint16(0))
	f.Fuzz(func(t *testing.T, raw []byte, a, b, c string, piece uint8, limit uint16) {
		s := feedGemini(raw, int(piece)+1, int(limit))
		res := s.Result()
		if out := OutputMessagesJSON(res.Messages, "error"); out != "" && !json.Valid([]byte(out)) {
			t.Fatalf("invalid semconv JSON %q", out)
		}
		if limit > 0 && len(Text(res.Messages)) > int(limit)+len(res.Messages)*2 {
			t.Fatalf("output %d bytes over limit %d", len(Text(res.Messages)), limit)
		}

		s = feedGemini(geminiSSE(a, b, c), int(piece)+1, 0)
		if !s.Done() {
			t.Fatal("stream with finishReason not done")
		}
		res = s.Result()
		var want string
		for _, p := range []string{a, b, c} {
			var dec string // what the text is on the wire: invalid UTF-8 replaced
			j, _ := json.Marshal(p)
			_ = json.Unmarshal(j, &dec)
			want += dec
		}
		if got := Text(res.Messages); got != want {
			t.Fatalf("reassembled %q, want %q", got, want)
		}
		if res.InputTokens == nil || *res.InputTokens != 5 || res.ID != "r1" || res.Model != "gemini-x" {
			t.Fatalf("metadata lost: %+v", res)
		}
	})
}

func TestRequestParameters(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	i := func(v int64) *int64 { return &v }
	tests := []struct {
		api  API
		body string
		want Request
	}{
		{APIChatCompletions, `{"model":"m","stop":["END","##"],"seed":7,"frequency_penalty":0.5,"presence_penalty":-0.5,"n":2,"response_format":{"type":"json_schema"}}`,
			Request{StopSequences: []string{"END", "##"}, Seed: i(7), FrequencyPenalty: f(0.5), PresencePenalty: f(-0.5), ChoiceCount: i(2), OutputType: "json"}},
		{APIChatCompletions, `{"model":"m","stop":"END"}`, Request{StopSequences: []string{"END"}}},
		{APIResponses, `{"model":"m","text":{"format":{"type":"text"}}}`, Request{OutputType: "text"}},
		{APIAnthropic, `{"model":"m","top_k":40,"stop_sequences":["\n\nHuman:"]}`, Request{TopK: f(40), StopSequences: []string{"\n\nHuman:"}}},
		{APIOllamaChat, `{"model":"m","format":"json","options":{"seed":3,"top_k":20,"stop":["x"]}}`,
			Request{OutputType: "json", Seed: i(3), TopK: f(20), StopSequences: []string{"x"}, Stream: true}},
		{APIGemini, `{"generationConfig":{"topK":32,"seed":5,"candidateCount":3,"stopSequences":["S"],"presencePenalty":0.1,"frequencyPenalty":0.2,"responseMimeType":"application/json"}}`,
			Request{TopK: f(32), Seed: i(5), ChoiceCount: i(3), StopSequences: []string{"S"}, PresencePenalty: f(0.1), FrequencyPenalty: f(0.2), OutputType: "json"}},
		{APIBedrockConverse, `{"inferenceConfig":{"stopSequences":["Z"]}}`, Request{StopSequences: []string{"Z"}}},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			got, err := ParseRequest(tc.api, []byte(tc.body))
			require.NoError(t, err)
			got.API, got.Model, got.Messages, got.System = 0, "", nil, nil
			assert.Equal(t, tc.want, *got)
		})
	}
}

func TestUsageDetails(t *testing.T) {
	i := func(v int64) *int64 { return &v }
	tests := []struct {
		api  API
		body string
		want UsageDetails
	}{
		{APIChatCompletions, `{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}}}`,
			UsageDetails{CacheRead: i(4), Reasoning: i(2)}},
		{APIResponses, `{"output":[],"usage":{"input_tokens":10,"output_tokens":5,"input_tokens_details":{"cached_tokens":3},"output_tokens_details":{"reasoning_tokens":1}}}`,
			UsageDetails{CacheRead: i(3), Reasoning: i(1)}},
		{APIAnthropic, `{"content":[],"usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":6,"cache_creation_input_tokens":8}}`,
			UsageDetails{CacheRead: i(6), CacheCreation: i(8)}},
		{APIGemini, `{"candidates":[],"usageMetadata":{"promptTokenCount":10,"cachedContentTokenCount":9,"thoughtsTokenCount":12}}`,
			UsageDetails{CacheRead: i(9), Reasoning: i(12)}},
		{APIBedrockConverse, `{"usage":{"inputTokens":1,"outputTokens":2,"cacheReadInputTokens":3,"cacheWriteInputTokens":4}}`,
			UsageDetails{CacheRead: i(3), CacheCreation: i(4)}},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			r, err := ParseResponse(tc.api, []byte(tc.body))
			require.NoError(t, err)
			assert.Equal(t, tc.want, r.Details)
		})
	}
	// Streams: Anthropic gives the cache counts in message_start, the
	// later message_delta does not repeat them.
	s := NewStream(APIAnthropic, 0)
	s.Event("message_start", []byte(`{"type":"message_start","message":{"id":"m","usage":{"input_tokens":1,"cache_read_input_tokens":5}}}`))
	s.Event("message_delta", []byte(`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}`))
	assert.Equal(t, UsageDetails{CacheRead: i(5)}, s.Result().Details)
}
