package genai

import (
	"bytes"
	"encoding/json"
)

// maxIndex bounds the choice, block and output indexes a stream may use, so
// that hostile indexes cannot make the accumulator allocate.
const maxIndex = 64

// budget is the byte allowance shared by every text a stream accumulates.
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

type toolAcc struct {
	id, name string
	args     []byte
}

type partAcc struct {
	kind  string // "text", "refusal", "reasoning", "tool_call", other block types
	text  []byte
	tools []*toolAcc // chat completions tool calls by index
	tool  *toolAcc   // Anthropic tool_use block
	item  *Part      // a finished Responses output item
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
	api     API
	b       budget
	done    bool
	id      string
	model   string
	in, out *int64
	errType string
	final   *Response // a complete reply carried by a terminal event

	choices []choiceAcc // chat completions / completions, by choice index
	blocks  []partAcc   // Anthropic content blocks / Responses output items, by index
	finish  string      // Anthropic stop_reason, Ollama done_reason
	ollama  []byte      // Ollama accumulated content
}

// NewStream returns an accumulator for a stream of the given API that keeps
// at most limit bytes of output text (<= 0: 1 MiB).
func NewStream(api API, limit int) *Stream {
	if limit <= 0 {
		limit = 1 << 20
	}
	return &Stream{api: api, b: budget{left: limit}}
}

// Done reports whether the stream's terminal event ([DONE], message_stop,
// response.completed, Ollama's done:true, or an error event) was seen.
func (s *Stream) Done() bool { return s.done }

// Event feeds one SSE event (typ is its "event:" field, possibly empty) or
// one NDJSON line (typ empty). Malformed events are ignored.
func (s *Stream) Event(typ string, data []byte) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return
	}
	if bytes.Equal(data, []byte("[DONE]")) {
		s.done = true
		return
	}
	switch s.api {
	case APIAnthropic:
		s.anthropic(typ, data)
	case APIResponses:
		s.responses(typ, data)
	case APIOllamaChat, APIOllamaGenerate:
		s.ollamaLine(data)
	default:
		s.chat(data)
	}
}

func index(i int) bool { return i >= 0 && i < maxIndex }

func grow[T any](xs []T, i int) []T {
	for len(xs) <= i {
		var zero T
		xs = append(xs, zero)
	}
	return xs
}

func (s *Stream) chat(data []byte) {
	var rb responseBody
	if json.Unmarshal(data, &rb) != nil {
		return
	}
	if t := errorType(rb.Error); t != "" {
		s.errType = t
		s.done = true
		return
	}
	if rb.ID != "" {
		s.id = rb.ID
	}
	if rb.Model != "" {
		s.model = rb.Model
	}
	if rb.Usage != nil {
		s.in, s.out = rb.Usage.counts()
	}
	for _, c := range rb.Choices {
		if !index(c.Index) {
			continue
		}
		s.choices = grow(s.choices, c.Index)
		ch := &s.choices[c.Index]
		ch.seen = true
		if c.Delta.Role != "" {
			ch.role = c.Delta.Role
		}
		if c.Text != nil {
			s.b.add(&ch.text, *c.Text)
		}
		if c.Delta.Content != nil {
			s.b.add(&ch.text, *c.Delta.Content)
		}
		if c.Delta.Refusal != nil {
			s.b.add(&ch.refusal, *c.Delta.Refusal)
		}
		for _, tc := range c.Delta.ToolCalls {
			if !index(tc.Index) {
				continue
			}
			ch.tools = grow(ch.tools, tc.Index)
			if ch.tools[tc.Index] == nil {
				ch.tools[tc.Index] = &toolAcc{}
			}
			t := ch.tools[tc.Index]
			if tc.ID != "" {
				t.id = tc.ID
			}
			if tc.Function.Name != "" {
				t.name = tc.Function.Name
			}
			s.b.add(&t.args, tc.Function.Arguments)
		}
		if c.FinishReason != nil && *c.FinishReason != "" {
			ch.finish = *c.FinishReason
		}
	}
}

type anthropicEvent struct {
	Type    string `json:"type"`
	Index   int    `json:"index"`
	Message *struct {
		ID    string `json:"id"`
		Model string `json:"model"`
		Usage *usage `json:"usage"`
	} `json:"message"`
	ContentBlock *struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Name string `json:"name"`
		Text string `json:"text"`
	} `json:"content_block"`
	Delta *struct {
		Type        string  `json:"type"`
		Text        string  `json:"text"`
		Thinking    string  `json:"thinking"`
		PartialJSON string  `json:"partial_json"`
		StopReason  *string `json:"stop_reason"`
	} `json:"delta"`
	Usage *usage          `json:"usage"`
	Error json.RawMessage `json:"error"`
}

func (s *Stream) anthropic(typ string, data []byte) {
	var ev anthropicEvent
	if json.Unmarshal(data, &ev) != nil {
		return
	}
	if typ == "" {
		typ = ev.Type
	}
	switch typ {
	case "message_start":
		if ev.Message != nil {
			s.id, s.model = ev.Message.ID, ev.Message.Model
			s.in, s.out = ev.Message.Usage.counts()
		}
	case "content_block_start":
		if !index(ev.Index) || ev.ContentBlock == nil {
			return
		}
		s.blocks = grow(s.blocks, ev.Index)
		b := &s.blocks[ev.Index]
		b.kind = ev.ContentBlock.Type
		switch b.kind {
		case "tool_use", "server_tool_use":
			b.tool = &toolAcc{id: ev.ContentBlock.ID, name: ev.ContentBlock.Name}
		case "text":
			s.b.add(&b.text, ev.ContentBlock.Text)
		}
	case "content_block_delta":
		if !index(ev.Index) || ev.Delta == nil {
			return
		}
		s.blocks = grow(s.blocks, ev.Index)
		b := &s.blocks[ev.Index]
		switch ev.Delta.Type {
		case "text_delta":
			if b.kind == "" {
				b.kind = "text"
			}
			s.b.add(&b.text, ev.Delta.Text)
		case "thinking_delta":
			if b.kind == "" {
				b.kind = "thinking"
			}
			s.b.add(&b.text, ev.Delta.Thinking)
		case "input_json_delta":
			if b.tool == nil {
				b.tool = &toolAcc{}
				b.kind = "tool_use"
			}
			s.b.add(&b.tool.args, ev.Delta.PartialJSON)
		}
	case "message_delta":
		if ev.Delta != nil && ev.Delta.StopReason != nil {
			s.finish = *ev.Delta.StopReason
		}
		if ev.Usage != nil {
			in, out := ev.Usage.counts()
			if in != nil {
				s.in = in
			}
			if out != nil {
				s.out = out
			}
		}
	case "message_stop":
		s.done = true
	case "error":
		s.errType = errorType(ev.Error)
		if s.errType == "" {
			s.errType = "error"
		}
		s.done = true
	}
}

type responsesEvent struct {
	Type        string          `json:"type"`
	OutputIndex int             `json:"output_index"`
	Delta       string          `json:"delta"`
	Item        json.RawMessage `json:"item"`
	Response    json.RawMessage `json:"response"`
	Code        json.RawMessage `json:"code"`
}

func (s *Stream) responses(typ string, data []byte) {
	var ev responsesEvent
	if json.Unmarshal(data, &ev) != nil {
		return
	}
	if typ == "" {
		typ = ev.Type
	}
	switch typ {
	case "response.created", "response.in_progress":
		var rb responseBody
		if json.Unmarshal(ev.Response, &rb) == nil {
			s.id, s.model = rb.ID, rb.Model
		}
	case "response.output_text.delta", "response.refusal.delta":
		if !index(ev.OutputIndex) {
			return
		}
		s.blocks = grow(s.blocks, ev.OutputIndex)
		b := &s.blocks[ev.OutputIndex]
		if b.kind == "" {
			b.kind = "text"
			if typ == "response.refusal.delta" {
				b.kind = "refusal"
			}
		}
		s.b.add(&b.text, ev.Delta)
	case "response.output_item.done":
		if !index(ev.OutputIndex) {
			return
		}
		s.blocks = grow(s.blocks, ev.OutputIndex)
		var it chatMessage
		if json.Unmarshal(ev.Item, &it) == nil && it.Type == "function_call" {
			s.blocks[ev.OutputIndex].item = &Part{Type: "tool_call", ID: it.CallID, Name: it.Name, Arguments: argsJSON(it.Arguments)}
		}
	case "response.completed", "response.incomplete", "response.failed":
		var rb responseBody
		if json.Unmarshal(ev.Response, &rb) == nil {
			s.final = fromBody(APIResponses, &rb)
		}
		s.done = true
	case "error":
		s.errType = errorType(data)
		s.done = true
	}
}

func (s *Stream) ollamaLine(data []byte) {
	var rb responseBody
	if json.Unmarshal(data, &rb) != nil {
		return
	}
	if t := errorType(rb.Error); t != "" {
		s.errType = "error"
		s.done = true
		return
	}
	if rb.Model != "" {
		s.model = rb.Model
	}
	if rb.Message != nil {
		var c string
		if json.Unmarshal(rb.Message.Content, &c) == nil {
			s.b.add(&s.ollama, c)
		}
	} else if rb.Response != nil {
		s.b.add(&s.ollama, *rb.Response)
	}
	if rb.Done {
		s.done = true
		s.finish = rb.DoneReason
		s.in, s.out = rb.PromptEvalCount, rb.EvalCount
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
	r := &Response{ID: s.id, Model: s.model, InputTokens: s.in, OutputTokens: s.out, ErrorType: s.errType, Truncated: s.b.truncated}
	switch s.api {
	case APIAnthropic, APIResponses:
		m := Message{Role: "assistant", Parts: []Part{}, FinishReason: s.finish}
		for _, b := range s.blocks {
			switch {
			case b.item != nil:
				m.Parts = append(m.Parts, *b.item)
			case b.tool != nil:
				m.Parts = append(m.Parts, Part{Type: "tool_call", ID: b.tool.id, Name: b.tool.name, Arguments: rawOrNil(b.tool.args)})
			case b.kind == "text":
				m.Parts = append(m.Parts, textPart(string(b.text)))
			case b.kind == "thinking":
				m.Parts = append(m.Parts, Part{Type: "reasoning", Content: string(b.text)})
			case b.kind == "refusal":
				m.Parts = append(m.Parts, Part{Type: "refusal", Content: string(b.text)})
			case b.kind != "":
				m.Parts = append(m.Parts, Part{Type: b.kind})
			}
		}
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
					m.Parts = append(m.Parts, Part{Type: "tool_call", ID: t.id, Name: t.name, Arguments: argsJSON(jsonString(string(t.args)))})
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
