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
// text in Extra may be re-encoded. Chain is not compared: a
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
//   - Defects: inputs that backends have got wrong, held to one rule
//     ([CheckAccepted]): an entry is rejected at Write with an error
//     matching [storage.ErrInvalidEntry] and nothing is stored, or it reads
//     back equal by id, by a query for its instant and in Count. The
//     inputs: unknown keys that differ from a field only in case
//     ("Safety_Passed", "ID", "TIMESTAMP", ...); ids that JSON escapes
//     (backslash, quote, NUL, newline, tab, U+2028), which must also be
//     found and deleted; range bounds beyond the years 0000-9999 (the zero
//     time, year 10000, time.Unix(1<<62, 0)), which must select what they
//     cover; timestamps outside 0000-9999 (rejected) and at its edges
//     (readable); metadata and unknown-key values nested 10,001 levels;
//     invalid UTF-8 in contents, lists, metadata keys and values, ids and
//     unknown keys; an entry beyond [storage.DefaultMaxLineSize]. With
//     [Config].Unreadable, Read of data the backend cannot read fails with
//     an I/O error, never [storage.ErrNotFound], and so does ListEntries;
//     with [Config].Damage, Count, ListEntries and Read agree with what is
//     readable after damage in the middle of the stored data.
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
//   - Stats (only for a backend that implements [storage.StatsReporter]):
//     Accepted counts exactly the entries of the Write and WriteBatch
//     calls that returned nil, and Stats still answers after Close.
package storagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

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
	// Unreadable, when set, enables the UnreadableData subtest: it must
	// make the stored data holding e unreadable, as a file the process may
	// not read does (an I/O error on every read of it), and return a
	// backend over that store (b, or b reopened).
	Unreadable func(t *testing.T, b storage.Backend, e *storage.AuditEntry) storage.Backend
	// Damage, when set, enables the DamagedData subtest: it must change
	// bytes of the stored entry e in place, as disk damage or another
	// writer would (without telling b), and return a backend over the
	// damaged store (b, or b reopened).
	Damage func(t *testing.T, b storage.Backend, e *storage.AuditEntry) storage.Backend
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
// subtest fails the test; nothing is skipped except the subtests whose
// hook (Reopen, Unreadable, Damage) is nil, which are not run.
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
		{"Defects", s.testDefects},
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
	if _, ok := s.backend(t).(storage.StatsReporter); ok {
		t.Run("Stats", s.testStats)
	}
}

// Normalize returns e as a round trip through the wire format gives it
// back ([storage.AuditEntry.AppendJSON] then [storage.ParseEntry]), for
// comparing entries: Timestamp in UTC, empty lists, metadata and Extra as
// nil, metadata values as their JSON decoding (numbers as json.Number),
// with each Extra value re-encoded compactly with sorted keys (a backend
// may re-encode that JSON text). Chain is dropped. An entry the wire
// format rejects is returned as a copy with only Timestamp in UTC.
// Normalize(nil) is nil.
func Normalize(e *storage.AuditEntry) *storage.AuditEntry {
	if e == nil {
		return nil
	}
	c := e.Clone()
	c.Chain = nil
	c.Timestamp = c.Timestamp.UTC()
	if b, err := c.AppendJSON(nil); err == nil {
		if back, err := storage.ParseEntry(b); err == nil {
			c = back
		}
	}
	for k, v := range c.Extra {
		var x any
		if decodeNumbers(v, &x) == nil {
			if b, err := json.Marshal(x); err == nil {
				c.Extra[k] = b
			}
		}
	}
	return c
}

func decodeNumbers(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// equalEntry reports whether got is want after a wire round trip (Chain
// ignored).
func equalEntry(want, got *storage.AuditEntry) bool {
	if want == nil || got == nil {
		return want == got
	}
	return reflect.DeepEqual(Normalize(want), Normalize(got))
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
