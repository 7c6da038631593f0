package fakellm

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// WithToolCall makes Gemini and Bedrock replies a call of the tool name with
// the JSON arguments args instead of text (finish reason "STOP" for Gemini,
// stop reason "tool_use" for Bedrock). Streams send the arguments in
// pieces where the wire format does (Bedrock).
func WithToolCall(name, args string) Option {
	return optionFunc(func(c *config) { c.toolName, c.toolArgs = name, args })
}

// ToolCallID is the id of the tool call [WithToolCall] replies carry.
const ToolCallID = "tooluse_fake1"

// modelOf returns the model named by a Gemini (.../models/{m}:method) or
// Bedrock (/model/{id}/operation) path.
func modelOf(path string) string {
	if i := strings.LastIndex(path, "/models/"); i >= 0 {
		m, _, _ := strings.Cut(path[i+len("/models/"):], ":")
		return m
	}
	rest := strings.TrimPrefix(path, "/model/")
	if i := strings.LastIndexByte(rest, '/'); i > 0 {
		id, err := url.PathUnescape(rest[:i])
		if err == nil {
			return id
		}
		return rest[:i]
	}
	return ""
}

// googleStatus is the status name Google APIs give an HTTP status.
func googleStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	}
	return "INTERNAL"
}

// bedrockErrorType is the exception Bedrock Runtime names for an HTTP
// status.
func bedrockErrorType(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "ValidationException"
	case http.StatusForbidden, http.StatusUnauthorized:
		return "AccessDeniedException"
	case http.StatusNotFound:
		return "ResourceNotFoundException"
	case http.StatusTooManyRequests:
		return "ThrottlingException"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailableException"
	}
	return "InternalServerException"
}

// ---- Google Gemini (Gemini API and Vertex AI paths) ----

func (s *stream) gemini() {
	respID := "resp-fake" + s.id
	usage := func(out int, final bool) map[string]any {
		u := map[string]any{"promptTokenCount": s.h.cfg.inTok, "totalTokenCount": s.h.cfg.inTok + out}
		if final || out > 0 {
			u["candidatesTokenCount"] = out
		}
		return u
	}
	chunk := func(parts []any, finish string, out int) map[string]any {
		cand := map[string]any{"content": map[string]any{"role": "model", "parts": parts}, "index": 0}
		if finish != "" {
			cand["finishReason"] = finish
		}
		c := map[string]any{"candidates": []any{cand}, "modelVersion": s.model, "responseId": respID}
		if s.usageOK() {
			c["usageMetadata"] = usage(out, finish != "")
		}
		return c
	}
	var toolPart map[string]any
	if s.h.cfg.toolName != "" {
		toolPart = map[string]any{"functionCall": map[string]any{"id": ToolCallID, "name": s.h.cfg.toolName, "args": json.RawMessage(s.h.cfg.toolArgs)}}
	}
	if !strings.HasSuffix(s.r.URL.Path, ":streamGenerateContent") {
		part := map[string]any{"text": s.h.cfg.reply}
		if toolPart != nil {
			part = toolPart
		}
		s.writeJSON(chunk([]any{part}, "STOP", s.outTok))
		return
	}
	if s.r.URL.Query().Get("alt") != "sse" {
		// Without alt=sse the chunks come as one JSON array.
		var all []any
		for _, c := range s.chunks {
			all = append(all, chunk([]any{map[string]any{"text": c}}, "", 0))
		}
		all = append(all, chunk([]any{map[string]any{"text": ""}}, "STOP", s.outTok))
		s.writeJSON(all)
		return
	}
	s.startSSE("text/event-stream")
	if toolPart != nil {
		s.event("", chunk([]any{toolPart}, "STOP", s.outTok))
		return
	}
	for i, c := range s.chunks {
		if !s.beforeChunk(i) {
			return
		}
		finish, out := "", 0
		if i == len(s.chunks)-1 {
			finish, out = "STOP", s.outTok
		}
		s.event("", chunk([]any{map[string]any{"text": c}}, finish, out))
	}
	if len(s.chunks) == 0 {
		s.event("", chunk([]any{map[string]any{"text": ""}}, "STOP", s.outTok))
	}
}

// ---- AWS Bedrock Runtime ----

func (s *stream) bedrock() {
	path := strings.TrimSuffix(s.r.URL.Path, "/")
	op := path[strings.LastIndexByte(path, '/')+1:]
	switch op {
	case "converse":
		s.converse()
	case "converse-stream":
		s.converseStream()
	case "invoke":
		s.invoke()
	case "invoke-with-response-stream":
		s.invokeStream()
	default:
		s.h.fail(s.w, routeBedrock, http.StatusNotFound, "Unknown operation "+op)
	}
}

func (s *stream) bedrockUsage() map[string]any {
	return map[string]any{"inputTokens": s.h.cfg.inTok, "outputTokens": s.outTok, "totalTokens": s.h.cfg.inTok + s.outTok}
}

func (s *stream) converse() {
	content := []any{map[string]any{"text": s.h.cfg.reply}}
	stop := "end_turn"
	if s.h.cfg.toolName != "" {
		content = []any{map[string]any{"toolUse": map[string]any{"toolUseId": ToolCallID, "name": s.h.cfg.toolName, "input": json.RawMessage(s.h.cfg.toolArgs)}}}
		stop = "tool_use"
	}
	resp := map[string]any{
		"output":     map[string]any{"message": map[string]any{"role": "assistant", "content": content}},
		"stopReason": stop, "metrics": map[string]any{"latencyMs": 12},
	}
	if s.usageOK() {
		resp["usage"] = s.bedrockUsage()
	}
	s.writeJSON(resp)
}

// frame encodes one event-stream message (messageType "event" with an
// event type, or "exception" with an exception type) holding v as JSON.
func (s *stream) frame(messageType, typ string, v any) []byte {
	payload, _ := json.Marshal(v)
	var h eventstream.Headers
	h.Set(":message-type", eventstream.StringValue(messageType))
	if messageType == "exception" {
		h.Set(":exception-type", eventstream.StringValue(typ))
	} else {
		h.Set(":event-type", eventstream.StringValue(typ))
	}
	h.Set(":content-type", eventstream.StringValue("application/json"))
	var b bytes.Buffer
	_ = s.frames.Encode(&b, eventstream.Message{Headers: h, Payload: payload})
	return b.Bytes()
}

// send writes and flushes one event-stream message.
func (s *stream) send(typ string, v any) {
	_, _ = s.w.Write(s.frame("event", typ, v))
	s.flush()
}

func (s *stream) startFrames() {
	s.frames = eventstream.NewEncoder()
	s.w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	s.w.Header().Set("X-Amzn-RequestId", "req_"+s.id)
	s.w.WriteHeader(http.StatusOK)
	s.flush()
}

func (s *stream) converseStream() {
	s.startFrames()
	s.send("messageStart", map[string]any{"role": "assistant"})
	stop := "end_turn"
	if s.h.cfg.toolName != "" {
		stop = "tool_use"
		s.send("contentBlockStart", map[string]any{"contentBlockIndex": 0,
			"start": map[string]any{"toolUse": map[string]any{"toolUseId": ToolCallID, "name": s.h.cfg.toolName}}})
		a := s.h.cfg.toolArgs
		for _, piece := range []string{a[:len(a)/2], a[len(a)/2:]} {
			s.send("contentBlockDelta", map[string]any{"contentBlockIndex": 0, "delta": map[string]any{"toolUse": map[string]any{"input": piece}}})
		}
	} else {
		for i, c := range s.chunks {
			if !s.beforeChunk(i) {
				return
			}
			s.send("contentBlockDelta", map[string]any{"contentBlockIndex": 0, "delta": map[string]any{"text": c}})
		}
	}
	s.send("contentBlockStop", map[string]any{"contentBlockIndex": 0})
	s.send("messageStop", map[string]any{"stopReason": stop})
	md := map[string]any{"metrics": map[string]any{"latencyMs": 12}}
	if s.usageOK() {
		md["usage"] = s.bedrockUsage()
	}
	s.send("metadata", md)
}

// invoke answers InvokeModel. Anthropic bodies (anthropic_version) get an
// Anthropic Messages reply; other bodies get Amazon Titan's text reply.
// Token counts are in the headers, as Bedrock sends them.
func (s *stream) invoke() {
	if s.usageOK() {
		s.w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", fmt.Sprint(s.h.cfg.inTok))
		s.w.Header().Set("X-Amzn-Bedrock-Output-Token-Count", fmt.Sprint(s.outTok))
	}
	if !bytes.Contains(s.body, []byte(`"anthropic_version"`)) {
		s.writeJSON(map[string]any{"inputTextTokenCount": s.h.cfg.inTok, "results": []any{map[string]any{
			"tokenCount": s.outTok, "outputText": s.h.cfg.reply, "completionReason": "FINISH"}}})
		return
	}
	resp := map[string]any{
		"id": "msg_bdrk_fake" + s.id, "type": "message", "role": "assistant", "model": s.model,
		"content":     []any{map[string]any{"type": "text", "text": s.h.cfg.reply}},
		"stop_reason": "end_turn", "stop_sequence": nil,
	}
	if s.usageOK() {
		resp["usage"] = map[string]any{"input_tokens": s.h.cfg.inTok, "output_tokens": s.outTok}
	}
	s.writeJSON(resp)
}

// invokeStream answers InvokeModelWithResponseStream with Anthropic's
// stream events, each base64 in a "chunk" event, and Bedrock's invocation
// metrics on the last.
func (s *stream) invokeStream() {
	s.startFrames()
	chunk := func(v map[string]any) {
		b, _ := json.Marshal(v)
		s.send("chunk", map[string]any{"bytes": base64.StdEncoding.EncodeToString(b)})
	}
	start := map[string]any{"id": "msg_bdrk_fake" + s.id, "type": "message", "role": "assistant", "model": s.model,
		"content": []any{}, "stop_reason": nil}
	if s.usageOK() {
		start["usage"] = map[string]any{"input_tokens": s.h.cfg.inTok, "output_tokens": 1}
	}
	chunk(map[string]any{"type": "message_start", "message": start})
	chunk(map[string]any{"type": "content_block_start", "index": 0, "content_block": map[string]any{"type": "text", "text": ""}})
	for i, c := range s.chunks {
		if !s.beforeChunk(i) {
			return
		}
		chunk(map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "text_delta", "text": c}})
	}
	chunk(map[string]any{"type": "content_block_stop", "index": 0})
	md := map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": "end_turn"}}
	if s.usageOK() {
		md["usage"] = map[string]any{"output_tokens": s.outTok}
	}
	chunk(md)
	stop := map[string]any{"type": "message_stop"}
	if s.usageOK() {
		stop["amazon-bedrock-invocationMetrics"] = map[string]any{"inputTokenCount": s.h.cfg.inTok, "outputTokenCount": s.outTok,
			"invocationLatency": 12, "firstByteLatency": 3}
	}
	chunk(stop)
}
