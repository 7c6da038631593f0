package storage

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/otelaudit/otelaudit-go/internal/uuidv7"
)

// ErrNotFound is matched (errors.Is) by the error [Backend.Read] returns for
// an id the backend does not hold.
var ErrNotFound = errors.New("storage: audit entry not found")

// ErrClosed is matched (errors.Is) by the error every method of a backend
// returns after Close.
var ErrClosed = errors.New("storage: backend is closed")

// Flusher is implemented by backends that hold accepted entries before
// they are durable (the file backend between fsyncs, s3store in its open
// batches). Flush returns nil once every entry accepted before the call is
// durable, or an error saying why not; it honours ctx like every Backend
// method. The exporter calls it from ForceFlush and Shutdown, so that
// "flushed" means durable whatever the backend.
type Flusher interface {
	Flush(ctx context.Context) error
}

// Stats are a backend's counters since it was opened (for
// [MemoryStorage], created): one type for every backend of this module,
// each of which returns them from a Stats method ([StatsReporter]). A
// counter that does not apply to a backend stays zero; each field says
// which backends keep it.
type Stats struct {
	// Accepted counts the entries of Write and WriteBatch calls that
	// returned nil (all backends).
	Accepted uint64
	// Uploaded counts entries whose batch object is stored, including
	// spooled ones left by an earlier Store (S3).
	Uploaded uint64
	// Pending is the number of accepted entries not yet uploaded (S3).
	Pending int
	// Objects counts the batch objects this Store stored (S3).
	Objects uint64
	// Retries counts failed delivery attempts that were retried (S3).
	Retries uint64
	// Evicted counts the entries dropped to stay within the bound
	// ([MemoryStorage]; always 0 when unbounded).
	Evicted uint64
	// SkippedLines counts stored lines that reads skipped because they are
	// not valid entries, each time a read met one (files, S3).
	SkippedLines uint64
	// TornTails counts incomplete last lines: cut off when the store was
	// opened for writing, or skipped by reads of a store another process
	// is appending to (files).
	TornTails uint64
	// IndexFailures counts index files a file store could not write (a
	// read-only or replaced index directory, a full disk): indexes only
	// make reads cheaper, so writes go on and reads scan the data the
	// missing index would have covered (files).
	IndexFailures uint64
}

// StatsReporter is implemented by every backend of this module. Stats is
// safe to call at any time, concurrently with other methods and after
// Close.
type StatsReporter interface {
	Stats() Stats
}

// Backend persists audit entries.
//
// All methods are safe for concurrent use. Every method honours its ctx:
// a call whose ctx is done before it starts returns ctx.Err() (wrapped);
// a write that has begun is not torn because ctx ends. Entries passed to
// Write and WriteBatch are not retained or modified by the backend (a
// chaining backend sets the Chain of its own copy); entries returned are
// copies the caller owns.
type Backend interface {
	// Write stores e. When it returns nil the entry is accepted and will
	// not be lost; how durable it already is depends on the backend.
	Write(ctx context.Context, e *AuditEntry) error
	// WriteBatch stores es as one operation where the backend can. When it
	// returns nil every entry was accepted.
	WriteBatch(ctx context.Context, es []*AuditEntry) error
	// Read returns the entry with the given id, or an error matching
	// [ErrNotFound].
	Read(ctx context.Context, id string) (*AuditEntry, error)
	// ListEntries returns the entries with start <= Timestamp <= end,
	// oldest first.
	ListEntries(ctx context.Context, start, end time.Time) ([]*AuditEntry, error)
	// Entries is the streaming form of ListEntries: the same entries in
	// the same order, without holding them all in memory. An error is
	// yielded once and ends the sequence.
	Entries(ctx context.Context, start, end time.Time) iter.Seq2[*AuditEntry, error]
	// Delete removes the entry with the given id and reports whether it
	// was there.
	Delete(ctx context.Context, id string) (bool, error)
	// DeleteBefore removes every entry with Timestamp < t and returns how
	// many it removed.
	DeleteBefore(ctx context.Context, t time.Time) (int, error)
	// Count returns the number of entries held.
	Count(ctx context.Context) (int, error)
	// Close flushes what was accepted and releases the backend. It is
	// idempotent; other methods return an error matching [ErrClosed]
	// afterwards.
	Close() error
}

// NewEntryID returns a new entry id: a UUIDv7 (RFC 9562) in its 36-byte
// text form, whose text sorts by creation time. Ids made by one process
// never repeat and sort in the order they were made, even within one clock
// tick or when the clock steps back. Safe for concurrent use.
func NewEntryID() string { return uuidv7.New() }

// ClampRange returns start and end moved into the instants entries can
// have (the years 0000-9999 in UTC, see [AuditEntry.Validate]), so that a
// range query with far bounds (the zero time, year 10000, time.Unix(1<<62,
// 0)) selects everything the bounds cover instead of nothing. Backends call
// it before they turn bounds into day names or keys. It does not reorder
// them: when end is before start the result is still empty.
func ClampRange(start, end time.Time) (time.Time, time.Time) {
	first := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	if start.Before(first) {
		start = first
	}
	if end.After(last) {
		end = last
	}
	return start, end
}

// Collect drains an [Backend.Entries] sequence into a slice, stopping at
// the first error: the ListEntries of a backend whose Entries streams.
func Collect(seq iter.Seq2[*AuditEntry, error]) ([]*AuditEntry, error) {
	var out []*AuditEntry
	for e, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}
