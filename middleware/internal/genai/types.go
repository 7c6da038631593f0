package genai

import (
	"encoding/json"
	"errors"
	"iter"
	"strconv"
	"strings"
	"unsafe"

	"github.com/otelaudit/otelaudit-go/internal/jsontape"
	"github.com/otelaudit/otelaudit-go/internal/jsontext"
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
	// FileID names a file uploaded to the provider before (a "file" part).
	FileID string `json:"file_id,omitempty"`
	// ServerToolCall and ServerToolCallResponse are the details of a
	// "server_tool_call" and a "server_tool_call_response" part: a JSON
	// object whose "type" names the tool.
	ServerToolCall         json.RawMessage `json:"server_tool_call,omitempty"`
	ServerToolCallResponse json.RawMessage `json:"server_tool_call_response,omitempty"`
}

// Message is one chat message in the GenAI semantic-convention shape.
type Message struct {
	Role         string `json:"role"`
	Parts        []Part `json:"parts"`
	FinishReason string `json:"finish_reason,omitempty"`
}

// Content says what a head parse ([ParseRequestInto],
// [ParseResponseInto]) did with a list of content parts (the input or
// output messages, the system instructions): made it, or left it out
// and said whether the full parse gives it a part, which is all a caller
// needs to know until it wants the list itself.
type Content uint8

const (
	// ContentMade: the list was made, as the full parse makes it (the
	// head could not tell cheaply whether it has a part).
	ContentMade Content = iota
	// ContentNone: left out (nil); the full parse gives it no part.
	ContentNone
	// ContentSome: left out (nil); the full parse gives it at least one
	// part.
	ContentSome
)

// keptDoc is the parse a head parse keeps for the full parse of the
// lists it left out (Request.Rest, Response.Rest): its Parser, out of the
// pool until then, the document, and the API it was read as. The
// document's strings share the body's memory, as the results do.
type keptDoc struct {
	p   *jsontape.Parser
	doc jsontape.Value
	api API
}

// Request is what was extracted from a request body.
type Request struct {
	// API is the wire format of the reply: the API the request was parsed
	// as, except for a Bedrock InvokeModel body in Anthropic's shape
	// (anthropic_version), whose reply is Anthropic's too.
	API    API
	Model  string
	Stream bool
	// IncludeUsage is stream_options.include_usage (OpenAI).
	IncludeUsage bool
	Messages     []Message
	System       []Part
	// InputContent and SystemContent say what a head parse
	// ([ParseRequestInto]) did with Messages and System; ContentMade
	// (made, as ParseRequest makes them) after ParseRequest.
	InputContent, SystemContent Content
	// ConversationID comes from the body ("conversation", "conversation_id"
	// or metadata.conversation_id) when present.
	ConversationID string
	MaxTokens      *int64
	Temperature    *float64
	TopP           *float64
	// The other request parameters semconv lists (gen_ai.request.*).
	TopK             *float64
	Seed             *int64
	FrequencyPenalty *float64
	PresencePenalty  *float64
	ChoiceCount      *int64
	StopSequences    []string
	// OutputType is gen_ai.output.type: "text", "json" or "image" when the
	// request asks for it.
	OutputType string

	// first holds the messages of a parsed request when they are few (a
	// system and a user message, or one user turn, is the common call),
	// so that they share the Request's allocation; firstUsed records that
	// it was handed out, so it is never handed out twice.
	first     [2]Message
	firstUsed bool
	// maxTokens is the storage MaxTokens points to once parsed.
	maxTokens int64
	// kept is what a head parse that left lists out keeps for Rest.
	kept keptDoc
}

// messageRoom returns an empty slice with room for n messages: r's own
// storage the first time when they fit, else a new array. Its capacity
// is n, so appending more moves to the heap rather than past the room.
func (r *Request) messageRoom(n int) []Message {
	if n <= len(r.first) && !r.firstUsed {
		r.firstUsed = true
		return r.first[:0:n]
	}
	return make([]Message, 0, n)
}

// param reads one request parameter that several APIs share under one of
// these names; it reports whether k was one of them.
func (r *Request) param(k string, v jsontape.Value) bool {
	num := func() *float64 {
		if v.Kind() != jsontape.Number {
			return nil
		}
		f := v.Num()
		return &f
	}
	switch k {
	case "top_k", "topK":
		r.TopK = num()
	case "seed":
		r.Seed = count(v)
	case "frequency_penalty", "frequencyPenalty":
		r.FrequencyPenalty = num()
	case "presence_penalty", "presencePenalty":
		r.PresencePenalty = num()
	case "n", "candidateCount", "candidate_count":
		r.ChoiceCount = count(v)
	case "stop", "stop_sequences", "stopSequences":
		switch {
		case v.Kind() == jsontape.String:
			r.StopSequences = []string{v.Str()}
		case v.IsArray():
			r.StopSequences = r.StopSequences[:0]
			for e := range v.Elements() {
				if e.Kind() == jsontape.String {
					r.StopSequences = append(r.StopSequences, e.Str())
				}
			}
		}
	case "response_format", "text": // OpenAI chat; Responses' text.format
		t := str(v.Get("type"))
		if f := v.Get("format"); f.IsObject() {
			t = str(f.Get("type"))
		}
		switch t {
		case "json_object", "json_schema":
			r.OutputType = "json"
		case "text":
			r.OutputType = "text"
		}
	case "responseMimeType", "response_mime_type": // Gemini
		switch m := str(v); {
		case m == "application/json":
			r.OutputType = "json"
		case m == "text/plain":
			r.OutputType = "text"
		}
	case "format": // Ollama
		if str(v) == "json" || v.IsObject() {
			r.OutputType = "json"
		}
	default:
		return false
	}
	return true
}

// Response is what was extracted from a response body or a reassembled
// stream. Nil token counts mean the reply did not say.
type Response struct {
	ID       string
	Model    string
	Messages []Message
	// OutputContent says what a head parse ([ParseResponseInto]) did
	// with Messages; ContentMade (made) after ParseResponse.
	OutputContent Content
	FinishReasons []string
	InputTokens   *int64
	OutputTokens  *int64
	// Details are the cache and reasoning token counts, when the reply
	// gives them.
	Details UsageDetails
	// ErrorType is the provider's error type or code (error.type) when the
	// body, or an event of the stream, was an error.
	ErrorType string
	// Truncated reports that output text beyond the capture limit was
	// dropped.
	Truncated bool
	// kept is what a head parse that left the messages out keeps for
	// Rest.
	kept keptDoc

	// first holds the first message and finish reason of a parsed reply
	// (most replies have exactly one), so that they share the Response's
	// allocation: Messages and FinishReasons start as slices of it, with
	// no room to grow into it, and a second item moves them to the heap.
	first struct {
		msg    [1]Message
		reason [1]string
		tokens tokenSlots // InputTokens and OutputTokens
	}
}

// tokenSlots is storage for the input and output token counts of a
// reply; a nil *tokenSlots means each count gets its own allocation.
type tokenSlots [2]int64

// slot returns the i-th slot, nil when t is nil.
func (t *tokenSlots) slot(i int) *int64 {
	if t == nil {
		return nil
	}
	return &t[i]
}

// addMessage appends m to r.Messages, the first one into r's own storage.
func (r *Response) addMessage(m Message) { r.Messages = appendFirstIn(r.Messages, &r.first.msg, m) }

// addReason appends s to r.FinishReasons, the first one into r's own
// storage.
func (r *Response) addReason(s string) {
	r.FinishReasons = appendFirstIn(r.FinishReasons, &r.first.reason, s)
}

// appendFirstIn appends v to s, putting the first element into room (its
// owner's own storage) with no spare capacity, so that a second append
// moves to the heap instead of writing past room.
func appendFirstIn[T any](s []T, room *[1]T, v T) []T {
	if s == nil {
		room[0] = v
		return room[:1:1]
	}
	return append(s, v)
}

// UsageDetails are the token counts semconv records apart from input and
// output: gen_ai.usage.cache_read.input_tokens,
// gen_ai.usage.cache_creation.input_tokens and
// gen_ai.usage.reasoning.output_tokens. Nil means not given.
type UsageDetails struct {
	CacheRead, CacheCreation, Reasoning *int64
}

// merge takes each count o gives, keeping d's others: a later usage
// report of a stream replaces the counts it repeats.
func (d *UsageDetails) merge(o UsageDetails) {
	if o.CacheRead != nil {
		d.CacheRead = o.CacheRead
	}
	if o.CacheCreation != nil {
		d.CacheCreation = o.CacheCreation
	}
	if o.Reasoning != nil {
		d.Reasoning = o.Reasoning
	}
}

// usageDetails reads the cache and reasoning counts of a usage object in
// any of the shapes the package knows: OpenAI Chat Completions
// (prompt_tokens_details.cached_tokens,
// completion_tokens_details.reasoning_tokens), Responses
// (input_tokens_details, output_tokens_details), Anthropic
// (cache_read_input_tokens, cache_creation_input_tokens), Gemini
// (cachedContentTokenCount, thoughtsTokenCount) and Bedrock Converse
// (cacheReadInputTokens, cacheWriteInputTokens).
func usageDetails(u jsontape.Value) UsageDetails {
	var d UsageDetails
	if !u.IsObject() {
		return d
	}
	for k, v := range u.Members() {
		switch k {
		case "cache_read_input_tokens", "cacheReadInputTokens", "cachedContentTokenCount", "cached_content_token_count":
			d.CacheRead = count(v)
		case "cache_creation_input_tokens", "cacheWriteInputTokens":
			d.CacheCreation = count(v)
		case "thoughtsTokenCount", "thoughts_token_count":
			d.Reasoning = count(v)
		case "prompt_tokens_details", "input_tokens_details":
			if c := count(v.Get("cached_tokens")); c != nil {
				d.CacheRead = c
			}
		case "completion_tokens_details", "output_tokens_details":
			if c := count(v.Get("reasoning_tokens")); c != nil {
				d.Reasoning = c
			}
		}
	}
	return d
}

// MessagesJSON encodes messages as the semconv JSON array of input
// messages (gen_ai.input.messages): a finish_reason is written where a
// message has one. Nil or empty gives "".
func MessagesJSON(ms []Message) string { return messagesJSON(ms, false, "") }

// OutputMessagesJSON encodes messages as the semconv JSON array of output
// messages (gen_ai.output.messages), whose schema requires finish_reason
// on every message: each gets [FinishReason] of its own reason, or
// fallback when it has none. Nil or empty gives "".
func OutputMessagesJSON(ms []Message, fallback string) string {
	return messagesJSON(ms, true, fallback)
}

func messagesJSON(ms []Message, output bool, fallback string) string {
	if len(ms) == 0 {
		return ""
	}
	n := 2
	for _, m := range ms {
		n += 48 + len(m.Role) + len(m.FinishReason) + len(fallback) + partsSize(m.Parts)
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"role":`...)
		b = jsontext.AppendString(b, m.Role)
		b = append(b, `,"parts":`...)
		b = appendParts(b, m.Parts)
		reason := m.FinishReason
		if output {
			reason = FinishReason(reason)
			if reason == "" {
				reason = fallback
			}
		}
		if reason != "" {
			b = append(b, `,"finish_reason":`...)
			b = jsontext.AppendString(b, reason)
		}
		b = append(b, '}')
	}
	return bytesToString(append(b, ']'))
}

// FinishReason maps a provider's finish reason to the value semconv's
// output message schema lists for it (v1.41.0 FinishReason: "stop",
// "length", "content_filter", "tool_call", "error") and returns any other
// value as it is. The span's gen_ai.response.finish_reasons keeps the
// provider's own values.
func FinishReason(raw string) string {
	switch raw {
	case "stop", "end_turn", "stop_sequence", "STOP", "FINISH", "COMPLETE":
		// OpenAI, Anthropic and Bedrock Converse, Gemini, Amazon Titan,
		// Cohere.
		return "stop"
	case "length", "max_tokens", "max_output_tokens", "model_context_window_exceeded", "MAX_TOKENS", "LENGTH":
		return "length"
	case "content_filter", "refusal", "guardrail_intervened", "content_filtered", "CONTENT_FILTERED",
		"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "ERROR_TOXIC":
		return "content_filter"
	case "tool_calls", "function_call", "tool_use":
		return "tool_call"
	case "error", "ERROR", "MALFORMED_FUNCTION_CALL":
		return "error"
	}
	return raw
}

// ContentText returns the audit content of ms: what the exporter's
// ContentText rule gives for MessagesJSON(ms), without building the JSON
// (text parts verbatim, every other part as its canonical JSON, joined with
// "\n"). ok is false when ms has no part (the rule then contributes
// nothing). The text shares no memory with ms.
func ContentText(ms []Message) (text string, ok bool) {
	n, parts := 0, 0
	for _, m := range ms {
		parts += len(m.Parts)
		n += partsSize(m.Parts)
	}
	if parts == 0 {
		return "", false
	}
	b := make([]byte, 0, n)
	first := true
	for _, m := range ms {
		b = appendPartsText(b, m.Parts, &first)
	}
	return bytesToString(b), true
}

// PartsContentText is [ContentText] for a list of parts (system
// instructions, PartsJSON).
func PartsContentText(ps []Part) (text string, ok bool) {
	if len(ps) == 0 {
		return "", false
	}
	first := true
	return bytesToString(appendPartsText(make([]byte, 0, partsSize(ps)), ps, &first)), true
}

// appendPartsText appends the content text of each part to b, after a
// "\n" unless *first.
func appendPartsText(b []byte, ps []Part, first *bool) []byte {
	for i := range ps {
		if !*first {
			b = append(b, '\n')
		}
		*first = false
		p := &ps[i]
		if p.Type == "text" {
			b = append(b, p.Content...)
			continue
		}
		// The part's JSON as MessagesJSON writes it, in the canonical
		// text the exporter gives parts that are not text (raw arguments
		// and responses may hold spaces and escapes).
		obj := appendParts(nil, ps[i:i+1])
		obj = obj[1 : len(obj)-1]
		if out, ok := jsontext.AppendCompact(b, obj); ok {
			b = out
		} else {
			b = append(b, obj...)
		}
	}
	return b
}

// PartsJSON encodes parts as the semconv JSON array; empty gives "".
func PartsJSON(ps []Part) string {
	if len(ps) == 0 {
		return ""
	}
	return bytesToString(appendParts(make([]byte, 0, partsSize(ps)), ps))
}

// partsSize is what appendParts usually writes for ps: the buffer size that
// spares it a regrowth.
func partsSize(ps []Part) int {
	n := 2
	for _, p := range ps {
		n += 32 + len(p.Content) + len(p.Arguments) + len(p.Response) + len(p.URI) +
			len(p.FileID) + len(p.ServerToolCall) + len(p.ServerToolCallResponse)
	}
	return n
}

// bytesToString returns b's bytes as a string without copying them. b must
// be a buffer the caller built and drops: nothing may write to it after.
func bytesToString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func appendParts(b []byte, ps []Part) []byte {
	b = append(b, '[')
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":`...)
		b = jsontext.AppendString(b, p.Type)
		field := func(name, v string) {
			if v != "" {
				b = append(b, `,"`...)
				b = append(b, name...)
				b = append(b, `":`...)
				b = jsontext.AppendString(b, v)
			}
		}
		if p.Content != "" || p.Type == "text" {
			b = append(b, `,"content":`...)
			b = jsontext.AppendString(b, p.Content)
		}
		field("id", p.ID)
		field("name", p.Name)
		if len(p.Arguments) > 0 {
			b = append(b, `,"arguments":`...)
			b = append(b, p.Arguments...)
		}
		if len(p.Response) > 0 {
			b = append(b, `,"response":`...)
			b = append(b, p.Response...)
		}
		field("modality", p.Modality)
		field("mime_type", p.MimeType)
		field("uri", p.URI)
		field("file_id", p.FileID)
		if len(p.ServerToolCall) > 0 {
			b = append(b, `,"server_tool_call":`...)
			b = append(b, p.ServerToolCall...)
		}
		if len(p.ServerToolCallResponse) > 0 {
			b = append(b, `,"server_tool_call_response":`...)
			b = append(b, p.ServerToolCallResponse...)
		}
		b = append(b, '}')
	}
	return append(b, ']')
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

// str returns v's string value, "" unless v is a JSON string.
func str(v jsontape.Value) string { return v.Str() }

// count returns a token count, nil unless v is a non-negative integer.
func count(v jsontape.Value) *int64 { return countInto(nil, v) }

// countInto is count storing the count in *dst (a new int64 when dst is
// nil); dst is left alone when the result is nil.
func countInto(dst *int64, v jsontape.Value) *int64 {
	if v.Kind() != jsontape.Number {
		return nil
	}
	// Counts are written as integers: parse them as such, the float parse
	// (about three times the work) only for other spellings (151.0, 1e3).
	if n, ok := v.Int(); ok {
		if n < 0 {
			return nil
		}
		return box(dst, n)
	}
	f := v.Num()
	if f < 0 || f != float64(int64(f)) {
		return nil
	}
	return box(dst, int64(f))
}

// box stores n in *dst, a new int64 when dst is nil, and returns dst.
func box(dst *int64, n int64) *int64 {
	if dst == nil {
		dst = new(int64)
	}
	*dst = n
	return dst
}

// setNumber sets *dst to v's value when v is a JSON number and leaves it
// alone otherwise, so a later key of another type does not undo an earlier
// sampling parameter.
func setNumber(dst **float64, v jsontape.Value) {
	if v.Kind() == jsontape.Number {
		f := v.Num()
		*dst = &f
	}
}

// each yields the elements of v when it is an array, and nothing for any
// other value: the lists it walks (choices, tool_calls, output) are arrays
// in every API, and null or a value of another type means "none" rather
// than one empty item. (gjson, which the parsers were first written
// against, yielded such a value once as itself, so "tool_calls": null made
// an empty tool call.)
func each(v jsontape.Value) iter.Seq[jsontape.Value] {
	return func(yield func(jsontape.Value) bool) {
		if !v.IsArray() {
			return
		}
		for e := range v.Elements() {
			if !yield(e) {
				return
			}
		}
	}
}

// path returns the value at key a then key b, the way gjson's "a.b" path
// found it: the first member a, in document order, whose value is an
// object with a member b (repeated keys can make that a later a).
func path(v jsontape.Value, a, b string) jsontape.Value {
	for k, m := range v.Members() {
		if k != a {
			continue
		}
		if r := m.Get(b); r.Exists() {
			return r
		}
	}
	return jsontape.Value{}
}

// intOf converts v to an integer the way gjson's Result.Int did, which the
// stream's index handling was written against: true is 1; a string is
// parsed as an integer, else as a float; a number is truncated, saturating
// at the int64 range; anything else is 0.
func intOf(v jsontape.Value) int64 {
	switch v.Kind() {
	case jsontape.True:
		return 1
	case jsontape.String:
		s := v.Str()
		if n, ok := parseInt(s); ok {
			return n
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return floatToInt(f)
		}
	case jsontape.Number:
		f := v.Num()
		if f >= -maxSafeInt && f <= maxSafeInt {
			return int64(f)
		}
		if n, ok := parseInt(v.Raw()); ok {
			return n
		}
		return floatToInt(f)
	}
	return 0
}

// maxSafeInt is the largest integer a float64 holds exactly, 2^53-1.
const maxSafeInt = 1<<53 - 1

// parseInt parses a decimal integer, saturating at the int64 range.
func parseInt(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return n, true
}

func floatToInt(f float64) int64 {
	switch {
	case f >= 1<<63:
		return 1<<63 - 1
	case f < -1<<63:
		return -1 << 63
	}
	return int64(f)
}

// parseContent turns a content value (a string or an array of typed parts,
// in OpenAI, Responses or Anthropic form) into semconv parts.
func parseContent(v jsontape.Value) []Part {
	switch {
	case v.Kind() == jsontape.String:
		return []Part{textPart(v.Str())}
	case v.IsArray():
		var parts []Part
		for it := range v.Elements() {
			if p, ok := parseBlock(it); ok {
				parts = append(parts, p)
			}
		}
		if parts == nil {
			parts = []Part{}
		}
		return parts
	}
	return nil
}

func parseBlock(it jsontape.Value) (Part, bool) {
	if it.Kind() == jsontape.String { // a bare string in a list (prompts, embeddings input)
		return textPart(it.Str()), true
	}
	if !it.IsObject() {
		return Part{}, false
	}
	typ := str(it.Get("type"))
	switch typ {
	case "text", "input_text", "output_text", "":
		if t := it.Get("text"); t.Kind() == jsontape.String {
			return textPart(t.Str()), true
		}
		if typ == "" {
			return Part{}, false
		}
		return textPart(""), true
	case "refusal":
		return Part{Type: "refusal", Content: str(it.Get("refusal"))}, true
	case "thinking", "reasoning":
		return Part{Type: "reasoning", Content: str(it.Get("thinking"))}, true
	case "image_url", "input_image":
		u := it.Get("image_url")
		url := str(u)
		if u.IsObject() {
			url = str(u.Get("url"))
		}
		return uriPart("image", url, str(it.Get("file_id"))), true
	case "input_file": // Responses
		return filePart(it), true
	case "file": // Chat Completions: {"type":"file","file":{...}}
		if f := it.Get("file"); f.IsObject() {
			return filePart(f), true
		}
		return Part{Type: typ}, true
	case "input_audio": // Chat Completions: base64 audio
		a := it.Get("input_audio")
		p := Part{Type: "blob", Modality: "audio", Content: str(a.Get("data"))}
		if f := str(a.Get("format")); f != "" {
			p.MimeType = "audio/" + f
		}
		return p, true
	case "image", "document":
		modality := "image"
		if typ == "document" {
			modality = "document"
		}
		if src := it.Get("source"); src.IsObject() {
			switch str(src.Get("type")) {
			case "base64":
				return Part{Type: "blob", Modality: modality, MimeType: str(src.Get("media_type")), Content: str(src.Get("data"))}, true
			case "file": // Anthropic Files API
				return Part{Type: "file", Modality: modality, FileID: str(src.Get("file_id"))}, true
			case "text": // a plain-text document
				return textPart(str(src.Get("data"))), true
			}
			return Part{Type: "uri", Modality: modality, URI: str(src.Get("url"))}, true
		}
		return Part{Type: typ}, true
	case "tool_use":
		return Part{Type: "tool_call", ID: str(it.Get("id")), Name: str(it.Get("name")), Arguments: rawOrNil(it.Get("input"))}, true
	case "server_tool_use", "mcp_tool_use":
		// A tool the provider runs itself (web search, code execution,
		// an MCP server): semconv's server_tool_call, its details typed
		// by the tool's name.
		name := str(it.Get("name"))
		details := jsontext.AppendString([]byte(`{"type":`), name)
		if in := rawOrNil(it.Get("input")); in != nil {
			details = append(append(details, `,"input":`...), in...)
		}
		return Part{Type: "server_tool_call", ID: str(it.Get("id")), Name: name, ServerToolCall: append(details, '}')}, true
	case "tool_result":
		return Part{Type: "tool_call_response", ID: str(it.Get("tool_use_id")), Response: contentAsJSON(it.Get("content"))}, true
	case "function_call":
		return Part{Type: "tool_call", ID: str(it.Get("call_id")), Name: str(it.Get("name")), Arguments: argsJSON(it.Get("arguments"))}, true
	case "function_call_output":
		return Part{Type: "tool_call_response", ID: str(it.Get("call_id")), Response: contentAsJSON(it.Get("output"))}, true
	}
	if typ == "mcp_tool_result" || strings.HasSuffix(typ, "_tool_result") {
		// The result of a server tool (web_search_tool_result,
		// code_execution_tool_result, ...): the block itself, whose type
		// names the tool, is the response's details.
		return Part{Type: "server_tool_call_response", ID: str(it.Get("tool_use_id")), ServerToolCallResponse: rawOrNil(it)}, true
	}
	return Part{Type: typ}, true
}

// filePart reads an OpenAI file input ({file_id} or {file_data} as a data
// URL, or {file_url}): a file, blob or uri part. Such files are documents
// (images have their own part type).
func filePart(f jsontape.Value) Part {
	url := str(f.Get("file_data"))
	if url != "" && !strings.HasPrefix(url, "data:") { // bare base64
		return Part{Type: "blob", Modality: "document", MimeType: "application/octet-stream", Content: url}
	}
	if url == "" {
		url = str(f.Get("file_url"))
	}
	p := uriPart("document", url, str(f.Get("file_id")))
	if p.Type == "blob" && p.MimeType == "" {
		p.MimeType = "application/octet-stream"
	}
	return p
}

// uriPart turns an image or file reference into a part: a data URL is a
// blob, a file id (with no URL) a file part, anything else a uri part.
func uriPart(modality, url, fileID string) Part {
	if rest, ok := strings.CutPrefix(url, "data:"); ok {
		mime, data, _ := strings.Cut(rest, ",")
		mime = strings.TrimSuffix(mime, ";base64")
		return Part{Type: "blob", Modality: modality, MimeType: mime, Content: data}
	}
	if url == "" && fileID != "" {
		return Part{Type: "file", Modality: modality, FileID: fileID}
	}
	return Part{Type: "uri", Modality: modality, URI: url}
}

// rawOrNil returns v's raw JSON unless v is absent or null. The documents
// are validated before they are walked, so Raw is valid JSON.
func rawOrNil(v jsontape.Value) json.RawMessage {
	if !v.Exists() || v.Kind() == jsontape.Null || v.Raw() == "" {
		return nil
	}
	// A copy: a RawMessage is a byte slice its holder may append to,
	// which must never reach the body it came from.
	return json.RawMessage(v.Raw())
}

// argsJSON turns OpenAI's string-encoded arguments into JSON: the decoded
// value when the string holds valid JSON, else the string itself.
func argsJSON(v jsontape.Value) json.RawMessage {
	if v.Kind() == jsontape.String {
		return stringArgs(v.Str())
	}
	return rawOrNil(v)
}

func stringArgs(s string) json.RawMessage {
	if strings.TrimSpace(s) != "" && jsontape.ValidString(s) {
		return json.RawMessage(s)
	}
	if s == "" {
		return nil
	}
	return jsontext.AppendString(nil, s)
}

// contentAsJSON renders a tool result: text stays a JSON string, block
// arrays become their joined text when all are text, else raw JSON.
func contentAsJSON(v jsontape.Value) json.RawMessage {
	if v.IsArray() {
		parts := parseContent(v)
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
			return jsontext.AppendString(nil, sb.String())
		}
	}
	return rawOrNil(v)
}
