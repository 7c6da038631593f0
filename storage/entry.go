package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otelaudit/otelaudit-go/internal/jsontext"
)

// AuditEntry is one audited model call, as stored. Its JSON form is the wire
// format of the project (one object per line in the file backend, the body of
// an object in S3) and is compatible with stores written by the reference
// Python implementation (rotalabs-comply): field names, null conventions and
// number forms follow it, so such stores read back field for field.
//
// Nullable wire fields are pointers: nil is written as JSON null. Token counts
// that are unknown stay nil; they are never written as 0.
//
// The zero value is not a valid entry (it has no ID and no timestamp);
// [NewEntryID] makes a time-ordered id.
type AuditEntry struct {
	// ID identifies the entry. New entries use UUIDv7; any non-empty string
	// read from an older store (UUIDv4 from the reference) is kept as is.
	ID string
	// Timestamp is when the call started. It is always written in UTC with
	// nanoseconds; naive ISO 8601 timestamps (no offset) are read as UTC.
	Timestamp time.Time
	// InputHash and OutputHash are lowercase hex SHA-256 of the UTF-8
	// content, or "hmac-sha256:<keyid>:<hex>" in keyed mode.
	InputHash  string
	OutputHash string
	// InputContent and OutputContent are nil when only hashes are kept (the
	// default), the plaintext, or the ciphertext when encryption is on.
	InputContent  *string
	OutputContent *string

	Provider       *string
	Model          *string
	ConversationID *string

	// SafetyPassed reports whether the call passed the caller's safety
	// checks. Loggers default it to true when the caller says nothing.
	SafetyPassed       bool
	DetectorsTriggered []string // written as [] when empty
	BlockReason        *string
	Alerts             []string // written as [] when empty

	// LatencyMS is the call latency in milliseconds. It must be finite.
	LatencyMS float64

	InputTokens  *int64
	OutputTokens *int64

	// Metadata holds caller data of any JSON type. Numbers decode as
	// json.Number so that integers beyond 2^53 round-trip exactly.
	// Values must be JSON-encodable; NaN and Inf are rejected at write.
	Metadata map[string]any

	// TraceID and SpanID are the W3C hex ids of the span the entry came
	// from; empty (written as null) when logged without a span.
	TraceID string
	SpanID  string
	// Operation is gen_ai.operation.name (chat, text_completion,
	// embeddings, ...); empty is written as null.
	Operation string

	// Chain holds the tamper-evidence fields a chaining backend sets when
	// it writes the entry; nil for entries that were never chained (for
	// example those written by the reference implementation).
	Chain *Chain

	// Extra keeps keys this version does not know, verbatim, so that they
	// survive a read and a write unchanged.
	Extra map[string]json.RawMessage
}

// Chain is the tamper-evidence record of one entry: its position in the
// writer's hash chain. It is computed by the backend that writes the entry;
// callers leave it nil.
type Chain struct {
	// Writer identifies the chain (one per writer session).
	Writer string `json:"w"`
	// Seq is the entry's position in the writer's chain, starting at 1.
	Seq uint64 `json:"n"`
	// Prev is the hex hash of the previous entry in the chain ("" for the
	// first one).
	Prev string `json:"p"`
	// Hash is hex(SHA-256("otelaudit-chain-v1\x00" Writer "\x00" Seq
	// "\x00" Prev "\x00" line)), where line is the exact stored line
	// bytes before `,"chain":` (AppendJSON always writes chain last), so
	// a verifier hashes the bytes as stored; see [Verify].
	Hash string `json:"h"`
}

// Clone returns a deep copy of e. Backends hand out clones so that callers
// cannot change what is stored.
func (e *AuditEntry) Clone() *AuditEntry {
	if e == nil {
		return nil
	}
	c := *e
	c.InputContent = cloneString(e.InputContent)
	c.OutputContent = cloneString(e.OutputContent)
	c.Provider = cloneString(e.Provider)
	c.Model = cloneString(e.Model)
	c.ConversationID = cloneString(e.ConversationID)
	c.BlockReason = cloneString(e.BlockReason)
	c.DetectorsTriggered = slices.Clone(e.DetectorsTriggered)
	c.Alerts = slices.Clone(e.Alerts)
	if e.InputTokens != nil {
		v := *e.InputTokens
		c.InputTokens = &v
	}
	if e.OutputTokens != nil {
		v := *e.OutputTokens
		c.OutputTokens = &v
	}
	if e.Metadata != nil {
		c.Metadata = cloneValue(e.Metadata).(map[string]any)
	}
	if e.Chain != nil {
		ch := *e.Chain
		c.Chain = &ch
	}
	if e.Extra != nil {
		c.Extra = make(map[string]json.RawMessage, len(e.Extra))
		for k, v := range e.Extra {
			c.Extra[k] = slices.Clone(v)
		}
	}
	return &c
}

func cloneString(s *string) *string {
	if s == nil {
		return nil
	}
	v := *s
	return &v
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = cloneValue(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = cloneValue(e)
		}
		return s
	default:
		return v
	}
}

// TimestampLayout is the layout entries are written with: RFC 3339 in UTC
// with a fixed nine-digit fraction, so that written timestamps sort as text.
const TimestampLayout = "2006-01-02T15:04:05.000000000Z07:00"

// ErrInvalidEntry is matched (errors.Is) by every error about an entry that
// cannot be written or a line that cannot be read as an entry.
var ErrInvalidEntry = errors.New("storage: invalid audit entry")

// Validate reports whether e can be written: it needs an id and a timestamp,
// and every number in it must be finite.
func (e *AuditEntry) Validate() error {
	if e == nil {
		return fmt.Errorf("%w: nil entry", ErrInvalidEntry)
	}
	if e.ID == "" {
		return fmt.Errorf("%w: empty id", ErrInvalidEntry)
	}
	if e.Timestamp.IsZero() {
		return fmt.Errorf("%w: entry %s has no timestamp", ErrInvalidEntry, e.ID)
	}
	if math.IsNaN(e.LatencyMS) || math.IsInf(e.LatencyMS, 0) {
		return fmt.Errorf("%w: entry %s: latency_ms is %v; only finite numbers are allowed", ErrInvalidEntry, e.ID, e.LatencyMS)
	}
	return nil
}

// MarshalJSON encodes e in the wire format. Keys come in a fixed order (the
// reference's field order, then operation, trace_id, span_id, then unknown
// keys sorted, then chain last), so the same entry always encodes to the
// same bytes. It fails with an error matching [ErrInvalidEntry] when
// [AuditEntry.Validate] does or a metadata value is not finite.
func (e *AuditEntry) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(nil)
}

// AppendJSON appends the wire form of e (see [AuditEntry.MarshalJSON]) to
// dst, without a trailing newline.
func (e *AuditEntry) AppendJSON(dst []byte) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return dst, err
	}
	b := dst
	b = append(b, `{"id":`...)
	b = jsontext.AppendString(b, e.ID)
	b = append(b, `,"timestamp":"`...)
	b = e.Timestamp.UTC().AppendFormat(b, TimestampLayout)
	b = append(b, `","input_hash":`...)
	b = jsontext.AppendString(b, e.InputHash)
	b = append(b, `,"output_hash":`...)
	b = jsontext.AppendString(b, e.OutputHash)
	b = append(b, `,"input_content":`...)
	b = appendNullString(b, e.InputContent)
	b = append(b, `,"output_content":`...)
	b = appendNullString(b, e.OutputContent)
	b = append(b, `,"provider":`...)
	b = appendNullString(b, e.Provider)
	b = append(b, `,"model":`...)
	b = appendNullString(b, e.Model)
	b = append(b, `,"conversation_id":`...)
	b = appendNullString(b, e.ConversationID)
	b = append(b, `,"safety_passed":`...)
	b = strconv.AppendBool(b, e.SafetyPassed)
	b = append(b, `,"detectors_triggered":`...)
	b = appendStrings(b, e.DetectorsTriggered)
	b = append(b, `,"block_reason":`...)
	b = appendNullString(b, e.BlockReason)
	b = append(b, `,"alerts":`...)
	b = appendStrings(b, e.Alerts)
	b = append(b, `,"latency_ms":`...)
	b = appendFloat(b, e.LatencyMS)
	b = append(b, `,"input_tokens":`...)
	b = appendNullInt(b, e.InputTokens)
	b = append(b, `,"output_tokens":`...)
	b = appendNullInt(b, e.OutputTokens)
	b = append(b, `,"metadata":`...)
	if len(e.Metadata) == 0 {
		b = append(b, "{}"...)
	} else {
		m, err := json.Marshal(e.Metadata)
		if err != nil {
			return dst, fmt.Errorf("%w: entry %s: metadata: %w", ErrInvalidEntry, e.ID, err)
		}
		b = append(b, m...)
	}
	b = append(b, `,"trace_id":`...)
	b = appendOptString(b, e.TraceID)
	b = append(b, `,"span_id":`...)
	b = appendOptString(b, e.SpanID)
	b = append(b, `,"operation":`...)
	b = appendOptString(b, e.Operation)
	if len(e.Extra) > 0 {
		keys := make([]string, 0, len(e.Extra))
		for k := range e.Extra {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if knownKeys[k] {
				// A second "id" or "timestamp" would make the line ambiguous.
				return dst, fmt.Errorf("%w: entry %s: extra key %q is a known field", ErrInvalidEntry, e.ID, k)
			}
			v := bytes.TrimSpace(e.Extra[k])
			if !json.Valid(v) {
				return dst, fmt.Errorf("%w: entry %s: extra key %q holds invalid JSON", ErrInvalidEntry, e.ID, k)
			}
			b = append(b, ',')
			b = jsontext.AppendString(b, k)
			b = append(b, ':')
			b = append(b, v...)
		}
	}
	if e.Chain != nil {
		b = appendChain(b, *e.Chain)
	}
	b = append(b, '}')
	return b, nil
}

func appendNullString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return jsontext.AppendString(b, *s)
}

func appendOptString(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return jsontext.AppendString(b, s)
}

func appendNullInt(b []byte, v *int64) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, *v, 10)
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsontext.AppendString(b, s)
	}
	return append(b, ']')
}

// appendFloat formats like encoding/json (shortest representation that
// round-trips, exponent form outside [1e-6, 1e21)).
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	fmtc := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmtc = 'e'
	}
	b = strconv.AppendFloat(b, f, fmtc, -1, 64)
	if fmtc == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// wireEntry is the decoding shape of the known keys.
type wireEntry struct {
	ID                 *string         `json:"id"`
	Timestamp          *string         `json:"timestamp"`
	InputHash          *string         `json:"input_hash"`
	OutputHash         *string         `json:"output_hash"`
	InputContent       *string         `json:"input_content"`
	OutputContent      *string         `json:"output_content"`
	Provider           *string         `json:"provider"`
	Model              *string         `json:"model"`
	ConversationID     *string         `json:"conversation_id"`
	SafetyPassed       *bool           `json:"safety_passed"`
	DetectorsTriggered []string        `json:"detectors_triggered"`
	BlockReason        *string         `json:"block_reason"`
	Alerts             []string        `json:"alerts"`
	LatencyMS          *json.Number    `json:"latency_ms"`
	InputTokens        *json.Number    `json:"input_tokens"`
	OutputTokens       *json.Number    `json:"output_tokens"`
	Metadata           json.RawMessage `json:"metadata"`
	TraceID            *string         `json:"trace_id"`
	SpanID             *string         `json:"span_id"`
	Operation          *string         `json:"operation"`
	Chain              *Chain          `json:"chain"`
}

var knownKeys = map[string]bool{
	"id": true, "timestamp": true, "input_hash": true, "output_hash": true,
	"input_content": true, "output_content": true, "provider": true,
	"model": true, "conversation_id": true, "safety_passed": true,
	"detectors_triggered": true, "block_reason": true, "alerts": true,
	"latency_ms": true, "input_tokens": true, "output_tokens": true,
	"metadata": true, "trace_id": true, "span_id": true, "operation": true,
	"chain": true,
}

// UnmarshalJSON decodes the wire format, including the reference's forms:
// naive timestamps with or without a fraction, integers and exponent
// notation for latency_ms, and metadata of any JSON type (numbers kept as
// json.Number, exact). Keys it does not know are kept in Extra. Errors match
// [ErrInvalidEntry].
func (e *AuditEntry) UnmarshalJSON(data []byte) error {
	entry, err := ParseEntry(data)
	if err != nil {
		return err
	}
	*e = *entry
	return nil
}

// ParseEntry decodes one wire-format JSON object (one line of a file store).
// It never panics; an error matches [ErrInvalidEntry] and does not include
// the line's content (which may hold plaintext prompts).
func ParseEntry(data []byte) (*AuditEntry, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalidEntry)
	}
	var w wireEntry
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidEntry, describeJSONError(err))
	}
	e := &AuditEntry{
		InputContent:       w.InputContent,
		OutputContent:      w.OutputContent,
		Provider:           w.Provider,
		Model:              w.Model,
		ConversationID:     w.ConversationID,
		SafetyPassed:       true,
		DetectorsTriggered: w.DetectorsTriggered,
		BlockReason:        w.BlockReason,
		Alerts:             w.Alerts,
		Chain:              w.Chain,
	}
	// [] and an absent list are the same on the wire; keep one form in memory.
	if len(e.DetectorsTriggered) == 0 {
		e.DetectorsTriggered = nil
	}
	if len(e.Alerts) == 0 {
		e.Alerts = nil
	}
	if w.ID == nil || *w.ID == "" {
		return nil, fmt.Errorf("%w: missing id", ErrInvalidEntry)
	}
	e.ID = *w.ID
	if w.Timestamp == nil {
		return nil, fmt.Errorf("%w: entry %s: missing timestamp", ErrInvalidEntry, e.ID)
	}
	ts, err := ParseTimestamp(*w.Timestamp)
	if err != nil {
		return nil, fmt.Errorf("%w: entry %s: %w", ErrInvalidEntry, e.ID, err)
	}
	e.Timestamp = ts
	if w.InputHash != nil {
		e.InputHash = *w.InputHash
	}
	if w.OutputHash != nil {
		e.OutputHash = *w.OutputHash
	}
	if w.SafetyPassed != nil {
		e.SafetyPassed = *w.SafetyPassed
	}
	if w.LatencyMS != nil {
		f, err := strconv.ParseFloat(w.LatencyMS.String(), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%w: entry %s: latency_ms is not a finite number", ErrInvalidEntry, e.ID)
		}
		e.LatencyMS = f
	}
	if e.InputTokens, err = parseTokens(w.InputTokens); err != nil {
		return nil, fmt.Errorf("%w: entry %s: input_tokens: %w", ErrInvalidEntry, e.ID, err)
	}
	if e.OutputTokens, err = parseTokens(w.OutputTokens); err != nil {
		return nil, fmt.Errorf("%w: entry %s: output_tokens: %w", ErrInvalidEntry, e.ID, err)
	}
	if len(w.Metadata) > 0 && !bytes.Equal(w.Metadata, []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(w.Metadata))
		dec.UseNumber()
		var md map[string]any
		if err := dec.Decode(&md); err != nil {
			return nil, fmt.Errorf("%w: entry %s: metadata is not a JSON object", ErrInvalidEntry, e.ID)
		}
		if len(md) > 0 {
			e.Metadata = md
		}
	}
	if w.TraceID != nil {
		e.TraceID = *w.TraceID
	}
	if w.SpanID != nil {
		e.SpanID = *w.SpanID
	}
	if w.Operation != nil {
		e.Operation = *w.Operation
	}
	if e.Extra, err = extraKeys(data); err != nil {
		return nil, fmt.Errorf("%w: entry %s: %w", ErrInvalidEntry, e.ID, err)
	}
	// Accept only what can be written back (a zero timestamp cannot).
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return e, nil
}

// EntryKey returns the id and timestamp of one stored line (without its
// '\n'), what indexes and verification need, and fails (matching
// [ErrInvalidEntry]) exactly when [ParseEntry] does. Lines in the form
// [AuditEntry.AppendJSON] writes take a fast path; other lines (the
// reference's, with spaces) are parsed fully.
func EntryKey(line []byte) (id string, ts time.Time, err error) {
	const p1, p2 = `{"id":"`, `","timestamp":"`
	if bytes.HasPrefix(line, []byte(p1)) {
		rest := line[len(p1):]
		q := bytes.IndexByte(rest, '"')
		if q > 0 && bytes.IndexByte(rest[:q], '\\') < 0 && bytes.HasPrefix(rest[q:], []byte(p2)) {
			tsb := rest[q+len(p2):]
			if e := bytes.IndexByte(tsb, '"'); e > 0 {
				if t, err := time.Parse(time.RFC3339Nano, string(tsb[:e])); err == nil && json.Valid(line) {
					return string(rest[:q]), t, nil
				}
			}
		}
	}
	e, err := ParseEntry(line)
	if err != nil {
		return "", time.Time{}, err
	}
	return e.ID, e.Timestamp, nil
}

// extraKeys returns the top-level keys of obj that are not known fields.
// Lines this package writes hold only known keys, so the common case costs
// one scan for the key names.
func extraKeys(obj []byte) (map[string]json.RawMessage, error) {
	var all map[string]json.RawMessage
	if !hasUnknownKey(obj) {
		return nil, nil
	}
	if err := json.Unmarshal(obj, &all); err != nil {
		return nil, err
	}
	var extra map[string]json.RawMessage
	for k, v := range all {
		if knownKeys[k] {
			continue
		}
		if extra == nil {
			extra = make(map[string]json.RawMessage)
		}
		extra[k] = v
	}
	return extra, nil
}

// hasUnknownKey reports whether the top level of obj, a JSON object that
// json.Unmarshal already accepted, has a key that is not a known field. It
// scans bytes instead of tokenising because it runs on every line read; a
// key written with escapes is reported as unknown so that the exact decoder
// decides.
func hasUnknownKey(obj []byte) bool {
	depth := 0
	expectKey := false
	for i := 0; i < len(obj); i++ {
		switch c := obj[i]; c {
		case '{', '[':
			depth++
			expectKey = depth == 1 && c == '{'
		case '}', ']':
			depth--
		case ',':
			expectKey = depth == 1
		case '"':
			j := i + 1
			escaped := false
			for j < len(obj) && obj[j] != '"' {
				if obj[j] == '\\' {
					escaped = true
					j++
				}
				j++
			}
			if j >= len(obj) {
				return true
			}
			if expectKey {
				if escaped || !knownKeys[string(obj[i+1:j])] {
					return true
				}
				expectKey = false
			}
			i = j
		}
	}
	return false
}

func parseTokens(n *json.Number) (*int64, error) {
	if n == nil {
		return nil, nil
	}
	s := n.String()
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return &v, nil
	}
	// Python may have written an integral float such as 12.0.
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<63-1 {
		return nil, fmt.Errorf("%q is not an integer", s)
	}
	v := int64(f)
	return &v, nil
}

func describeJSONError(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Sprintf("field %q has JSON type %s, want %s", typ.Field, typ.Value, typ.Type)
	}
	return "invalid JSON"
}

// ParseTimestamp parses an entry timestamp: RFC 3339 with any offset, or a
// naive ISO 8601 date-time without offset (as the reference writes), which
// is taken as UTC. The result is in UTC.
func ParseTimestamp(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		// An offset can move the instant out of the years RFC 3339 can
		// write (0000-9999); such a timestamp could not be written back.
		if y := t.UTC().Year(); y < 0 || y > 9999 {
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
