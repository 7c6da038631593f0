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

// BenchmarkParseHeadThenFull is the middleware's two parses of a 1 KiB
// request and reply: the head parse on the caller, then the full parse
// of the lists it left out on the audit worker, from the document the
// head kept (rest) or from the body's text again (reparse).
func BenchmarkParseHeadThenFull(b *testing.B) {
	for _, rest := range []bool{true, false} {
		name := "reparse"
		if rest {
			name = "rest"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var req, full Request
			var res, fullRes Response
			for b.Loop() {
				_ = ParseRequestInto(&req, APIChatCompletions, benchReq, true)
				_ = ParseResponseInto(&res, APIChatCompletions, benchResp, true)
				if rest {
					req.Rest(&full)
					res.Rest(&fullRes)
				} else {
					req.Discard()
					res.Discard()
					_ = ParseRequestInto(&full, APIChatCompletions, benchReq, false)
					_ = ParseResponseInto(&fullRes, APIChatCompletions, benchResp, false)
				}
			}
		})
	}
}
