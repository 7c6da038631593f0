package genai

import (
	"strings"
	"testing"
)

var (
	benchReq = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"` +
		strings.Repeat("audit ", 150) + `"}]}`)
	benchResp = []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":1767225600,"model":"gpt-4o-mini",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"` + strings.Repeat("trail ", 140) +
		`"},"finish_reason":"stop"}],"usage":{"prompt_tokens":151,"completion_tokens":140,"total_tokens":291}}`)
)

func BenchmarkParseRequest(b *testing.B) {
	b.SetBytes(int64(len(benchReq)))
	for b.Loop() {
		r, _ := ParseRequest(APIChatCompletions, benchReq)
		_ = MessagesJSON(r.Messages)
	}
}

func BenchmarkParseResponse(b *testing.B) {
	b.SetBytes(int64(len(benchResp)))
	for b.Loop() {
		r, _ := ParseResponse(APIChatCompletions, benchResp)
		_ = MessagesJSON(r.Messages)
	}
}
