package s3store

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/otelaudit/otelaudit-go/storage"
)

// objMeta is what a listing says about an object besides its key.
type objMeta struct {
	size     int64
	etag     string
	modified time.Time
}

// list calls fn for every key under prefix (relative to the store prefix
// stripped), in key order, starting after startAfter (full key, may be
// ""), with the object's size and ETag. With delim set it reports common
// prefixes instead of the keys below them, as relative prefixes ending in
// delim (zero objMeta). fn returns false to stop.
func (s *Store) list(ctx context.Context, prefix, startAfter, delim string, fn func(rel string, isPrefix bool, m objMeta) bool) error {
	in := &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.cfg.prefix + prefix),
	}
	if startAfter != "" {
		in.StartAfter = aws.String(startAfter)
	}
	if delim != "" {
		in.Delimiter = aws.String(delim)
	}
	p := s3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return classify("list objects", s.bucket, err)
		}
		// Keys and common prefixes come in separate lists; merge them in
		// key order.
		keys := make([]string, 0, len(out.Contents)+len(out.CommonPrefixes))
		isPrefix := map[string]bool{}
		metas := make(map[string]objMeta, len(out.Contents))
		for _, o := range out.Contents {
			k := aws.ToString(o.Key)
			keys = append(keys, k)
			metas[k] = objMeta{size: aws.ToInt64(o.Size), etag: aws.ToString(o.ETag), modified: aws.ToTime(o.LastModified)}
		}
		for _, cp := range out.CommonPrefixes {
			k := aws.ToString(cp.Prefix)
			keys = append(keys, k)
			isPrefix[k] = true
		}
		slices.Sort(keys)
		for _, k := range keys {
			rel, ok := strings.CutPrefix(k, s.cfg.prefix)
			if !ok {
				continue
			}
			if !fn(rel, isPrefix[k], metas[k]) {
				return nil
			}
		}
	}
	return nil
}

// partitions returns the partition days from..to (inclusive) that exist,
// from one delimited listing (a request per 1,000 days).
func (s *Store) partitions(ctx context.Context, from, to time.Time) ([]time.Time, error) {
	var out []time.Time
	startAfter := s.cfg.prefix + from.Format(dateLayout) // sorts just before "<date>/"
	err := s.list(ctx, "", startAfter, "/", func(rel string, isPrefix bool, _ objMeta) bool {
		if !isPrefix {
			return true
		}
		d, ok := parseDate(strings.TrimSuffix(rel, "/"))
		if !ok {
			return rel < "9" // past the dates: stop
		}
		if d.After(to) {
			return false
		}
		if !d.Before(from) {
			out = append(out, d)
		}
		return true
	})
	return out, err
}

// daysInRange returns the partition days a query over [start, end] must
// look at. Short ranges enumerate every calendar day (a LIST of an empty
// day is as cheap as listing the partitions); longer ones list the
// partitions that exist.
func (s *Store) daysInRange(ctx context.Context, start, end time.Time) ([]time.Time, error) {
	from, to := day(start), day(end)
	if to.Sub(from) <= 3*24*time.Hour {
		var out []time.Time
		for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
			out = append(out, d)
		}
		return out, nil
	}
	return s.partitions(ctx, from, to)
}

// partition is the listing of one day.
type partition struct {
	date   string
	batch  []batchName             // current generation of each batch
	stale  []staleGen              // superseded generations still holding entries
	tombs  []batchName             // superseded generations already tombstones
	legacy []string                // keys (relative) of reference-layout objects
	byBase map[string]batchName    // current generation by base
	size   map[batchName]int64     // object size of each current generation
	mod    map[batchName]time.Time // upload time of each batch object listed
}

// isTombstoneSize reports whether a listed object has the tombstone's
// size. No batch object does: a generation with entries is larger (an
// entry line holds two 64-digit hashes), an empty one has size 0.
func isTombstoneSize(size int64) bool { return size == int64(len(tombstone)) }

// all returns every key of the partition's objects (for whole-day deletes).
func (p *partition) all() []string {
	out := make([]string, 0, len(p.batch)+len(p.stale)+len(p.tombs)+len(p.legacy))
	for _, bn := range p.batch {
		out = append(out, p.date+"/"+bn.String())
	}
	for _, g := range p.stale {
		out = append(out, p.date+"/"+g.name.String())
	}
	for _, bn := range p.tombs {
		out = append(out, p.date+"/"+bn.String())
	}
	return append(out, p.legacy...)
}

// staleGen is a superseded generation of a batch that is not a tombstone
// yet, with the ETag the listing gave (the tombstone replaces exactly that
// content).
type staleGen struct {
	name batchName
	etag string
}

// listPartition lists one day's objects (a request per 1,000 objects).
// The current generation of a batch is its highest one; every lower one is
// superseded, whether or not it is a tombstone yet.
func (s *Store) listPartition(ctx context.Context, date string, basePrefix string) (*partition, error) {
	p := &partition{date: date, byBase: map[string]batchName{}, size: map[batchName]int64{}, mod: map[batchName]time.Time{}}
	type listed struct {
		name batchName
		m    objMeta
	}
	var all []listed
	err := s.list(ctx, date+"/"+basePrefix, "", "", func(rel string, _ bool, m objMeta) bool {
		leaf := strings.TrimPrefix(rel, date+"/")
		if strings.Contains(leaf, "/") {
			return true
		}
		if bn, ok := parseBatchName(leaf); ok {
			all = append(all, listed{bn, m})
			p.mod[bn] = m.modified
		} else if strings.HasSuffix(leaf, legacyExt) {
			p.legacy = append(p.legacy, rel)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	for _, o := range all {
		if cur, ok := p.byBase[o.name.base()]; !ok || o.name.gen > cur.gen {
			p.byBase[o.name.base()] = o.name
		}
	}
	for _, o := range all {
		switch {
		case isTombstoneSize(o.m.size):
			// The newest generation is a tombstone only when the one that
			// superseded it was deleted, which retention does: the batch
			// is gone (a tombstone put racing with the deletion of its
			// day on a server whose conditional put is not atomic with
			// deletes may leave one behind).
			if p.byBase[o.name.base()] == o.name {
				delete(p.byBase, o.name.base())
			}
			p.tombs = append(p.tombs, o.name)
		case p.byBase[o.name.base()] == o.name:
			p.batch = append(p.batch, o.name)
			p.size[o.name] = o.m.size
			p.tombs = append(p.tombs, o.name)
		default:
			p.stale = append(p.stale, staleGen{o.name, o.m.etag})
		}
	}
	return p, nil
}

// get returns the body of key (relative); errors for a missing key match
// storage.ErrNotFound.
func (s *Store) get(ctx context.Context, rel string) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.cfg.prefix + rel),
	})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("s3store: object %s: %w", rel, storage.ErrNotFound)
		}
		return nil, classify("get object", s.bucket, err)
	}
	defer out.Body.Close()
	limit := s.cfg.maxObjectBytes
	if n := aws.ToInt64(out.ContentLength); n > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes, over the limit of %d (WithMaxObjectBytes)", ErrObjectTooLarge, rel, n, limit)
	}
	body, err := io.ReadAll(io.LimitReader(out.Body, limit+1))
	if err != nil {
		return nil, classify("get object", s.bucket, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: %s is over the limit of %d bytes (WithMaxObjectBytes)", ErrObjectTooLarge, rel, limit)
	}
	return body, nil
}

// getCurrent returns the body of the newest generation of batch base in
// day date. It starts with hint (a name from a listing) when given, and
// lists the batch's generations when there is none, the object is gone (its
// day removed by retention) or it is a tombstone (superseded by a rewrite
// since the listing), a few times over. ok is false when no generation
// exists.
func (s *Store) getCurrent(ctx context.Context, date, base string, hint *batchName) (body []byte, cur batchName, ok bool, err error) {
	misses := 0
	var bad *batchName // the last generation found gone or a tombstone
	for range maxRewriteAttempts {
		if hint == nil {
			p, err := s.listPartition(ctx, date, base+".")
			if err != nil {
				return nil, cur, false, err
			}
			bn, found := p.byBase[base]
			if !found || bad != nil && bn == *bad {
				// No generation, or the newest listed is the one just
				// found gone or superseded: the batch is being removed
				// (retention of its day), or a listing lagged behind a
				// rewrite. Look again before concluding.
				if misses++; misses > 2 {
					return nil, cur, false, nil
				}
				if err := sleepCtx(ctx, time.Duration(misses)*20*time.Millisecond); err != nil {
					return nil, cur, false, err
				}
				continue
			}
			hint = &bn
		}
		body, err := s.get(ctx, date+"/"+hint.String())
		if err == nil && !isTombstone(body) {
			return body, *hint, true, nil
		}
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return nil, cur, false, err
		}
		bad, hint = hint, nil
	}
	return nil, cur, false, fmt.Errorf("s3store: batch %s/%s: %w", date, base, errConflict)
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("s3store: %w", ctx.Err())
	}
}

// lines yields the non-blank lines of a JSONL batch body, without their
// newline.
func lines(body []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for len(body) > 0 {
			line, rest, _ := bytes.Cut(body, []byte{'\n'})
			body = rest
			if len(bytes.TrimSpace(line)) > 0 && !yield(line) {
				return
			}
		}
	}
}

// parseLines decodes every valid entry of a JSONL body; invalid lines are
// counted, reported (without content) and skipped. The entries share one
// storage.Decoder's blocks, so together they hold little more than their
// own field bytes (a query keeps them all).
func (s *Store) parseLines(rel string, body []byte, keep func(*storage.AuditEntry) bool) []*storage.AuditEntry {
	var out []*storage.AuditEntry
	var dec storage.Decoder
	bad := 0
	for line := range lines(body) {
		e, err := dec.Decode(line)
		if err != nil {
			bad++
			continue
		}
		if keep == nil || keep(e) {
			out = append(out, e)
		}
	}
	if bad > 0 {
		s.stats.skipped.Add(uint64(bad))
		s.cfg.logger.Warn("s3store: skipped invalid lines", "bucket", s.bucket, "object", rel, "lines", bad)
	}
	return out
}

// Read returns the entry with the given id, or an error matching
// [storage.ErrNotFound]. It first flushes (so it sees every accepted
// entry). For a UUIDv7 id it costs three requests (list the id markers of
// the id's day, list the batch's generations, get the batch object) plus
// one get per other batch whose id range also covers the id. Other ids
// (UUIDv4 from the reference layout, arbitrary strings) cost one list of
// the "other" markers, a get per batch holding such ids, and, when still
// not found, one delimited list of the partitions plus one get per day
// for the reference layout (prefix/YYYY-MM-DD/<id>.json).
func (s *Store) Read(ctx context.Context, id string) (*storage.AuditEntry, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := s.flush(ctx); err != nil {
		return nil, err
	}
	loc, err := s.locate(ctx, id)
	if err != nil {
		return nil, err
	}
	return loc.entry, nil
}

// location says where an entry was found.
type location struct {
	entry  *storage.AuditEntry
	legacy string // relative key of a reference-layout object, or ""
	date   string
	name   batchName // current generation holding the entry
	body   []byte    // the object holding the entry (batch or reference layout)
}

func notFound(id string) error {
	return fmt.Errorf("s3store: entry %q: %w", id, storage.ErrNotFound)
}

// locate finds the object holding id.
func (s *Store) locate(ctx context.Context, id string) (*location, error) {
	if id == "" {
		return nil, notFound(id)
	}
	bucket, isV7 := v7Date(id)
	if !isV7 {
		bucket = otherBucket
	}
	type cand struct{ date, base string }
	var cands []cand
	seen := map[cand]bool{}
	err := s.list(ctx, idsDir+bucket+"/", "", "", func(rel string, _ bool, _ objMeta) bool {
		m, ok := parseMarker(rel)
		if !ok {
			return true
		}
		if isV7 && (id < m.minID || id > m.maxID) {
			return true
		}
		c := cand{m.date, m.name.base()}
		if !seen[c] {
			seen[c] = true
			cands = append(cands, c)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	needle := quotedID(id)
	for _, c := range cands {
		body, cur, ok, err := s.getCurrent(ctx, c.date, c.base, nil)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue // marker of a batch that was deleted
		}
		for line := range lines(body) {
			if needle != nil && !bytes.Contains(line, needle) {
				continue
			}
			e, err := storage.ParseEntry(line)
			if err == nil && e.ID == id {
				return &location{entry: e, date: c.date, name: cur, body: body}, nil
			}
		}
	}
	if isV7 {
		return nil, notFound(id)
	}
	return s.locateLegacy(ctx, id)
}

// quotedID returns the JSON form of id when it is plain enough that every
// encoder writes it the same way, for a cheap pre-filter of lines; nil
// otherwise (then every line is decoded).
func quotedID(id string) []byte {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return nil
		}
	}
	q, _ := json.Marshal(id)
	return q
}

// legacyID reports whether id can name a reference-layout object.
func legacyID(id string) bool {
	return quotedID(id) != nil && id != "." && id != ".."
}

// locateLegacy looks for prefix/<day>/<id>.json in every partition, a few
// days at a time.
func (s *Store) locateLegacy(ctx context.Context, id string) (*location, error) {
	if !legacyID(id) {
		return nil, notFound(id)
	}
	days, err := s.partitions(ctx, time.Time{}, time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		found *location
		first error
		wg    sync.WaitGroup
		sem   = make(chan struct{}, s.cfg.readConcurrency)
	)
	for _, d := range days {
		mu.Lock()
		stop := found != nil || first != nil
		mu.Unlock()
		if stop {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(rel string) {
			defer func() { <-sem; wg.Done() }()
			body, err := s.get(ctx, rel)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, storage.ErrNotFound):
			case err != nil:
				if first == nil && found == nil && ctx.Err() == nil {
					first = err
				}
			default:
				es := s.parseLines(rel, body, nil)
				if len(es) == 1 && es[0].ID == id && found == nil {
					found = &location{entry: es[0], legacy: rel, body: body}
					cancel()
				}
			}
		}(d.Format(dateLayout) + "/" + id + legacyExt)
	}
	wg.Wait()
	if found != nil {
		return found, nil
	}
	if first != nil {
		return nil, first
	}
	return nil, notFound(id)
}

// ListEntries returns the entries with start <= Timestamp <= end, oldest
// first (ties by id). It flushes first. See [Store.Entries] for the cost.
func (s *Store) ListEntries(ctx context.Context, start, end time.Time) ([]*storage.AuditEntry, error) {
	var out []*storage.AuditEntry
	for e, err := range s.Entries(ctx, start, end) {
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Entries streams the entries with start <= Timestamp <= end, oldest first
// (ties by id). It reads batch objects only as the merge reaches them (a
// few at a time, in parallel), so memory holds the objects that overlap the
// current position, not the whole range. It flushes first. It lists only the days in range (every
// calendar day, leap days and 31sts included; ranges over three days first
// list which days exist, a request per 1,000 days), lists each day (a
// request per 1,000 objects) and gets only the batch objects whose time
// span overlaps the range, plus every reference-layout object of the day.
// An error is yielded once and ends the sequence.
func (s *Store) Entries(ctx context.Context, start, end time.Time) iter.Seq2[*storage.AuditEntry, error] {
	return func(yield func(*storage.AuditEntry, error) bool) {
		if err := s.check(ctx); err != nil {
			yield(nil, err)
			return
		}
		if err := s.flush(ctx); err != nil {
			yield(nil, err)
			return
		}
		start, end := start.UTC(), end.UTC()
		if end.Before(start) {
			return
		}
		// Bounds beyond the years entries can have select as far as they
		// go (a day key of year 10000 would not sort after 9999's).
		start, end = storage.ClampRange(start, end)
		days, err := s.daysInRange(ctx, start, end)
		if err != nil {
			yield(nil, err)
			return
		}
		for _, d := range days {
			more, err := s.streamDay(ctx, d, start, end, func(e *storage.AuditEntry) bool { return yield(e, nil) })
			if err != nil {
				yield(nil, err)
				return
			}
			if !more {
				return
			}
		}
	}
}

// dayObject is an object a day query reads.
type dayObject struct {
	rel    string
	minNs  int64 // first entry's ns since midnight; -1 when unknown (reference layout)
	legacy bool
	name   batchName // batch objects only
}

// streamDay yields the entries of day d within [start, end] in order. It
// merges the day's objects (each sorted) as it goes: an object is read
// only once the merge reaches its first timestamp, so memory holds the
// objects whose time spans overlap the current position plus a read-ahead
// window of readConcurrency objects fetched in parallel. It returns false
// when yield asked to stop.
func (s *Store) streamDay(ctx context.Context, d, start, end time.Time, yield func(*storage.AuditEntry) bool) (bool, error) {
	date := d.Format(dateLayout)
	p, err := s.listPartition(ctx, date, "")
	if err != nil {
		return false, err
	}
	var objs []dayObject
	for _, rel := range p.legacy {
		objs = append(objs, dayObject{rel: rel, minNs: -1, legacy: true})
	}
	for _, bn := range p.batch {
		if bn.n == 0 {
			continue
		}
		lo, hi := d.Add(time.Duration(bn.minNs)), d.Add(time.Duration(bn.maxNs))
		if hi.Before(start) || lo.After(end) {
			continue
		}
		objs = append(objs, dayObject{rel: date + "/" + bn.String(), minNs: bn.minNs, name: bn})
	}
	if len(objs) == 0 {
		return true, nil
	}
	slices.SortStableFunc(objs, func(a, b dayObject) int { return cmp.Compare(a.minNs, b.minNs) })
	keep := func(e *storage.AuditEntry) bool {
		return !e.Timestamp.Before(start) && !e.Timestamp.After(end)
	}

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	type future struct {
		done chan struct{}
		es   []*storage.AuditEntry
		err  error
	}
	futs := make([]*future, len(objs))
	started := 0
	startUpTo := func(n int) {
		for ; started < min(n, len(objs)); started++ {
			f := &future{done: make(chan struct{})}
			futs[started] = f
			o := objs[started]
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer close(f.done)
				var body []byte
				var err error
				if o.legacy {
					body, err = s.get(ctx, o.rel)
					if errors.Is(err, storage.ErrNotFound) {
						return // deleted since the listing
					}
				} else {
					// A batch rewritten since the listing (a Delete of
					// another entry) is read in its new generation.
					body, _, _, err = s.getCurrent(ctx, date, o.name.base(), &o.name)
				}
				if err != nil {
					f.err = err
					return
				}
				f.es = s.parseLines(o.rel, body, keep)
				sortEntries(f.es)
			}()
		}
	}

	var h cursorHeap
	next := 0
	for {
		for next < len(objs) && (len(h) == 0 || objs[next].minNs <= int64(h[0].head().Timestamp.Sub(d))) {
			startUpTo(next + s.cfg.readConcurrency)
			f := futs[next]
			select {
			case <-f.done:
			case <-ctx.Done():
				return false, fmt.Errorf("s3store: %w", ctx.Err())
			}
			if f.err != nil {
				return false, f.err
			}
			if len(f.es) > 0 {
				heap.Push(&h, &cursor{es: f.es})
			}
			futs[next] = nil
			next++
		}
		if len(h) == 0 {
			return true, nil
		}
		c := h[0]
		e := c.head()
		c.i++
		if c.i == len(c.es) {
			heap.Pop(&h)
		} else {
			heap.Fix(&h, 0)
		}
		if !yield(e) {
			return false, nil
		}
	}
}

// cursor walks one object's sorted entries.
type cursor struct {
	es []*storage.AuditEntry
	i  int
}

func (c *cursor) head() *storage.AuditEntry { return c.es[c.i] }

// cursorHeap orders cursors by their head entry (timestamp, then id).
type cursorHeap []*cursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	a, b := h[i].head(), h[j].head()
	if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
		return c < 0
	}
	return a.ID < b.ID
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*cursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

func sortEntries(es []*storage.AuditEntry) {
	slices.SortStableFunc(es, func(a, b *storage.AuditEntry) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// Count returns the number of entries held. It flushes first, then lists
// the partitions' objects (a request per 1,000 objects). It reads no
// uploaded batch: their names carry the entry count, and a
// reference-layout object holds one entry; only batches rewritten by
// Delete or DeleteBefore (few) are read to be counted.
func (s *Store) Count(ctx context.Context) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	if err := s.flush(ctx); err != nil {
		return 0, err
	}
	cur := map[string]batchName{} // by date/base
	sizes := map[string]int64{}   // by date/name
	n := 0
	err := s.list(ctx, "", "", "", func(rel string, _ bool, m objMeta) bool {
		if rel == "" || rel[0] > '9' {
			return false // past the date partitions (the id markers sort after)
		}
		date, leaf, ok := strings.Cut(rel, "/")
		if _, isDate := parseDate(date); !ok || !isDate || strings.Contains(leaf, "/") {
			return true
		}
		if bn, ok := parseBatchName(leaf); ok {
			k := date + "/" + bn.base()
			if c, ok := cur[k]; !ok || bn.gen > c.gen {
				cur[k] = bn
			}
			sizes[date+"/"+bn.String()] = m.size
		} else if strings.HasSuffix(leaf, legacyExt) {
			n++
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	for k, bn := range cur {
		size := sizes[k[:len(dateLayout)]+"/"+bn.String()]
		if isTombstoneSize(size) {
			continue // a batch retention removed (see listPartition)
		}
		if bn.n >= 0 {
			n += bn.n
			continue
		}
		c, err := s.countObject(ctx, k[:len(dateLayout)], bn, size)
		if err != nil {
			return 0, err
		}
		n += c
	}
	return n, nil
}

// countObject counts the entries of the current generation bn of a batch
// in day date, whose name does not carry its count (a rewritten
// generation): an empty object holds none, others are read (from a newer
// generation when bn was superseded since the listing); a batch that no
// longer exists counts 0.
func (s *Store) countObject(ctx context.Context, date string, bn batchName, size int64) (int, error) {
	if size == 0 {
		return 0, nil
	}
	body, _, ok, err := s.getCurrent(ctx, date, bn.base(), &bn)
	if err != nil || !ok {
		return 0, err
	}
	return len(s.parseLines(date+"/"+bn.String(), body, nil)), nil
}
