package filestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
)

// listFiles returns the data files, from a cache validated by the
// directory's mtime. Changes made by this Store invalidate it
// explicitly; a listing younger than the coarse file-system clock is not
// trusted.
func (s *Store) listFiles() ([]fileRef, error) {
	fi, err := os.Stat(s.dir)
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	s.listMu.Lock()
	defer s.listMu.Unlock()
	mt := fi.ModTime()
	if s.listValid && mt.Equal(s.listMtime) && time.Since(mt) > 50*time.Millisecond {
		return s.listCache, nil
	}
	refs, err := listDataFiles(s.dir)
	if err != nil {
		return nil, err
	}
	s.listCache, s.listMtime, s.listValid = refs, mt, true
	return refs, nil
}

func (s *Store) invalidateList() {
	s.listMu.Lock()
	s.listValid = false
	s.listMu.Unlock()
}

// readLine reads the line at off of length n (without '\n').
func readLineAt(f io.ReaderAt, off int64, n uint32) ([]byte, error) {
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, off); err != nil {
		return nil, err
	}
	return buf, nil
}

// noteSkipped counts a line reads had to skip and logs it once per file.
func (s *Store) noteSkipped(name string, off int64, torn bool) {
	if torn {
		s.torn.Add(1)
	} else {
		s.skipped.Add(1)
	}
	if _, loaded := s.warned.LoadOrStore(name, struct{}{}); !loaded {
		what := "invalid line"
		if torn {
			what = "incomplete last line (being written or torn)"
		}
		s.cfg.logger.Warn("filestore: skipped "+what+"; further ones in this file are counted, not logged",
			"file", name, "offset", off)
	}
}

// idFilter returns a cheap test that is false only for lines that cannot
// hold the entry id: a line holds an id that JSON writes without escapes
// as those bytes; any other id (escaped on the wire, by us or by other
// writers) is decided by parsing every line.
func idFilter(id string) func(line []byte) bool {
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return func([]byte) bool { return true }
		}
	}
	idb := []byte(id)
	return func(line []byte) bool { return bytes.Contains(line, idb) }
}

// location of an entry line.
type location struct {
	name string
	off  int64
	n    uint32
}

// uuidV7Day returns the UTC day encoded in a UUIDv7 id.
func uuidV7Day(id string) (string, bool) {
	if len(id) != 36 || id[14] != '7' || id[8] != '-' {
		return "", false
	}
	var ms int64
	for _, c := range []byte(id[:8] + id[9:13]) {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return "", false
		}
		ms = ms<<4 | int64(v)
	}
	return dayOf(time.UnixMilli(ms)), true
}

// candidates orders files for a lookup of id: for a UUIDv7 id the files of
// its day and the day before (an entry's timestamp is when the call
// started, a little before its id was made) come first; then all others,
// newest first.
func candidates(refs []fileRef, id string) []fileRef {
	out := make([]fileRef, 0, len(refs))
	day, ok := uuidV7Day(id)
	var prev string
	if ok {
		prev = dayOf(dayStart(day).Add(-time.Hour))
		for i := len(refs) - 1; i >= 0; i-- {
			if refs[i].day == day || refs[i].day == prev {
				out = append(out, refs[i])
			}
		}
	}
	for i := len(refs) - 1; i >= 0; i-- {
		if !ok || (refs[i].day != day && refs[i].day != prev) {
			out = append(out, refs[i])
		}
	}
	return out
}

// activeSnapshot is what a reader needs to know about the files this
// Store appends to: their size at the time (a reader reads no
// further) and how far their index files reach (the rest is in memory).
type activeSnapshot map[string]int64

// partsLocked yields the parts whose newest records are indexed in memory
// only: the active ones, then the rotated ones whose full index the
// indexer has not written yet (closing).
func (s *Store) partsLocked() iter.Seq[*activePart] {
	return func(yield func(*activePart) bool) {
		for _, p := range s.active {
			if !yield(p) {
				return
			}
		}
		for _, p := range s.closing {
			if !yield(p) {
				return
			}
		}
	}
}

// lookupTailLocked finds id in the in-memory indexes of the parts (see
// partsLocked).
func (s *Store) lookupTailLocked(id string) (*storage.AuditEntry, location, bool) {
	h := idHash(id)
	for p := range s.partsLocked() {
		i, ok := p.tailByID[h]
		if !ok {
			continue
		}
		r := p.tail[i]
		line, err := readLineAt(p.f, r.off, r.len)
		if err != nil {
			continue
		}
		if e, err := storage.ParseEntry(line); err == nil && e.ID == id {
			return e, location{name: p.name(), off: r.off, n: r.len}, true
		}
	}
	// Hash collision in the map (it keeps the last record per hash): scan.
	for p := range s.partsLocked() {
		for i := len(p.tail) - 1; i >= 0; i-- {
			r := p.tail[i]
			if r.hash != h {
				continue
			}
			line, err := readLineAt(p.f, r.off, r.len)
			if err != nil {
				continue
			}
			if e, err := storage.ParseEntry(line); err == nil && e.ID == id {
				return e, location{name: p.name(), off: r.off, n: r.len}, true
			}
		}
	}
	return nil, location{}, false
}

func (s *Store) activeLocked() activeSnapshot {
	snap := make(activeSnapshot, len(s.active)+len(s.closing))
	for p := range s.partsLocked() {
		snap[p.name()] = p.covered
	}
	return snap
}

// lookupFiles finds id through the index files (and by scanning what they
// do not cover, except the parts in skip, which the caller checked in
// memory).
func (s *Store) lookupFiles(ctx context.Context, id string, skip activeSnapshot) (*storage.AuditEntry, location, error) {
	refs, err := s.listFiles()
	if err != nil {
		return nil, location{}, err
	}
	h := idHash(id)
	maybe := idFilter(id)
	for _, ref := range candidates(refs, id) {
		if err := ctx.Err(); err != nil {
			return nil, location{}, fmt.Errorf("filestore: %w", err)
		}
		e, loc, found, err := s.lookupFile(ref.name, id, h, maybe, skip)
		if err != nil {
			return nil, location{}, err
		}
		if found {
			return e, loc, nil
		}
	}
	return nil, location{}, fmt.Errorf("%w: %s", storage.ErrNotFound, id)
}

// lookupFile looks id up in one data file: through its index (opening the
// data file only for a matching record), then by scanning what the index
// does not cover.
func (s *Store) lookupFile(name, id string, h uint64, maybe func([]byte) bool, skip activeSnapshot) (*storage.AuditEntry, location, bool, error) {
	path := filepath.Join(s.dir, name)
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	open := func() error {
		if f != nil {
			return nil
		}
		var err error
		f, err = openStoreFile(path, os.O_RDONLY, 0)
		return err
	}
	li, size, err := s.idx.getPath(name, path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, location{}, false, nil // removed meanwhile
	} else if err != nil {
		return nil, location{}, false, fmt.Errorf("filestore: read %s: %w", name, err)
	}
	covered := int64(0)
	if li != nil {
		covered = li.hdr.covered
		recs, err := li.lookup(h)
		s.idx.release(li)
		if err == nil && len(recs) > 0 {
			if err := open(); err != nil {
				return nil, location{}, false, openErr(name, err)
			}
			for i := len(recs) - 1; i >= 0; i-- {
				r := recs[i]
				line, err := readLineAt(f, r.off, r.len)
				if err != nil {
					return nil, location{}, false, fmt.Errorf("filestore: read %s: %w", name, err)
				}
				if e, err := storage.ParseEntry(line); err == nil && e.ID == id {
					return e, location{name: name, off: r.off, n: r.len}, true, nil
				}
			}
		}
	}
	if c, ok := skip[name]; ok && c <= covered {
		return nil, location{}, false, nil
	}
	if covered >= size {
		return nil, location{}, false, nil
	}
	if err := open(); err != nil {
		return nil, location{}, false, openErr(name, err)
	}
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	var found *storage.AuditEntry
	var loc location
	_, err = scanBounded(f, covered, size, s.cfg.maxLineSize, func(off int64, line []byte) error {
		if !maybe(line) {
			return nil
		}
		if e, err := storage.ParseEntry(line); err == nil && e.ID == id {
			found, loc = e, location{name: name, off: off, n: uint32(len(line))}
		}
		return nil
	}, nil)
	if err != nil {
		return nil, location{}, false, fmt.Errorf("filestore: read %s: %w", name, err)
	}
	return found, loc, found != nil, nil
}

// openErr is nil for a file removed meanwhile (by retention or a
// rewrite), otherwise the error wrapped: a file that cannot be read is an
// I/O error, never "not found".
func openErr(name string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return fmt.Errorf("filestore: read %s: %w", name, err)
}

// Read returns the entry with the given id, or an error matching
// [storage.ErrNotFound]. It does not scan the store: it looks the id up in the
// per-file indexes (the files of the day a UUIDv7 id names first), reading
// one index bucket and one line per file it checks. If an id was written
// more than once, which copy Read returns is unspecified.
func (s *Store) Read(ctx context.Context, id string) (*storage.AuditEntry, error) {
	if err := s.checkUsable(ctx); err != nil {
		return nil, err
	}
	var skip activeSnapshot
	if !s.cfg.readOnly {
		s.mu.Lock()
		e, _, ok := s.lookupTailLocked(id)
		skip = s.activeLocked()
		s.mu.Unlock()
		if ok {
			return e, nil
		}
	}
	e, _, err := s.lookupFiles(ctx, id, skip)
	return e, err
}

// ListEntries returns the entries with start <= Timestamp <= end, oldest
// first (entries with equal timestamps in the order they were written). It
// holds them all in memory; [Store.Entries] streams.
func (s *Store) ListEntries(ctx context.Context, start, end time.Time) ([]*storage.AuditEntry, error) {
	return storage.Collect(s.Entries(ctx, start, end))
}

// clampNano is t in Unix nanoseconds, saturated at the int64 range (years
// before 1678 or after 2262), as the index keeps timestamps.
func clampNano(t time.Time) int64 {
	if t.Before(time.Unix(0, math.MinInt64)) {
		return math.MinInt64
	}
	if t.After(time.Unix(0, math.MaxInt64)) {
		return math.MaxInt64
	}
	return t.UnixNano()
}

// Entries streams the entries with start <= Timestamp <= end, oldest first.
// It opens only the files of the days in range and, within a file, reads
// only the index blocks whose time range overlaps the query. Memory: the
// entries of up to GOMAXPROCS+1 regions of at most 1 MiB of lines per file
// of the current day when the file was written in time order (the usual
// case: the regions after the one being yielded are decoded ahead, each on
// a goroutine of its own), otherwise the matching entries of that file.
// Lines are decoded on up to GOMAXPROCS goroutines; the order, the lines
// counted as skipped and the errors do not depend on it. Invalid lines are
// skipped and counted (see [Store.Stats]). The sequence yields one error
// and ends if a file cannot be read or ctx ends, also when the caller's
// loop goes on after the error.
// It reads a snapshot: entries written while it runs may or may not appear.
func (s *Store) Entries(ctx context.Context, start, end time.Time) iter.Seq2[*storage.AuditEntry, error] {
	return func(yield func(*storage.AuditEntry, error) bool) {
		if err := s.checkUsable(ctx); err != nil {
			yield(nil, err)
			return
		}
		if end.Before(start) {
			return
		}
		refs, err := s.listFiles()
		if err != nil {
			yield(nil, err)
			return
		}
		// Bounds beyond the years the wire format holds select as far as
		// it goes (a day name of year 10000 would sort before 2025's).
		start, end = storage.ClampRange(start, end)
		lo, hi := clampNano(start), clampNano(end)
		firstDay, lastDay := dayOf(start), dayOf(end)
		for i := 0; i < len(refs); {
			j := i
			for j < len(refs) && refs[j].day == refs[i].day {
				j++
			}
			day := refs[i].day
			dayRefs := refs[i:j]
			i = j
			if day < firstDay || day > lastDay {
				continue
			}
			if !s.streamDay(ctx, dayRefs, start, end, lo, hi, yield) {
				return
			}
		}
	}
}

// entrySource yields entries of one file region in timestamp order.
type entrySource struct {
	buf  []*storage.AuditEntry
	next func() ([]*storage.AuditEntry, error) // refills buf; nil when done
	stop func()                                // waits for work started ahead; nil if none
}

func (src *entrySource) head() (*storage.AuditEntry, error) {
	for len(src.buf) == 0 {
		if src.next == nil {
			return nil, nil
		}
		b, err := src.next()
		if err != nil {
			return nil, err
		}
		if b == nil {
			src.next = nil
		}
		src.buf = b
	}
	return src.buf[0], nil
}

// streamDay merges the files of one day. It returns false when iteration
// must stop: the caller stopped, or an error was yielded (an error ends the
// sequence, as [storage.Backend] promises, even if the caller would go on).
func (s *Store) streamDay(ctx context.Context, refs []fileRef, start, end time.Time, lo, hi int64, yield func(*storage.AuditEntry, error) bool) bool {
	var sizes map[string]int64
	if !s.cfg.readOnly {
		s.mu.Lock()
		sizes = make(map[string]int64, len(s.active))
		for _, p := range s.active {
			sizes[partName(p.day, 0)] = p.size
		}
		s.mu.Unlock()
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var srcs []*entrySource
	defer func() {
		// Before the files close: regions decoded ahead read them.
		for _, src := range srcs {
			if src.stop != nil {
				src.stop()
			}
		}
	}()
	for _, ref := range refs {
		f, err := openStoreFile(filepath.Join(s.dir, ref.name), os.O_RDONLY, 0)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			yield(nil, fmt.Errorf("filestore: %w", err))
			return false
		}
		files = append(files, f)
		fs, err := s.fileSources(f, ref.name, sizes, start, end, lo, hi)
		if err != nil {
			yield(nil, err)
			return false
		}
		srcs = append(srcs, fs...)
	}
	for {
		if err := ctx.Err(); err != nil {
			yield(nil, fmt.Errorf("filestore: %w", err))
			return false
		}
		best := -1
		var be *storage.AuditEntry
		for i, src := range srcs {
			e, err := src.head()
			if err != nil {
				yield(nil, err)
				return false
			}
			if e != nil && (be == nil || e.Timestamp.Before(be.Timestamp)) {
				best, be = i, e
			}
		}
		if best < 0 {
			return true
		}
		srcs[best].buf = srcs[best].buf[1:]
		if !yield(be, nil) {
			return false
		}
	}
}

// fileSources returns the sources of one file: its indexed region (streamed
// block by block when written in time order) and the region after it.
func (s *Store) fileSources(f *os.File, name string, sizes map[string]int64, start, end time.Time, lo, hi int64) ([]*entrySource, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	own := false
	if n, ok := sizes[name]; ok && n <= size {
		size, own = n, true
	}
	inRange := func(e *storage.AuditEntry) bool { return !e.Timestamp.Before(start) && !e.Timestamp.After(end) }
	parse := func(from, to int64, tornOK bool) ([]*storage.AuditEntry, error) {
		return s.parseRegion(f, name, from, to, tornOK, inRange)
	}
	sortStable := func(es []*storage.AuditEntry) {
		slices.SortStableFunc(es, func(a, b *storage.AuditEntry) int { return a.Timestamp.Compare(b.Timestamp) })
	}
	var srcs []*entrySource
	covered := int64(0)
	li, _ := s.idx.get(name, f)
	if li != nil {
		covered = li.hdr.covered
		hdr := li.hdr
		blocks, err := li.blocks()
		s.idx.release(li)
		if err != nil {
			covered = 0
		} else if hdr.count > 0 && hdr.maxTs >= lo && hdr.minTs <= hi {
			// Selected blocks that follow each other in the file are read
			// as one region of up to decodeBatchBytes: fewer, larger reads
			// and decode batches.
			var sel []idxBlock
			for _, b := range blocks {
				if b.maxTs < lo || b.minTs > hi {
					continue
				}
				if k := len(sel) - 1; k >= 0 && sel[k].end == b.start && b.end-sel[k].start <= decodeBatchBytes {
					sel[k].end = b.end
					sel[k].minTs, sel[k].maxTs = min(sel[k].minTs, b.minTs), max(sel[k].maxTs, b.maxTs)
					continue
				}
				sel = append(sel, b)
			}
			if hdr.sorted {
				ahead := s.cfg.scanAhead
				if ahead == 0 {
					ahead = runtime.GOMAXPROCS(0)
				}
				srcs = append(srcs, s.sortedSource(f, name, sel, inRange, ahead))
			} else {
				var all []*storage.AuditEntry
				for _, b := range sel {
					es, err := parse(b.start, b.end, false)
					if err != nil {
						return nil, err
					}
					all = append(all, es...)
				}
				sortStable(all)
				srcs = append(srcs, &entrySource{buf: all})
			}
		}
	}
	if covered < size {
		es, err := parse(covered, size, !own)
		if err != nil {
			for _, src := range srcs {
				if src.stop != nil {
					src.stop()
				}
			}
			return nil, err
		}
		sortStable(es)
		srcs = append(srcs, &entrySource{buf: es})
	}
	return srcs, nil
}

// Count returns the number of entries stored (lines that are valid
// entries). It reads the index headers, plus the lines no index covers yet.
func (s *Store) Count(ctx context.Context) (int, error) {
	if err := s.checkUsable(ctx); err != nil {
		return 0, err
	}
	refs, err := s.listFiles()
	if err != nil {
		return 0, err
	}
	own := map[string]int64{}
	if !s.cfg.readOnly {
		s.mu.Lock()
		for p := range s.partsLocked() {
			own[p.name()] = int64(p.baseCount + len(p.tail))
		}
		s.mu.Unlock()
	}
	total := int64(0)
	for _, ref := range refs {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("filestore: %w", err)
		}
		if n, ok := own[ref.name]; ok {
			total += n
			continue
		}
		n, err := s.countFile(ref.name)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return int(total), nil
}

// openDataFile opens the data file name and returns it with its size. A
// file that does not exist (removed by retention or a concurrent rewrite)
// holds nothing: f is nil and err is nil.
func (s *Store) openDataFile(name string) (f *os.File, size int64, err error) {
	f, err = openStoreFile(filepath.Join(s.dir, name), os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, 0, nil
		}
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

func (s *Store) countFile(name string) (int64, error) {
	f, size, err := s.openDataFile(name)
	if err != nil {
		return 0, fmt.Errorf("filestore: %w", err)
	}
	if f == nil {
		return 0, nil
	}
	defer f.Close()
	covered, n := int64(0), int64(0)
	if li, _ := s.idx.get(name, f); li != nil {
		covered, n = li.hdr.covered, li.hdr.count
		s.idx.release(li)
	}
	recs, _, _, err := s.scanRecords(f, covered, size)
	if err != nil {
		return 0, fmt.Errorf("filestore: read %s: %w", name, err)
	}
	return n + int64(len(recs)), nil
}
