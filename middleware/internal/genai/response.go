package genai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

type usage struct {
	PromptTokens     *int64 `json:"prompt_tokens"`
	CompletionTokens *int64 `json:"completion_tokens"`
	InputTokens      *int64 `json:"input_tokens"`
	OutputTokens     *int64 `json:"output_tokens"`
	CacheCreation    *int64 `json:"cache_creation_input_tokens"`
	CacheRead        *int64 `json:"cache_read_input_tokens"`
}

// counts returns input and output tokens. Anthropic's input_tokens
// excludes cached tokens; semconv's gen_ai.usage.input_tokens includes them,
// so they are added.
func (u *usage) counts() (in, out *int64) {
	if u == nil {
		return nil, nil
	}
	in, out = u.PromptTokens, u.CompletionTokens
	if u.InputTokens != nil {
		in = u.InputTokens
		if u.CacheCreation != nil || u.CacheRead != nil {
			v := *in
			if u.CacheCreation != nil {
				v += *u.CacheCreation
			}
			if u.CacheRead != nil {
				v += *u.CacheRead
			}
			in = &v
		}
	}
	if u.OutputTokens != nil {
		out = u.OutputTokens
	}
	return in, out
}

type errBody struct {
	Code    json.RawMessage `json:"code"`
	Type    string          `json:"type"`
	Message string          `json:"message"`
}

type choice struct {
	Index        int         `json:"index"`
	Message      chatMessage `json:"message"`
	Delta        chatDelta   `json:"delta"`
	Text         *string     `json:"text"`
	FinishReason *string     `json:"finish_reason"`
}

type chatDelta struct {
	Role      string  `json:"role"`
	Content   *string `json:"content"`
	Refusal   *string `json:"refusal"`
	ToolCalls []struct {
		Index    int    `json:"index"`
		ID       string `json:"id"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

type responseBody struct {
	ID      string          `json:"id"`
	Model   string          `json:"model"`
	Type    string          `json:"type"`
	Object  string          `json:"object"`
	Choices []choice        `json:"choices"`
	Usage   *usage          `json:"usage"`
	Error   json.RawMessage `json:"error"`

	// Responses API
	Status            string                   `json:"status"`
	Output            []chatMessage            `json:"output"`
	IncompleteDetails *struct{ Reason string } `json:"incomplete_details"`

	// Anthropic
	Content    json.RawMessage `json:"content"`
	StopReason *string         `json:"stop_reason"`
	Role       string          `json:"role"`

	// Ollama
	Message         *chatMessage `json:"message"`
	Response        *string      `json:"response"`
	DoneReason      string       `json:"done_reason"`
	Done            bool         `json:"done"`
	PromptEvalCount *int64       `json:"prompt_eval_count"`
	EvalCount       *int64       `json:"eval_count"`
}

// errorType picks error.type from an error value: the provider's code when
// it is a string, else its type; "" when nothing fits.
func errorType(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] == '"' { // Ollama: {"error": "message"}
		return "error"
	}
	var e errBody
	if json.Unmarshal(raw, &e) != nil {
		return "error"
	}
	var code string
	if json.Unmarshal(e.Code, &code) == nil && code != "" {
		return code
	}
	if e.Type != "" {
		return e.Type
	}
	if n, err := strconv.Atoi(string(bytes.TrimSpace(e.Code))); err == nil {
		return strconv.Itoa(n)
	}
	return "error"
}

// ErrorType extracts error.type from an error reply: the provider's code or
// type when the body has one, else the HTTP status code.
func ErrorType(status int, body []byte) string {
	var rb struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(bytes.TrimSpace(body), &rb) == nil {
		if t := errorType(rb.Error); t != "" && t != "error" {
			return t
		}
	}
	return strconv.Itoa(status)
}

// ParseResponse extracts a [Response] from a complete (non-streaming) JSON
// reply in the given API. A body that is not valid JSON gives an error and
// an empty result.
func ParseResponse(api API, body []byte) (*Response, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return &Response{}, ErrNotJSON
	}
	var rb responseBody
	if err := json.Unmarshal(body, &rb); err != nil {
		return &Response{}, fmt.Errorf("genai: response body: %w", err)
	}
	return fromBody(api, &rb), nil
}

func fromBody(api API, rb *responseBody) *Response {
	r := &Response{ID: rb.ID, Model: rb.Model}
	r.InputTokens, r.OutputTokens = rb.Usage.counts()
	r.ErrorType = errorType(rb.Error)
	switch api {
	case APIResponses:
		msg, reasons := responsesOutput(rb)
		if len(msg.Parts) > 0 {
			r.Messages = []Message{msg}
		}
		r.FinishReasons = reasons
		if rb.Status == "failed" && r.ErrorType == "" {
			r.ErrorType = "response_failed"
		}
	case APIAnthropic:
		msg := Message{Role: "assistant", Parts: parseContent(rb.Content)}
		if msg.Parts == nil {
			msg.Parts = []Part{}
		}
		if rb.StopReason != nil {
			msg.FinishReason = *rb.StopReason
			r.FinishReasons = []string{*rb.StopReason}
		}
		if rb.Content != nil || rb.StopReason != nil {
			r.Messages = []Message{msg}
		}
	case APIOllamaChat, APIOllamaGenerate, APIOllamaEmbed:
		r.InputTokens, r.OutputTokens = rb.PromptEvalCount, rb.EvalCount
		if api == APIOllamaEmbed {
			r.OutputTokens = nil
		}
		var parts []Part
		if rb.Message != nil {
			parts = chatMessages([]chatMessage{*rb.Message})[0].Parts
		} else if rb.Response != nil {
			parts = []Part{textPart(*rb.Response)}
		}
		if parts != nil {
			m := Message{Role: "assistant", Parts: parts, FinishReason: rb.DoneReason}
			r.Messages = []Message{m}
			if rb.DoneReason != "" {
				r.FinishReasons = []string{rb.DoneReason}
			}
		}
	case APIEmbeddings:
		// No output content: the vectors are not text.
		r.OutputTokens = nil
	default: // chat completions, completions, unknown
		for _, c := range rb.Choices {
			m := Message{Role: "assistant"}
			if c.Text != nil {
				m.Parts = []Part{textPart(*c.Text)}
			} else {
				if c.Message.Role != "" {
					m.Role = c.Message.Role
				}
				m.Parts = chatMessages([]chatMessage{c.Message})[0].Parts
			}
			if c.FinishReason != nil {
				m.FinishReason = *c.FinishReason
				r.FinishReasons = append(r.FinishReasons, *c.FinishReason)
			}
			r.Messages = append(r.Messages, m)
		}
	}
	return r
}

// responsesOutput folds the Responses API output items into one assistant
// message and works out the finish reason.
func responsesOutput(rb *responseBody) (Message, []string) {
	msg := Message{Role: "assistant", Parts: []Part{}}
	toolCall := false
	for _, it := range rb.Output {
		switch it.Type {
		case "message":
			msg.Parts = append(msg.Parts, parseContent(it.Content)...)
		case "function_call":
			toolCall = true
			msg.Parts = append(msg.Parts, Part{Type: "tool_call", ID: it.CallID, Name: it.Name, Arguments: argsJSON(it.Arguments)})
		case "reasoning":
			// Summaries only; encrypted reasoning is not content.
		default:
			if it.Type != "" {
				msg.Parts = append(msg.Parts, Part{Type: it.Type})
			}
		}
	}
	var reason string
	switch {
	case rb.Status == "incomplete" && rb.IncompleteDetails != nil && rb.IncompleteDetails.Reason != "":
		reason = rb.IncompleteDetails.Reason
	case rb.Status == "failed":
		reason = "error"
	case toolCall:
		reason = "tool_calls"
	case rb.Status == "completed":
		reason = "stop"
	}
	msg.FinishReason = reason
	if reason == "" {
		return msg, nil
	}
	return msg, []string{reason}
}
