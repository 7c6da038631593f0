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

// decoded holds a decoded entry together with everything its pointer
// fields point to, so that decoding a line allocates the entry once
// rather than once per optional field (a full scan decodes millions).
type decoded struct {
	e      AuditEntry
	chain  Chain
	tokens [2]int64  // InputTokens, OutputTokens
	strs   [6]string // the optional strings, in optStrField order
}

// optStrField maps a field index to its slot in decoded.strs, -1 for a
// field that is not an optional string.
var optStrField = [numFields]int8{
	fID: -1, fTimestamp: -1, fInputHash: -1, fOutputHash: -1,
	fInputContent: 0, fOutputContent: 1, fProvider: 2, fModel: 3, fConversationID: 4,
	fSafetyPassed: -1, fDetectorsTriggered: -1, fBlockReason: 5, fAlerts: -1,
	fLatencyMS: -1, fInputTokens: -1, fOutputTokens: -1, fMetadata: -1,
	fTraceID: -1, fSpanID: -1, fOperation: -1, fChain: -1,
}

// ParseEntry decodes one wire-format JSON object (one stored line). It
// accepts exactly the lines whose entry encodes again ([AuditEntry.AppendJSON])
// and reads back equal: a line with a repeated key, a string that is not
// valid UTF-8, a field of the wrong JSON type or a timestamp outside the
// years 0000-9999 is rejected. It never panics; an error matches
// [ErrInvalidEntry] and does not include the line's content (which may
// hold plaintext prompts). The entry does not share memory with data.
func ParseEntry(data []byte) (*AuditEntry, error) {
	return ParseEntryString(string(data))
}

// ParseEntryString is [ParseEntry] for a line held in a string: it
// accepts and rejects exactly the same lines, but the entry's strings
// share line's memory instead of a copy of it, so a reader that has
// already made a string of its lines (one string for many lines, as a
// full scan does) saves a copy and an allocation per line. The entry
// keeps all of line's memory reachable for as long as it is kept.
func ParseEntryString(line string) (*AuditEntry, error) {
	p := parserPool.Get().(*jsontape.Parser)
	defer func() {
		p.Reset()
		parserPool.Put(p)
	}()
	d := new(decoded)
	if err := decodeEntry(p, line, d); err != nil {
		return nil, err
	}
	return &d.e, nil
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

// decodeEntry decodes line into d.e; the entry's strings share line's
// memory.
func decodeEntry(p *jsontape.Parser, line string, d *decoded) error {
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
	e := &d.e
	e.SafetyPassed = true
	// Decoding never makes invalid UTF-8 (an escape decodes to a valid
	// rune, U+FFFD for a lone surrogate), so when the whole line is valid
	// no string taken from it needs checking again.
	st := decodeState{d: d, utf8OK: utf8.ValidString(line)}
	var seen uint32
	var bad string // first problem, reported after the id is known
	want := 0      // the key AppendJSON writes next: usually the one that comes
	for k, v := range root.Members() {
		i := -1
		if want < numFields && fieldNames[want] == k {
			i = want
		} else {
			i = fieldIndex(k)
		}
		if i < 0 {
			if !st.utf8OK && !utf8.ValidString(k) {
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
		want = i + 1
		if msg := st.field(i, v); msg != "" && bad == "" {
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

// decodeState is what decoding one line needs besides the tape.
type decodeState struct {
	d      *decoded
	utf8OK bool // the whole line is valid UTF-8
}

// validUTF8 reports whether s, a string taken from the line, is valid
// UTF-8.
func (st *decodeState) validUTF8(s string) bool { return st.utf8OK || utf8.ValidString(s) }

// field sets field i of the entry from v; it returns why v is unusable,
// or "".
func (st *decodeState) field(i int, v jsontape.Value) string {
	e := &st.d.e
	if slot := optStrField[i]; slot >= 0 {
		s, null, msg := st.optString(v)
		if msg != "" || null {
			return msg
		}
		p := &st.d.strs[slot]
		*p = s
		switch i {
		case fInputContent:
			e.InputContent = p
		case fOutputContent:
			e.OutputContent = p
		case fProvider:
			e.Provider = p
		case fModel:
			e.Model = p
		case fConversationID:
			e.ConversationID = p
		case fBlockReason:
			e.BlockReason = p
		}
		return ""
	}
	var msg string
	switch i {
	case fID, fTimestamp, fInputHash, fOutputHash, fTraceID, fSpanID, fOperation:
		s, null, msg := st.optString(v)
		if msg != "" || null {
			if msg == "" && (i == fID || i == fTimestamp) {
				msg = "is null"
			}
			return msg
		}
		switch i {
		case fID:
			e.ID = s
		case fTimestamp:
			t, err := parseTimestamp(s)
			if err != nil {
				return err.Error()
			}
			e.Timestamp = t
		case fInputHash:
			e.InputHash = s
		case fOutputHash:
			e.OutputHash = s
		case fTraceID:
			e.TraceID = s
		case fSpanID:
			e.SpanID = s
		case fOperation:
			e.Operation = s
		}
	case fSafetyPassed:
		switch v.Kind() {
		case jsontape.True, jsontape.False:
			e.SafetyPassed = v.Kind() == jsontape.True
		case jsontape.Null:
		default:
			return "is not a bool"
		}
	case fDetectorsTriggered:
		e.DetectorsTriggered, msg = st.optStrings(v)
	case fAlerts:
		e.Alerts, msg = st.optStrings(v)
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
	case fInputTokens, fOutputTokens:
		k := 0
		if i == fOutputTokens {
			k = 1
		}
		n, null, msg := optTokens(v)
		if msg != "" || null {
			return msg
		}
		st.d.tokens[k] = n
		if k == 0 {
			e.InputTokens = &st.d.tokens[0]
		} else {
			e.OutputTokens = &st.d.tokens[1]
		}
	case fMetadata:
		switch v.Kind() {
		case jsontape.Object:
			if v.Len() == 0 {
				return ""
			}
			md, ok := st.value(v)
			if !ok {
				return "holds a string that is not valid UTF-8"
			}
			e.Metadata = md.(map[string]any)
		case jsontape.Null:
		default:
			return "is not a JSON object"
		}
	case fChain:
		return st.chain(v)
	}
	return msg
}

// optString returns a string or null value; null is true for null.
func (st *decodeState) optString(v jsontape.Value) (s string, null bool, msg string) {
	switch v.Kind() {
	case jsontape.String:
		s := v.Str()
		if !st.validUTF8(s) {
			return "", false, "is not valid UTF-8"
		}
		return s, false, ""
	case jsontape.Null:
		return "", true, ""
	}
	return "", false, "is not a string"
}

func (st *decodeState) optStrings(v jsontape.Value) ([]string, string) {
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
		if !st.validUTF8(s) {
			return nil, "is not valid UTF-8"
		}
		out = append(out, s)
	}
	return out, ""
}

// optTokens returns a token count or null; null is true for null.
func optTokens(v jsontape.Value) (n int64, null bool, msg string) {
	switch v.Kind() {
	case jsontape.Null:
		return 0, true, ""
	case jsontape.Number:
	default:
		return 0, false, "is not a number"
	}
	raw := v.Raw()
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
		return n, false, ""
	}
	// Python may have written an integral float such as 12.0.
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) >= 1<<63 {
		return 0, false, "is not an integer"
	}
	return int64(f), false, ""
}

// value returns v as encoding/json decodes it with UseNumber (objects as
// map[string]any, numbers as json.Number; a repeated key keeps its last
// value); ok is false when a string or key is not valid UTF-8. Nesting is
// bounded by the parser (jsontape.MaxDepth).
func (st *decodeState) value(v jsontape.Value) (any, bool) {
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
		return s, st.validUTF8(s)
	case jsontape.Array:
		out := make([]any, 0, v.Len())
		for el := range v.Elements() {
			x, ok := st.value(el)
			if !ok {
				return nil, false
			}
			out = append(out, x)
		}
		return out, true
	case jsontape.Object:
		out := make(map[string]any, v.Len())
		for k, el := range v.Members() {
			if !st.validUTF8(k) {
				return nil, false
			}
			x, ok := st.value(el)
			if !ok {
				return nil, false
			}
			out[k] = x
		}
		return out, true
	}
	return nil, false
}

// chain reads the chain object, which must hold exactly the keys
// w, n, p and h (anything else would not survive a write).
func (st *decodeState) chain(v jsontape.Value) string {
	switch v.Kind() {
	case jsontape.Null:
		return ""
	case jsontape.Object:
	default:
		return "is not an object"
	}
	c := &st.d.chain
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
			str, null, msg := st.optString(x)
			if msg != "" || null {
				return "a field is not a string"
			}
			*s = str
		}
	}
	if seen != 15 {
		return "lacks a field"
	}
	st.d.e.Chain = c
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

// parseTimestamp is [ParseTimestamp] with a fast path for the form
// AppendJSON writes ([TimestampLayout] in UTC: 30 bytes, nine fractional
// digits, "Z"), which is what nearly every stored line holds; anything
// else, including a date the fast path finds out of range, goes the
// general way (and gets its error there).
func parseTimestamp(s string) (time.Time, error) {
	if t, ok := parseWireTimestamp(s); ok {
		return t, nil
	}
	return ParseTimestamp(s)
}

// parseWireTimestamp parses "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" exactly as
// time.Parse(time.RFC3339Nano) does; ok is false for any other text and
// for fields time.Parse would reject (month, day of the month, hour,
// minute or second out of range).
func parseWireTimestamp(s string) (t time.Time, ok bool) {
	if len(s) != 30 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' || s[29] != 'Z' {
		return time.Time{}, false
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	year, month, day := num(0, 4), num(5, 2), num(8, 2)
	hour, minute, sec, nsec := num(11, 2), num(14, 2), num(17, 2), num(20, 9)
	if year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 ||
		minute < 0 || minute > 59 || sec < 0 || sec > 59 || nsec < 0 {
		return time.Time{}, false
	}
	if day > 28 && day > daysIn(time.Month(month), year) {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

// daysIn returns the number of days of month in year (proleptic
// Gregorian, as package time counts).
func daysIn(month time.Month, year int) int {
	return time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
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
