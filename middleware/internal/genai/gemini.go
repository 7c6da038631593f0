package genai

import (
	"encoding/json"
	"strings"

	"github.com/otelaudit/otelaudit-go/internal/jsontape"
	"github.com/otelaudit/otelaudit-go/internal/jsontext"
)

// Google's REST APIs accept each field in lowerCamelCase (what the official
// clients send) and in snake_case (the proto name); get1 looks a member up
// by both names.
func get1(v jsontape.Value, camel, snake string) jsontape.Value {
	if r := v.Get(camel); r.Exists() {
		return r
	}
	return v.Get(snake)
}

// geminiRequest fills r from a generateContent request: contents,
// systemInstruction and generationConfig; a head parse (head) leaves the
// contents and system instruction out (see [ParseRequestInto]).
func geminiRequest(r *Request, doc jsontape.Value, head bool) {
	contents, si := doc.Get("contents"), get1(doc, "systemInstruction", "system_instruction")
	if r.InputContent = headOf(head, geminiContentsPresence(contents)); r.InputContent == ContentMade {
		r.Messages = geminiContents(r, contents)
	}
	if r.SystemContent = headOf(head, geminiSystemPresence(si)); r.SystemContent == ContentMade {
		switch {
		case si.IsObject():
			r.System = geminiParts(si.Get("parts"))
		case si.Kind() == jsontape.String:
			r.System = []Part{textPart(si.Str())}
		}
	}
	if gc := get1(doc, "generationConfig", "generation_config"); gc.IsObject() {
		r.MaxTokens = countInto(&r.maxTokens, get1(gc, "maxOutputTokens", "max_output_tokens"))
		setNumber(&r.Temperature, gc.Get("temperature"))
		setNumber(&r.TopP, get1(gc, "topP", "top_p"))
		for k, v := range gc.Members() {
			r.param(k, v)
		}
	}
}

// geminiContents turns a list of Content objects ({role, parts}) into
// messages. A content is a bare string or a single Content object in some
// callers' hands; both are accepted.
func geminiContents(r *Request, v jsontape.Value) []Message {
	switch {
	case v.Kind() == jsontape.String:
		return []Message{{Role: "user", Parts: []Part{textPart(v.Str())}}}
	case v.IsObject():
		return []Message{geminiContent(v, "user")}
	case !v.IsArray():
		return nil
	}
	out := r.messageRoom(v.Len())
	for c := range v.Elements() {
		if c.IsObject() {
			out = append(out, geminiContent(c, "user"))
		}
	}
	return out
}

// geminiContent turns one Content into a message. Gemini's "model" role is
// semconv's "assistant"; a user turn that only answers function calls is
// a "tool" message.
func geminiContent(c jsontape.Value, role string) Message {
	m := Message{Role: role, Parts: geminiParts(c.Get("parts"))}
	switch r := str(c.Get("role")); r {
	case "model":
		m.Role = "assistant"
	case "":
	default:
		m.Role = r
	}
	if m.Role == "user" && len(m.Parts) > 0 {
		tool := true
		for _, p := range m.Parts {
			tool = tool && p.Type == "tool_call_response"
		}
		if tool {
			m.Role = "tool"
		}
	}
	return m
}

func geminiParts(v jsontape.Value) []Part {
	parts := []Part{}
	for p := range each(v) {
		if p.IsObject() {
			parts = append(parts, geminiPart(p))
		}
	}
	return parts
}

// geminiPart turns one Part object into a semconv part.
func geminiPart(p jsontape.Value) Part {
	if t := p.Get("text"); t.Kind() == jsontape.String {
		if p.Get("thought").Kind() == jsontape.True {
			return Part{Type: "reasoning", Content: t.Str()}
		}
		return textPart(t.Str())
	}
	if d := get1(p, "inlineData", "inline_data"); d.IsObject() {
		mime := str(get1(d, "mimeType", "mime_type"))
		return Part{Type: "blob", Modality: modalityOf(mime), MimeType: mime, Content: str(d.Get("data"))}
	}
	if d := get1(p, "fileData", "file_data"); d.IsObject() {
		mime := str(get1(d, "mimeType", "mime_type"))
		return Part{Type: "uri", Modality: modalityOf(mime), MimeType: mime, URI: str(get1(d, "fileUri", "file_uri"))}
	}
	if f := get1(p, "functionCall", "function_call"); f.IsObject() {
		return Part{Type: "tool_call", ID: str(f.Get("id")), Name: str(f.Get("name")), Arguments: rawOrNil(f.Get("args"))}
	}
	if f := get1(p, "functionResponse", "function_response"); f.IsObject() {
		return Part{Type: "tool_call_response", ID: str(f.Get("id")), Name: str(f.Get("name")), Response: rawOrNil(f.Get("response"))}
	}
	// Code the model ran with the code execution tool, on Google's side:
	// a server tool call and its response.
	if c := get1(p, "executableCode", "executable_code"); c.IsObject() {
		return Part{Type: "server_tool_call", Name: "code_execution", ServerToolCall: typedObject("executable_code", c)}
	}
	if c := get1(p, "codeExecutionResult", "code_execution_result"); c.IsObject() {
		return Part{Type: "server_tool_call_response", ServerToolCallResponse: typedObject("code_execution_result", c)}
	}
	for k := range p.Members() {
		return Part{Type: k}
	}
	return Part{Type: "unknown"}
}

// modalityOf maps a MIME type to the semconv modality of a blob, file or
// uri part (which the schema requires): image, video or audio by the top
// type, "document" for any other (PDF, text).
func modalityOf(mime string) string {
	top, _, _ := strings.Cut(mime, "/")
	switch top {
	case "image", "video", "audio":
		return top
	}
	return "document"
}

// typedObject returns the JSON object o with "type":typ as its first
// member: the details of a server tool part, whose type names the tool.
func typedObject(typ string, o jsontape.Value) json.RawMessage {
	b := jsontext.AppendString([]byte(`{"type":`), typ)
	for k, v := range o.Members() {
		if k == "type" {
			continue
		}
		b = append(b, ',')
		b = jsontext.AppendString(b, k)
		b = append(b, ':')
		b = append(b, v.Raw()...)
	}
	return append(b, '}')
}

// geminiUsage reads usageMetadata: promptTokenCount (which includes cached
// content, as semconv's input tokens do) and candidatesTokenCount, stored
// in dst's slots when dst is not nil.
func geminiUsage(u jsontape.Value, dst *tokenSlots) (in, out *int64) {
	if !u.IsObject() {
		return nil, nil
	}
	return countInto(dst.slot(0), get1(u, "promptTokenCount", "prompt_token_count")),
		countInto(dst.slot(1), get1(u, "candidatesTokenCount", "candidates_token_count"))
}

// geminiResponse reads a GenerateContentResponse: candidates, usage,
// modelVersion, responseId, and the prompt feedback of a blocked prompt.
func geminiResponse(r *Response, doc jsontape.Value, head bool) {
	candidates := doc.Get("candidates")
	r.OutputContent = headOf(head, ContentNone)
	if head {
		for c := range each(candidates) {
			if c.IsObject() && geminiPartsPresence(c.Get("content").Get("parts")) == ContentSome {
				r.OutputContent = ContentSome
				break
			}
		}
	}
	made := 0 // messages, made or left out
	r.ID = str(get1(doc, "responseId", "response_id"))
	r.Model = str(get1(doc, "modelVersion", "model_version"))
	u := get1(doc, "usageMetadata", "usage_metadata")
	r.InputTokens, r.OutputTokens = geminiUsage(u, &r.first.tokens)
	r.Details = usageDetails(u)
	r.ErrorType = errorType(doc.Get("error"))
	for c := range each(candidates) {
		if !c.IsObject() {
			continue
		}
		made++
		reason := str(get1(c, "finishReason", "finish_reason"))
		if reason != "" {
			r.addReason(reason)
		}
		if r.OutputContent != ContentMade {
			continue // left out
		}
		m := geminiContent(c.Get("content"), "assistant")
		if m.Role == "user" {
			m.Role = "assistant"
		}
		m.FinishReason = reason
		r.addMessage(m)
	}
	if made == 0 {
		if br := str(path(doc, "promptFeedback", "blockReason")); br != "" {
			r.FinishReasons = []string{br}
			if r.OutputContent == ContentMade {
				r.Messages = []Message{{Role: "assistant", Parts: []Part{}, FinishReason: br}}
			}
		}
	}
}

// geminiCand accumulates one streamed candidate.
type geminiCand struct {
	parts  []partAcc
	finish string
	seen   bool
}

// gemini takes one chunk of a streamGenerateContent reply: each chunk is a
// whole GenerateContentResponse whose candidates carry the next parts.
// Consecutive text (or thought) parts are joined; any other part is kept as
// it came. A finishReason ends the stream.
func (s *Stream) gemini(doc jsontape.Value) {
	if t := errorType(doc.Get("error")); t != "" {
		s.errType = t
		s.done = true
		return
	}
	if id := str(get1(doc, "responseId", "response_id")); id != "" {
		s.id = id
	}
	if m := str(get1(doc, "modelVersion", "model_version")); m != "" {
		s.model = m
	}
	u := get1(doc, "usageMetadata", "usage_metadata")
	if in, out := geminiUsage(u, nil); in != nil || out != nil {
		s.in, s.out = in, out
	}
	s.details.merge(usageDetails(u))
	for c := range each(doc.Get("candidates")) {
		gc := slot(s, &s.gcands, int(intOf(c.Get("index"))))
		if gc == nil {
			continue
		}
		gc.seen = true
		for p := range each(path(c, "content", "parts")) {
			if !p.IsObject() {
				continue
			}
			part := geminiPart(p)
			text := part.Type == "text" || part.Type == "reasoning"
			if text {
				if n := len(gc.parts); n > 0 && gc.parts[n-1].kind == part.Type {
					s.b.add(&gc.parts[n-1].text, part.Content)
					continue
				}
			}
			// A new part of the reply: it takes one of the stream's
			// slots, as an index would, so that parts that alternate
			// (text, thought, text, ...) cannot grow the list without
			// bound; one that finds none is not dropped without a trace.
			if s.slots >= maxSlots {
				s.b.truncated = true
				continue
			}
			if text {
				s.slots++
				gc.parts = append(gc.parts, partAcc{kind: part.Type})
				s.b.add(&gc.parts[len(gc.parts)-1].text, part.Content)
				continue
			}
			if !s.b.keepPart(&part) {
				continue
			}
			s.slots++
			gc.parts = append(gc.parts, partAcc{kind: part.Type, item: &part})
		}
		if f := str(get1(c, "finishReason", "finish_reason")); f != "" {
			gc.finish = s.b.keep(f)
			s.done = true
		}
	}
	if br := str(path(doc, "promptFeedback", "blockReason")); br != "" {
		s.finish = br
		s.done = true
	}
}

// geminiResult builds the reply of a Gemini stream.
func (s *Stream) geminiResult(r *Response) {
	for i := range s.gcands {
		gc := &s.gcands[i]
		if !gc.seen {
			continue
		}
		m := Message{Role: "assistant", Parts: accParts(gc.parts), FinishReason: gc.finish}
		if gc.finish != "" {
			r.FinishReasons = append(r.FinishReasons, gc.finish)
		}
		r.Messages = append(r.Messages, m)
	}
	if len(r.Messages) == 0 && s.finish != "" {
		r.FinishReasons = []string{s.finish}
		r.Messages = []Message{{Role: "assistant", Parts: []Part{}, FinishReason: s.finish}}
	}
}

// accParts turns accumulated parts into semconv parts.
func accParts(ps []partAcc) []Part {
	out := make([]Part, 0, len(ps))
	for _, b := range ps {
		switch {
		case b.item != nil:
			out = append(out, *b.item)
		case b.tool != nil && (b.kind == "server_tool_use" || b.kind == "mcp_tool_use"):
			details := jsontext.AppendString([]byte(`{"type":`), b.tool.name)
			if args := jsonArgs(b.tool.args); args != nil {
				details = append(append(details, `,"input":`...), args...)
			}
			out = append(out, Part{Type: "server_tool_call", ID: b.tool.id, Name: b.tool.name, ServerToolCall: append(details, '}')})
		case b.tool != nil:
			out = append(out, Part{Type: "tool_call", ID: b.tool.id, Name: b.tool.name, Arguments: jsonArgs(b.tool.args)})
		case b.kind == "text":
			out = append(out, textPart(string(b.text)))
		case b.kind == "thinking" || b.kind == "reasoning":
			out = append(out, Part{Type: "reasoning", Content: string(b.text)})
		case b.kind == "refusal":
			out = append(out, Part{Type: "refusal", Content: string(b.text)})
		case b.kind != "":
			out = append(out, Part{Type: b.kind})
		}
	}
	return out
}

// geminiEmbedInput reads the text of an embedContent request (content) or
// of a batchEmbedContents request (requests[].content).
func geminiEmbedInput(doc jsontape.Value) []Message {
	var parts []Part
	if c := doc.Get("content"); c.IsObject() {
		parts = geminiParts(c.Get("parts"))
	}
	for rq := range each(doc.Get("requests")) {
		parts = append(parts, geminiParts(path(rq, "content", "parts"))...)
	}
	if len(parts) == 0 {
		return nil
	}
	return []Message{{Role: "user", Parts: parts}}
}
