package genai

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Part is one part of a message in the GenAI semantic-convention shape
// (gen_ai.input.messages / gen_ai.output.messages / gen_ai.system_instructions).
type Part struct {
	Type      string          `json:"type"`
	Content   string          `json:"content,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
	Response  json.RawMessage `json:"response,omitempty"`
	Modality  string          `json:"modality,omitempty"`
	MimeType  string          `json:"mime_type,omitempty"`
	URI       string          `json:"uri,omitempty"`
}

// Message is one chat message in the GenAI semantic-convention shape.
type Message struct {
	Role         string `json:"role"`
	Parts        []Part `json:"parts"`
	FinishReason string `json:"finish_reason,omitempty"`
}

// Request is what was extracted from a request body.
type Request struct {
	Model  string
	Stream bool
	// IncludeUsage is stream_options.include_usage (OpenAI).
	IncludeUsage bool
	Messages     []Message
	System       []Part
	// ConversationID comes from the body ("conversation", "conversation_id"
	// or metadata.conversation_id) when present.
	ConversationID string
	MaxTokens      *int64
	Temperature    *float64
	TopP           *float64
}

// Response is what was extracted from a response body or a reassembled
// stream. Nil token counts mean the reply did not say.
type Response struct {
	ID            string
	Model         string
	Messages      []Message
	FinishReasons []string
	InputTokens   *int64
	OutputTokens  *int64
	// ErrorType is the provider's error type or code (error.type) when the
	// body, or an event of the stream, was an error.
	ErrorType string
	// Truncated reports that output text beyond the capture limit was
	// dropped.
	Truncated bool
}

// MessagesJSON encodes messages as the semconv JSON array; nil or empty
// gives "".
func MessagesJSON(ms []Message) string {
	if len(ms) == 0 {
		return ""
	}
	b, err := json.Marshal(ms)
	if err != nil {
		return ""
	}
	return string(b)
}

// PartsJSON encodes parts as the semconv JSON array; empty gives "".
func PartsJSON(ps []Part) string {
	if len(ps) == 0 {
		return ""
	}
	b, err := json.Marshal(ps)
	if err != nil {
		return ""
	}
	return string(b)
}

// Text joins the text parts of the messages with "\n".
func Text(ms []Message) string {
	var sb strings.Builder
	for _, m := range ms {
		for _, p := range m.Parts {
			if p.Type == "text" && p.Content != "" {
				if sb.Len() > 0 {
					sb.WriteByte('\n')
				}
				sb.WriteString(p.Content)
			}
		}
	}
	return sb.String()
}

func textPart(s string) Part { return Part{Type: "text", Content: s} }

// parseContent turns a content value (a string or an array of typed parts,
// in OpenAI, Responses or Anthropic form) into semconv parts.
func parseContent(raw json.RawMessage) []Part {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] == 'n' {
		return nil
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return []Part{textPart(s)}
		}
		return nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil
	}
	parts := make([]Part, 0, len(items))
	for _, it := range items {
		if p, ok := parseBlock(it); ok {
			parts = append(parts, p)
		}
	}
	return parts
}

type block struct {
	Type     string          `json:"type"`
	Text     *string         `json:"text"`
	Refusal  string          `json:"refusal"`
	Thinking string          `json:"thinking"`
	ImageURL json.RawMessage `json:"image_url"`
	Source   *struct {
		Type      string `json:"type"`
		MediaType string `json:"media_type"`
		Data      string `json:"data"`
		URL       string `json:"url"`
	} `json:"source"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	CallID    string          `json:"call_id"`
	Arguments json.RawMessage `json:"arguments"`
	Output    json.RawMessage `json:"output"`
	FileID    string          `json:"file_id"`
}

func parseBlock(raw json.RawMessage) (Part, bool) {
	var b block
	if json.Unmarshal(raw, &b) != nil {
		// A bare string inside an array (prompt lists, embeddings input).
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return textPart(s), true
		}
		return Part{}, false
	}
	switch b.Type {
	case "text", "input_text", "output_text":
		if b.Text != nil {
			return textPart(*b.Text), true
		}
	case "refusal":
		return Part{Type: "refusal", Content: b.Refusal}, true
	case "thinking", "reasoning":
		return Part{Type: "reasoning", Content: b.Thinking}, true
	case "image_url", "input_image":
		url := ""
		var s string
		if json.Unmarshal(b.ImageURL, &s) == nil {
			url = s
		} else {
			var o struct {
				URL string `json:"url"`
			}
			_ = json.Unmarshal(b.ImageURL, &o)
			url = o.URL
		}
		return uriPart("image", url, b.FileID), true
	case "image", "document":
		modality := "image"
		if b.Type == "document" {
			modality = "document"
		}
		if b.Source != nil {
			if b.Source.Type == "base64" {
				return Part{Type: "blob", Modality: modality, MimeType: b.Source.MediaType, Content: b.Source.Data}, true
			}
			return Part{Type: "uri", Modality: modality, URI: b.Source.URL}, true
		}
		return Part{Type: b.Type}, true
	case "tool_use", "server_tool_use":
		return Part{Type: "tool_call", ID: b.ID, Name: b.Name, Arguments: rawOrNil(b.Input)}, true
	case "tool_result":
		return Part{Type: "tool_call_response", ID: b.ToolUseID, Response: contentAsJSON(b.Content)}, true
	case "function_call":
		return Part{Type: "tool_call", ID: b.CallID, Name: b.Name, Arguments: argsJSON(b.Arguments)}, true
	case "function_call_output":
		return Part{Type: "tool_call_response", ID: b.CallID, Response: contentAsJSON(b.Output)}, true
	case "":
		if b.Text != nil {
			return textPart(*b.Text), true
		}
		return Part{}, false
	}
	return Part{Type: b.Type}, true
}

func uriPart(modality, url, fileID string) Part {
	if rest, ok := strings.CutPrefix(url, "data:"); ok {
		mime, data, _ := strings.Cut(rest, ",")
		mime = strings.TrimSuffix(mime, ";base64")
		return Part{Type: "blob", Modality: modality, MimeType: mime, Content: data}
	}
	if url == "" && fileID != "" {
		return Part{Type: "file", Modality: modality, ID: fileID}
	}
	return Part{Type: "uri", Modality: modality, URI: url}
}

// rawOrNil returns raw when it is valid JSON and not null.
func rawOrNil(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" || !json.Valid(raw) {
		return nil
	}
	return raw
}

// argsJSON turns OpenAI's string-encoded arguments into JSON: the decoded
// object when the string holds valid JSON, else the string itself.
func argsJSON(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		if json.Valid([]byte(s)) && strings.TrimSpace(s) != "" {
			return json.RawMessage(s)
		}
		return jsonString(s)
	}
	return rawOrNil(raw)
}

// contentAsJSON renders a tool result: text stays a JSON string, block
// arrays become their joined text when all are text, else raw JSON.
func contentAsJSON(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] == '[' {
		parts := parseContent(raw)
		var sb strings.Builder
		allText := len(parts) > 0
		for _, p := range parts {
			if p.Type != "text" {
				allText = false
				break
			}
			sb.WriteString(p.Content)
		}
		if allText {
			return jsonString(sb.String())
		}
	}
	return rawOrNil(raw)
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// limitedText is a string builder that keeps at most limit bytes.
type limitedText struct {
	sb        strings.Builder
	limit     int
	truncated bool
}

func (t *limitedText) add(s string) {
	if room := t.limit - t.sb.Len(); len(s) > room {
		if room > 0 {
			// Cut on a rune boundary.
			cut := room
			for cut > 0 && !utf8.RuneStart(s[cut]) {
				cut--
			}
			t.sb.WriteString(s[:cut])
		}
		t.truncated = true
		return
	}
	t.sb.WriteString(s)
}
