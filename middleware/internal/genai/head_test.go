package genai

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Bodies of the APIs whose head parses leave their lists out.
var (
	headGeminiReq = []byte(`{"contents":[{"role":"user","parts":[{"text":"hello"}]}],` +
		`"systemInstruction":{"parts":[{"text":"You are terse."}]},"generationConfig":{"maxOutputTokens":64,"temperature":0.2}}`)
	headGeminiResp = []byte(`{"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]},"finishReason":"STOP","index":0}],` +
		`"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4},"modelVersion":"gemini-2.5-flash","responseId":"r1"}`)
	headConverseReq = []byte(`{"messages":[{"role":"user","content":[{"text":"hello"}]}],` +
		`"system":[{"text":"You are terse."}],"inferenceConfig":{"maxTokens":512,"topP":0.9}}`)
	headConverseResp = []byte(`{"output":{"message":{"role":"assistant","content":[{"text":"hi"}]}},` +
		`"stopReason":"end_turn","usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4}}`)
	headAnthropicReq = []byte(`{"model":"claude-sonnet-4-5","max_tokens":64,"system":"You are terse.",` +
		`"messages":[{"role":"user","content":[{"type":"text","text":"hello"}]}]}`)
	headAnthropicResp = []byte(`{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",` +
		`"content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}}`)
)

// partCount is the number of parts of ms.
func partCount(ms []Message) int {
	n := 0
	for _, m := range ms {
		n += len(m.Parts)
	}
	return n
}

// checkContent fails t unless what a head parse did with a list (c, and
// the list it gave, head) agrees with the list the full parse made.
func checkContent(t *testing.T, what string, c Content, head, full []Message) {
	t.Helper()
	switch c {
	case ContentMade:
		if !reflect.DeepEqual(head, full) {
			t.Fatalf("%s: head made %#v, full parse %#v", what, head, full)
		}
	case ContentNone, ContentSome:
		if head != nil {
			t.Fatalf("%s: left out (%d) but made %#v", what, c, head)
		}
		if (c == ContentSome) != (partCount(full) > 0) {
			t.Fatalf("%s: head says %d, full parse has %d parts", what, c, partCount(full))
		}
	default:
		t.Fatalf("%s: content %d", what, c)
	}
}

// checkRequestHead fails t unless the head parse (ParseRequestInto) agrees with
// ParseRequest on body: the same error and fields, and lists left out
// only as Content says.
func checkRequestHead(t *testing.T, a API, body []byte) *Request {
	t.Helper()
	full, ferr := ParseRequest(a, body)
	head := new(Request)
	herr := ParseRequestInto(head, a, body, true)
	require.Equal(t, ferr, herr)
	assert.Equal(t, ContentMade, full.InputContent)
	assert.Equal(t, ContentMade, full.SystemContent)
	checkContent(t, "input", head.InputContent, head.Messages, full.Messages)
	var sysHead, sysFull []Message
	if head.System != nil {
		sysHead = []Message{{Parts: head.System}}
	}
	if full.System != nil {
		sysFull = []Message{{Parts: full.System}}
	}
	checkContent(t, "system", head.SystemContent, sysHead, sysFull)
	h, f := *head, *full
	for _, r := range []*Request{&h, &f} {
		r.Messages, r.System, r.InputContent, r.SystemContent = nil, nil, 0, 0
		r.first, r.firstUsed, r.kept = [2]Message{}, false, keptDoc{}
	}
	if !reflect.DeepEqual(h, f) {
		t.Fatalf("head %#v, full parse %#v", h, f)
	}
	// Rest, into other storage and into the head's own, gives the full
	// parse when the head left a list out.
	leftOut := head.InputContent == ContentSome || head.SystemContent == ContentSome
	if (head.kept.p != nil) != leftOut {
		t.Fatalf("kept a parse: %v, left a list out: %v", head.kept.p != nil, leftOut)
	}
	if leftOut {
		again := new(Request)
		require.NoError(t, ParseRequestInto(again, a, body, true))
		checkRest(t, head, again, full, (*Request).Rest)
	}
	return head
}

// checkRest fails t unless rest (Request.Rest or Response.Rest) of the
// head parse head, into other storage, and of again (another head parse
// of the same body), into its own, both give full, the full parse.
func checkRest[T any](t *testing.T, head, again, full *T, rest func(src, dst *T)) {
	t.Helper()
	for _, dst := range []*T{new(T), again} {
		src := head
		if dst == again {
			src = again
		}
		rest(src, dst)
		if !reflect.DeepEqual(dst, full) {
			t.Fatalf("rest %#v, full parse %#v", dst, full)
		}
	}
}

// checkResponseHead is checkRequestHead for ParseResponseInto.
func checkResponseHead(t *testing.T, a API, body []byte) *Response {
	t.Helper()
	full, ferr := ParseResponse(a, body)
	head := new(Response)
	herr := ParseResponseInto(head, a, body, true)
	require.Equal(t, ferr, herr)
	assert.Equal(t, ContentMade, full.OutputContent)
	checkContent(t, "output", head.OutputContent, head.Messages, full.Messages)
	h, f := *head, *full
	for _, r := range []*Response{&h, &f} {
		r.Messages, r.OutputContent, r.kept = nil, 0, keptDoc{}
		r.first.msg = [1]Message{}
	}
	if !reflect.DeepEqual(h, f) {
		t.Fatalf("head %#v, full parse %#v", h, f)
	}
	if (head.kept.p != nil) != (head.OutputContent == ContentSome) {
		t.Fatalf("kept a parse: %v, output %d", head.kept.p != nil, head.OutputContent)
	}
	if head.OutputContent == ContentSome {
		again := new(Response)
		require.NoError(t, ParseResponseInto(again, a, body, true))
		checkRest(t, head, again, full, (*Response).Rest)
	}
	return head
}

// TestParseHeadLeavesOut: the head parses of the usual calls of the APIs
// they cover leave every list out (so the middleware defers them), and
// agree with the full parses.
func TestParseHeadLeavesOut(t *testing.T) {
	for _, tc := range []struct {
		name       string
		api        API
		req, resp  []byte
		wantSystem Content
	}{
		{"chat", APIChatCompletions, benchReq, benchResp, ContentNone},
		{"gemini", APIGemini, headGeminiReq, headGeminiResp, ContentSome},
		{"converse", APIBedrockConverse, headConverseReq, headConverseResp, ContentSome},
		{"anthropic", APIAnthropic, headAnthropicReq, headAnthropicResp, ContentSome},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := checkRequestHead(t, tc.api, tc.req)
			assert.Equal(t, ContentSome, r.InputContent)
			assert.Equal(t, tc.wantSystem, r.SystemContent)
			assert.Nil(t, r.Messages)
			assert.Nil(t, r.System)
			res := checkResponseHead(t, tc.api, tc.resp)
			assert.Equal(t, ContentSome, res.OutputContent)
			assert.Nil(t, res.Messages)
			assert.NotEmpty(t, res.FinishReasons)
			assert.NotNil(t, res.OutputTokens)
			// Discard lets go of the kept parse: Rest then makes nothing.
			require.NoError(t, ParseRequestInto(r, tc.api, tc.req, true))
			r.Discard()
			var rest Request
			r.Rest(&rest)
			assert.Zero(t, rest)
			require.NoError(t, ParseResponseInto(res, tc.api, tc.resp, true))
			res.Discard()
			var restRes Response
			res.Rest(&restRes)
			assert.Zero(t, restRes)
		})
	}
}

// TestParseHeadEdges: lists with no part, lists the head cannot tell
// about (made, as the full parse makes them), and repeated keys, each
// agreeing with the full parse.
func TestParseHeadEdges(t *testing.T) {
	reqs := []struct {
		api          API
		body         string
		input, systm Content
	}{
		{APIChatCompletions, `{"model":"m"}`, ContentNone, ContentNone},
		{APIChatCompletions, `{"messages":[]}`, ContentNone, ContentNone},
		{APIChatCompletions, `{"messages":[1,"x",null]}`, ContentNone, ContentNone},
		{APIChatCompletions, `{"messages":[{"role":"assistant","tool_calls":[{"id":"c"}]}]}`, ContentMade, ContentNone},
		{APIChatCompletions, `{"messages":[{"role":"assistant","content":null}]}`, ContentMade, ContentNone},
		{APIChatCompletions, `{"messages":[{"role":"user","content":"a","content":null}]}`, ContentMade, ContentNone},
		{APIChatCompletions, `{"messages":[{"role":"user","content":null,"content":"a"}]}`, ContentSome, ContentNone},
		{APIChatCompletions, `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"u"}}]}]}`, ContentMade, ContentNone},
		{APIChatCompletions, `{"messages":[{"role":"user","content":[]}]}`, ContentMade, ContentNone},
		{APIAnthropic, `{"system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":"a"}]}`, ContentSome, ContentSome},
		{APIAnthropic, `{"system":[],"messages":[]}`, ContentNone, ContentNone},
		{APIAnthropic, `{"system":[{"type":"text","cache_control":{}}]}`, ContentNone, ContentMade},
		{APIGemini, `{"contents":"hi","system_instruction":"s"}`, ContentSome, ContentSome},
		{APIGemini, `{"contents":{"parts":[]},"systemInstruction":{"parts":[1]}}`, ContentNone, ContentNone},
		{APIGemini, `{"contents":[{"parts":[{"inlineData":{"mimeType":"image/png","data":"AA=="}}]}]}`, ContentSome, ContentNone},
		{APIBedrockConverse, `{"messages":[{"role":"user","content":[{"cachePoint":{}}]}],"system":[{"cachePoint":{}}]}`, ContentNone, ContentNone},
		{APIBedrockConverse, `{"messages":[{"role":"user","content":[{"type":"text","text":"a"}]}],"system":"s"}`, ContentSome, ContentSome},
		{APIBedrockConverse, `{"messages":[{"role":"user","content":[{"type":"image","source":{}}]}],"system":[{}]}`, ContentMade, ContentNone},
		{APIResponses, `{"input":"hi"}`, ContentMade, ContentMade},
		{APIGeminiEmbed, `{"content":{"parts":[{"text":"a"}]}}`, ContentMade, ContentMade},
		{APIBedrockInvoke, `{"messages":[{"role":"user","content":"a"}]}`, ContentMade, ContentMade},
	}
	for _, tc := range reqs {
		r := checkRequestHead(t, tc.api, []byte(tc.body))
		assert.Equal(t, tc.input, r.InputContent, "input of %s", tc.body)
		assert.Equal(t, tc.systm, r.SystemContent, "system of %s", tc.body)
	}
	resps := []struct {
		api    API
		body   string
		output Content
	}{
		{APIChatCompletions, `{"choices":[]}`, ContentNone},
		{APIChatCompletions, `{"choices":[{"finish_reason":"stop"}]}`, ContentMade},
		{APIChatCompletions, `{"choices":[{"message":{"content":"a"},"finish_reason":"stop"},{"message":{"tool_calls":[{}]}}]}`, ContentSome},
		{APICompletions, `{"choices":[{"text":"a","finish_reason":"length"}]}`, ContentSome},
		{APIAnthropic, `{"content":[],"stop_reason":"end_turn"}`, ContentNone},
		{APIAnthropic, `{"content":[{"type":"tool_use","id":"t","name":"f","input":{}}],"stop_reason":"tool_use"}`, ContentMade},
		{APIGemini, `{"promptFeedback":{"blockReason":"SAFETY"}}`, ContentNone},
		{APIGemini, `{"candidates":[{"finishReason":"SAFETY"}]}`, ContentNone},
		{APIGemini, `[{"candidates":[{"content":{"parts":[{"text":"a"}]}}]}]`, ContentMade},
		{APIBedrockConverse, `{"stopReason":"guardrail_intervened"}`, ContentNone},
		{APIBedrockConverse, `{"output":{"message":{"content":[{"toolUse":{"toolUseId":"t","name":"f","input":{}}}]}},"stopReason":"tool_use"}`, ContentSome},
		{APIResponses, `{"output":[]}`, ContentMade},
	}
	for _, tc := range resps {
		r := checkResponseHead(t, tc.api, []byte(tc.body))
		assert.Equal(t, tc.output, r.OutputContent, "output of %s", tc.body)
	}
	// Not JSON: the same error and an empty result from both.
	checkRequestHead(t, APIChatCompletions, []byte(`{"messages":[`))
	checkResponseHead(t, APIGemini, []byte(strings.Repeat("x", 10)))
}
