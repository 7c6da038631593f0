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
	"unicode/utf8"

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
	// Version is the chain format of Hash: 0 for format 1 (its stored
	// form has no "v" member; lines written before format 2), or
	// [ChainVersion] (2, stored as "v":2), which every writer writes now.
	// See [ChainHasher.Matches] for both.
	Version int `json:"v,omitempty"`
	// Writer identifies the chain (one per writer session).
	Writer string `json:"w"`
	// Seq is the entry's position in the writer's chain, starting at 1.
	Seq uint64 `json:"n"`
	// Prev is the hex hash of the previous entry in the chain ("" for the
	// first one).
	Prev string `json:"p"`
	// Hash is, in format 2, hex(SHA-256("otelaudit-chain-v2\x00" Writer
	// "\x00" Seq "\x00" Prev "\x00" SHA-256(line))) and, in format 1,
	// hex(SHA-256("otelaudit-chain-v1\x00" Writer "\x00" Seq "\x00" Prev
	// "\x00" line)), where line is the exact stored line bytes before
	// `,"chain":` (AppendJSON always writes chain last), so a verifier
	// hashes the bytes as stored.
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

// ErrLineTooLong is matched (errors.Is), together with [ErrInvalidEntry],
// by the error for an entry whose encoded line exceeds a backend's line
// size limit ([DefaultMaxLineSize] unless the backend is configured
// otherwise).
var ErrLineTooLong = fmt.Errorf("%w: line too long", ErrInvalidEntry)

// DefaultMaxLineSize is the default bound, in bytes (8 MiB), of one
// encoded entry: backends reject a longer entry at Write
// ([CheckLineSize]) and skip, without buffering it, a longer stored line.
const DefaultMaxLineSize = 8 << 20

// CheckLineSize returns an error matching [ErrLineTooLong] when an encoded
// entry of n bytes exceeds limit (limit <= 0 means [DefaultMaxLineSize]).
func CheckLineSize(id string, n, limit int) error {
	if limit <= 0 {
		limit = DefaultMaxLineSize
	}
	if n > limit {
		return fmt.Errorf("%w: entry %q encodes to %d bytes, more than the limit of %d", ErrLineTooLong, shortID(id), n, limit)
	}
	return nil
}

// shortID is id as error messages may show it.
func shortID(id string) string {
	if len(id) > 64 {
		id = id[:64] + "..."
	}
	return strings.ToValidUTF8(id, "\ufffd")
}

// MaxNesting is the deepest nesting of objects and arrays that a metadata
// value or an unknown key's value may have at Write (1000 levels).
const MaxNesting = 1000

// Validate reports whether e can be written so that it reads back equal:
// it needs a non-empty id and a timestamp in the years 0000-9999 (UTC);
// every string (fields, list items, metadata keys and values, unknown
// keys) must be valid UTF-8; numbers must be finite; unknown keys in Extra
// must hold valid JSON and must not be a known key or differ from one only
// in case (encoding/json readers would take them for the known field);
// values may nest at most [MaxNesting] levels. Errors match
// [ErrInvalidEntry] and never quote content.
func (e *AuditEntry) Validate() error {
	if err := e.checkFields(); err != nil {
		return err
	}
	if len(e.Metadata) > 0 {
		// The encoder's metadata rules, checked without encoding.
		if err := jsontext.CheckAny(e.Metadata, 1, MaxNesting); err != nil {
			return fmt.Errorf("%w: entry %q: metadata: %w", ErrInvalidEntry, shortID(e.ID), err)
		}
	}
	for k, v := range e.Extra {
		if _, err := checkExtra(k, v); err != nil {
			return fmt.Errorf("%w: entry %q: %w", ErrInvalidEntry, shortID(e.ID), err)
		}
	}
	return nil
}

func (e *AuditEntry) checkFields() error {
	if err := e.checkScalars(); err != nil {
		return err
	}
	return e.checkStrings()
}

// checkScalars checks what checkFields checks but the strings' UTF-8,
// which the encoder checks as it escapes them.
func (e *AuditEntry) checkScalars() error {
	if e == nil {
		return fmt.Errorf("%w: nil entry", ErrInvalidEntry)
	}
	if e.ID == "" {
		return fmt.Errorf("%w: empty id", ErrInvalidEntry)
	}
	if e.Timestamp.IsZero() {
		return fmt.Errorf("%w: entry %q has no timestamp", ErrInvalidEntry, shortID(e.ID))
	}
	if !inWireYears(e.Timestamp) {
		return fmt.Errorf("%w: entry %q: timestamp year %d is outside 0000-9999 (UTC)", ErrInvalidEntry, shortID(e.ID), e.Timestamp.UTC().Year())
	}
	if math.IsNaN(e.LatencyMS) || math.IsInf(e.LatencyMS, 0) {
		return fmt.Errorf("%w: entry %q: latency_ms is %v; only finite numbers are allowed", ErrInvalidEntry, shortID(e.ID), e.LatencyMS)
	}
	return nil
}

// checkStrings reports the first string field, list item or chain field
// that is not valid UTF-8.
func (e *AuditEntry) checkStrings() error {
	strs := [...]struct {
		name string
		s    string
	}{{"id", e.ID}, {"input_hash", e.InputHash}, {"output_hash", e.OutputHash},
		{"input_content", deref(e.InputContent)}, {"output_content", deref(e.OutputContent)},
		{"provider", deref(e.Provider)}, {"model", deref(e.Model)}, {"conversation_id", deref(e.ConversationID)},
		{"block_reason", deref(e.BlockReason)}, {"trace_id", e.TraceID}, {"span_id", e.SpanID}, {"operation", e.Operation}}
	for _, f := range strs {
		if !utf8.ValidString(f.s) {
			return fmt.Errorf("%w: entry %q: %s is not valid UTF-8", ErrInvalidEntry, shortID(e.ID), f.name)
		}
	}
	for _, list := range [...][]string{e.DetectorsTriggered, e.Alerts} {
		for _, s := range list {
			if !utf8.ValidString(s) {
				return fmt.Errorf("%w: entry %q: a list item is not valid UTF-8", ErrInvalidEntry, shortID(e.ID))
			}
		}
	}
	if c := e.Chain; c != nil && !(utf8.ValidString(c.Writer) && utf8.ValidString(c.Prev) && utf8.ValidString(c.Hash)) {
		return fmt.Errorf("%w: entry %q: chain is not valid UTF-8", ErrInvalidEntry, shortID(e.ID))
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// MarshalJSON encodes e in the wire format. Keys come in a fixed order (the
// reference's field order, then operation, trace_id, span_id, then unknown
// keys sorted, then chain last), so the same entry always encodes to the
// same bytes. It fails with an error matching [ErrInvalidEntry] when
// [AuditEntry.Validate] does.
func (e *AuditEntry) MarshalJSON() ([]byte, error) {
	return e.appendJSON(nil)
}

// AppendJSON appends the wire form of e (see [AuditEntry.MarshalJSON]) to
// dst, without a trailing newline. On error dst is returned unchanged.
func (e *AuditEntry) AppendJSON(dst []byte) ([]byte, error) {
	return e.appendJSON(dst)
}

func (e *AuditEntry) appendJSON(dst []byte) ([]byte, error) {
	if err := e.checkScalars(); err != nil {
		return dst, err
	}
	// Strings are checked for UTF-8 as they are escaped (one pass over
	// the content, which is most of the line); ok turns false at the
	// first invalid one, and checkStrings then names it.
	ok := true
	b := dst
	b = append(b, `{"id":`...)
	b = appendValid(b, e.ID, &ok)
	b = append(b, `,"timestamp":"`...)
	b = appendTimestamp(b, e.Timestamp)
	b = append(b, `","input_hash":`...)
	b = appendValid(b, e.InputHash, &ok)
	b = append(b, `,"output_hash":`...)
	b = appendValid(b, e.OutputHash, &ok)
	b = append(b, `,"input_content":`...)
	b = appendNullString(b, e.InputContent, &ok)
	b = append(b, `,"output_content":`...)
	b = appendNullString(b, e.OutputContent, &ok)
	b = append(b, `,"provider":`...)
	b = appendNullString(b, e.Provider, &ok)
	b = append(b, `,"model":`...)
	b = appendNullString(b, e.Model, &ok)
	b = append(b, `,"conversation_id":`...)
	b = appendNullString(b, e.ConversationID, &ok)
	b = append(b, `,"safety_passed":`...)
	b = strconv.AppendBool(b, e.SafetyPassed)
	b = append(b, `,"detectors_triggered":`...)
	b = appendStrings(b, e.DetectorsTriggered, &ok)
	b = append(b, `,"block_reason":`...)
	b = appendNullString(b, e.BlockReason, &ok)
	b = append(b, `,"alerts":`...)
	b = appendStrings(b, e.Alerts, &ok)
	b = append(b, `,"latency_ms":`...)
	b = jsontext.AppendFloat(b, e.LatencyMS)
	b = append(b, `,"input_tokens":`...)
	b = appendNullInt(b, e.InputTokens)
	b = append(b, `,"output_tokens":`...)
	b = appendNullInt(b, e.OutputTokens)
	b = append(b, `,"metadata":`...)
	if len(e.Metadata) == 0 {
		b = append(b, "{}"...)
	} else {
		var err error
		if b, err = jsontext.AppendValue(b, e.Metadata, 1, MaxNesting); err != nil {
			return dst, fmt.Errorf("%w: entry %q: metadata: %w", ErrInvalidEntry, shortID(e.ID), err)
		}
	}
	b = append(b, `,"trace_id":`...)
	b = appendOptString(b, e.TraceID, &ok)
	b = append(b, `,"span_id":`...)
	b = appendOptString(b, e.SpanID, &ok)
	b = append(b, `,"operation":`...)
	b = appendOptString(b, e.Operation, &ok)
	if !ok {
		if err := e.checkStrings(); err != nil {
			return dst, err
		}
		return dst, fmt.Errorf("%w: entry %q: a string is not valid UTF-8", ErrInvalidEntry, shortID(e.ID))
	}
	if len(e.Extra) > 0 {
		keys := make([]string, 0, len(e.Extra))
		for k := range e.Extra {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			v, err := checkExtra(k, e.Extra[k])
			if err != nil {
				return dst, fmt.Errorf("%w: entry %q: %w", ErrInvalidEntry, shortID(e.ID), err)
			}
			b = append(b, ',')
			b = jsontext.AppendString(b, k)
			b = append(b, ':')
			b = append(b, v...)
		}
	}
	if c := e.Chain; c != nil {
		if !(utf8.ValidString(c.Writer) && utf8.ValidString(c.Prev) && utf8.ValidString(c.Hash)) {
			return dst, e.checkStrings()
		}
		if c.Version != 0 && c.Version != ChainVersion {
			return dst, fmt.Errorf("%w: entry %q: unknown chain format %d", ErrInvalidEntry, shortID(e.ID), c.Version)
		}
		b = appendChain(b, *c)
	}
	b = append(b, '}')
	return b, nil
}

// appendTimestamp appends t in UTC as [TimestampLayout] formats it
// (2006-01-02T15:04:05.000000000Z), for a year in 0000-9999 (checkScalars
// checks that first), digit by digit: about a quarter of the time of
// time.Time.AppendFormat, which interprets the layout for every entry.
func appendTimestamp(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	var buf [len("2006-01-02T15:04:05.000000000Z")]byte
	putDigits(buf[0:4], year)
	buf[4] = '-'
	putDigits(buf[5:7], int(month))
	buf[7] = '-'
	putDigits(buf[8:10], day)
	buf[10] = 'T'
	putDigits(buf[11:13], hour)
	buf[13] = ':'
	putDigits(buf[14:16], minute)
	buf[16] = ':'
	putDigits(buf[17:19], sec)
	buf[19] = '.'
	putDigits(buf[20:29], t.Nanosecond())
	buf[29] = 'Z'
	return append(b, buf[:]...)
}

// putDigits writes v, which is not negative, in decimal with leading zeros
// to all of d.
func putDigits(d []byte, v int) {
	for i := len(d) - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
}

// checkExtra checks one unknown key and returns its value without
// surrounding white space.
func checkExtra(k string, raw json.RawMessage) ([]byte, error) {
	if fieldIndex(k) >= 0 {
		// A second "id" or "timestamp" would make the line ambiguous.
		return nil, fmt.Errorf("extra key %q is a known field", k)
	}
	if !utf8.ValidString(k) {
		return nil, errors.New("an extra key is not valid UTF-8")
	}
	if n := foldsToField(k); n != "" {
		return nil, fmt.Errorf("an extra key differs from the field %q only in case", n)
	}
	v := bytes.TrimSpace(raw)
	if err := jsontext.CheckValue(v, MaxNesting); err != nil {
		return nil, fmt.Errorf("an extra key's value: %w", err)
	}
	return v, nil
}

// appendValid appends s as a JSON string and clears *ok when s is not
// valid UTF-8 (the caller then discards b).
func appendValid(b []byte, s string, ok *bool) []byte {
	b, valid := jsontext.AppendValidString(b, s)
	if !valid {
		*ok = false
	}
	return b
}

func appendNullString(b []byte, s *string, ok *bool) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendValid(b, *s, ok)
}

func appendOptString(b []byte, s string, ok *bool) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendValid(b, s, ok)
}

func appendNullInt(b []byte, v *int64) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, *v, 10)
}

func appendStrings(b []byte, ss []string, ok *bool) []byte {
	b, valid := jsontext.AppendValidStrings(b, ss)
	if !valid {
		*ok = false
	}
	return b
}
