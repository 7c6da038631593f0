package genai

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/otelaudit/otelaudit-go/internal/jsontape"
)

// usageCounts reads a usage object in OpenAI (prompt_tokens /
// completion_tokens), Responses or Anthropic (input_tokens / output_tokens)
// form. Anthropic's input_tokens excludes cached tokens; semconv's
// gen_ai.usage.input_tokens includes them, so they are added. The counts
// are stored in dst's slots when dst is not nil.
func usageCounts(u jsontape.Value, dst *tokenSlots) (in, out *int64) {
	if !u.IsObject() {
		return nil, nil
	}
	var creation, read *int64
	for k, v := range u.Members() {
		switch k {
		case "prompt_tokens":
			if in == nil {
				in = countInto(dst.slot(0), v)
			}
		case "input_tokens":
			in = countInto(dst.slot(0), v)
		case "completion_tokens":
			if out == nil {
				out = countInto(dst.slot(1), v)
			}
		case "output_tokens":
			out = countInto(dst.slot(1), v)
		case "cache_creation_input_tokens":
			creation = count(v)
		case "cache_read_input_tokens":
			read = count(v)
		}
	}
	if in != nil && (creation != nil || read != nil) && u.Get("input_tokens").Exists() {
		n := *in
		if creation != nil {
			n += *creation
		}
		if read != nil {
			n += *read
		}
		in = box(dst.slot(0), n)
	}
	return in, out
}

// errorType picks error.type from an error value: the provider's code when
// it is a string, else its type or status, else a numeric code, the first
// of them that is a [ValidErrorType]; "error" for other error values; ""
// when there is no error (absent or null).
func errorType(e jsontape.Value) string {
	switch {
	case !e.Exists() || e.Kind() == jsontape.Null:
		return ""
	case e.IsObject():
		// Google APIs give status ("RESOURCE_EXHAUSTED").
		for _, k := range [...]string{"code", "type", "status"} {
			if t := str(e.Get(k)); ValidErrorType(t) {
				return t
			}
		}
		if c := e.Get("code"); c.Kind() == jsontape.Number && ValidErrorType(c.Raw()) {
			return c.Raw()
		}
	}
	return "error"
}

// maxErrorTypeLen bounds the length of an error type taken from a reply.
const maxErrorTypeLen = 64

// ValidErrorType reports whether s, an error type taken from a reply (an
// error object's code, type or status, a header, an exception type), looks
// like the short low-cardinality identifier error.type is meant to be: 1
// to 64 bytes of ASCII letters, digits and . _ - : /, no spaces. Anything
// else is not recorded: a gateway that put free text there (which may
// quote the prompt) would put it on every span and in every exporter.
func ValidErrorType(s string) bool {
	if s == "" || len(s) > maxErrorTypeLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == '-', c == ':', c == '/':
		default:
			return false
		}
	}
	return true
}

// ErrorType extracts error.type from an error reply: the provider's code or
// type when the body has one, else the HTTP status code. The result may share
// body's memory: body must not be modified afterwards.
func ErrorType(status int, body []byte) string {
	p := getParser()
	defer putParser(p)
	if doc, err := parseObject(p, body); err == nil {
		if t := errorType(doc.Get("error")); t != "" && t != "error" {
			return t
		}
	}
	return strconv.Itoa(status)
}

// ParseResponse extracts a [Response] from a complete (non-streaming) JSON
// reply in the given API. A body that is not a valid JSON object gives an
// error and an empty result. The result's strings may share body's memory: body
// must not be modified afterwards.
func ParseResponse(api API, body []byte) (*Response, error) {
	r := new(Response)
	return r, ParseResponseInto(r, api, body, false)
}

// ParseResponseInto is [ParseResponse] into *r, which it overwrites, for
// a caller that keeps the Response in storage of its own.
//
// With head set it is a head parse, for a caller that needs the output
// messages later, if at all ([Response.Rest]): it leaves them out (nil)
// when it can tell from the parsed body whether the full parse gives them
// a part, and says so in OutputContent (see [Content]); every other field
// is what the full parse gives. It leaves out the messages of Chat
// Completions, Completions, Anthropic Messages, Gemini generateContent and
// Bedrock Converse replies whose parts it can tell apart cheaply (text, or
// any Gemini part); it makes the others.
func ParseResponseInto(r *Response, api API, body []byte, head bool) error {
	*r = Response{}
	p := getParser()
	if err := responseInto(r, p, api, body, head); err != nil || r.OutputContent != ContentSome {
		putParser(p)
		return err
	}
	return nil // p is kept for Rest
}

// Rest is [Request.Rest] for the head parse r of a reply: dst gets what
// ParseResponse gives for its body.
func (r *Response) Rest(dst *Response) {
	k := r.kept
	r.kept = keptDoc{}
	if k.p == nil {
		return
	}
	*dst = Response{}
	fromBody(dst, k.api, k.doc, false)
	putParser(k.p)
}

// Discard is [Request.Discard] for the head parse of a reply.
func (r *Response) Discard() { r.kept.discard() }

// responseInto is ParseResponseInto parsing with p; when the head parse
// leaves the messages out, r keeps p and the document for Rest.
func responseInto(r *Response, p *jsontape.Parser, api API, body []byte, head bool) error {
	if b := bytes.TrimSpace(body); api == APIGemini && len(b) > 0 && b[0] == '[' {
		// streamGenerateContent without alt=sse: the chunks as one JSON
		// array.
		doc, err := p.Parse(b)
		if err != nil {
			return ErrInvalidJSON
		}
		s := NewStream(APIGemini, len(b)+1)
		for c := range doc.Elements() {
			s.gemini(c)
		}
		*r = *s.Result()
		return nil
	}
	doc, err := parseObject(p, body)
	if err != nil {
		return err
	}
	fromBody(r, api, doc, head)
	if r.OutputContent == ContentSome {
		r.kept = keptDoc{p: p, doc: doc, api: api}
	}
	return nil
}

// fromBody reads a reply of api into r, a zero Response; a head parse
// (head) leaves the messages out where it can (see [ParseResponseInto]).
func fromBody(r *Response, api API, doc jsontape.Value, head bool) {
	switch api {
	case APIGemini:
		geminiResponse(r, doc, head)
		return
	case APIGeminiEmbed:
		r.ErrorType = errorType(doc.Get("error"))
		return
	case APIBedrockConverse:
		converseResponse(r, doc, head)
		return
	case APIBedrockInvoke:
		invokeResponse(r, doc)
		return
	}
	var usage, errv, choices jsontape.Value
	for k, v := range doc.Members() {
		switch k {
		case "choices":
			// The first one, as doc.Get would find; kept here so the
			// choices are not looked up again.
			if !choices.Exists() {
				choices = v
			}
		case "id":
			r.ID = str(v)
		case "model":
			r.Model = str(v)
		case "usage":
			usage = v
		case "error":
			errv = v
		}
	}
	r.InputTokens, r.OutputTokens = usageCounts(usage, &r.first.tokens)
	r.Details = usageDetails(usage)
	r.ErrorType = errorType(errv)
	switch api {
	case APIResponses:
		msg, reasons := responsesOutput(doc)
		if len(msg.Parts) > 0 {
			r.addMessage(msg)
		}
		r.FinishReasons = reasons
		if str(doc.Get("status")) == "failed" && r.ErrorType == "" {
			r.ErrorType = "response_failed"
		}
	case APIAnthropic:
		content, stop := doc.Get("content"), doc.Get("stop_reason")
		r.OutputContent = headOf(head, contentPresence(content))
		msg := Message{Role: "assistant"}
		if r.OutputContent == ContentMade {
			if msg.Parts = parseContent(content); msg.Parts == nil {
				msg.Parts = []Part{}
			}
		}
		if s := str(stop); s != "" {
			msg.FinishReason = s
			r.addReason(s)
		}
		if (content.Exists() || stop.Kind() == jsontape.String) && r.OutputContent == ContentMade {
			r.addMessage(msg)
		}
	case APIOllamaChat, APIOllamaGenerate, APIOllamaEmbed:
		r.InputTokens, r.OutputTokens = count(doc.Get("prompt_eval_count")), count(doc.Get("eval_count"))
		if api == APIOllamaEmbed {
			r.OutputTokens = nil
		}
		var parts []Part
		if m := doc.Get("message"); m.IsObject() {
			parts = chatMessage(m).Parts
		} else if t := doc.Get("response"); t.Kind() == jsontape.String {
			parts = []Part{textPart(t.Str())}
		}
		if parts != nil {
			reason := str(doc.Get("done_reason"))
			r.Messages = []Message{{Role: "assistant", Parts: parts, FinishReason: reason}}
			if reason != "" {
				r.FinishReasons = []string{reason}
			}
		}
	case APIEmbeddings:
		// No output content: the vectors are not text.
		r.OutputTokens = nil
	default: // chat completions, completions, unknown
		r.OutputContent = headOf(head, choicesPresence(choices))
		for c := range each(choices) {
			if !c.IsObject() {
				continue
			}
			m := Message{Role: "assistant"}
			var text, message jsontape.Value
			for k, v := range c.Members() {
				switch k {
				case "text":
					text = v
				case "message":
					message = v
				case "finish_reason":
					m.FinishReason = str(v)
				}
			}
			if m.FinishReason != "" {
				r.addReason(m.FinishReason)
			}
			if r.OutputContent != ContentMade {
				continue // left out
			}
			if text.Kind() == jsontape.String {
				m.Parts = []Part{textPart(text.Str())}
			} else {
				cm := chatMessage(message)
				m.Parts = cm.Parts
				if cm.Role != "" {
					m.Role = cm.Role
				}
			}
			r.addMessage(m)
		}
	}
}

// responsesOutput folds the Responses API output items into one assistant
// message and works out the finish reason.
func responsesOutput(doc jsontape.Value) (Message, []string) {
	msg := Message{Role: "assistant", Parts: []Part{}}
	toolCall := false
	for it := range each(doc.Get("output")) {
		switch typ := str(it.Get("type")); typ {
		case "message":
			msg.Parts = append(msg.Parts, parseContent(it.Get("content"))...)
		case "function_call":
			toolCall = true
			p, _ := parseBlock(it)
			msg.Parts = append(msg.Parts, p)
		case "reasoning", "":
			// Encrypted or summarised reasoning is not content.
		default:
			switch typ {
			case "web_search_call", "file_search_call", "code_interpreter_call", "image_generation_call", "mcp_call":
				// A built-in tool OpenAI ran on its side: a server tool
				// call whose details are the item (its type names the
				// tool).
				msg.Parts = append(msg.Parts, Part{Type: "server_tool_call", ID: str(it.Get("id")),
					Name: strings.TrimSuffix(typ, "_call"), ServerToolCall: rawOrNil(it)})
				continue
			}
			msg.Parts = append(msg.Parts, Part{Type: typ})
		}
	}
	var reason string
	status := str(doc.Get("status"))
	switch {
	case status == "incomplete" && str(path(doc, "incomplete_details", "reason")) != "":
		reason = str(path(doc, "incomplete_details", "reason"))
	case status == "failed":
		reason = "error"
	case toolCall:
		reason = "tool_calls"
	case status == "completed":
		reason = "stop"
	}
	msg.FinishReason = reason
	if reason == "" {
		return msg, nil
	}
	return msg, []string{reason}
}
