package genai

import (
	"bytes"
	"errors"
	"unsafe"

	"github.com/tidwall/gjson"
)

// ErrNotJSON is returned for a body that is not a JSON object.
var ErrNotJSON = errors.New("genai: body is not a JSON object")

// ErrInvalidJSON is returned for a body that starts like a JSON object but
// is not valid JSON (cut, or malformed).
var ErrInvalidJSON = errors.New("genai: body is not valid JSON")

// parseObject validates body and returns it as a gjson document. The
// document and the strings taken from it share body's memory (no copy of
// the body per parse): body must not be written to afterwards. The
// middleware's capture buffers are only appended to beyond their length
// or dropped, never rewritten.
func parseObject(body []byte) (gjson.Result, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return gjson.Result{}, ErrNotJSON
	}
	if !gjson.ValidBytes(body) {
		return gjson.Result{}, ErrInvalidJSON
	}
	return gjson.Parse(unsafe.String(unsafe.SliceData(body), len(body))), nil
}

// ParseRequest extracts a [Request] from the JSON body of a call in the
// given API. An empty result and an error are returned when the body is not
// a valid JSON object; values of unexpected JSON types are ignored. The
// result's strings may share body's memory: body must not be modified
// afterwards.
func ParseRequest(api API, body []byte) (*Request, error) {
	doc, err := parseObject(body)
	if err != nil {
		return &Request{}, err
	}
	r := &Request{}
	var messages, system, instructions, input, prompt, conversation, metadata gjson.Result
	var stream gjson.Result
	doc.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "model":
			r.Model = str(v)
		case "stream":
			stream = v
		case "stream_options":
			r.IncludeUsage = v.Get("include_usage").Type == gjson.True
		case "messages":
			messages = v
		case "system":
			system = v
		case "instructions":
			instructions = v
		case "input":
			input = v
		case "prompt":
			prompt = v
		case "conversation":
			conversation = v
		case "conversation_id":
			if s := str(v); s != "" {
				r.ConversationID = s
			}
		case "metadata":
			metadata = v
		case "max_tokens", "max_completion_tokens", "max_output_tokens":
			if r.MaxTokens == nil {
				r.MaxTokens = count(v)
			}
		case "temperature":
			if v.Type == gjson.Number {
				f := v.Num
				r.Temperature = &f
			}
		case "top_p":
			if v.Type == gjson.Number {
				f := v.Num
				r.TopP = &f
			}
		}
		return true
	})
	switch {
	case stream.Type == gjson.True:
		r.Stream = true
	case !stream.Exists() && (api == APIOllamaChat || api == APIOllamaGenerate):
		r.Stream = true // Ollama streams unless told not to
	}
	if r.ConversationID == "" {
		switch {
		case conversation.Type == gjson.String:
			r.ConversationID = conversation.Str
		case conversation.IsObject():
			r.ConversationID = str(conversation.Get("id"))
		}
	}
	if r.ConversationID == "" && metadata.IsObject() {
		for _, k := range []string{"conversation_id", "session_id", "thread_id"} {
			if s := str(metadata.Get(k)); s != "" {
				r.ConversationID = s
				break
			}
		}
	}

	switch api {
	case APIResponses:
		r.System = parseContent(instructions)
		r.Messages = responsesInput(input)
	case APIAnthropic:
		r.System = parseContent(system)
		r.Messages = chatMessages(messages)
	case APICompletions, APIOllamaGenerate:
		r.System = parseContent(system)
		if ps := parseContent(prompt); len(ps) > 0 {
			r.Messages = []Message{{Role: "user", Parts: ps}}
		}
	case APIEmbeddings, APIOllamaEmbed:
		if ps := parseContent(input); len(ps) > 0 {
			r.Messages = []Message{{Role: "user", Parts: ps}}
		}
	default: // chat completions, Ollama chat, and unknown JSON with messages
		r.Messages = chatMessages(messages)
	}
	return r, nil
}

// chatMessage turns one chat message object (OpenAI, Anthropic or Ollama
// form) into a semconv message.
func chatMessage(m gjson.Result) Message {
	var msg Message
	var content, toolCalls gjson.Result
	var toolCallID, refusal string
	m.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "role":
			msg.Role = str(v)
		case "content":
			content = v
		case "tool_call_id":
			toolCallID = str(v)
		case "refusal":
			refusal = str(v)
		case "tool_calls":
			toolCalls = v
		}
		return true
	})
	if msg.Role == "tool" && toolCallID != "" {
		msg.Parts = []Part{{Type: "tool_call_response", ID: toolCallID, Response: contentAsJSON(content)}}
	} else {
		msg.Parts = parseContent(content)
	}
	if refusal != "" {
		msg.Parts = append(msg.Parts, Part{Type: "refusal", Content: refusal})
	}
	toolCalls.ForEach(func(_, tc gjson.Result) bool {
		fn := tc.Get("function")
		msg.Parts = append(msg.Parts, Part{Type: "tool_call", ID: str(tc.Get("id")), Name: str(fn.Get("name")), Arguments: argsJSON(fn.Get("arguments"))})
		return true
	})
	if msg.Parts == nil {
		msg.Parts = []Part{}
	}
	return msg
}

func chatMessages(ms gjson.Result) []Message {
	if !ms.IsArray() {
		return nil
	}
	out := []Message{}
	ms.ForEach(func(_, m gjson.Result) bool {
		if m.IsObject() {
			out = append(out, chatMessage(m))
		}
		return true
	})
	return out
}

// responsesInput parses the Responses API "input": a string or a list of
// items (messages, function calls and their outputs).
func responsesInput(v gjson.Result) []Message {
	if v.Type == gjson.String {
		return []Message{{Role: "user", Parts: []Part{textPart(v.Str)}}}
	}
	if !v.IsArray() {
		return nil
	}
	out := []Message{}
	v.ForEach(func(_, it gjson.Result) bool {
		if it.Type == gjson.String {
			out = append(out, Message{Role: "user", Parts: []Part{textPart(it.Str)}})
			return true
		}
		if !it.IsObject() {
			return true
		}
		switch typ := str(it.Get("type")); typ {
		case "function_call":
			p, _ := parseBlock(it)
			out = append(out, Message{Role: "assistant", Parts: []Part{p}})
		case "function_call_output":
			p, _ := parseBlock(it)
			out = append(out, Message{Role: "tool", Parts: []Part{p}})
		case "", "message":
			m := chatMessage(it)
			if m.Role == "" {
				m.Role = "user"
			}
			out = append(out, m)
		default:
			out = append(out, Message{Role: "user", Parts: []Part{{Type: typ}}})
		}
		return true
	})
	return out
}
