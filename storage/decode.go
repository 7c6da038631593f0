package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/otelaudit/otelaudit-go/internal/jsontape"
)

// The read side of the wire-format codec. Every stored line is parsed by
// one validating pass of internal/jsontape into a flat tape; the entry is
// then read off the tape with exact key matching (encoding/json matches
// keys case-insensitively, which would let an extra key such as
// "Safety_Passed" override the real field).

// known field indexes, in encoding order; the bit 1<<i marks field i seen.
const (
	fID = iota
	fTimestamp
	fInputHash
	fOutputHash
	fInputContent
	fOutputContent
	fProvider
	fModel
	fConversationID
	fSafetyPassed
	fDetectorsTriggered
	fBlockReason
	fAlerts
	fLatencyMS
	fInputTokens
	fOutputTokens
	fMetadata
	fTraceID
	fSpanID
	fOperation
	fChain
	numFields
)

var fieldNames = [numFields]string{
	"id", "timestamp", "input_hash", "output_hash", "input_content",
	"output_content", "provider", "model", "conversation_id", "safety_passed",
	"detectors_triggered", "block_reason", "alerts", "latency_ms",
	"input_tokens", "output_tokens", "metadata", "trace_id", "span_id",
	"operation", "chain",
}

// fieldIndex returns the index of a known key, or -1.
func fieldIndex(k string) int {
	for i, n := range fieldNames {
		if n == k {
			return i
		}
	}
	return -1
}

// foldsToField returns the known key that k equals up to case (as
// encoding/json compares keys) without being equal to it, or "".
func foldsToField(k string) string {
	for _, n := range fieldNames {
		if k != n && strings.EqualFold(k, n) {
			return n
		}
	}
	return ""
}

var parserPool = sync.Pool{New: func() any { return new(jsontape.Parser) }}

// ParseEntry decodes one wire-format JSON object (one stored line). It
// accepts exactly the lines whose entry encodes again ([AuditEntry.AppendJSON])
// and reads back equal: a line with a repeated key, a string that is not
// valid UTF-8, a field of the wrong JSON type or a timestamp outside the
// years 0000-9999 is rejected. It never panics; an error matches
// [ErrInvalidEntry] and does not include the line's content (which may
// hold plaintext prompts). The entry does not share memory with data.
func ParseEntry(data []byte) (*AuditEntry, error) {
	p := parserPool.Get().(*jsontape.Parser)
	defer func() {
		p.Reset()
		parserPool.Put(p)
	}()
	e := new(AuditEntry)
	if err := decodeEntry(p, string(data), e); err != nil {
		return nil, err
	}
	return e, nil
}

// UnmarshalJSON decodes the wire format as [ParseEntry] does.
func (e *AuditEntry) UnmarshalJSON(data []byte) error {
	entry, err := ParseEntry(data)
	if err != nil {
		return err
	}
	*e = *entry
	return nil
}

// EntryKey returns the id and timestamp of one stored line (without its
// '\n'): what indexes and verification need. It accepts and rejects
// exactly the lines [ParseEntry] does, so whatever an index counts is
// readable.
func EntryKey(line []byte) (id string, ts time.Time, err error) {
	e, err := ParseEntry(line)
	if err != nil {
		return "", time.Time{}, err
	}
	return e.ID, e.Timestamp, nil
}

// decodeErr is an ErrInvalidEntry about entry id (unknown when "").
func decodeErr(id, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if id != "" && utf8.ValidString(id) && len(id) <= 128 {
		return fmt.Errorf("%w: entry %q: %s", ErrInvalidEntry, id, msg)
	}
	return fmt.Errorf("%w: %s", ErrInvalidEntry, msg)
}

func decodeEntry(p *jsontape.Parser, line string, e *AuditEntry) error {
	root, err := p.ParseString(line)
	if err != nil {
		if errors.Is(err, jsontape.ErrTooDeep) {
			return decodeErr("", "nested deeper than %d levels", jsontape.MaxDepth)
		}
		return decodeErr("", "%v", err)
	}
	if !root.IsObject() {
		return decodeErr("", "not a JSON object")
	}
	e.SafetyPassed = true
	var seen uint32
	var bad string // first problem, reported after the id is known
	for k, v := range root.Members() {
		i := fieldIndex(k)
		if i < 0 {
			if !utf8.ValidString(k) {
				bad = "a key is not valid UTF-8"
				continue
			}
			if _, dup := e.Extra[k]; dup {
				bad = "an unknown key is repeated"
				continue
			}
			if e.Extra == nil {
				e.Extra = make(map[string]json.RawMessage)
			}
			e.Extra[k] = json.RawMessage(v.Raw())
			continue
		}
		if seen&(1<<i) != 0 {
			bad = fmt.Sprintf("key %q is repeated", fieldNames[i])
			continue
		}
		seen |= 1 << i
		if msg := decodeField(e, i, v); msg != "" && bad == "" {
			bad = fieldNames[i] + ": " + msg
		}
	}
	if seen&(1<<fID) == 0 || e.ID == "" {
		return decodeErr("", "missing id")
	}
	if bad != "" {
		return decodeErr(e.ID, "%s", bad)
	}
	if seen&(1<<fTimestamp) == 0 {
		return decodeErr(e.ID, "missing timestamp")
	}
	for k := range e.Extra {
		if n := foldsToField(k); n != "" {
			return decodeErr(e.ID, "an unknown key differs from %q only in case", n)
		}
	}
	return nil
}

// decodeField sets field i of e from v; it returns why v is unusable, or "".
func decodeField(e *AuditEntry, i int, v jsontape.Value) string {
	var s *string
	var msg string
	switch i {
	case fID, fTimestamp, fInputHash, fOutputHash, fTraceID, fSpanID, fOperation:
		if s, msg = optString(v); msg != "" || s == nil {
			if msg == "" && (i == fID || i == fTimestamp) {
				msg = "is null"
			}
			return msg
		}
		switch i {
		case fID:
			e.ID = *s
		case fTimestamp:
			t, err := ParseTimestamp(*s)
			if err != nil {
				return err.Error()
			}
			e.Timestamp = t
		case fInputHash:
			e.InputHash = *s
		case fOutputHash:
			e.OutputHash = *s
		case fTraceID:
			e.TraceID = *s
		case fSpanID:
			e.SpanID = *s
		case fOperation:
			e.Operation = *s
		}
	case fInputContent:
		e.InputContent, msg = optString(v)
	case fOutputContent:
		e.OutputContent, msg = optString(v)
	case fProvider:
		e.Provider, msg = optString(v)
	case fModel:
		e.Model, msg = optString(v)
	case fConversationID:
		e.ConversationID, msg = optString(v)
	case fBlockReason:
		e.BlockReason, msg = optString(v)
	case fSafetyPassed:
		switch v.Kind() {
		case jsontape.True, jsontape.False:
			e.SafetyPassed = v.Kind() == jsontape.True
		case jsontape.Null:
		default:
			return "is not a bool"
		}
	case fDetectorsTriggered:
		e.DetectorsTriggered, msg = optStrings(v)
	case fAlerts:
		e.Alerts, msg = optStrings(v)
	case fLatencyMS:
		switch v.Kind() {
		case jsontape.Number:
			f, err := strconv.ParseFloat(v.Raw(), 64)
			if err != nil || math.IsInf(f, 0) {
				return "is not a finite number"
			}
			e.LatencyMS = f
		case jsontape.Null:
		default:
			return "is not a number"
		}
	case fInputTokens:
		e.InputTokens, msg = optTokens(v)
	case fOutputTokens:
		e.OutputTokens, msg = optTokens(v)
	case fMetadata:
		switch v.Kind() {
		case jsontape.Object:
			if v.Len() == 0 {
				return ""
			}
			md, ok := decodeValue(v).(map[string]any)
			if !ok {
				return "holds a string that is not valid UTF-8"
			}
			e.Metadata = md
		case jsontape.Null:
		default:
			return "is not a JSON object"
		}
	case fChain:
		return decodeChain(e, v)
	}
	return msg
}

func optString(v jsontape.Value) (*string, string) {
	switch v.Kind() {
	case jsontape.String:
		s := v.Str()
		if !utf8.ValidString(s) {
			return nil, "is not valid UTF-8"
		}
		return &s, ""
	case jsontape.Null:
		return nil, ""
	}
	return nil, "is not a string"
}

func optStrings(v jsontape.Value) ([]string, string) {
	switch v.Kind() {
	case jsontape.Null:
		return nil, ""
	case jsontape.Array:
	default:
		return nil, "is not a list"
	}
	var out []string
	for el := range v.Elements() {
		if el.Kind() != jsontape.String {
			return nil, "holds a value that is not a string"
		}
		s := el.Str()
		if !utf8.ValidString(s) {
			return nil, "is not valid UTF-8"
		}
		out = append(out, s)
	}
	return out, ""
}

func optTokens(v jsontape.Value) (*int64, string) {
	switch v.Kind() {
	case jsontape.Null:
		return nil, ""
	case jsontape.Number:
	default:
		return nil, "is not a number"
	}
	raw := v.Raw()
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
		return &n, ""
	}
	// Python may have written an integral float such as 12.0.
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) >= 1<<63 {
		return nil, "is not an integer"
	}
	n := int64(f)
	return &n, ""
}

// decodeValue returns v as encoding/json decodes it with UseNumber
// (objects as map[string]any, numbers as json.Number; a repeated key keeps
// its last value), or nil with ok false when a string or key is not valid
// UTF-8. Nesting is bounded by the parser (jsontape.MaxDepth).
func decodeValue(v jsontape.Value) any {
	out, ok := decodeValueOK(v)
	if !ok {
		return nil
	}
	return out
}

func decodeValueOK(v jsontape.Value) (any, bool) {
	switch v.Kind() {
	case jsontape.Null:
		return nil, true
	case jsontape.True:
		return true, true
	case jsontape.False:
		return false, true
	case jsontape.Number:
		return json.Number(v.Raw()), true
	case jsontape.String:
		s := v.Str()
		return s, utf8.ValidString(s)
	case jsontape.Array:
		out := make([]any, 0, v.Len())
		for el := range v.Elements() {
			x, ok := decodeValueOK(el)
			if !ok {
				return nil, false
			}
			out = append(out, x)
		}
		return out, true
	case jsontape.Object:
		out := make(map[string]any, v.Len())
		for k, el := range v.Members() {
			if !utf8.ValidString(k) {
				return nil, false
			}
			x, ok := decodeValueOK(el)
			if !ok {
				return nil, false
			}
			out[k] = x
		}
		return out, true
	}
	return nil, false
}

// decodeChain reads the chain object, which must hold exactly the keys
// w, n, p and h (anything else would not survive a write).
func decodeChain(e *AuditEntry, v jsontape.Value) string {
	switch v.Kind() {
	case jsontape.Null:
		return ""
	case jsontape.Object:
	default:
		return "is not an object"
	}
	var c Chain
	var seen uint8
	for k, x := range v.Members() {
		var bit uint8
		var s *string
		switch k {
		case "w":
			bit, s = 1, &c.Writer
		case "n":
			bit = 2
			n, err := strconv.ParseUint(x.Raw(), 10, 64)
			if x.Kind() != jsontape.Number || err != nil {
				return "n is not a sequence number"
			}
			c.Seq = n
		case "p":
			bit, s = 4, &c.Prev
		case "h":
			bit, s = 8, &c.Hash
		default:
			return "has an unknown key"
		}
		if seen&bit != 0 {
			return "has a repeated key"
		}
		seen |= bit
		if s != nil {
			str, msg := optString(x)
			if msg != "" || str == nil {
				return "a field is not a string"
			}
			*s = *str
		}
	}
	if seen != 15 {
		return "lacks a field"
	}
	e.Chain = &c
	return ""
}

// ParseTimestamp parses an entry timestamp: RFC 3339 with any offset, or a
// naive ISO 8601 date-time without offset (as the reference writes), which
// is taken as UTC. The result is in UTC, in the years 0000-9999 (the ones
// the wire format can write).
func ParseTimestamp(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		// An offset can move the instant out of the years RFC 3339 can
		// write (0000-9999); such a timestamp could not be written back.
		if !inWireYears(t) {
			return time.Time{}, fmt.Errorf("timestamp %q is outside the years 0000-9999 in UTC", s)
		}
		return t.UTC(), nil
	}
	naive := strings.TrimSuffix(s, "Z")
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, naive, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q is neither RFC 3339 nor naive ISO 8601", s)
}

// inWireYears reports whether t falls in the years 0000-9999 in UTC.
func inWireYears(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 0 && y <= 9999
}

// EncodedDay returns the UTC day ("2006-01-02") of the timestamp of a line
// in the form [AuditEntry.AppendJSON] writes (id first, then the
// timestamp in [TimestampLayout]), reading only those two keys: what
// verification needs for every chained line, whose bytes the chain hash
// already vouches for. ok is false for a line in any other form.
func EncodedDay(line []byte) (day string, ok bool) {
	rest, ok := bytes.CutPrefix(line, []byte(`{"id":"`))
	if !ok {
		return "", false
	}
	i := 0
	for ; i < len(rest) && rest[i] != '"'; i++ {
		if rest[i] == '\\' {
			i++ // the escaped byte
		}
	}
	if i >= len(rest) {
		return "", false
	}
	rest, ok = bytes.CutPrefix(rest[i+1:], []byte(`,"timestamp":"`))
	n := len(TimestampLayout) - len("Z07:00") + 1 // up to and including the Z
	if !ok || len(rest) <= n || rest[n-1] != 'Z' || rest[n] != '"' {
		return "", false
	}
	d := rest[:10]
	if d[4] != '-' || d[7] != '-' || rest[10] != 'T' {
		return "", false
	}
	return string(d), true
}
