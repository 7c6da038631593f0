package genai

import (
	"bytes"
	"strings"

	"github.com/otelaudit/otelaudit-go/internal/jsontape"
)

// maxIndex bounds the choice, candidate, content block, output item and
// tool call indexes a stream may use. It is above every provider's maximum
// (OpenAI's n goes up to 128, Gemini's candidateCount to 8; blocks, items
// and tool calls have no documented limit but come nowhere near it).
const maxIndex = 1024

// maxSlots bounds the entries a stream's index lists hold together, and
// the parts of Gemini candidates with them: an
// index makes the list grow to it, so without this bound hostile indexes
// (each below maxIndex, in every choice) could make the accumulator
// allocate far more than the events it was fed. 4096 entries are a few
// hundred KiB at most.
const maxSlots = 4096

// budget is the byte allowance shared by everything a stream keeps for
// the reply: the texts it accumulates and the strings and blocks it keeps
// from its events (see keep), so that the reply stays within the cap
// however many events carry them.
type budget struct {
	left      int
	truncated bool
}

func (b *budget) add(t *[]byte, s string) {
	if len(s) > b.left {
		cut := max(b.left, 0)
		for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
			cut--
		}
		*t = append(*t, s[:cut]...)
		b.left -= cut
		b.truncated = true
		return
	}
	*t = append(*t, s...)
	b.left -= len(s)
}

// keep returns a copy of s, a string an event gave for the reply (an id, a
// name, a block type), charged to the budget; "" when it does not fit,
// which marks the reply truncated. A copy: s shares the event's private
// copy (see [Stream.Event]), which would otherwise stay in memory whole
// for every string kept from it.
func (b *budget) keep(s string) string {
	if s == "" {
		return ""
	}
	for _, c := range commonValues {
		if s == c {
			return c // the constant, not s: free, and no event kept
		}
	}
	if len(s) > b.left {
		b.truncated = true
		return ""
	}
	b.left -= len(s)
	return strings.Clone(s)
}

// commonValues are roles and finish reasons most streams give, kept as
// these constants without a copy or a charge.
var commonValues = [...]string{"assistant", "stop", "length", "tool_calls", "content_filter", "STOP", "MAX_TOKENS"}

// charge takes n bytes from the budget for output that repeats what was
// kept (a server tool's name is also in its details); false, marking the
// reply truncated, when they do not fit.
func (b *budget) charge(n int) bool {
	if n > b.left {
		b.truncated = true
		return false
	}
	b.left -= n
	return true
}

// keepPart makes p, a part parsed from an event, the stream's own: its
// strings copied (see keep) and its bytes charged to the budget. It
// reports false, marking the reply truncated, when p does not fit: the
// part is then left out whole rather than kept in pieces.
func (b *budget) keepPart(p *Part) bool {
	n := len(p.Type) + len(p.Content) + len(p.ID) + len(p.Name) + len(p.Arguments) + len(p.Response) +
		len(p.Modality) + len(p.MimeType) + len(p.URI) + len(p.FileID) + len(p.ServerToolCall) + len(p.ServerToolCallResponse)
	if !b.charge(n) {
		return false
	}
	// The raw JSON members are copies already (rawOrNil and the
	// builders make new slices); the strings share the event.
	for _, f := range []*string{&p.Type, &p.Content, &p.ID, &p.Name, &p.Modality, &p.MimeType, &p.URI, &p.FileID} {
		*f = strings.Clone(*f)
	}
	return true
}

type toolAcc struct {
	id, name string
	args     []byte
}

type partAcc struct {
	kind string // "text", "refusal", "reasoning", "tool_call", other block types
	text []byte
	tool *toolAcc // Anthropic tool_use block
	item *Part    // a finished Responses output item
}

type choiceAcc struct {
	role    string
	text    []byte
	refusal []byte
	finish  string
	tools   []*toolAcc
	seen    bool
}

// Stream reassembles one streamed reply from its events. It is not safe for
// concurrent use.
type Stream struct {
	api  API
	b    budget
	done bool
	// unparsed: an event's data was not a JSON object (see Unparsed).
	unparsed bool
	// sawDONE: the "[DONE]" sentinel ended the stream; later events are
	// not part of the reply.
	sawDONE bool
	id      string
	model   string
	in, out *int64
	details UsageDetails
	errType string
	final   *Response // a complete reply carried by a terminal event
	parser  jsontape.Parser
	// slots counts the entries the index lists below hold (see slot).
	slots int

	choices []choiceAcc  // chat completions / completions, by choice index
	blocks  []partAcc    // Anthropic and Bedrock content blocks / Responses output items, by index
	gcands  []geminiCand // Gemini candidates, by index
	finish  string       // Anthropic stop_reason, Ollama done_reason
	ollama  []byte       // Ollama accumulated content
}

// NewStream returns an accumulator for a stream of the given API that keeps
// at most limit bytes of output text (<= 0: 1 MiB).
func NewStream(api API, limit int) *Stream {
	if limit <= 0 {
		limit = 1 << 20
	}
	return &Stream{api: api, b: budget{left: limit}}
}

// Truncated records that an event was cut at the capture cap, so its
// content is missing from the reply: the result is then marked truncated
// instead of the event vanishing without a trace. Later events are still
// kept (a tool call after a lost text matters to the audit): the text of
// a truncated reply may lack a piece in the middle.
func (s *Stream) Truncated() { s.b.truncated = true }

// Done reports whether the stream's terminal event ([DONE], message_stop,
// response.completed, Ollama's done:true, or an error event) was seen.
func (s *Stream) Done() bool { return s.done }

// Unparsed reports whether an event's data (other than the [DONE]
// sentinel) was not a JSON object, or an AWS event-stream chunk could not
// be decoded: garbage or a truncated event, left out of the reply, which
// the audit entry must say is incomplete.
func (s *Stream) Unparsed() bool { return s.unparsed }

// Model returns the response model the events so far named, "" if none.
func (s *Stream) Model() string { return s.model }

// Event feeds one SSE event (typ is its "event:" field, possibly empty) or
// one NDJSON line (typ empty). An event with no data is ignored; one whose
// data is not a JSON object is left out of the reply and recorded (see
// [Stream.Unparsed]).
//
// Events after the "[DONE]" sentinel are ignored: the reply ended there.
func (s *Stream) Event(typ string, data []byte) {
	if s.sawDONE {
		return
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return
	}
	if bytes.Equal(data, []byte("[DONE]")) {
		s.done, s.sawDONE = true, true
		return
	}
	if data[0] != '{' {
		s.unparsed = true
		return
	}
	// Parse a copy: data is the caller's reused line or event buffer,
	// while the strings taken from the event (id, model, roles, a final
	// reply) outlive this call. The Stream's own Parser is reused from
	// event to event: no Value of an event outlives its Event call.
	doc, err := s.parser.ParseString(string(data))
	if err != nil {
		s.unparsed = true
		return
	}
	switch s.api {
	case APIGemini:
		s.gemini(doc)
	case APIBedrockConverse:
		s.converseEvent(typ, doc)
	case APIBedrockInvoke:
		s.invokeChunk(doc)
	case APIAnthropic:
		s.anthropic(typ, doc)
	case APIResponses:
		s.responses(typ, doc)
	case APIOllamaChat, APIOllamaGenerate:
		s.ollamaLine(doc)
	default:
		s.chat(doc)
	}
}

// slot returns entry i of *xs, growing the list to hold it, or nil when i
// is out of bounds (negative, at or above maxIndex, or past the stream's
// maxSlots). What a refused index carried is missing from the reply, so the
// reply is then marked truncated: it is never dropped without a trace.
func slot[T any](s *Stream, xs *[]T, i int) *T {
	if i >= 0 && i < len(*xs) {
		return &(*xs)[i]
	}
	if i < 0 || i >= maxIndex || s.slots+i+1-len(*xs) > maxSlots {
		s.b.truncated = true
		return nil
	}
	s.slots += i + 1 - len(*xs)
	*xs = grow(*xs, i)
	return &(*xs)[i]
}

func grow[T any](xs []T, i int) []T {
	for len(xs) <= i {
		var zero T
		xs = append(xs, zero)
	}
	return xs
}

func (s *Stream) chat(doc jsontape.Value) {
	if t := errorType(doc.Get("error")); t != "" {
		s.errType = t
		s.done = true
		return
	}
	if id := str(doc.Get("id")); id != "" {
		s.id = id
	}
	if m := str(doc.Get("model")); m != "" {
		s.model = m
	}
	if u := doc.Get("usage"); u.IsObject() {
		s.in, s.out = usageCounts(u, nil)
		s.details.merge(usageDetails(u))
	}
	for c := range each(doc.Get("choices")) {
		ch := slot(s, &s.choices, int(intOf(c.Get("index"))))
		if ch == nil {
			continue
		}
		ch.seen = true
		d := c.Get("delta")
		if r := str(d.Get("role")); r != "" {
			ch.role = s.b.keep(r)
		}
		if t := c.Get("text"); t.Kind() == jsontape.String {
			s.b.add(&ch.text, t.Str())
		}
		if t := d.Get("content"); t.Kind() == jsontape.String {
			s.b.add(&ch.text, t.Str())
		}
		if t := d.Get("refusal"); t.Kind() == jsontape.String {
			s.b.add(&ch.refusal, t.Str())
		}
		for tc := range each(d.Get("tool_calls")) {
			tp := slot(s, &ch.tools, int(intOf(tc.Get("index"))))
			if tp == nil {
				continue
			}
			if *tp == nil {
				*tp = &toolAcc{}
			}
			t := *tp
			if id := str(tc.Get("id")); id != "" {
				t.id = s.b.keep(id)
			}
			if n := str(path(tc, "function", "name")); n != "" {
				t.name = s.b.keep(n)
			}
			s.b.add(&t.args, str(path(tc, "function", "arguments")))
		}
		if f := str(c.Get("finish_reason")); f != "" {
			ch.finish = s.b.keep(f)
		}
	}
}

func (s *Stream) anthropic(typ string, ev jsontape.Value) {
	if typ == "" {
		typ = str(ev.Get("type"))
	}
	switch typ {
	case "message_start":
		if m := ev.Get("message"); m.IsObject() {
			s.id, s.model = str(m.Get("id")), str(m.Get("model"))
			s.in, s.out = usageCounts(m.Get("usage"), nil)
			s.details.merge(usageDetails(m.Get("usage")))
		}
	case "content_block_start":
		cb := ev.Get("content_block")
		if !cb.IsObject() {
			return
		}
		b := slot(s, &s.blocks, int(intOf(ev.Get("index"))))
		if b == nil {
			return
		}
		// The block's kind is kept as one of these constants, or
		// charged to the budget with the rest of a block that comes
		// whole.
		switch kind := str(cb.Get("type")); kind {
		case "tool_use", "server_tool_use", "mcp_tool_use":
			b.kind = toolKind(kind)
			b.tool = &toolAcc{id: s.b.keep(str(cb.Get("id"))), name: s.b.keep(str(cb.Get("name")))}
			if b.kind != "tool_use" && !s.b.charge(len(b.tool.name)) { // the name is in the details too
				b.tool.name = ""
			}
		case "text":
			b.kind = "text"
			s.b.add(&b.text, str(cb.Get("text")))
		case "thinking":
			b.kind = "thinking"
		case "redacted_thinking":
			b.kind = "redacted_thinking"
		default:
			// A block that comes whole in its start event (a server
			// tool's result): kept as parsed, made the stream's own.
			b.kind = ""
			if p, ok := parseBlock(cb); ok && s.b.keepPart(&p) {
				b.kind, b.item = p.Type, &p
			}
		}
	case "content_block_delta":
		d := ev.Get("delta")
		if !d.IsObject() {
			return
		}
		b := slot(s, &s.blocks, int(intOf(ev.Get("index"))))
		if b == nil {
			return
		}
		switch str(d.Get("type")) {
		case "text_delta":
			if b.kind == "" {
				b.kind = "text"
			}
			s.b.add(&b.text, str(d.Get("text")))
		case "thinking_delta":
			if b.kind == "" {
				b.kind = "thinking"
			}
			s.b.add(&b.text, str(d.Get("thinking")))
		case "input_json_delta":
			if b.tool == nil {
				b.tool = &toolAcc{}
				b.kind = "tool_use"
			}
			s.b.add(&b.tool.args, str(d.Get("partial_json")))
		}
	case "message_delta":
		if r := str(path(ev, "delta", "stop_reason")); r != "" {
			s.finish = r
		}
		in, out := usageCounts(ev.Get("usage"), nil)
		s.details.merge(usageDetails(ev.Get("usage")))
		if in != nil {
			s.in = in
		}
		if out != nil {
			s.out = out
		}
	case "message_stop":
		s.done = true
	case "error":
		s.errType = errorType(ev.Get("error"))
		if s.errType == "" {
			s.errType = "error"
		}
		s.done = true
	}
}

// toolKind returns the constant for an Anthropic tool block's kind.
func toolKind(kind string) string {
	switch kind {
	case "server_tool_use":
		return "server_tool_use"
	case "mcp_tool_use":
		return "mcp_tool_use"
	}
	return "tool_use"
}

func (s *Stream) responses(typ string, ev jsontape.Value) {
	if typ == "" {
		typ = str(ev.Get("type"))
	}
	switch typ {
	case "response.created", "response.in_progress":
		s.id, s.model = str(path(ev, "response", "id")), str(path(ev, "response", "model"))
	case "response.output_text.delta", "response.refusal.delta":
		b := slot(s, &s.blocks, int(intOf(ev.Get("output_index"))))
		if b == nil {
			return
		}
		if b.kind == "" {
			b.kind = "text"
			if typ == "response.refusal.delta" {
				b.kind = "refusal"
			}
		}
		s.b.add(&b.text, str(ev.Get("delta")))
	case "response.output_item.done":
		b := slot(s, &s.blocks, int(intOf(ev.Get("output_index"))))
		if b == nil {
			return
		}
		if it := ev.Get("item"); str(it.Get("type")) == "function_call" {
			if p, _ := parseBlock(it); s.b.keepPart(&p) {
				b.item = &p
			}
		}
	case "response.completed", "response.incomplete", "response.failed":
		if r := ev.Get("response"); r.IsObject() {
			s.final = new(Response)
			fromBody(s.final, APIResponses, r, false)
		}
		s.done = true
	case "error":
		s.errType = errorType(ev)
		s.done = true
	}
}

func (s *Stream) ollamaLine(doc jsontape.Value) {
	if errorType(doc.Get("error")) != "" {
		s.errType = "error"
		s.done = true
		return
	}
	if m := str(doc.Get("model")); m != "" {
		s.model = m
	}
	if c := path(doc, "message", "content"); c.Kind() == jsontape.String {
		s.b.add(&s.ollama, c.Str())
	} else if t := doc.Get("response"); t.Kind() == jsontape.String {
		s.b.add(&s.ollama, t.Str())
	}
	if doc.Get("done").Kind() == jsontape.True {
		s.done = true
		s.finish = str(doc.Get("done_reason"))
		s.in, s.out = count(doc.Get("prompt_eval_count")), count(doc.Get("eval_count"))
	}
}

// Result returns what was reassembled so far: the whole reply after
// [Stream.Done], the partial output before.
func (s *Stream) Result() *Response {
	if s.final != nil {
		r := *s.final
		if r.ID == "" {
			r.ID = s.id
		}
		if r.Model == "" {
			r.Model = s.model
		}
		if r.ErrorType == "" {
			r.ErrorType = s.errType
		}
		r.Truncated = s.b.truncated
		return &r
	}
	r := &Response{ID: s.id, Model: s.model, InputTokens: s.in, OutputTokens: s.out, Details: s.details, ErrorType: s.errType, Truncated: s.b.truncated}
	switch s.api {
	case APIGemini:
		s.geminiResult(r)
	case APIAnthropic, APIResponses, APIBedrockConverse, APIBedrockInvoke:
		m := Message{Role: "assistant", Parts: accParts(s.blocks), FinishReason: s.finish}
		if len(m.Parts) > 0 || s.finish != "" {
			r.Messages = []Message{m}
		}
		if s.finish != "" {
			r.FinishReasons = []string{s.finish}
		}
	case APIOllamaChat, APIOllamaGenerate:
		if len(s.ollama) > 0 || s.done {
			r.Messages = []Message{{Role: "assistant", Parts: []Part{textPart(string(s.ollama))}, FinishReason: s.finish}}
		}
		if s.finish != "" {
			r.FinishReasons = []string{s.finish}
		}
	default:
		for i := range s.choices {
			ch := &s.choices[i]
			if !ch.seen {
				continue
			}
			role := ch.role
			if role == "" {
				role = "assistant"
			}
			m := Message{Role: role, Parts: []Part{}, FinishReason: ch.finish}
			if len(ch.text) > 0 || (len(ch.refusal) == 0 && len(ch.tools) == 0) {
				m.Parts = append(m.Parts, textPart(string(ch.text)))
			}
			if len(ch.refusal) > 0 {
				m.Parts = append(m.Parts, Part{Type: "refusal", Content: string(ch.refusal)})
			}
			for _, t := range ch.tools {
				if t != nil {
					m.Parts = append(m.Parts, Part{Type: "tool_call", ID: t.id, Name: t.name, Arguments: stringArgs(string(t.args))})
				}
			}
			if ch.finish != "" {
				r.FinishReasons = append(r.FinishReasons, ch.finish)
			}
			r.Messages = append(r.Messages, m)
		}
	}
	return r
}

// jsonArgs returns streamed tool input JSON when it is complete and valid.
func jsonArgs(b []byte) []byte {
	if len(bytes.TrimSpace(b)) == 0 || !jsontape.Valid(b) {
		return nil
	}
	return b
}
