// Package eventstream is an incremental, bounded-memory decoder for the AWS
// event-stream binary framing (application/vnd.amazon.eventstream), as
// Bedrock Runtime's ConverseStream and InvokeModelWithResponseStream use it.
// Bytes are fed as they pass through a response body, in pieces of any
// size; complete messages are handed to a callback.
//
// A message is a 12-byte prelude (total length, headers length, CRC-32 of
// those 8 bytes), the headers, the payload and a CRC-32 of everything
// before it, all big-endian. A message whose checksums do not match, or
// whose lengths are impossible, ends decoding: the rest of the stream
// cannot be framed again. A well-formed message larger than the limit is
// skipped without being buffered and counted.
package eventstream

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// Message is one decoded message: the string headers the audit uses and
// the payload. Payload is only valid during the callback.
type Message struct {
	// MessageType is ":message-type": "event", "exception" or "error".
	MessageType string
	// EventType is ":event-type" (for example "contentBlockDelta" or
	// "chunk").
	EventType string
	// ExceptionType is ":exception-type" of an exception message.
	ExceptionType string
	// ErrorCode is ":error-code" of an error message.
	ErrorCode string
	Payload   []byte
}

// Errors that stop a Decoder; matched by errors.Is on [Decoder.Err].
var (
	// ErrCorrupt: a checksum did not match or a length field is
	// impossible.
	ErrCorrupt = errors.New("eventstream: corrupt message")
)

const (
	preludeLen = 12
	crcLen     = 4
	minMessage = preludeLen + crcLen
	// maxHeaders is the protocol's limit on the headers section.
	maxHeaders = 128 << 10
	// maxMessage is the protocol's limit on a whole message (16 MiB
	// payload plus headers and framing).
	maxMessage = 16<<20 + maxHeaders + minMessage
)

// DefaultMaxMessage is the default limit, in bytes, on a message the
// Decoder buffers.
const DefaultMaxMessage = 1 << 20

// Decoder decodes a stream fed through Write. Use [New]; a Decoder is not
// safe for concurrent use.
type Decoder struct {
	onMessage func(Message)
	max       int

	buf      []byte
	skip     int // bytes of an oversized message still to drop
	skipped  int
	messages int
	err      error
}

// New returns a decoder that calls onMessage for every message whose
// checksums match. maxMessage bounds the bytes held for one message; <= 0
// means [DefaultMaxMessage].
func New(maxMessage int, onMessage func(Message)) *Decoder {
	if maxMessage <= 0 {
		maxMessage = DefaultMaxMessage
	}
	return &Decoder{onMessage: onMessage, max: maxMessage}
}

// Messages is the number of messages handed to the callback so far.
func (d *Decoder) Messages() int { return d.messages }

// Skipped is the number of well-formed messages dropped because they were
// larger than the limit.
func (d *Decoder) Skipped() int { return d.skipped }

// Err is the error that stopped decoding, nil while decoding goes on.
func (d *Decoder) Err() error { return d.err }

// Pending reports whether the decoder holds the beginning of a message
// that was never completed: at the end of the stream this means it was cut
// mid-message.
func (d *Decoder) Pending() bool { return d.err == nil && (len(d.buf) > 0 || d.skip > 0) }

// Write feeds b to the decoder. It never fails and always returns len(b);
// after a corrupt message it ignores what follows (see [Decoder.Err]).
func (d *Decoder) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 && d.err == nil {
		if d.skip > 0 {
			k := min(d.skip, len(b))
			d.skip -= k
			b = b[k:]
			continue
		}
		if len(d.buf) == 0 && len(b) >= preludeLen {
			// The usual case: whole messages in b, decoded in place.
			total, ok := d.prelude(b)
			if !ok {
				return n, nil
			}
			if total > d.max {
				d.skipped++
				d.skip = total
				continue
			}
			if len(b) >= total {
				d.decode(b[:total])
				b = b[total:]
				continue
			}
		}
		need := preludeLen
		if len(d.buf) >= preludeLen {
			total, _ := d.prelude(d.buf) // checked when it was completed
			need = total
		}
		k := min(need-len(d.buf), len(b))
		d.buf = append(d.buf, b[:k]...)
		b = b[k:]
		if len(d.buf) == preludeLen && need == preludeLen {
			total, ok := d.prelude(d.buf)
			if !ok {
				d.buf = nil
				return n, nil
			}
			if total > d.max {
				d.skipped++
				d.skip = total - preludeLen
				d.buf = d.buf[:0]
			}
			continue
		}
		if len(d.buf) == need {
			d.decode(d.buf)
			d.buf = d.buf[:0]
		}
	}
	return n, nil
}

// prelude checks the prelude at the start of b (at least preludeLen bytes)
// and returns the message's total length; on failure it sets d.err.
func (d *Decoder) prelude(b []byte) (int, bool) {
	total := binary.BigEndian.Uint32(b[0:4])
	headers := binary.BigEndian.Uint32(b[4:8])
	if crc32.ChecksumIEEE(b[:8]) != binary.BigEndian.Uint32(b[8:12]) ||
		total < minMessage || total > maxMessage || headers > maxHeaders || uint64(headers) > uint64(total)-minMessage {
		d.err = ErrCorrupt
		return 0, false
	}
	return int(total), true
}

// decode checks and delivers one whole message m.
func (d *Decoder) decode(m []byte) {
	body := m[:len(m)-crcLen]
	if crc32.ChecksumIEEE(body) != binary.BigEndian.Uint32(m[len(m)-crcLen:]) {
		d.err = ErrCorrupt
		return
	}
	hl := int(binary.BigEndian.Uint32(m[4:8]))
	msg, ok := parseHeaders(body[preludeLen : preludeLen+hl])
	if !ok {
		d.err = ErrCorrupt
		return
	}
	msg.Payload = body[preludeLen+hl:]
	d.messages++
	d.onMessage(msg)
}

// Header value types of the format.
const (
	typeTrue = iota
	typeFalse
	typeByte
	typeShort
	typeInt
	typeLong
	typeBytes
	typeString
	typeTimestamp
	typeUUID
)

// fixedSize is the size of each fixed-width value type.
var fixedSize = [...]int{typeTrue: 0, typeFalse: 0, typeByte: 1, typeShort: 2, typeInt: 4, typeLong: 8, typeTimestamp: 8, typeUUID: 16}

// parseHeaders walks a headers section, keeping the string headers
// Message names; false when the section is malformed.
func parseHeaders(h []byte) (Message, bool) {
	var m Message
	for len(h) > 0 {
		nl := int(h[0])
		if len(h) < 1+nl+1 {
			return m, false
		}
		name := h[1 : 1+nl]
		typ := h[1+nl]
		h = h[2+nl:]
		switch typ {
		case typeBytes, typeString:
			if len(h) < 2 {
				return m, false
			}
			vl := int(binary.BigEndian.Uint16(h))
			if len(h) < 2+vl {
				return m, false
			}
			if typ == typeString {
				v := string(h[2 : 2+vl])
				switch string(name) {
				case ":message-type":
					m.MessageType = v
				case ":event-type":
					m.EventType = v
				case ":exception-type":
					m.ExceptionType = v
				case ":error-code":
					m.ErrorCode = v
				}
			}
			h = h[2+vl:]
		case typeTrue, typeFalse, typeByte, typeShort, typeInt, typeLong, typeTimestamp, typeUUID:
			size := fixedSize[typ]
			if len(h) < size {
				return m, false
			}
			h = h[size:]
		default:
			return m, false
		}
	}
	return m, true
}
