package storage

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/google/uuid"
)

// ErrNotFound is matched (errors.Is) by the error [Backend.Read] returns for
// an id the backend does not hold.
var ErrNotFound = errors.New("storage: audit entry not found")

// ErrClosed is matched (errors.Is) by the error every method of a backend
// returns after Close.
var ErrClosed = errors.New("storage: backend is closed")

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

// NewEntryID returns a new entry id: a UUIDv7, whose text sorts by creation
// time.
func NewEntryID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only when the system's random source does; a v4
		// from the same source would fail too, so this is unreachable in
		// practice, but an id must never be empty.
		return uuid.NewString()
	}
	return id.String()
}

// collect drains an Entries sequence into a slice.
func collect(seq iter.Seq2[*AuditEntry, error]) ([]*AuditEntry, error) {
	var out []*AuditEntry
	for e, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}
