package verify

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/otelaudit/otelaudit-go/storage"
)

// ChainLinks is the chain walk every backend's verification shares: it
// takes the chained entries of a store, unit by unit (a data file, a batch
// object) as they are read, and checks every writer's chain once all are
// added: positions 1..n without gaps or repeats, each entry linking to the
// hash of the one before, gaps accepted only where a signed removal note
// accounts for them ([ChainLinks.Removed]). It parses and hashes lines only
// through the chain codec ([storage.SplitChain], [storage.ChainHasher]).
//
// Memory does not grow with the entries: inside a unit a writer's
// consecutive, linked entries are kept as one run (first and last
// position, the first entry's link and the last one's hash, where they
// are), so a store costs a few runs per unit and writer. A unit whose lines
// may hold a writer's entries in another order than their positions (S3
// objects are sorted by timestamp) is buffered and sorted when it is
// closed; one whose entries must come in chain order (files) is walked as
// it is read. The zero value is ready to use; not safe for concurrent use.
type ChainLinks struct {
	h       storage.ChainHasher
	places  []string
	writers map[string]*writerRuns
	units   []*Unit                       // open units, closed by Check
	current *Unit                         // the unit of Add
	removed map[string][]storage.SeqRange // by writer, accounted for by signed notes
	settled map[string][]settledRun       // by writer: removals known finished
	heads   map[string]*signedHead        // by writer: the highest position a signed note vouches for
}

// signedHead is the position and hash a signed note (at where:line)
// vouches for, and where that entry was found.
type signedHead struct {
	seq   uint64
	hash  string
	where string
	line  int

	seen      bool
	seenHash  string
	seenPlace int32
	seenLine  int32
}

// saw records the entry at the head's position (the first one found).
func (sh *signedHead) saw(hash string, place int32, line int32) {
	if !sh.seen {
		sh.seen, sh.seenHash, sh.seenPlace, sh.seenLine = true, hash, place, line
	}
}

// writerRuns is what ChainLinks keeps of one writer's chain.
type writerRuns struct {
	runs []run
}

// run is a stretch of one writer's chain stored consecutively in one
// unit, each entry linking to the one before.
type run struct {
	first, last           uint64
	firstPrev, lastHash   string
	firstPlace, lastPlace int32
	firstLine, lastLine   int32
	head                  *signedHead // the writer's signed head, looked up once per run
}

// link is one chained entry of an unordered unit, kept until the unit is
// closed.
type link struct {
	w          string
	seq        uint64
	prev, hash string
	line       int32
}

// Unit is one file or object whose entries are being added to a
// [ChainLinks] ([ChainLinks.Unit]). It stays open (a file being appended
// to may be read again from where it stopped) until [Unit.Close] or
// [ChainLinks.Check].
type Unit struct {
	x       *ChainLinks
	place   int32
	ordered bool
	closed  bool
	cur     map[string]*run // ordered: the open run of each writer
	lastW   string          // ordered: the writer of the last entry and its open run,
	lastR   *run            // which the next entry usually shares (no map lookup)
	buf     []link          // unordered: every entry, sorted at Close
}

// Unit starts a unit named where (a file or object name, as reports name
// it). ordered says that a writer's entries must appear in it in chain
// order: a later position before an earlier one, or one repeated, is then
// reported as [ProblemReordered] or [ProblemDuplicate] where it is read.
func (x *ChainLinks) Unit(where string, ordered bool) *Unit {
	x.places = append(x.places, where)
	u := &Unit{x: x, place: int32(len(x.places) - 1), ordered: ordered}
	x.units = append(x.units, u)
	return u
}

// Add checks one stored line (without its '\n') found at line (1-based)
// of u. ok is false when the line carries no chain (an unchained entry or
// damage: the caller decides which). A chained line whose bytes do not
// match its hash is reported as a [ProblemModified] problem; its position
// still counts, so a changed entry is not also reported as missing. In an
// ordered unit an entry out of chain order is reported too (the first
// problem is returned, the hash one first).
func (u *Unit) Add(line int, b []byte) (c storage.Chain, p *Problem, ok bool) {
	prefix, c, ok := storage.SplitChain(b)
	if !ok {
		return c, nil, false
	}
	if !u.x.h.Matches(prefix, c) {
		p = &Problem{Kind: ProblemModified, File: u.x.places[u.place], Line: line, Detail: fmt.Sprintf("entry %s:%d does not match its hash (content changed)", c.Writer, c.Seq)}
	}
	if lp := u.Link(line, c); p == nil {
		p = lp
	}
	return c, p, true
}

// Link adds the chained entry c, whose hash the caller checked, found at
// line of u. In an ordered unit it returns the problem of an entry that
// repeats or precedes the writer's last one in the unit (the entry is then
// not part of the chain); nil otherwise.
func (u *Unit) Link(line int, c storage.Chain) *Problem {
	x := u.x
	if !u.ordered {
		u.buf = append(u.buf, link{w: c.Writer, seq: c.Seq, prev: c.Prev, hash: c.Hash, line: int32(line)})
		return nil
	}
	if u.cur == nil {
		u.cur = make(map[string]*run)
	}
	r := u.lastR
	if r == nil || u.lastW != c.Writer {
		r = u.cur[c.Writer]
	}
	switch {
	case r == nil:
		r = u.newRun(c.Writer, c.Seq, c.Prev, c.Hash, line)
		u.cur[c.Writer], u.lastW, u.lastR = r, c.Writer, r
		return nil
	case c.Seq == r.last:
		return &Problem{Kind: ProblemDuplicate, File: x.places[u.place], Line: line, Detail: fmt.Sprintf("entry %s:%d repeats line %d", c.Writer, c.Seq, r.lastLine)}
	case c.Seq < r.last:
		return &Problem{Kind: ProblemReordered, File: x.places[u.place], Line: line, Detail: fmt.Sprintf("entry %s:%d comes after %s:%d (line %d)", c.Writer, c.Seq, c.Writer, r.last, r.lastLine)}
	case c.Seq == r.last+1 && c.Prev == r.lastHash:
		r.last, r.lastHash, r.lastLine = c.Seq, c.Hash, int32(line)
		if r.head != nil && c.Seq == r.head.seq {
			r.head.saw(c.Hash, u.place, int32(line))
		}
	default: // a gap or a broken link: Check decides which
		x.closeRun(c.Writer, r)
		r = u.newRun(c.Writer, c.Seq, c.Prev, c.Hash, line)
		u.cur[c.Writer] = r
	}
	u.lastW, u.lastR = c.Writer, r
	return nil
}

// newRun starts a run at one entry.
func (u *Unit) newRun(w string, seq uint64, prev, hash string, line int) *run {
	r := &run{first: seq, last: seq, firstPrev: prev, lastHash: hash, firstPlace: u.place, lastPlace: u.place, firstLine: int32(line), lastLine: int32(line), head: u.x.heads[w]}
	if r.head != nil && seq == r.head.seq {
		r.head.saw(hash, u.place, int32(line))
	}
	return r
}

// Close ends u: an unordered unit's entries are sorted by writer and
// position and kept as runs. Closing twice does nothing.
func (u *Unit) Close() {
	if u.closed {
		return
	}
	u.closed = true
	x := u.x
	for w, r := range u.cur {
		x.closeRun(w, r)
	}
	u.cur, u.lastR = nil, nil
	if len(u.buf) == 0 {
		return
	}
	slices.SortStableFunc(u.buf, func(a, b link) int {
		if c := cmp.Compare(a.w, b.w); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	var r *run
	for i := range u.buf {
		l := &u.buf[i]
		if r != nil && l.w == u.buf[i-1].w && l.seq == r.last+1 && l.prev == r.lastHash {
			r.last, r.lastHash, r.lastLine = l.seq, l.hash, l.line
			if r.head != nil && l.seq == r.head.seq {
				r.head.saw(l.hash, u.place, l.line)
			}
			continue
		}
		if r != nil {
			x.closeRun(u.buf[i-1].w, r)
		}
		r = u.newRun(l.w, l.seq, l.prev, l.hash, int(l.line))
	}
	x.closeRun(u.buf[len(u.buf)-1].w, r)
	u.buf = nil
}

func (x *ChainLinks) closeRun(w string, r *run) {
	if x.writers == nil {
		x.writers = make(map[string]*writerRuns)
	}
	wr := x.writers[w]
	if wr == nil {
		wr = &writerRuns{}
		x.writers[w] = wr
	}
	wr.runs = append(wr.runs, *r)
}

// Add checks one stored line (without its '\n') found at line (1-based) of
// where, in an unordered unit that lasts while where is the same as the
// previous call's; see [Unit.Add].
func (x *ChainLinks) Add(where string, line int, b []byte) (c storage.Chain, p *Problem, ok bool) {
	if x.current == nil || x.current.closed || x.places[x.current.place] != where {
		if x.current != nil {
			x.current.Close()
		}
		x.current = x.Unit(where, false)
	}
	return x.current.Add(line, b)
}

// Removed records a run of a writer's chain that a signed note accounts
// for (entries removed on purpose: Delete, retention). [ChainLinks.Check]
// then accepts the gap it leaves when the entry after it links to r.Last,
// and reports a link that does not ([ProblemChainBroken]).
func (x *ChainLinks) Removed(r storage.SeqRange) {
	if x.removed == nil {
		x.removed = make(map[string][]storage.SeqRange)
	}
	x.removed[r.Writer] = append(x.removed[r.Writer], r)
}

// settledRun is a removed run whose removal is known to have finished,
// and the signed note (where:line) that removed it.
type settledRun struct {
	storage.SeqRange
	where string
	line  int
}

// Settled records, like [ChainLinks.Removed], a run of a writer's chain
// that the signed note at where:line removed, and that the removal is
// known to have finished (a later signed note of the store that removed
// it exists): [ChainLinks.Check] then also reports every entry of r that
// is in the store ([ProblemRestored]). A removal not known to be finished
// (its store may have crashed between the note and the removal) goes to
// Removed only: its entries may still be there.
func (x *ChainLinks) Settled(r storage.SeqRange, where string, line int) {
	x.Removed(r)
	if x.settled == nil {
		x.settled = make(map[string][]settledRun)
	}
	x.settled[r.Writer] = append(x.settled[r.Writer], settledRun{SeqRange: r, where: where, line: line})
}

// checkRestored reports the entries of run r of writer w that a finished
// removal removed.
func (x *ChainLinks) checkRestored(w string, r *run, problem func(Problem)) {
	for _, s := range x.settled[w] {
		from, to := max(s.From, r.first), min(s.To, r.last)
		if from > to {
			continue
		}
		problem(Problem{Kind: ProblemRestored, File: x.places[r.firstPlace], Line: int(r.firstLine), Detail: fmt.Sprintf("entries %s:%d..%d were removed by the signed removal note at %s, which later notes show finished, and are in the store again (a copy from before the removal put back)", w, from, to, at(s.where, s.line))})
	}
}

// Holds reports whether the store holds any entry of writer w at
// positions from..to (inclusive), as the entries added so far say. Call
// it after [ChainLinks.Check], which closes the units still open.
func (x *ChainLinks) Holds(w string, from, to uint64) bool {
	wr := x.writers[w]
	if wr == nil {
		return false
	}
	for _, r := range wr.runs {
		if r.first <= to && from <= r.last {
			return true
		}
	}
	return false
}

// covered reports whether the removed runs of writer w cover positions
// from..to (inclusive), and the hash of entry to when they do.
func (x *ChainLinks) covered(w string, from, to uint64) (string, bool) {
	rs := x.removed[w]
	last := ""
	for n := from; n <= to; {
		found := false
		for _, r := range rs {
			if n >= r.From && n <= r.To {
				if r.To > to {
					return "", false // a run said removed ends after an entry present
				}
				n, last, found = r.To+1, r.Last, true
				break
			}
		}
		if !found {
			return "", false
		}
	}
	return last, true
}

// Covered reports whether signed removal notes ([ChainLinks.Removed])
// account for positions from..to of writer w.
func (x *ChainLinks) Covered(w string, from, to uint64) bool {
	_, ok := x.covered(w, from, to)
	return ok
}

// SignedHead records that a signed note (a checkpoint at where:line, a
// digest object) vouches for entry seq of writer w with hash: [ChainLinks.Check]
// then requires that entry in the store with that hash, unless a signed
// removal note accounts for it. Of several heads of one writer the highest
// counts (every entry links to its predecessor, so the latest head vouches
// for all before it). Call it before the writer's entries are added; seq 0
// (a note before the writer's first entry) is ignored.
func (x *ChainLinks) SignedHead(w string, seq uint64, hash, where string, line int) {
	if seq == 0 {
		return
	}
	if x.heads == nil {
		x.heads = make(map[string]*signedHead)
	}
	sh := x.heads[w]
	if sh == nil {
		sh = &signedHead{}
		x.heads[w] = sh
	} else if sh.seq > seq {
		return
	}
	*sh = signedHead{seq: seq, hash: hash, where: where, line: line}
}

// Writers returns the number of writers whose entries were added and
// whose units were closed.
func (x *ChainLinks) Writers() int { return len(x.writers) }

// Check closes every unit and checks the chain of every writer added so
// far, calling problem for each finding, writer by writer (sorted by id),
// in chain order: entries missing before a position ([ProblemMissing],
// naming the first entry after the gap), positions stored more than once
// ([ProblemDuplicate]: a replayed or copied entry), a first entry with a
// predecessor hash or an entry not linking to the one before
// ([ProblemChainBroken]); then every signed head ([ChainLinks.SignedHead])
// missing ([ProblemMissing], naming the note) or different
// ([ProblemModified], naming the entry). It returns each writer's highest
// position.
//
// What no chain can show: the removal of a writer's newest entries (its
// chain just ends earlier) or of all of its entries; signed checkpoints or
// digests and witnesses cover those.
func (x *ChainLinks) Check(problem func(Problem)) map[string]uint64 {
	for _, u := range x.units {
		u.Close()
	}
	x.units, x.current = nil, nil
	heads := make(map[string]uint64, len(x.writers))
	for _, w := range slices.Sorted(maps.Keys(x.writers)) {
		rs := x.writers[w].runs
		// By first position; of runs starting at one position the longest
		// first, so that a copy is the one reported.
		slices.SortStableFunc(rs, func(a, b run) int {
			if c := cmp.Compare(a.first, b.first); c != 0 {
				return c
			}
			return cmp.Compare(b.last, a.last)
		})
		var prev *run
		for i := range rs {
			r := &rs[i]
			if len(x.settled[w]) > 0 {
				x.checkRestored(w, r, problem)
			}
			at := func(kind ProblemKind, detail string) {
				problem(Problem{Kind: kind, File: x.places[r.firstPlace], Line: int(r.firstLine), Detail: detail})
			}
			linkTo := func(from uint64) { // the gap from..r.first-1 before r
				if last, ok := x.covered(w, from, r.first-1); ok {
					if r.firstPrev != last {
						at(ProblemChainBroken, fmt.Sprintf("entry %s:%d does not link to the entries a removal note accounts for", w, r.first))
					}
					return
				}
				if prev == nil {
					at(ProblemMissing, fmt.Sprintf("entries %s:1..%d before this one are missing (deleted lines or objects, or this entry inserted)", w, r.first-1))
					return
				}
				at(ProblemMissing, fmt.Sprintf("entries %s:%d..%d before this one are missing (deleted lines or objects, or this entry inserted); entry %d is at %s:%d", w, prev.last+1, r.first-1, prev.last, x.places[prev.lastPlace], prev.lastLine))
			}
			switch {
			case r.first == 0:
				at(ProblemChainBroken, fmt.Sprintf("entry of writer %s at position 0 (chains start at 1)", w))
				continue
			case prev != nil && r.first <= prev.last:
				dup := fmt.Sprintf("%d", r.first)
				if end := min(r.last, prev.last); end > r.first {
					dup = fmt.Sprintf("%d..%d", r.first, end)
				}
				at(ProblemDuplicate, fmt.Sprintf("entry %s:%s stored again (replayed or copied): the chain already holds it in %s:%d..%d from %s:%d", w, dup, w, prev.first, prev.last, x.places[prev.firstPlace], prev.firstLine))
				if r.last <= prev.last {
					continue
				}
			case prev == nil && r.first > 1:
				linkTo(1)
			case prev == nil && r.firstPrev != "":
				at(ProblemChainBroken, fmt.Sprintf("first entry of writer %s has a predecessor hash", w))
			case prev != nil && r.first > prev.last+1:
				linkTo(prev.last + 1)
			case prev != nil && r.firstPrev != prev.lastHash:
				at(ProblemChainBroken, fmt.Sprintf("entry %s:%d does not link to %s:%d at %s:%d", w, r.first, w, prev.last, x.places[prev.lastPlace], prev.lastLine))
			}
			prev = r
		}
		if prev != nil {
			heads[w] = prev.last
		}
	}
	x.checkSignedHeads(problem)
	return heads
}

// checkSignedHeads requires every writer's signed head in the store.
func (x *ChainLinks) checkSignedHeads(problem func(Problem)) {
	for _, w := range slices.Sorted(maps.Keys(x.heads)) {
		sh := x.heads[w]
		switch {
		case !sh.seen && x.Covered(w, sh.seq, sh.seq):
		case !sh.seen:
			problem(Problem{Kind: ProblemMissing, File: sh.where, Line: sh.line, Detail: fmt.Sprintf("entry %s:%d, the head signed here, is missing (newest entries deleted, or a file or object deleted or truncated)", w, sh.seq)})
		case sh.seenHash != sh.hash:
			problem(Problem{Kind: ProblemModified, File: x.places[sh.seenPlace], Line: int(sh.seenLine), Detail: fmt.Sprintf("entry %s:%d differs from the head signed at %s", w, sh.seq, at(sh.where, sh.line))})
		}
	}
}

func at(where string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", where, line)
	}
	return where
}
