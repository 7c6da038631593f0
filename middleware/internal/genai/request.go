package genai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNotJSON is returned for a body that is not a JSON object.
var ErrNotJSON = errors.New("genai: body is not a JSON object")

type chatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCalls  []toolCall      `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
	Refusal    *string         `json:"refusal"`
	Type       string          `json:"type"`
	// Responses API items that are not messages.
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
	Output    json.RawMessage `json:"output"`
}

type toolCall struct {
	ID       string `json:"id"`
	Function struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

type requestBody struct {
	Model         string `json:"model"`
	Stream        *bool  `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Messages     []chatMessage   `json:"messages"`
	System       json.RawMessage `json:"system"`       // Anthropic, Ollama generate
	Instructions json.RawMessage `json:"instructions"` // Responses
	Input        json.RawMessage `json:"input"`        // Responses, embeddings, Ollama embed
	Prompt       json.RawMessage `json:"prompt"`       // completions, Ollama generate

	Conversation   json.RawMessage `json:"conversation"`
	ConversationID string          `json:"conversation_id"`
	Metadata       map[string]any  `json:"metadata"`

	MaxTokens           *int64   `json:"max_tokens"`
	MaxCompletionTokens *int64   `json:"max_completion_tokens"`
	MaxOutputTokens     *int64   `json:"max_output_tokens"`
	Temperature         *float64 `json:"temperature"`
	TopP                *float64 `json:"top_p"`
}

// ParseRequest extracts a [Request] from the JSON body of a call in the
// given API. Partial data is returned with an error when the body is not
// valid JSON for that API; the caller decides how to record it.
func ParseRequest(api API, body []byte) (*Request, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return &Request{}, ErrNotJSON
	}
	var rb requestBody
	if err := json.Unmarshal(body, &rb); err != nil {
		return &Request{}, fmt.Errorf("genai: request body: %w", err)
	}
	r := &Request{Model: rb.Model, Temperature: rb.Temperature, TopP: rb.TopP}
	switch {
	case rb.MaxTokens != nil:
		r.MaxTokens = rb.MaxTokens
	case rb.MaxCompletionTokens != nil:
		r.MaxTokens = rb.MaxCompletionTokens
	case rb.MaxOutputTokens != nil:
		r.MaxTokens = rb.MaxOutputTokens
	}
	if rb.Stream != nil {
		r.Stream = *rb.Stream
	} else if api == APIOllamaChat || api == APIOllamaGenerate {
		r.Stream = true // Ollama streams unless told not to
	}
	if rb.StreamOptions != nil {
		r.IncludeUsage = rb.StreamOptions.IncludeUsage
	}
	r.ConversationID = conversationID(rb)

	switch api {
	case APIResponses:
		r.System = parseContent(rb.Instructions)
		r.Messages = responsesInput(rb.Input)
	case APIAnthropic:
		r.System = parseContent(rb.System)
		r.Messages = chatMessages(rb.Messages)
	case APICompletions, APIOllamaGenerate:
		r.System = parseContent(rb.System)
		if ps := parseContent(rb.Prompt); len(ps) > 0 {
			r.Messages = []Message{{Role: "user", Parts: ps}}
		}
	case APIEmbeddings, APIOllamaEmbed:
		if ps := parseContent(rb.Input); len(ps) > 0 {
			r.Messages = []Message{{Role: "user", Parts: ps}}
		}
	default: // chat completions, Ollama chat, and unknown JSON with messages
		r.Messages = chatMessages(rb.Messages)
	}
	return r, nil
}

func conversationID(rb requestBody) string {
	if rb.ConversationID != "" {
		return rb.ConversationID
	}
	if c := bytes.TrimSpace(rb.Conversation); len(c) > 0 {
		var s string
		if json.Unmarshal(c, &s) == nil {
			return s
		}
		var o struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(c, &o) == nil {
			return o.ID
		}
	}
	for _, k := range []string{"conversation_id", "session_id", "thread_id"} {
		if s, ok := rb.Metadata[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

func chatMessages(ms []chatMessage) []Message {
	out := make([]Message, 0, len(ms))
	for _, m := range ms {
		msg := Message{Role: m.Role}
		if m.Role == "tool" && m.ToolCallID != "" {
			msg.Parts = []Part{{Type: "tool_call_response", ID: m.ToolCallID, Response: contentAsJSON(m.Content)}}
		} else {
			msg.Parts = parseContent(m.Content)
		}
		if m.Refusal != nil && *m.Refusal != "" {
			msg.Parts = append(msg.Parts, Part{Type: "refusal", Content: *m.Refusal})
		}
		for _, tc := range m.ToolCalls {
			msg.Parts = append(msg.Parts, Part{Type: "tool_call", ID: tc.ID, Name: tc.Function.Name, Arguments: argsJSON(tc.Function.Arguments)})
		}
		if msg.Parts == nil {
			msg.Parts = []Part{}
		}
		out = append(out, msg)
	}
	return out
}

// responsesInput parses the Responses API "input": a string or a list of
// items (messages, function calls and their outputs).
func responsesInput(raw json.RawMessage) []Message {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] == 'n' {
		return nil
	}
	if raw[0] == '"' {
		return []Message{{Role: "user", Parts: parseContent(raw)}}
	}
	var items []chatMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil
	}
	out := make([]Message, 0, len(items))
	for _, it := range items {
		switch it.Type {
		case "function_call":
			out = append(out, Message{Role: "assistant", Parts: []Part{{Type: "tool_call", ID: it.CallID, Name: it.Name, Arguments: argsJSON(it.Arguments)}}})
		case "function_call_output":
			out = append(out, Message{Role: "tool", Parts: []Part{{Type: "tool_call_response", ID: it.CallID, Response: contentAsJSON(it.Output)}}})
		case "", "message":
			parts := parseContent(it.Content)
			if parts == nil {
				parts = []Part{}
			}
			role := it.Role
			if role == "" {
				role = "user"
			}
			out = append(out, Message{Role: role, Parts: parts})
		default:
			out = append(out, Message{Role: "user", Parts: []Part{{Type: it.Type}}})
		}
	}
	return out
}
