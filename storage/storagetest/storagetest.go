// Package storagetest is the conformance suite for [storage.Backend], in the
// spirit of testing/slogtest: every backend (memory, file, S3, or your own)
// runs the same subtests, so that code written against the interface behaves
// the same whatever stores the entries.
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Backend {
//			return storage.NewMemoryStorage(0)
//		})
//	}
//
// Each subtest gets a fresh, empty backend from the constructor and closes
// it when it ends (Close must be idempotent, so a constructor may register
// its own cleanup too). Subtests run one after another.
//
// # What is compared
//
// A backend may change an entry only as a round trip through the wire
// format does (see [Normalize]): Timestamp comes back as the same instant
// in UTC, empty lists, metadata and Extra may come back as nil, metadata
// numbers as json.Number (exact, never rounded through float64), and JSON
// text in Extra may be re-encoded. Invalid UTF-8 in a string may come back
// as given or with each invalid byte replaced by U+FFFD (what encoding/json
// and [storage.AuditEntry.AppendJSON] write). Chain is not compared: a
// chaining backend sets it on its own copy. Everything else comes back
// exactly, including the difference between a nil pointer and a pointer to
// a zero value (null versus "" or 0 on the wire).
//
// # The contract, by subtest
//
//   - RoundTrip: every field of an entry written with Write comes back from
//     Read as described above; pointer fields set and nil, tokens of 2^40,
//     0, MaxInt64 and null, metadata of every JSON type (json.Number
//     "9007199254740993" exact, nested objects and arrays, empty ones),
//     astral characters and escapes, unknown Extra keys, TraceID, SpanID
//     and Operation, latencies in exponent form, and timestamps with
//     nanoseconds in non-UTC zones (the same instant, in UTC).
//   - Isolation: Write neither modifies nor retains the caller's entry, and
//     entries returned by Read and ListEntries are copies the caller owns.
//   - NotFound: Read of an unknown id fails with an error matching
//     [storage.ErrNotFound]; Delete of an unknown id returns false, nil.
//   - RangeInclusive: ListEntries returns start <= Timestamp <= end at
//     nanosecond precision, bounds in any time zone; start after end gives
//     no entries and no error.
//   - Ordering: ListEntries is oldest first across days, months and years,
//     including days 29, 30 and 31 and Feb 29, whatever the write order;
//     a query for one UTC day returns exactly that day's entries.
//   - Ties: entries with equal timestamps are all returned, contiguous, in
//     the same order by every call and by Entries.
//   - Entries: the stream yields what ListEntries returns in the same order
//     (more than 256 entries, so chunked implementations are exercised);
//     breaking out of the loop stops it; the loop body may call the
//     backend, including Write, without deadlock.
//   - Delete: removes exactly one entry and reports whether it was there.
//   - DeleteBefore: removes Timestamp < t (strictly) and returns the count.
//   - Count: the number of entries held after writes, batches and deletes.
//   - WriteBatch: every entry of a batch is stored; an empty or nil batch is
//     a no-op without error.
//   - Invalid: an entry that [storage.AuditEntry.Validate] or the wire
//     encoding rejects (nil, no id, no timestamp, NaN or Inf latency, NaN
//     or Inf or unencodable metadata, invalid JSON in Extra) fails with an
//     error matching [storage.ErrInvalidEntry] and nothing is stored; in a
//     batch, no entry of the batch is stored.
//   - Concurrent: concurrent writers (8 x 200 by default) with concurrent
//     readers lose nothing; run the suite with -race.
//   - Close: Close is idempotent and returns nil; afterwards every method
//     fails with an error matching [storage.ErrClosed] (Entries yields it
//     once).
//   - Context: with a cancelled ctx every method fails with an error
//     matching context.Canceled (an expired deadline with
//     context.DeadlineExceeded) and changes nothing.
//   - Reopen (only with [Config].Reopen): entries written before a reopen
//     are all there, unchanged and in order, afterwards.
package storagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/otelaudit/otelaudit-go/storage"
)

// Config configures [RunConfig]. The zero value of every field but New
// means the default.
type Config struct {
	// New returns a fresh, empty backend. It is called once per subtest and
	// must not be nil.
	New func(t *testing.T) storage.Backend
	// Reopen, when set, enables the Reopen subtest: it must close b and
	// return a new backend over the same store (for example the same
	// directory or bucket prefix). Backends that keep nothing across a
	// reopen (memory) leave it nil.
	Reopen func(t *testing.T, b storage.Backend) storage.Backend
	// Writers and PerWriter size the Concurrent subtest: Writers goroutines
	// each write PerWriter entries. Defaults 8 and 200.
	Writers, PerWriter int
}

// Run runs the conformance suite against the backends newBackend returns.
// It is RunConfig with only New set.
func Run(t *testing.T, newBackend func(t *testing.T) storage.Backend) {
	t.Helper()
	RunConfig(t, Config{New: newBackend})
}

// RunConfig runs the conformance suite as cfg says. A backend that fails a
// subtest fails the test; nothing is skipped except Reopen when cfg.Reopen
// is nil.
func RunConfig(t *testing.T, cfg Config) {
	t.Helper()
	if cfg.New == nil {
		t.Fatal("storagetest: Config.New is nil")
	}
	if cfg.Writers <= 0 {
		cfg.Writers = 8
	}
	if cfg.PerWriter <= 0 {
		cfg.PerWriter = 200
	}
	s := &suite{cfg: cfg}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"RoundTrip", s.testRoundTrip},
		{"Isolation", s.testIsolation},
		{"NotFound", s.testNotFound},
		{"RangeInclusive", s.testRangeInclusive},
		{"Ordering", s.testOrdering},
		{"Ties", s.testTies},
		{"Entries", s.testEntries},
		{"Delete", s.testDelete},
		{"DeleteBefore", s.testDeleteBefore},
		{"Count", s.testCount},
		{"WriteBatch", s.testWriteBatch},
		{"Invalid", s.testInvalid},
		{"Concurrent", s.testConcurrent},
		{"Close", s.testClose},
		{"Context", s.testContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
	if cfg.Reopen != nil {
		t.Run("Reopen", s.testReopen)
	}
}

// Normalize returns a copy of e in the form a wire round trip produces, for
// comparing entries: Timestamp in UTC (monotonic reading dropped), empty
// lists, metadata and Extra as nil, metadata re-decoded from its JSON with
// numbers as json.Number, and each Extra value re-encoded compactly with
// sorted keys. Invalid UTF-8 and Chain are left as they are. Normalize(nil)
// is nil.
func Normalize(e *storage.AuditEntry) *storage.AuditEntry {
	if e == nil {
		return nil
	}
	c := e.Clone()
	c.Timestamp = c.Timestamp.UTC()
	if len(c.DetectorsTriggered) == 0 {
		c.DetectorsTriggered = nil
	}
	if len(c.Alerts) == 0 {
		c.Alerts = nil
	}
	if len(c.Metadata) == 0 {
		c.Metadata = nil
	} else if b, err := json.Marshal(c.Metadata); err == nil {
		var md map[string]any
		if decodeNumbers(b, &md) == nil {
			c.Metadata = md
		}
	}
	if len(c.Extra) == 0 {
		c.Extra = nil
	}
	for k, v := range c.Extra {
		var x any
		if decodeNumbers(v, &x) == nil {
			if b, err := json.Marshal(x); err == nil {
				c.Extra[k] = b
				continue
			}
		}
		c.Extra[k] = bytes.TrimSpace(v)
	}
	return c
}

func decodeNumbers(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// wireString returns s as the wire encoding gives it back: each byte that
// is not part of valid UTF-8 replaced by U+FFFD.
func wireString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString("\uFFFD")
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// wireStrings applies wireString to every string field of a normalised
// entry (metadata and Extra are already in wire form after Normalize).
func wireStrings(e *storage.AuditEntry) *storage.AuditEntry {
	c := e.Clone()
	for _, p := range []*string{&c.ID, &c.InputHash, &c.OutputHash, &c.TraceID, &c.SpanID, &c.Operation} {
		*p = wireString(*p)
	}
	for _, p := range []*string{c.InputContent, c.OutputContent, c.Provider, c.Model, c.ConversationID, c.BlockReason} {
		if p != nil {
			*p = wireString(*p)
		}
	}
	for i := range c.DetectorsTriggered {
		c.DetectorsTriggered[i] = wireString(c.DetectorsTriggered[i])
	}
	for i := range c.Alerts {
		c.Alerts[i] = wireString(c.Alerts[i])
	}
	return c
}

// equalEntry reports whether got is want after a wire round trip (Chain
// ignored), and why not.
func equalEntry(want, got *storage.AuditEntry) bool {
	if want == nil || got == nil {
		return want == got
	}
	w, g := Normalize(want), Normalize(got)
	w.Chain, g.Chain = nil, nil
	if reflect.DeepEqual(w, g) {
		return true
	}
	return reflect.DeepEqual(wireStrings(w), g)
}

// zero and max bound every timestamp the suite writes.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// context helpers

func cancelledContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
