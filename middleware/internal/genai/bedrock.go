package genai

import (
	"bytes"
	"encoding/base64"
	"strings"

	"github.com/otelaudit/otelaudit-go/internal/jsontape"
	"github.com/otelaudit/otelaudit-go/internal/jsontext"
)

// converseRequest fills r from a Converse request: messages, system and
// inferenceConfig (the model is in the path); a head parse (head) leaves
// the messages and system out (see [ParseRequestInto]).
func converseRequest(r *Request, doc jsontape.Value, head bool) {
	messages, system := doc.Get("messages"), doc.Get("system")
	if r.InputContent = headOf(head, converseMessagesPresence(messages)); r.InputContent == ContentMade {
		r.Messages = converseMessages(r, messages)
	}
	if r.SystemContent = headOf(head, converseBlocksPresence(system)); r.SystemContent == ContentMade {
		r.System = converseBlocks(system)
		if len(r.System) == 0 {
			r.System = nil
		}
	}
	inferenceConfig(r, doc.Get("inferenceConfig"))
}

// inferenceConfig reads Converse's (and Amazon Nova's) inference settings.
func inferenceConfig(r *Request, ic jsontape.Value) {
	if !ic.IsObject() {
		return
	}
	for k, v := range ic.Members() {
		switch k {
		case "maxTokens", "max_new_tokens":
			r.MaxTokens = countInto(&r.maxTokens, v)
		case "temperature":
			setNumber(&r.Temperature, v)
		case "topP", "top_p":
			setNumber(&r.TopP, v)
		default:
			r.param(k, v)
		}
	}
}

// converseMessages parses Converse messages into room from r (see
// [Request.messageRoom]).
func converseMessages(r *Request, v jsontape.Value) []Message {
	if !v.IsArray() {
		return nil
	}
	out := r.messageRoom(v.Len())
	for m := range v.Elements() {
		if !m.IsObject() {
			continue
		}
		msg := Message{Role: str(m.Get("role")), Parts: converseBlocks(m.Get("content"))}
		if msg.Role == "user" && len(msg.Parts) > 0 {
			tool := true
			for _, p := range msg.Parts {
				tool = tool && p.Type == "tool_call_response"
			}
			if tool {
				msg.Role = "tool"
			}
		}
		out = append(out, msg)
	}
	return out
}

// converseBlocks turns a list of ContentBlocks (or SystemContentBlocks)
// into parts; a bare string is one text part. Blocks that carry no content
// (cachePoint) are left out.
func converseBlocks(v jsontape.Value) []Part {
	if v.Kind() == jsontape.String {
		return []Part{textPart(v.Str())}
	}
	parts := []Part{}
	for b := range each(v) {
		if p, ok := converseBlock(b); ok {
			parts = append(parts, p)
		}
	}
	return parts
}

// converseBlock turns one ContentBlock, a union with one member, into a
// part. Blocks with a "type" member (Anthropic or OpenAI shaped bodies of
// InvokeModel) go to [parseBlock].
func converseBlock(b jsontape.Value) (Part, bool) {
	if !b.IsObject() {
		return parseBlock(b)
	}
	if b.Get("type").Kind() == jsontape.String {
		return parseBlock(b)
	}
	for k, v := range b.Members() {
		switch k {
		case "text":
			return textPart(str(v)), true
		case "image", "document", "video", "audio":
			return converseMedia(k, v), true
		case "toolUse":
			return Part{Type: "tool_call", ID: str(v.Get("toolUseId")), Name: str(v.Get("name")), Arguments: rawOrNil(v.Get("input"))}, true
		case "toolResult":
			return Part{Type: "tool_call_response", ID: str(v.Get("toolUseId")), Response: converseToolResult(v.Get("content"))}, true
		case "reasoningContent":
			return Part{Type: "reasoning", Content: str(path(v, "reasoningText", "text"))}, true
		case "guardContent":
			return textPart(str(path(v, "text", "text"))), true
		case "cachePoint":
			return Part{}, false
		default:
			return Part{Type: k}, true
		}
	}
	return Part{}, false
}

// converseMedia turns an image, document, video or audio block into a
// blob (inline bytes, base64 in JSON) or uri (S3 location) part, with its
// modality (the block's kind).
func converseMedia(kind string, v jsontape.Value) Part {
	modality := kind
	mime := ""
	if f := str(v.Get("format")); f != "" {
		top := kind
		if kind == "document" {
			top = "application"
		}
		mime = top + "/" + f
	}
	src := v.Get("source")
	if u := str(path(src, "s3Location", "uri")); u != "" {
		return Part{Type: "uri", Modality: modality, MimeType: mime, URI: u}
	}
	return Part{Type: "blob", Modality: modality, MimeType: mime, Content: str(src.Get("bytes"))}
}

// converseToolResult renders a tool result's content list: all text gives
// the joined text as a JSON string, a single json member its JSON, else the
// raw list.
func converseToolResult(v jsontape.Value) []byte {
	if !v.IsArray() {
		return rawOrNil(v)
	}
	var sb strings.Builder
	allText, n := true, 0
	var single jsontape.Value
	for b := range v.Elements() {
		n++
		if t := b.Get("text"); t.Kind() == jsontape.String {
			sb.WriteString(t.Str())
			continue
		}
		allText = false
		single = b.Get("json")
	}
	switch {
	case n > 0 && allText:
		return jsontext.AppendString(nil, sb.String())
	case n == 1 && single.Exists():
		return rawOrNil(single)
	}
	return rawOrNil(v)
}

// converseUsage reads Converse usage. Its inputTokens, like Anthropic's,
// leaves out tokens read from or written to the prompt cache; semconv's
// input tokens include them. The counts are stored in dst's slots when
// dst is not nil.
func converseUsage(u jsontape.Value, dst *tokenSlots) (in, out *int64) {
	if !u.IsObject() {
		return nil, nil
	}
	in, out = countInto(dst.slot(0), u.Get("inputTokens")), countInto(dst.slot(1), u.Get("outputTokens"))
	if in != nil {
		n := *in
		for _, k := range []string{"cacheReadInputTokens", "cacheWriteInputTokens"} {
			if c := count(u.Get(k)); c != nil {
				n += *c
			}
		}
		in = box(dst.slot(0), n)
	}
	return in, out
}

// converseResponse reads a Converse reply (also Amazon Nova's InvokeModel
// reply, which has the same shape).
func converseResponse(r *Response, doc jsontape.Value, head bool) {
	r.InputTokens, r.OutputTokens = converseUsage(doc.Get("usage"), &r.first.tokens)
	r.Details = usageDetails(doc.Get("usage"))
	m := path(doc, "output", "message")
	stop := str(doc.Get("stopReason"))
	if r.OutputContent = headOf(head, converseBlocksPresence(m.Get("content"))); r.OutputContent == ContentMade && (m.IsObject() || stop != "") {
		msg := Message{Role: "assistant", Parts: converseBlocks(m.Get("content")), FinishReason: stop}
		r.addMessage(msg)
	}
	if stop != "" {
		r.addReason(stop)
	}
}

// invokeRequest fills r from an InvokeModel body in a model family's own
// shape: Anthropic (anthropic_version), Amazon Nova (messages with
// inferenceConfig), Amazon Titan (inputText), Meta Llama and Mistral
// (prompt), Cohere (message), OpenAI-style messages.
func invokeRequest(r *Request, doc jsontape.Value) {
	var messages, system, inputText, prompt, message jsontape.Value
	for k, v := range doc.Members() {
		switch k {
		case "anthropic_version":
			r.API = APIAnthropic
		case "messages":
			messages = v
		case "system":
			system = v
		case "inputText":
			inputText = v
		case "prompt":
			prompt = v
		case "message":
			message = v
		case "max_tokens", "max_gen_len", "max_tokens_to_sample":
			r.MaxTokens = countInto(&r.maxTokens, v)
		case "temperature":
			setNumber(&r.Temperature, v)
		case "top_p":
			setNumber(&r.TopP, v)
		case "inferenceConfig":
			inferenceConfig(r, v)
		case "textGenerationConfig":
			r.MaxTokens = countInto(&r.maxTokens, v.Get("maxTokenCount"))
			if t := v.Get("temperature"); t.Kind() == jsontape.Number {
				f := t.Num()
				r.Temperature = &f
			}
			if t := v.Get("topP"); t.Kind() == jsontape.Number {
				f := t.Num()
				r.TopP = &f
			}
		}
	}
	switch {
	case r.API == APIAnthropic:
		r.System = parseContent(system)
		r.Messages = chatMessages(r, messages)
	case messages.IsArray():
		r.System = converseBlocks(system)
		if len(r.System) == 0 {
			r.System = nil
		}
		r.Messages = converseMessages(r, messages)
		for i, m := range r.Messages {
			if len(m.Parts) == 0 { // OpenAI-style string content
				r.Messages[i] = chatMessage(messageAt(messages, i))
			}
		}
	default:
		for _, v := range []jsontape.Value{inputText, prompt, message} {
			if v.Kind() == jsontape.String {
				r.Messages = []Message{{Role: "user", Parts: []Part{textPart(v.Str())}}}
				break
			}
		}
	}
}

// messageAt returns the i-th object of a messages array, counting objects
// only, as converseMessages does.
func messageAt(ms jsontape.Value, i int) jsontape.Value {
	for m := range ms.Elements() {
		if !m.IsObject() {
			continue
		}
		if i == 0 {
			return m
		}
		i--
	}
	return jsontape.Value{}
}

// invokeResponse reads an InvokeModel reply in a model family's own shape.
func invokeResponse(r *Response, doc jsontape.Value) {
	if str(doc.Get("type")) == "message" || doc.Get("anthropic_version").Exists() {
		fromBody(r, APIAnthropic, doc, false)
		return
	}
	if doc.Get("output").IsObject() {
		converseResponse(r, doc, false)
		return
	}
	r.ID = str(doc.Get("id"))
	r.ErrorType = errorType(doc.Get("error"))
	var text, finish string
	var hasText bool
	set := func(t jsontape.Value, f string) {
		if t.Kind() == jsontape.String {
			text, hasText = t.Str(), true
		}
		if f != "" {
			finish = f
		}
	}
	for k, v := range doc.Members() {
		switch k {
		case "results": // Amazon Titan text
			for it := range each(v) {
				set(it.Get("outputText"), str(it.Get("completionReason")))
				break
			}
		case "generation": // Meta Llama
			set(v, str(doc.Get("stop_reason")))
		case "outputs": // Mistral
			for it := range each(v) {
				set(it.Get("text"), str(it.Get("stop_reason")))
				break
			}
		case "generations": // Cohere Command
			for it := range each(v) {
				set(it.Get("text"), str(it.Get("finish_reason")))
				break
			}
		case "text": // Cohere Command R
			set(v, str(doc.Get("finish_reason")))
		case "completion": // Anthropic text completions
			set(v, str(doc.Get("stop_reason")))
		case "inputTextTokenCount", "prompt_token_count":
			r.InputTokens = count(v)
		case "generation_token_count":
			r.OutputTokens = count(v)
		}
	}
	for it := range each(doc.Get("results")) {
		if c := count(it.Get("tokenCount")); c != nil {
			r.OutputTokens = c
		}
		break
	}
	if hasText || finish != "" {
		m := Message{Role: "assistant", Parts: []Part{}, FinishReason: finish}
		if hasText {
			m.Parts = append(m.Parts, textPart(text))
		}
		r.Messages = []Message{m}
	}
	if finish != "" {
		r.FinishReasons = []string{finish}
	}
}

// converseEvent takes one ConverseStream event (also an Amazon Nova
// InvokeModelWithResponseStream chunk, whose single member names the
// event).
func (s *Stream) converseEvent(typ string, ev jsontape.Value) {
	switch typ {
	case "messageStart":
	case "contentBlockStart":
		b := slot(s, &s.blocks, int(intOf(ev.Get("contentBlockIndex"))))
		if b == nil {
			return
		}
		if tu := path(ev, "start", "toolUse"); tu.IsObject() {
			b.kind = "tool_use"
			b.tool = &toolAcc{id: s.b.keep(str(tu.Get("toolUseId"))), name: s.b.keep(str(tu.Get("name")))}
		}
	case "contentBlockDelta":
		d := ev.Get("delta")
		if !d.IsObject() {
			return
		}
		b := slot(s, &s.blocks, int(intOf(ev.Get("contentBlockIndex"))))
		if b == nil {
			return
		}
		switch {
		case d.Get("text").Kind() == jsontape.String:
			if b.kind == "" {
				b.kind = "text"
			}
			s.b.add(&b.text, str(d.Get("text")))
		case d.Get("toolUse").IsObject():
			if b.tool == nil {
				b.tool, b.kind = &toolAcc{}, "tool_use"
			}
			s.b.add(&b.tool.args, str(path(d, "toolUse", "input")))
		case d.Get("reasoningContent").IsObject():
			if b.kind == "" {
				b.kind = "reasoning"
			}
			s.b.add(&b.text, str(path(d, "reasoningContent", "text")))
		}
	case "messageStop":
		if r := str(ev.Get("stopReason")); r != "" {
			s.finish = r
		}
		s.done = true
	case "metadata":
		if in, out := converseUsage(ev.Get("usage"), nil); in != nil || out != nil {
			s.in, s.out = in, out
		}
		s.details.merge(usageDetails(ev.Get("usage")))
	}
}

// converseEvents are the members that name the event in an Amazon Nova
// InvokeModelWithResponseStream chunk.
var converseEvents = []string{"messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"}

// invokeChunk takes one decoded chunk of InvokeModelWithResponseStream in
// a model family's own shape (Anthropic chunks go to the Anthropic
// reassembly instead).
func (s *Stream) invokeChunk(doc jsontape.Value) {
	for _, k := range converseEvents {
		if v := doc.Get(k); v.IsObject() {
			s.converseEvent(k, v)
			return
		}
	}
	if t := errorType(doc.Get("error")); t != "" {
		s.errType, s.done = t, true
		return
	}
	var text jsontape.Value
	var finish string
	for k, v := range doc.Members() {
		switch k {
		case "outputText", "generation", "completion", "text":
			text = v
		case "completionReason", "stop_reason", "finish_reason":
			finish = str(v)
		case "outputs", "generations":
			for it := range each(v) {
				text = it.Get("text")
				if f := str(it.Get("stop_reason")); f != "" {
					finish = f
				}
				if f := str(it.Get("finish_reason")); f != "" {
					finish = f
				}
				break
			}
		case "inputTextTokenCount", "prompt_token_count":
			if c := count(v); c != nil {
				s.in = c
			}
		case "totalOutputTextTokenCount", "generation_token_count":
			if c := count(v); c != nil {
				s.out = c
			}
		}
	}
	if text.Kind() == jsontape.String {
		s.blocks = grow(s.blocks, 0)
		s.blocks[0].kind = "text"
		s.b.add(&s.blocks[0].text, text.Str())
	}
	if finish != "" {
		s.finish = finish
		s.done = true
	}
}

// EventStreamMessage feeds one message of an AWS event stream (Bedrock's
// ConverseStream and InvokeModelWithResponseStream): its ":message-type",
// ":event-type", ":exception-type" or ":error-code", and payload. An
// exception or error message ends the stream with that type as error.type
// (when it is a [ValidErrorType], else "exception" or "error"); a "chunk"
// event carries the model's own chunk, base64 in its "bytes" member, with
// the invocation metrics Bedrock adds to the last one.
func (s *Stream) EventStreamMessage(messageType, eventType, errorType string, payload []byte) {
	switch messageType {
	case "exception", "error":
		s.errType = messageType
		if ValidErrorType(errorType) {
			s.errType = strings.Clone(errorType)
		}
		s.done = true
		return
	}
	if eventType != "chunk" {
		s.Event(eventType, payload)
		return
	}
	doc, err := s.parser.Parse(bytes.TrimSpace(payload))
	if err != nil {
		s.unparsed = true
		return
	}
	raw := doc.Get("bytes")
	if raw.Kind() != jsontape.String {
		s.unparsed = true
		return
	}
	inner, err := base64.StdEncoding.DecodeString(raw.Str())
	if err != nil {
		s.unparsed = true
		return
	}
	s.Event("", inner)
	if bytes.Contains(inner, []byte(`"amazon-bedrock-invocationMetrics"`)) {
		if doc, err := s.parser.ParseString(string(inner)); err == nil {
			m := doc.Get("amazon-bedrock-invocationMetrics")
			if c := count(m.Get("inputTokenCount")); c != nil && s.in == nil {
				s.in = c
			}
			if c := count(m.Get("outputTokenCount")); c != nil && s.out == nil {
				s.out = c
			}
			if s.final == nil && s.api != APIAnthropic {
				s.done = true
			}
		}
	}
}
