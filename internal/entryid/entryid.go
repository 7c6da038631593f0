// Package entryid derives the id of an audit entry from the span (or the
// events) it was made of, so that a span delivered twice is written under
// one id, and an auditor can compute the id from the trace.
package entryid

import (
	"crypto/sha256"
	"encoding/binary"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"
)

// Salts of the ids derived for entries made of different things, so that
// they never share an id.
const (
	// Span: an entry made of a span (exporter.EntryIDForSpan).
	Span = "otelaudit-entry"
	// Events: an entry the Collector's join made of a call's events alone,
	// without its span (which is written under the Span id when it comes).
	Events = "otelaudit-events"
)

// Derive returns a UUIDv7 whose 48-bit time field is start (Unix
// milliseconds; 0 for a zero or pre-1970 start) and whose 74 random bits
// are taken from SHA-256(salt | trace id | span id): deterministic, and
// sorted by time like the UUIDv7s storage.NewEntryID makes.
func Derive(salt string, sc trace.SpanContext, start time.Time) string {
	tid, sid := sc.TraceID(), sc.SpanID()
	h := sha256.New()
	h.Write([]byte(salt))
	h.Write(tid[:])
	h.Write(sid[:])
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	var u uuid.UUID
	ms := uint64(start.UnixMilli())
	if start.IsZero() || start.UnixMilli() < 0 {
		ms = 0
	}
	var tb [8]byte
	binary.BigEndian.PutUint64(tb[:], ms)
	copy(u[0:6], tb[2:8])
	copy(u[6:], sum[:10])
	u[6] = 0x70 | (u[6] & 0x0f) // version 7
	u[8] = 0x80 | (u[8] & 0x3f) // RFC 9562 variant
	return u.String()
}
