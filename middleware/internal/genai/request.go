package genai

import (
	"bytes"
	"errors"
	"sync"

	"github.com/otelaudit/otelaudit-go/internal/jsontape"
)

// ErrNotJSON is returned for a body that is not a JSON object.
var ErrNotJSON = errors.New("genai: body is not a JSON object")

// ErrInvalidJSON is returned for a body that starts like a JSON object but
// is not valid JSON (cut, or malformed).
var ErrInvalidJSON = errors.New("genai: body is not valid JSON")

// parsers holds jsontape Parsers for the one-shot parses of request and
// reply bodies, so that a parse does not allocate its node storage. This
// is safe because no jsontape.Value outlives the parse function that got
// the Parser: results hold only strings, which reference the body (or
// decoded copies), never a Parser's nodes.
var parsers = sync.Pool{New: func() any { return new(jsontape.Parser) }}

// parseObject validates body and returns it as a parsed document, in one
// pass over the text, parsed by p. The document and the strings taken
// from it share body's memory (no copy of the body per parse): body must
// not be written to afterwards. The middleware's capture buffers are only
// appended to beyond their length or dropped, never rewritten.
func parseObject(p *jsontape.Parser, body []byte) (jsontape.Value, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return jsontape.Value{}, ErrNotJSON
	}
	doc, err := p.Parse(body)
	if err != nil {
		return jsontape.Value{}, ErrInvalidJSON
	}
	return doc, nil
}

// getParser takes a Parser from the pool; putParser returns it, to be
// called once no Value of its parse is in use.
func getParser() *jsontape.Parser { return parsers.Get().(*jsontape.Parser) }

func putParser(p *jsontape.Parser) {
	p.Reset() // do not keep the body alive in the pool
	parsers.Put(p)
}

// ParseRequest extracts a [Request] from the JSON body of a call in the
// given API. An empty result and an error are returned when the body is not
// a valid JSON object; values of unexpected JSON types are ignored. The
// result's strings may share body's memory: body must not be modified
// afterwards.
func ParseRequest(api API, body []byte) (*Request, error) {
	r := new(Request)
	return r, ParseRequestInto(r, api, body, false)
}

// ParseRequestInto is [ParseRequest] into *r, which it overwrites, for a
// caller that keeps the Request in storage of its own.
//
// With head set it is a head parse, for a caller that needs the messages
// and system instructions later, if at all ([Request.Rest]): it leaves
// each of them out (nil) when it can tell from the parsed body whether
// the full parse gives it a part, and says so in InputContent and
// SystemContent (see [Content]); every other field is what the full parse
// gives. Leaving them out saves their allocations and most of the work
// beyond validating the body. It leaves out the lists of Chat
// Completions, Anthropic Messages, Ollama chat, Gemini generateContent and
// Bedrock Converse requests whose parts it can tell apart cheaply (text,
// or any Gemini part); it makes the others.
func ParseRequestInto(r *Request, api API, body []byte, head bool) error {
	*r = Request{API: api}
	p := getParser()
	doc, err := parseObject(p, body)
	if err != nil {
		putParser(p)
		return err
	}
	requestFrom(r, api, doc, head)
	if r.InputContent == ContentSome || r.SystemContent == ContentSome {
		r.kept = keptDoc{p: p, doc: doc, api: api}
		return nil
	}
	putParser(p)
	return nil
}

// Rest makes, into dst, the full parse of the body whose head parse r is
// (ParseRequestInto with head set): what ParseRequest gives for it, the
// lists the head parse left out included. It reads the document the head
// parse kept rather than the body's text again, and lets go of it: r must
// not be given to Rest again. dst may be r. When the head parse left
// nothing out, dst is left as it is.
func (r *Request) Rest(dst *Request) {
	k := r.kept
	r.kept = keptDoc{}
	if k.p == nil {
		return
	}
	*dst = Request{API: k.api}
	requestFrom(dst, k.api, k.doc, false)
	putParser(k.p)
}

// Discard lets go of what the head parse r kept for Rest, for a caller
// that turns out not to need the lists it left out: the document's
// storage goes back for other parses. Rest then leaves its dst as it is.
func (r *Request) Discard() { r.kept.discard() }

// discard gives k's Parser back to the pool, once.
func (k *keptDoc) discard() {
	if k.p != nil {
		putParser(k.p)
	}
	*k = keptDoc{}
}

// requestFrom fills r, a Request of api with nothing else set, from doc;
// a head parse (head) leaves lists out (see [ParseRequestInto]).
func requestFrom(r *Request, api API, doc jsontape.Value, head bool) {
	switch api {
	case APIGemini, APIGeminiEmbed:
		geminiRequest(r, doc, head && api == APIGemini)
		if api == APIGeminiEmbed {
			r.Messages, r.System = geminiEmbedInput(doc), nil
		}
		return
	case APIBedrockConverse:
		converseRequest(r, doc, head)
		return
	case APIBedrockInvoke:
		invokeRequest(r, doc)
		return
	}
	var messages, system, instructions, input, prompt, conversation, metadata jsontape.Value
	var stream jsontape.Value
	for k, v := range doc.Members() {
		switch k {
		case "model":
			r.Model = str(v)
		case "stream":
			stream = v
		case "stream_options":
			r.IncludeUsage = v.Get("include_usage").Kind() == jsontape.True
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
				r.MaxTokens = countInto(&r.maxTokens, v)
			}
		case "temperature":
			setNumber(&r.Temperature, v)
		case "top_p":
			setNumber(&r.TopP, v)
		case "options": // Ollama's sampling options
			for ok, ov := range v.Members() {
				r.param(ok, ov)
			}
		default:
			r.param(k, v)
		}
	}
	switch {
	case stream.Kind() == jsontape.True:
		r.Stream = true
	case !stream.Exists() && (api == APIOllamaChat || api == APIOllamaGenerate):
		r.Stream = true // Ollama streams unless told not to
	}
	if r.ConversationID == "" {
		switch {
		case conversation.Kind() == jsontape.String:
			r.ConversationID = conversation.Str()
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
		if r.SystemContent = headOf(head, contentPresence(system)); r.SystemContent == ContentMade {
			r.System = parseContent(system)
		}
		if r.InputContent = headOf(head, chatMessagesPresence(messages)); r.InputContent == ContentMade {
			r.Messages = chatMessages(r, messages)
		}
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
		if r.InputContent = headOf(head, chatMessagesPresence(messages)); r.InputContent == ContentMade {
			r.Messages = chatMessages(r, messages)
		}
		r.SystemContent = headOf(head, ContentNone)
	}
}

// chatMessage turns one chat message object (OpenAI, Anthropic or Ollama
// form) into a semconv message.
func chatMessage(m jsontape.Value) Message {
	var msg Message
	var content, toolCalls jsontape.Value
	var toolCallID, refusal string
	for k, v := range m.Members() {
		switch k {
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
	}
	if msg.Role == "tool" && toolCallID != "" {
		msg.Parts = []Part{{Type: "tool_call_response", ID: toolCallID, Response: contentAsJSON(content)}}
	} else {
		msg.Parts = parseContent(content)
	}
	if refusal != "" {
		msg.Parts = append(msg.Parts, Part{Type: "refusal", Content: refusal})
	}
	for tc := range each(toolCalls) {
		fn := tc.Get("function")
		msg.Parts = append(msg.Parts, Part{Type: "tool_call", ID: str(tc.Get("id")), Name: str(fn.Get("name")), Arguments: argsJSON(fn.Get("arguments"))})
	}
	if msg.Parts == nil {
		msg.Parts = []Part{}
	}
	return msg
}

// chatMessages parses a list of chat messages into room from r (see
// [Request.messageRoom]).
func chatMessages(r *Request, ms jsontape.Value) []Message {
	if !ms.IsArray() {
		return nil
	}
	out := r.messageRoom(ms.Len())
	for m := range ms.Elements() {
		if m.IsObject() {
			out = append(out, chatMessage(m))
		}
	}
	return out
}

// responsesInput parses the Responses API "input": a string or a list of
// items (messages, function calls and their outputs).
func responsesInput(v jsontape.Value) []Message {
	if v.Kind() == jsontape.String {
		return []Message{{Role: "user", Parts: []Part{textPart(v.Str())}}}
	}
	if !v.IsArray() {
		return nil
	}
	out := []Message{}
	for it := range v.Elements() {
		if it.Kind() == jsontape.String {
			out = append(out, Message{Role: "user", Parts: []Part{textPart(it.Str())}})
			continue
		}
		if !it.IsObject() {
			continue
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
	}
	return out
}
