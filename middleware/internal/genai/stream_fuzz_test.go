package genai

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	aws "github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/otelaudit/otelaudit-go/middleware/internal/eventstream"
	"github.com/otelaudit/otelaudit-go/middleware/internal/sse"
)

// The stream fuzz targets below feed each reassembly path two streams:
//
//   - the fuzzer's bytes, split into events the way the middleware splits
//     a reply (SSE, NDJSON lines, AWS event-stream frames), in pieces of
//     any size and under a capture cap of any size: the Stream must never
//     panic, its output must stay within the cap (checkBounded) and what
//     it allocates must not grow with anything but the bytes it was fed
//     (an index such as 4000000000 allocates nothing);
//   - a well-formed stream of the API built from the fuzzer's strings:
//     the reassembled reply must be exactly those strings joined, with the
//     tool call, finish reason, usage, id and model the stream carried.

// onWire is what s reads as once sent as a JSON string (invalid UTF-8
// becomes U+FFFD), which is what a stream delta built from s carries.
func onWire(s string) string {
	var dec string
	_ = json.Unmarshal(jstr(s), &dec)
	return dec
}

func jstr(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

// runeCut returns an index of s at most i that does not split a rune.
func runeCut(s string, i int) int {
	i = min(i, len(s))
	for i > 0 && i < len(s) && !utf8.RuneStart(s[i]) {
		i--
	}
	return i
}

// capOf is the cap a Stream made with limit applies (see NewStream).
func capOf(limit int) int {
	if limit <= 0 {
		return 1 << 20
	}
	return limit
}

// partOverhead is what a part may hold beyond the bytes the stream
// carried for it: its type and modality, constants of this package.
const partOverhead = 64

// keptBytes is the number of bytes a reply's messages hold that came from
// the stream.
func keptBytes(r *Response) (n, parts int) {
	for _, m := range r.Messages {
		n += len(m.Role) + len(m.FinishReason)
		for _, p := range m.Parts {
			parts++
			n += len(p.Type) + len(p.Content) + len(p.ID) + len(p.Name) + len(p.Arguments) + len(p.Response) +
				len(p.Modality) + len(p.MimeType) + len(p.URI) + len(p.FileID) + len(p.ServerToolCall) + len(p.ServerToolCallResponse)
		}
	}
	return n, parts
}

// checkBounded checks what any stream must give: semconv JSON, at most
// maxSlots parts, and output within the cap (a constant per part for its
// type aside).
func checkBounded(t *testing.T, s *Stream, limit int) *Response {
	t.Helper()
	res := s.Result()
	for _, out := range []string{MessagesJSON(res.Messages), OutputMessagesJSON(res.Messages, "error")} {
		if out != "" && !json.Valid([]byte(out)) {
			t.Fatalf("invalid semconv JSON %q", out)
		}
	}
	n, parts := keptBytes(res)
	if parts > maxSlots {
		t.Fatalf("%d parts, more than the %d slots a stream has", parts, maxSlots)
	}
	if n > capOf(limit)+partOverhead*(parts+len(res.Messages)) {
		t.Fatalf("output holds %d bytes in %d parts, over the cap %d", n, parts, capOf(limit))
	}
	if len(res.ID) > capOf(limit) || len(res.Model) > capOf(limit) || len(res.ErrorType) > maxErrorTypeLen {
		t.Fatalf("id %d, model %d, error type %d bytes: over the cap %d", len(res.ID), len(res.Model), len(res.ErrorType), capOf(limit))
	}
	return res
}

// allocBound fails t when run allocated more than the bytes it was fed
// can account for: a constant, plus a multiple of the input for the copy
// and parse of each event. Index lists grow to at most maxSlots entries,
// within the constant, whatever index an event names.
func allocBound(t *testing.T, fed int, run func()) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	run()
	runtime.ReadMemStats(&after)
	if got, bound := after.TotalAlloc-before.TotalAlloc, uint64(64*fed+4<<20); got > bound {
		t.Fatalf("allocated %d bytes for %d bytes fed (bound %d)", got, fed, bound)
	}
}

// feedSSE feeds stream to s as the middleware does: through an SSE parser
// with the same cap, in pieces of the given size, an event cut at the cap
// marking the reply truncated.
func feedSSE(s *Stream, stream []byte, piece, limit int) {
	p := sse.New(limit, func(e sse.Event) {
		if e.Truncated {
			s.Truncated()
			return
		}
		s.Event(e.Type, e.Data)
	})
	for b := stream; len(b) > 0; b = b[min(piece, len(b)):] {
		_, _ = p.Write(b[:min(piece, len(b))])
	}
}

// feedLines feeds stream to s as the middleware does NDJSON: one event a
// line, a line over the cap marking the reply truncated.
func feedLines(s *Stream, stream []byte, limit int) {
	for l := range bytes.SplitSeq(stream, []byte("\n")) {
		if len(l) > capOf(limit) {
			s.Truncated()
			continue
		}
		s.Event("", l)
	}
}

// sseEvent appends one SSE event (typ may be empty) with data.
func sseEvent(b []byte, typ string, data ...string) []byte {
	if typ != "" {
		b = append(append(append(b, "event: "...), typ...), '\n')
	}
	b = append(b, "data: "...)
	for _, d := range data {
		b = append(b, d...)
	}
	return append(b, "\n\n"...)
}

// streamSeeds are the inputs every SSE stream target starts from, besides
// its corpus in testdata/fuzz.
func streamSeeds(f *testing.F, raw ...string) {
	for _, r := range raw {
		f.Add([]byte(r), "Hello", ", wor", "ld \u00e9\U0001F600", `{"city":"Paris","n":[1,2]}`, uint8(7), uint16(0))
	}
	f.Add([]byte{}, "", "", "", "", uint8(0), uint16(1))
	f.Add([]byte{}, "a\x00\"\\\u2028", "\xff\xfe", "}\n\ndata: ", "not json {", uint8(1), uint16(3))
}

// FuzzChatStream fuzzes the reassembly of OpenAI Chat Completions and
// (legacy) Completions streams: chunks with choices by index, content,
// refusal and tool-call argument deltas by tool index.
func FuzzChatStream(f *testing.F) {
	streamSeeds(f,
		"data: {\"choices\":[{\"index\":4000000000,\"delta\":{\"content\":\"x\",\"tool_calls\":[{\"index\":4000000000,\"function\":{\"arguments\":\"{\"}}]}}]}\n\n",
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1023,\"id\":\"c\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}}]}\n\ndata: [DONE]\n\n",
		"data: {\"choices\":[{\"index\":\"7\",\"text\":\"a\"},{\"index\":-1,\"text\":\"b\"},{\"index\":1e300,\"text\":\"c\"}]}\n\n",
		"data: {\"error\":{\"type\":\"server_error\"}}\n\n",
	)
	f.Fuzz(func(t *testing.T, raw []byte, a, b, c, args string, piece uint8, limit uint16) {
		for _, api := range []API{APIChatCompletions, APICompletions} {
			s := NewStream(api, int(limit))
			allocBound(t, len(raw), func() { feedSSE(s, raw, int(piece)+1, int(limit)) })
			checkBounded(t, s, int(limit))
		}

		// A well-formed Chat Completions stream: a role chunk, the three
		// texts, a tool call whose arguments come in two deltas, the
		// finish and usage chunks, [DONE].
		k := runeCut(args, len(args)/2)
		ev := func(b []byte, body string) []byte {
			return sseEvent(b, "", `{"id":"chatcmpl-1","model":"gpt-x","choices":[`, body, `]}`)
		}
		var st []byte
		st = ev(st, `{"index":0,"delta":{"role":"assistant","content":""}}`)
		for _, d := range []string{a, b, c} {
			st = ev(st, `{"index":0,"delta":{"content":`+string(jstr(d))+`}}`)
		}
		st = ev(st, `{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup","arguments":""}}]}}`)
		for _, d := range []string{args[:k], args[k:]} {
			st = ev(st, `{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":`+string(jstr(d))+`}}]}}`)
		}
		st = ev(st, `{"index":0,"delta":{},"finish_reason":"tool_calls"}`)
		st = sseEvent(st, "", `{"id":"chatcmpl-1","model":"gpt-x","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":6}}`)
		st = sseEvent(st, "", "[DONE]")
		s := NewStream(APIChatCompletions, 0)
		feedSSE(s, st, int(piece)+1, 0)
		if !s.Done() {
			t.Fatal("stream with [DONE] not done")
		}
		res := checkBounded(t, s, 0)
		want := onWire(a) + onWire(b) + onWire(c)
		if got := Text(res.Messages); got != want {
			t.Fatalf("reassembled %q, want %q", got, want)
		}
		if len(res.Messages) != 1 || res.Messages[0].FinishReason != "tool_calls" || res.ID != "chatcmpl-1" || res.Model != "gpt-x" ||
			res.InputTokens == nil || *res.InputTokens != 5 || res.OutputTokens == nil || *res.OutputTokens != 6 || res.Truncated {
			t.Fatalf("reply lost its metadata: %+v", res)
		}
		wantTool(t, res.Messages[0].Parts, "call_1", "lookup", string(stringArgs(onWire(args[:k])+onWire(args[k:]))))

		// The same texts as a Completions stream, under a cap: the text
		// is a prefix of the texts joined, and all of them unless the
		// reply says it was truncated.
		st = st[:0]
		for _, d := range []string{a, b, c} {
			st = sseEvent(st, "", `{"id":"cmpl-1","model":"gpt-x","choices":[{"index":0,"text":`+string(jstr(d))+`,"finish_reason":null}]}`)
		}
		st = sseEvent(st, "", "[DONE]")
		s = NewStream(APICompletions, int(limit))
		feedSSE(s, st, int(piece)+1, int(limit))
		res = checkBounded(t, s, int(limit))
		checkPrefix(t, res, want)
	})
}

// checkPrefix checks that the reply's text is want or, when the reply is
// marked truncated, what is left of want once the pieces that did not
// fit are taken out: a subsequence of it, in order, nothing invented (an
// event lost at the cap leaves a hole; the events after it are kept).
func checkPrefix(t *testing.T, res *Response, want string) {
	t.Helper()
	got := Text(res.Messages)
	if res.Truncated && !subsequence(got, want) || !res.Truncated && got != want {
		t.Fatalf("reassembled %q (truncated %v), want %q", got, res.Truncated, want)
	}
}

// subsequence reports whether the bytes of a appear in b in order.
func subsequence(a, b string) bool {
	for i := 0; i < len(a); i++ {
		j := strings.IndexByte(b, a[i])
		if j < 0 {
			return false
		}
		b = b[j+1:]
	}
	return true
}

// wantTool checks that parts end with the tool call id, name, args.
func wantTool(t *testing.T, parts []Part, id, name, args string) {
	t.Helper()
	if len(parts) == 0 {
		t.Fatal("no parts")
	}
	p := parts[len(parts)-1]
	if p.Type != "tool_call" || p.ID != id || p.Name != name || string(p.Arguments) != args {
		t.Fatalf("tool call %+v (arguments %s), want %s %s %s", p, p.Arguments, id, name, args)
	}
}

// FuzzResponsesStream fuzzes the reassembly of OpenAI Responses API
// streams: output text deltas by output index, finished function calls,
// and the terminal event that carries the whole reply.
func FuzzResponsesStream(f *testing.F) {
	streamSeeds(f,
		"event: response.output_text.delta\ndata: {\"output_index\":4000000000,\"delta\":\"x\"}\n\n",
		"event: response.output_item.done\ndata: {\"output_index\":3,\"item\":{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}\n\n",
		"data: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\",\"status\":\"completed\",\"output\":[{\"type\":\"web_search_call\",\"id\":\"w\"}]}}\n\n",
		"event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\"}\n\n",
	)
	f.Fuzz(func(t *testing.T, raw []byte, a, b, c, args string, piece uint8, limit uint16) {
		s := NewStream(APIResponses, int(limit))
		allocBound(t, len(raw), func() { feedSSE(s, raw, int(piece)+1, int(limit)) })
		checkBounded(t, s, int(limit))

		k := runeCut(args, len(args)/2)
		var st []byte
		st = sseEvent(st, "response.created", `{"type":"response.created","response":{"id":"resp_1","model":"gpt-x","status":"in_progress","output":[]}}`)
		for _, d := range []string{a, b, c} {
			st = sseEvent(st, "response.output_text.delta", `{"type":"response.output_text.delta","output_index":0,"content_index":0,"delta":`, string(jstr(d)), `}`)
		}
		st = sseEvent(st, "response.function_call_arguments.delta", `{"type":"response.function_call_arguments.delta","output_index":1,"delta":`, string(jstr(args[:k])), `}`)
		item := `{"type":"function_call","id":"fc_1","call_id":"call_1","name":"lookup","arguments":` + string(jstr(args)) + `}`
		st = sseEvent(st, "response.output_item.done", `{"type":"response.output_item.done","output_index":1,"item":`, item, `}`)
		want := onWire(a) + onWire(b) + onWire(c)
		wantArgs := string(stringArgs(onWire(args)))

		// Cut before the terminal event: the deltas are the reply.
		s = NewStream(APIResponses, 0)
		feedSSE(s, st, int(piece)+1, 0)
		if s.Done() {
			t.Fatal("done without a terminal event")
		}
		res := checkBounded(t, s, 0)
		if got := Text(res.Messages); got != want {
			t.Fatalf("reassembled %q, want %q", got, want)
		}
		if res.ID != "resp_1" || res.Model != "gpt-x" {
			t.Fatalf("reply lost its id or model: %+v", res)
		}
		wantTool(t, res.Messages[0].Parts, "call_1", "lookup", wantArgs)

		// The terminal event's whole reply agrees with the deltas.
		st = sseEvent(st, "response.completed", `{"type":"response.completed","response":{"id":"resp_1","model":"gpt-x","status":"completed","output":[`+
			`{"type":"message","role":"assistant","content":[{"type":"output_text","text":`, string(jstr(a+b+c)), `}]},`, item,
			`],"usage":{"input_tokens":5,"output_tokens":6}}}`)
		s = NewStream(APIResponses, 0)
		feedSSE(s, st, int(piece)+1, 0)
		res = checkBounded(t, s, 0)
		if !s.Done() || res.InputTokens == nil || *res.InputTokens != 5 || res.OutputTokens == nil || *res.OutputTokens != 6 {
			t.Fatalf("terminal event lost: done %v, %+v", s.Done(), res)
		}
		if got := Text(res.Messages); got != onWire(a+b+c) {
			t.Fatalf("final reply %q, want %q", got, onWire(a+b+c))
		}
		wantTool(t, res.Messages[0].Parts, "call_1", "lookup", wantArgs)

		// Deltas under a cap.
		s = NewStream(APIResponses, int(limit))
		feedSSE(s, st[:bytes.Index(st, []byte("event: response.function_call"))], int(piece)+1, int(limit))
		checkPrefix(t, checkBounded(t, s, int(limit)), want)
	})
}

// FuzzAnthropicStream fuzzes the reassembly of Anthropic Messages
// streams: content blocks by index (text, thinking, tool_use with
// input_json_delta, server tools, blocks that come whole), message_delta
// usage and stop reason.
func FuzzAnthropicStream(f *testing.F) {
	streamSeeds(f,
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":4000000000,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}\n\n",
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"web_search_tool_result\",\"tool_use_id\":\"s\",\"content\":[]}}\n\n",
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"server_tool_use\",\"id\":\"s\",\"name\":\"web_search\"}}\n\n",
		"data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}\n\n",
	)
	f.Fuzz(func(t *testing.T, raw []byte, a, b, c, args string, piece uint8, limit uint16) {
		s := NewStream(APIAnthropic, int(limit))
		allocBound(t, len(raw), func() { feedSSE(s, raw, int(piece)+1, int(limit)) })
		checkBounded(t, s, int(limit))

		// The tool input is JSON: an object holding args, streamed in
		// two partial_json pieces cut between runes.
		input := `{"q":` + string(jstr(args)) + `}`
		k := runeCut(input, len(input)/2)
		var st []byte
		st = sseEvent(st, "message_start", `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"usage":{"input_tokens":5,"output_tokens":1}}}`)
		st = sseEvent(st, "content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
		st = sseEvent(st, "ping", `{"type":"ping"}`)
		for _, d := range []string{a, b, c} {
			st = sseEvent(st, "content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":`, string(jstr(d)), `}}`)
		}
		st = sseEvent(st, "content_block_stop", `{"type":"content_block_stop","index":0}`)
		st = sseEvent(st, "content_block_start", `{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"lookup","input":{}}}`)
		for _, d := range []string{input[:k], input[k:]} {
			st = sseEvent(st, "content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":`, string(jstr(d)), `}}`)
		}
		st = sseEvent(st, "content_block_stop", `{"type":"content_block_stop","index":1}`)
		st = sseEvent(st, "message_delta", `{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":6}}`)
		st = sseEvent(st, "message_stop", `{"type":"message_stop"}`)
		s = NewStream(APIAnthropic, 0)
		feedSSE(s, st, int(piece)+1, 0)
		if !s.Done() {
			t.Fatal("stream with message_stop not done")
		}
		res := checkBounded(t, s, 0)
		want := onWire(a) + onWire(b) + onWire(c)
		if got := Text(res.Messages); got != want {
			t.Fatalf("reassembled %q, want %q", got, want)
		}
		if len(res.Messages) != 1 || res.Messages[0].FinishReason != "tool_use" || res.ID != "msg_1" || res.Model != "claude-x" ||
			res.InputTokens == nil || *res.InputTokens != 5 || res.OutputTokens == nil || *res.OutputTokens != 6 {
			t.Fatalf("reply lost its metadata: %+v", res)
		}
		wantTool(t, res.Messages[0].Parts, "toolu_1", "lookup", input)

		s = NewStream(APIAnthropic, int(limit))
		feedSSE(s, st[:bytes.Index(st, []byte("event: content_block_stop"))], int(piece)+1, int(limit))
		checkPrefix(t, checkBounded(t, s, int(limit)), want)
	})
}

// FuzzOllamaStream fuzzes the reassembly of Ollama's NDJSON streams
// (/api/chat message.content, /api/generate response).
func FuzzOllamaStream(f *testing.F) {
	streamSeeds(f,
		"{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"done\":false}\n{\"model\":\"llama3\",\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":3,\"eval_count\":2}\n",
		"{\"response\":\"a\"}\n{\"error\":\"model not found\"}\n",
	)
	f.Fuzz(func(t *testing.T, raw []byte, a, b, c, _ string, piece uint8, limit uint16) {
		for _, api := range []API{APIOllamaChat, APIOllamaGenerate} {
			s := NewStream(api, int(limit))
			allocBound(t, len(raw), func() { feedLines(s, raw, int(limit)) })
			checkBounded(t, s, int(limit))
		}
		var st []byte
		for _, d := range []string{a, b, c} {
			st = append(append(append(st, `{"model":"llama3","created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant","content":`...), jstr(d)...), "},\"done\":false}\n"...)
		}
		st = append(st, `{"model":"llama3","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":5,"eval_count":6}`+"\n"...)
		s := NewStream(APIOllamaChat, 0)
		feedLines(s, st, 0)
		res := checkBounded(t, s, 0)
		want := onWire(a) + onWire(b) + onWire(c)
		if got := Text(res.Messages); got != want {
			t.Fatalf("reassembled %q, want %q", got, want)
		}
		if !s.Done() || res.Model != "llama3" || len(res.FinishReasons) != 1 || res.FinishReasons[0] != "stop" ||
			res.InputTokens == nil || *res.InputTokens != 5 || res.OutputTokens == nil || *res.OutputTokens != 6 {
			t.Fatalf("reply lost its metadata: done %v %+v", s.Done(), res)
		}
		s = NewStream(APIOllamaChat, int(limit))
		feedLines(s, st, int(limit))
		checkPrefix(t, checkBounded(t, s, int(limit)), want)
	})
}

// frame encodes one AWS event-stream event message.
func frame(t testing.TB, typ string, payload []byte) []byte {
	t.Helper()
	var h aws.Headers
	h.Set(":message-type", aws.StringValue("event"))
	h.Set(":event-type", aws.StringValue(typ))
	h.Set(":content-type", aws.StringValue("application/json"))
	var b bytes.Buffer
	if err := aws.NewEncoder().Encode(&b, aws.Message{Headers: h, Payload: payload}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// exceptionFrame encodes one AWS event-stream exception message.
func exceptionFrame(t testing.TB, typ string) []byte {
	t.Helper()
	var h aws.Headers
	h.Set(":message-type", aws.StringValue("exception"))
	h.Set(":exception-type", aws.StringValue(typ))
	var b bytes.Buffer
	if err := aws.NewEncoder().Encode(&b, aws.Message{Headers: h, Payload: []byte(`{"message":"m"}`)}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// chunkFrame encodes one InvokeModelWithResponseStream chunk: the model's
// own JSON, base64 in the payload's "bytes" member.
func chunkFrame(t testing.TB, inner []byte) []byte {
	return frame(t, "chunk", []byte(`{"bytes":"`+base64.StdEncoding.EncodeToString(inner)+`"}`))
}

// feedFrames feeds an AWS event stream to s as the middleware does:
// through a decoder with the same cap, in pieces of the given size, a
// message skipped for being over the cap marking the reply truncated
// before the next message is fed.
func feedFrames(s *Stream, stream []byte, piece, limit int) {
	var d *eventstream.Decoder
	d = eventstream.New(limit, func(m eventstream.Message) {
		if d.Skipped() > 0 {
			s.Truncated()
		}
		t := m.ExceptionType
		if m.MessageType == "error" {
			t = m.ErrorCode
		}
		s.EventStreamMessage(m.MessageType, m.EventType, t, m.Payload)
	})
	for b := stream; len(b) > 0; b = b[min(piece, len(b)):] {
		_, _ = d.Write(b[:min(piece, len(b))])
	}
	if d.Skipped() > 0 {
		s.Truncated() // a message over the cap: its content is missing
	}
}

// framesOf turns the fuzzer's bytes into an AWS event stream: each line
// is one message, "type payload" (a payload alone is a chunk, and so is a
// line whose type is "chunk"; "!type" is an exception).
func framesOf(t testing.TB, raw []byte) []byte {
	var out []byte
	for l := range bytes.SplitSeq(raw, []byte("\n")) {
		typ, payload, ok := bytes.Cut(l, []byte(" "))
		switch {
		case !ok:
			out = append(out, chunkFrame(t, l)...)
		case bytes.HasPrefix(typ, []byte("!")):
			out = append(out, exceptionFrame(t, string(typ[1:]))...)
		case string(typ) == "chunk":
			out = append(out, chunkFrame(t, payload)...)
		default:
			out = append(out, frame(t, string(typ), payload)...)
		}
	}
	return out
}

// FuzzConverseStream fuzzes the reassembly of Bedrock ConverseStream:
// AWS event-stream messages whose event type names the event, content
// blocks by contentBlockIndex (text, toolUse input, reasoning).
func FuzzConverseStream(f *testing.F) {
	streamSeeds(f,
		"contentBlockDelta {\"contentBlockIndex\":4000000000,\"delta\":{\"toolUse\":{\"input\":\"{\"}}}",
		"contentBlockStart {\"contentBlockIndex\":1023,\"start\":{\"toolUse\":{\"toolUseId\":\"t\",\"name\":\"f\"}}}\nmessageStop {\"stopReason\":\"tool_use\"}",
		"messageStart {\"role\":\"assistant\"}\ncontentBlockDelta {\"contentBlockIndex\":0,\"delta\":{\"reasoningContent\":{\"text\":\"r\"}}}\nmetadata {\"usage\":{\"inputTokens\":1,\"outputTokens\":2}}",
		"!throttlingException x",
	)
	f.Fuzz(func(t *testing.T, raw []byte, a, b, c, args string, piece uint8, limit uint16) {
		stream := framesOf(t, raw)
		s := NewStream(APIBedrockConverse, int(limit))
		allocBound(t, len(stream), func() { feedFrames(s, stream, int(piece)+1, int(limit)) })
		checkBounded(t, s, int(limit))

		input := `{"q":` + string(jstr(args)) + `}`
		k := runeCut(input, len(input)/2)
		var st []byte
		st = append(st, frame(t, "messageStart", []byte(`{"role":"assistant"}`))...)
		for _, d := range []string{a, b, c} {
			st = append(st, frame(t, "contentBlockDelta", []byte(`{"contentBlockIndex":0,"delta":{"text":`+string(jstr(d))+`}}`))...)
		}
		st = append(st, frame(t, "contentBlockStop", []byte(`{"contentBlockIndex":0}`))...)
		st = append(st, frame(t, "contentBlockStart", []byte(`{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"tooluse_1","name":"lookup"}}}`))...)
		for _, d := range []string{input[:k], input[k:]} {
			st = append(st, frame(t, "contentBlockDelta", []byte(`{"contentBlockIndex":1,"delta":{"toolUse":{"input":`+string(jstr(d))+`}}}`))...)
		}
		st = append(st, frame(t, "messageStop", []byte(`{"stopReason":"tool_use"}`))...)
		st = append(st, frame(t, "metadata", []byte(`{"usage":{"inputTokens":5,"outputTokens":6},"metrics":{"latencyMs":9}}`))...)
		s = NewStream(APIBedrockConverse, 0)
		feedFrames(s, st, int(piece)+1, 0)
		res := checkBounded(t, s, 0)
		want := onWire(a) + onWire(b) + onWire(c)
		if got := Text(res.Messages); got != want {
			t.Fatalf("reassembled %q, want %q", got, want)
		}
		if !s.Done() || len(res.Messages) != 1 || res.Messages[0].FinishReason != "tool_use" ||
			res.InputTokens == nil || *res.InputTokens != 5 || res.OutputTokens == nil || *res.OutputTokens != 6 {
			t.Fatalf("reply lost its metadata: done %v %+v", s.Done(), res)
		}
		wantTool(t, res.Messages[0].Parts, "tooluse_1", "lookup", input)

		s = NewStream(APIBedrockConverse, int(limit))
		feedFrames(s, st, int(piece)+1, int(limit))
		checkPrefix(t, checkBounded(t, s, int(limit)), want)
	})
}

// FuzzInvokeStream fuzzes the reassembly of Bedrock
// InvokeModelWithResponseStream: chunks in a model family's own shape
// (Titan, Llama, Mistral, Cohere, Amazon Nova's Converse-shaped events)
// or, for an Anthropic body, Anthropic's stream events, with the
// invocation metrics Bedrock adds to the last chunk.
func FuzzInvokeStream(f *testing.F) {
	streamSeeds(f,
		"{\"outputText\":\"Hi\",\"index\":0}\n{\"outputText\":\"!\",\"completionReason\":\"FINISH\",\"amazon-bedrock-invocationMetrics\":{\"inputTokenCount\":3,\"outputTokenCount\":2}}",
		"{\"contentBlockDelta\":{\"contentBlockIndex\":4000000000,\"delta\":{\"text\":\"x\"}}}\n{\"outputs\":[{\"text\":\"m\",\"stop_reason\":\"stop\"}]}",
		"{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n{\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":{\"inputTokenCount\":1}}",
		"chunk {\"bytes\":\"not base64\"}\n!modelStreamErrorException x",
	)
	f.Fuzz(func(t *testing.T, raw []byte, a, b, c, _ string, piece uint8, limit uint16) {
		stream := framesOf(t, raw)
		for _, api := range []API{APIBedrockInvoke, APIAnthropic} {
			s := NewStream(api, int(limit))
			allocBound(t, len(stream), func() { feedFrames(s, stream, int(piece)+1, int(limit)) })
			checkBounded(t, s, int(limit))
		}

		// Amazon Titan's chunks, the last with the invocation metrics.
		var st []byte
		for i, d := range []string{a, b, c} {
			inner := `{"outputText":` + string(jstr(d)) + `,"index":0`
			if i == 2 {
				inner += `,"completionReason":"FINISH","amazon-bedrock-invocationMetrics":{"inputTokenCount":5,"outputTokenCount":6}`
			}
			st = append(st, chunkFrame(t, []byte(inner+"}"))...)
		}
		s := NewStream(APIBedrockInvoke, 0)
		feedFrames(s, st, int(piece)+1, 0)
		res := checkBounded(t, s, 0)
		want := onWire(a) + onWire(b) + onWire(c)
		if got := Text(res.Messages); got != want {
			t.Fatalf("reassembled %q, want %q", got, want)
		}
		if !s.Done() || len(res.FinishReasons) != 1 || res.FinishReasons[0] != "FINISH" ||
			res.InputTokens == nil || *res.InputTokens != 5 || res.OutputTokens == nil || *res.OutputTokens != 6 {
			t.Fatalf("reply lost its metadata: done %v %+v", s.Done(), res)
		}
		s = NewStream(APIBedrockInvoke, int(limit))
		feedFrames(s, st, int(piece)+1, int(limit))
		checkPrefix(t, checkBounded(t, s, int(limit)), want)

		// An Anthropic model's chunks.
		st = st[:0]
		st = append(st, chunkFrame(t, []byte(`{"type":"message_start","message":{"id":"msg_1","model":"claude-x","usage":{"input_tokens":5,"output_tokens":1}}}`))...)
		for _, d := range []string{a, b, c} {
			st = append(st, chunkFrame(t, []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":`+string(jstr(d))+`}}`))...)
		}
		st = append(st, chunkFrame(t, []byte(`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":6}}`))...)
		st = append(st, chunkFrame(t, []byte(`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":5,"outputTokenCount":6}}`))...)
		s = NewStream(APIAnthropic, 0)
		feedFrames(s, st, int(piece)+1, 0)
		res = checkBounded(t, s, 0)
		if got := Text(res.Messages); got != want || !s.Done() || res.ID != "msg_1" || *res.OutputTokens != 6 {
			t.Fatalf("reassembled %q (done %v, %+v), want %q", got, s.Done(), res, want)
		}
	})
}
