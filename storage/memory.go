package storage

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// memoryChunk is how many entries [MemoryStorage.Entries] copies per lock
// acquisition: large enough to make locking cheap, small enough that a
// stream never holds the lock for long or copies the whole store at once.
const memoryChunk = 256

// memoryCompactMin is the number of removed entries below which the
// timestamp index is never compacted (compacting a small index buys
// nothing).
const memoryCompactMin = 1024

// MemoryStorage is a [Backend] that keeps entries in memory, for tests,
// demos and short-lived processes. Nothing survives the process.
//
// When bounded (maxEntries > 0), writing an entry beyond the bound evicts
// the entry that was written first (insertion order, not timestamp order),
// in amortised O(1); [MemoryStorage.Stats] counts evictions. Writing an
// entry whose ID is already held replaces the held entry (ids stay unique;
// the replacement counts as a new insertion).
//
// What is stored is what a round trip through the wire format gives back
// ([AuditEntry.AppendJSON], then [ParseEntry]), so memory holds exactly
// what a persisting backend would read back: Timestamp in UTC (monotonic
// reading dropped), empty lists, metadata and Extra as nil, metadata
// values as their JSON decoding (numbers as json.Number, exact). An entry
// the wire format rejects ([AuditEntry.Validate]), or whose line would
// exceed [DefaultMaxLineSize], yields an error matching [ErrInvalidEntry]
// and nothing is stored. Every read returns a fresh copy the caller owns.
//
// Range queries cost O(log n) plus the entries returned; writes in
// timestamp order cost amortised O(1), out-of-order writes O(n) pointer
// copying in the worst case. Entries with equal timestamps are returned in
// insertion order.
//
// All methods are safe for concurrent use. A method whose ctx is already
// done returns ctx.Err() (wrapped) without doing anything. After
// [MemoryStorage.Close] every method but Close and Stats returns an error
// matching [ErrClosed].
type MemoryStorage struct {
	maxEntries int // fixed after construction; 0 means unbounded

	accepted, evicted atomic.Uint64

	mu sync.RWMutex
	// The fields below are protected by mu.
	closed bool
	byID   map[string]*memNode
	// sorted holds every held entry ordered by (timestamp, seq), plus
	// removed nodes (dead) that have not been compacted away yet.
	sorted []*memNode
	dead   int
	// head (oldest) and tail (newest) of the insertion-order list of held
	// entries.
	head, tail *memNode
	seq        uint64
}

// memNode is one stored entry, linked in insertion order and referenced by
// the timestamp index.
type memNode struct {
	e          *AuditEntry // nil once dead
	ts         time.Time   // e.Timestamp in UTC, kept after death for searching
	seq        uint64      // insertion sequence, breaks timestamp ties
	prev, next *memNode
	dead       bool
}

var (
	_ Backend       = (*MemoryStorage)(nil)
	_ StatsReporter = (*MemoryStorage)(nil)
)

// NewMemoryStorage returns an empty in-memory backend holding at most
// maxEntries entries, evicting the oldest written when full. maxEntries 0
// (or negative) means unbounded.
func NewMemoryStorage(maxEntries int) *MemoryStorage {
	return &MemoryStorage{
		maxEntries: max(maxEntries, 0),
		byID:       make(map[string]*memNode),
	}
}

// Write stores a normalised copy of e (see [MemoryStorage]). e is neither
// retained nor modified.
func (s *MemoryStorage) Write(ctx context.Context, e *AuditEntry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: memory write: %w", err)
	}
	c, err := prepareMemoryEntry(e)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.insert(c)
	s.accepted.Add(1)
	return nil
}

// WriteBatch stores copies of every entry of es atomically: every entry is
// validated first, and if one is invalid the error (matching
// [ErrInvalidEntry], naming its index) is returned and none is stored. An
// empty batch is a no-op. Later entries of es replace earlier ones with the
// same ID.
func (s *MemoryStorage) WriteBatch(ctx context.Context, es []*AuditEntry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: memory write batch: %w", err)
	}
	cs := make([]*AuditEntry, len(es))
	for i, e := range es {
		c, err := prepareMemoryEntry(e)
		if err != nil {
			return fmt.Errorf("storage: memory write batch: entry %d: %w", i, err)
		}
		cs[i] = c
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	for _, c := range cs {
		s.insert(c)
	}
	s.accepted.Add(uint64(len(cs)))
	return nil
}

// Read returns a copy of the entry with the given id, or an error matching
// [ErrNotFound].
func (s *MemoryStorage) Read(ctx context.Context, id string) (*AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: memory read: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	n, ok := s.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: id %q", ErrNotFound, id)
	}
	return n.e.Clone(), nil
}

// ListEntries returns copies of the entries with start <= Timestamp <= end,
// oldest first (ties in insertion order), as one consistent snapshot. It
// returns nil when none match, including when start is after end.
func (s *MemoryStorage) ListEntries(ctx context.Context, start, end time.Time) ([]*AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: memory list: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	if start.After(end) {
		return nil, nil
	}
	lo := s.lowerBound(start)
	hi := sort.Search(len(s.sorted)-lo, func(i int) bool { return s.sorted[lo+i].ts.After(end) }) + lo
	var out []*AuditEntry
	for _, n := range s.sorted[lo:hi] {
		if !n.dead {
			out = append(out, n.e.Clone())
		}
	}
	return out, nil
}

// Entries streams the same entries as [MemoryStorage.ListEntries] in the
// same order. It copies a chunk of entries at a time under the read lock
// and yields them without holding it, so the consumer may call other
// methods (including writes) from the loop body; entries written or
// removed meanwhile may or may not be seen, but no entry is yielded twice
// and order is kept. ctx is checked before every entry; when it is done,
// or the backend is closed, the error is yielded once and the sequence
// ends. Breaking out of the loop stops the stream at once.
func (s *MemoryStorage) Entries(ctx context.Context, start, end time.Time) iter.Seq2[*AuditEntry, error] {
	return func(yield func(*AuditEntry, error) bool) {
		var (
			buf     []*AuditEntry
			lastTS  time.Time
			lastSeq uint64
			started bool
		)
		for {
			if err := ctx.Err(); err != nil {
				yield(nil, fmt.Errorf("storage: memory entries: %w", err))
				return
			}
			s.mu.RLock()
			if s.closed {
				s.mu.RUnlock()
				yield(nil, ErrClosed)
				return
			}
			if start.After(end) {
				s.mu.RUnlock()
				return
			}
			var i int
			if started {
				i = sort.Search(len(s.sorted), func(i int) bool {
					n := s.sorted[i]
					c := n.ts.Compare(lastTS)
					return c > 0 || (c == 0 && n.seq > lastSeq)
				})
			} else {
				i = s.lowerBound(start)
			}
			buf = buf[:0]
			done := true
			for ; i < len(s.sorted); i++ {
				n := s.sorted[i]
				if n.ts.After(end) {
					break
				}
				if n.dead {
					continue
				}
				if len(buf) == memoryChunk {
					done = false
					break
				}
				buf = append(buf, n.e.Clone())
				lastTS, lastSeq, started = n.ts, n.seq, true
			}
			s.mu.RUnlock()
			for j, e := range buf {
				if j > 0 {
					if err := ctx.Err(); err != nil {
						yield(nil, fmt.Errorf("storage: memory entries: %w", err))
						return
					}
				}
				if !yield(e, nil) {
					return
				}
			}
			if done {
				return
			}
		}
	}
}

// Delete removes the entry with the given id and reports whether it was
// held. A missing id is not an error.
func (s *MemoryStorage) Delete(ctx context.Context, id string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("storage: memory delete: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, ErrClosed
	}
	n, ok := s.byID[id]
	if !ok {
		return false, nil
	}
	s.remove(n)
	s.maybeCompact()
	return true, nil
}

// DeleteBefore removes every entry with Timestamp < t (strictly) and
// returns how many it removed, in O(log n + removed).
func (s *MemoryStorage) DeleteBefore(ctx context.Context, t time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("storage: memory delete before: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	k := s.lowerBound(t)
	removed := 0
	for _, n := range s.sorted[:k] {
		if n.dead {
			s.dead--
			continue
		}
		delete(s.byID, n.e.ID)
		s.unlink(n)
		n.dead, n.e = true, nil
		removed++
	}
	clear(s.sorted[:k])
	s.sorted = s.sorted[k:]
	return removed, nil
}

// Count returns the number of entries held.
func (s *MemoryStorage) Count(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("storage: memory count: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	return len(s.byID), nil
}

// Stats returns the counters: Accepted and Evicted (entries dropped
// because the bound was reached, always 0 when unbounded). It keeps
// working after Close.
func (s *MemoryStorage) Stats() Stats {
	return Stats{Accepted: s.accepted.Load(), Evicted: s.evicted.Load()}
}

// Close drops every entry and releases the memory. It always returns nil
// and is idempotent; other methods return [ErrClosed] afterwards.
func (s *MemoryStorage) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.byID, s.sorted, s.head, s.tail, s.dead = nil, nil, nil, nil, 0
	return nil
}

// insert adds a prepared entry. Caller holds mu for writing.
func (s *MemoryStorage) insert(c *AuditEntry) {
	if old, ok := s.byID[c.ID]; ok {
		s.remove(old)
	}
	n := &memNode{e: c, ts: c.Timestamp, seq: s.seq}
	s.seq++
	s.byID[c.ID] = n
	// insertion-order list
	n.prev = s.tail
	if s.tail != nil {
		s.tail.next = n
	} else {
		s.head = n
	}
	s.tail = n
	// timestamp index: n has the largest seq, so its place is after every
	// entry with the same timestamp.
	if last := len(s.sorted) - 1; last < 0 || !n.ts.Before(s.sorted[last].ts) {
		s.sorted = append(s.sorted, n)
	} else {
		i := sort.Search(len(s.sorted), func(i int) bool { return s.sorted[i].ts.After(n.ts) })
		s.sorted = slices.Insert(s.sorted, i, n)
	}
	if s.maxEntries > 0 {
		for len(s.byID) > s.maxEntries {
			s.remove(s.head)
			s.evicted.Add(1)
		}
	}
	s.maybeCompact()
}

// remove drops a held node from the id map and the insertion list and
// marks it dead in the index. Caller holds mu for writing.
func (s *MemoryStorage) remove(n *memNode) {
	delete(s.byID, n.e.ID)
	s.unlink(n)
	n.dead, n.e = true, nil
	s.dead++
}

func (s *MemoryStorage) unlink(n *memNode) {
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		s.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		s.tail = n.prev
	}
	n.prev, n.next = nil, nil
}

// maybeCompact removes dead nodes from the index once they are at least
// half of it, so that the work is amortised O(1) per removal and scans
// never visit more dead nodes than live ones (plus memoryCompactMin).
func (s *MemoryStorage) maybeCompact() {
	if s.dead < memoryCompactMin || s.dead*2 < len(s.sorted) {
		return
	}
	live := s.sorted[:0]
	for _, n := range s.sorted {
		if !n.dead {
			live = append(live, n)
		}
	}
	clear(s.sorted[len(live):])
	s.sorted = live
	s.dead = 0
}

// lowerBound returns the index of the first node with ts >= t.
func (s *MemoryStorage) lowerBound(t time.Time) int {
	return sort.Search(len(s.sorted), func(i int) bool { return !s.sorted[i].ts.Before(t) })
}

// prepareMemoryEntry returns what a round trip through the wire format
// gives back for e, so that memory holds exactly what a persisting backend
// would read back; it fails where the wire format does, or when the line
// would exceed [DefaultMaxLineSize].
func prepareMemoryEntry(e *AuditEntry) (*AuditEntry, error) {
	if e == nil {
		return nil, fmt.Errorf("%w: nil entry", ErrInvalidEntry)
	}
	b, err := e.AppendJSON(nil)
	if err != nil {
		return nil, err
	}
	if err := CheckLineSize(e.ID, len(b), DefaultMaxLineSize); err != nil {
		return nil, err
	}
	back, err := ParseEntry(b)
	if err != nil {
		return nil, fmt.Errorf("storage: memory: entry does not read back: %w", err)
	}
	return back, nil
}
