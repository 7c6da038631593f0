// Package sse is an incremental, bounded-memory parser for server-sent
// events (the text/event-stream format of the WHATWG HTML standard) as LLM
// APIs use it. Bytes are fed as they pass through a response body, in
// pieces of any size; complete events are handed to a callback.
package sse

import "bytes"

// Event is one dispatched event. Data joins the data lines with "\n" (no
// trailing newline). Type is the "event:" field, empty when absent.
// Truncated reports that the event's data exceeded the parser's limit and
// Data holds only its beginning.
type Event struct {
	Type      string
	Data      []byte
	ID        string
	Truncated bool
}

// DefaultMaxEvent is the default limit on one event's data, in bytes.
const DefaultMaxEvent = 1 << 20

// Parser parses an event stream fed through Write. The zero value is not
// usable; use [New]. A Parser is not safe for concurrent use.
type Parser struct {
	onEvent  func(Event)
	maxEvent int

	line      []byte // current partial line (bounded by maxEvent)
	lineOver  bool   // current line exceeded the limit
	skipLF    bool   // last byte was '\r': a leading '\n' belongs to it
	typ       string
	id        string
	data      []byte
	hasData   bool
	truncated bool
	events    int
	started   bool // some field of the current event was seen
}

// New returns a parser that calls onEvent for every dispatched event. The
// Event's Data is only valid during the call. maxEvent bounds the memory for
// one line and one event's data; <= 0 means [DefaultMaxEvent].
func New(maxEvent int, onEvent func(Event)) *Parser {
	if maxEvent <= 0 {
		maxEvent = DefaultMaxEvent
	}
	return &Parser{onEvent: onEvent, maxEvent: maxEvent}
}

// Events is the number of events dispatched so far.
func (p *Parser) Events() int { return p.events }

// Pending reports whether the parser holds the beginning of an event that
// was never completed (a partial line or fields without the terminating
// blank line): at the end of the stream this means it was cut mid-event.
func (p *Parser) Pending() bool { return len(p.line) > 0 || p.lineOver || p.started }

// Write feeds b to the parser. It never fails and always returns len(b).
func (p *Parser) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		if p.skipLF {
			p.skipLF = false
			if b[0] == '\n' {
				b = b[1:]
				continue
			}
		}
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			p.appendLine(b)
			break
		}
		p.appendLine(b[:i])
		if b[i] == '\r' {
			p.skipLF = true
		}
		b = b[i+1:]
		p.processLine()
	}
	return n, nil
}

func (p *Parser) appendLine(b []byte) {
	if p.lineOver {
		return
	}
	// A line may hold the field name and a full event's data.
	if room := p.maxEvent + 16 - len(p.line); len(b) > room {
		p.line = append(p.line, b[:max(room, 0)]...)
		p.lineOver = true
		return
	}
	p.line = append(p.line, b...)
}

func (p *Parser) processLine() {
	line := p.line
	over := p.lineOver
	p.line = p.line[:0]
	p.lineOver = false
	if len(line) == 0 && !over {
		p.dispatch()
		return
	}
	if line[0] == ':' { // comment
		return
	}
	p.started = true
	field, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(field) {
	case "event":
		p.typ = string(value)
	case "data":
		if p.hasData {
			p.appendData([]byte{'\n'})
		}
		p.hasData = true
		p.appendData(value)
		if over {
			p.truncated = true
		}
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			p.id = string(value)
		}
	}
}

func (p *Parser) appendData(b []byte) {
	if room := p.maxEvent - len(p.data); len(b) > room {
		p.data = append(p.data, b[:max(room, 0)]...)
		p.truncated = true
		return
	}
	p.data = append(p.data, b...)
}

func (p *Parser) dispatch() {
	if p.hasData && p.onEvent != nil {
		p.events++
		p.onEvent(Event{Type: p.typ, Data: p.data, ID: p.id, Truncated: p.truncated})
	}
	p.typ = ""
	p.data = p.data[:0]
	p.hasData = false
	p.truncated = false
	p.started = false
}
