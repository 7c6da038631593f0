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
// A reader that decodes many lines and keeps the entries uses a
// [Decoder], which accepts and rejects exactly the same lines.
func ParseEntry(data []byte) (*AuditEntry, error) {
	d := singlePool.Get().(*Decoder)
	e, err := d.Decode(data)
	// Nothing of this entry is shared with the next: its block is its
	// own, and a later entry does not keep it reachable.
	d.block, d.last = strings.Builder{}, [numShared]string{}
	singlePool.Put(d)
	return e, err
}

// singlePool keeps ParseEntry's Decoders, for their parsers' storage.
var singlePool = sync.Pool{New: func() any { return &Decoder{single: true} }}

// A Decoder decodes stored lines as [ParseEntry] does (it accepts and
// rejects exactly the same lines, with the same errors), for a reader that
// decodes many lines and keeps the entries, as a full scan does with
// millions. It packs the strings the entries keep instead of allocating
// for each: they are copied into shared blocks of about 16 KiB, and a
// model, provider, operation or chain writer equal to the one of the
// entry decoded just before, or a chain's Prev equal to that entry's chain
// Hash (as it is within one writer's chain), shares that string rather
// than being copied again. So a kept entry holds only its own field bytes,
// not the JSON text around them. Entries are allocated four at a time.
// The price is that an entry kept alone keeps its block (up to 16 KiB, or
// its own longer strings) and three other entries' structs reachable.
//
// The entries never share memory with the lines passed to Decode, so a
// caller may reuse a line's buffer as soon as Decode returns. The zero
// Decoder is ready to use. A Decoder is not safe for concurrent use; use
// one per goroutine.
type Decoder struct {
	p      jsontape.Parser
	single bool            // ParseEntry's: one block, of the line's size
	block  strings.Builder // holds the strings handed out; only appended to, replaced when full
	last   [numShared]string
	slab   []decoded // entries not yet handed out, zero
}

// Strings a Decoder shares with the entry decoded before (see [Decoder]);
// the index into Decoder.last.
const (
	shareProvider = iota
	shareModel
	shareOperation
	shareWriter
	shareHash // the last chain Hash, which the next Prev usually equals
	numShared
)

const (
	// decoderBlockBytes is the size of a Decoder's string blocks; a
	// longer string gets a block of its own size.
	decoderBlockBytes = 16 << 10
	// decoderSlab is the number of entries a Decoder allocates at once:
	// one allocation instead of four. Four decoded structs (440 bytes
	// each) fill a 1,792-byte size class as exactly as one fills the
	// 448-byte class; eight or sixteen would land in classes that waste
	// 72 bytes per entry (measured by BenchmarkFileScan1M's heap-B/entry).
	decoderSlab = 4
)

// Decode decodes one stored line (without its '\n'). The entry is the
// caller's; it does not share memory with line (see [Decoder] for what it
// shares with the other entries of d). An error matches [ErrInvalidEntry]
// and does not include the line's content.
func (d *Decoder) Decode(line []byte) (*AuditEntry, error) {
	if len(d.slab) == 0 {
		n := decoderSlab
		if d.single {
			n = 1
		}
		d.slab = make([]decoded, n)
	}
	dd := &d.slab[0]
	// The parser's strings point into line, which the caller may reuse:
	// decodeEntry copies each string it keeps (decodeState.keep).
	err := decodeEntry(&d.p, line, d, dd)
	d.p.Reset()
	if err != nil {
		*dd = decoded{} // the next line's; its strings are garbage
		return nil, err
	}
	d.slab = d.slab[1:]
	return &dd.e, nil
}

// copyString returns a copy of s in d's current block, starting a new
// block when s does not fit. A block is a strings.Builder that is only
// appended to and replaced rather than grown when full, so the bytes of
// the strings already handed out are never written again.
func (d *Decoder) copyString(s string, lineLen int) string {
	if s == "" {
		return ""
	}
	if d.block.Cap()-d.block.Len() < len(s) {
		size := decoderBlockBytes
		if d.single {
			// Every string of a line is shorter than the line together:
			// one block of the line's size holds them all.
			size = lineLen
		}
		d.block = strings.Builder{}
		d.block.Grow(max(size, len(s)))
	}
	lo := d.block.Len()
	d.block.WriteString(s)
	return d.block.String()[lo:]
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

// decodeEntry decodes line into d.e with p; the strings it keeps are
// copied by dec (the parser's point into line).
func decodeEntry(p *jsontape.Parser, line []byte, dec *Decoder, d *decoded) error {
	root, err := p.Parse(line)
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
	st := decodeState{d: d, dec: dec, lineLen: len(line), utf8OK: utf8.Valid(line)}
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
			e.Extra[st.keep(k)] = json.RawMessage(v.Raw()) // a copy
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
	d       *decoded
	dec     *Decoder // copies the strings the entry keeps
	lineLen int
	utf8OK  bool // the whole line is valid UTF-8
}

// keep returns a copy of s, a string taken from the line, for the entry
// to keep: every string an entry holds goes through keep or share, as the
// line's memory is the caller's.
func (st *decodeState) keep(s string) string { return st.dec.copyString(s, st.lineLen) }

// share is keep for the field slot names, which returns the previous
// entry's string when s equals it.
func (st *decodeState) share(slot int, s string) string {
	if last := st.dec.last[slot]; last == s {
		return last
	}
	c := st.keep(s)
	st.dec.last[slot] = c
	return c
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
		switch i {
		case fProvider:
			*p = st.share(shareProvider, s)
		case fModel:
			*p = st.share(shareModel, s)
		default:
			*p = st.keep(s)
		}
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
			e.ID = st.keep(s)
		case fTimestamp:
			t, err := parseTimestamp(s)
			if err != nil {
				return err.Error()
			}
			e.Timestamp = t
		case fInputHash:
			e.InputHash = st.keep(s)
		case fOutputHash:
			e.OutputHash = st.keep(s)
		case fTraceID:
			e.TraceID = st.keep(s)
		case fSpanID:
			e.SpanID = st.keep(s)
		case fOperation:
			e.Operation = st.share(shareOperation, s)
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
		out = append(out, st.keep(s))
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
		return json.Number(st.keep(v.Raw())), true
	case jsontape.String:
		s := v.Str()
		if !st.validUTF8(s) {
			return nil, false
		}
		return st.keep(s), true
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
			out[st.keep(k)] = x
		}
		return out, true
	}
	return nil, false
}

// chain reads the chain object, which must hold exactly the keys
// w, n, p and h, and v when it is 2 (format 2; format 1 has no v):
// anything else would not survive a write.
func (st *decodeState) chain(v jsontape.Value) string {
	switch v.Kind() {
	case jsontape.Null:
		return ""
	case jsontape.Object:
	default:
		return "is not an object"
	}
	c := &st.d.chain
	c.Version = 0
	var seen uint8
	for k, x := range v.Members() {
		var bit uint8
		var s *string
		switch k {
		case "v":
			bit = 16
			if x.Kind() != jsontape.Number || x.Raw() != "2" {
				return "v is not a known chain format"
			}
			c.Version = ChainVersion
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
			switch bit {
			case 1:
				str = st.share(shareWriter, str)
			case 4:
				if last := st.dec.last[shareHash]; str == last {
					str = last // the usual case: the previous entry's Hash
				} else {
					str = st.keep(str)
				}
			case 8:
				str = st.keep(str)
				st.dec.last[shareHash] = str
			}
			*s = str
		}
	}
	if seen&15 != 15 {
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

// EncodedKey returns the id and timestamp of a line in the form
// [AuditEntry.AppendJSON] writes (id first, without escapes, then the
// timestamp in [TimestampLayout]), reading only those two keys: what a
// check of a file's index needs for every line, at a fraction of the
// cost of [EntryKey]. It agrees with EntryKey on every line EntryKey
// accepts; ok is false for a line in any other form (an id with an
// escape included), which only EntryKey can read. It does not check the
// rest of the line: a line it reads may still be one EntryKey rejects.
// The id aliases line.
func EncodedKey(line []byte) (id []byte, ts time.Time, ok bool) {
	rest, ok := bytes.CutPrefix(line, []byte(`{"id":"`))
	if !ok {
		return nil, time.Time{}, false
	}
	i := bytes.IndexByte(rest, '"')
	if i <= 0 || bytes.IndexByte(rest[:i], '\\') >= 0 {
		return nil, time.Time{}, false
	}
	id = rest[:i]
	rest, ok = bytes.CutPrefix(rest[i+1:], []byte(`,"timestamp":"`))
	const n = len(TimestampLayout) - len("Z07:00") + 1 // up to and including the Z
	if !ok || len(rest) <= n || rest[n] != '"' {
		return nil, time.Time{}, false
	}
	ts, ok = parseWireTimestamp(string(rest[:n]))
	if !ok {
		return nil, time.Time{}, false
	}
	return id, ts, true
}
