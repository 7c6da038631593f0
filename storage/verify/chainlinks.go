package verify

import (
	"github.com/otelaudit/otelaudit-go/storage"

	"cmp"
	"fmt"
	"slices"
)

// ChainLinks collects the chained entries of a store, from wherever they
// are stored and in any order (the lines of objects sorted by timestamp,
// several objects per batch), and checks every writer's chain once all
// are added: positions 1..n without gaps or repeats, each entry linking to
// the hash of the one before. It parses and hashes lines only through the
// chain codec ([storage.SplitChain], [storage.ChainHasher]). It keeps a small record per
// entry (position, two hashes, location), not the entries. The zero value
// is ready to use; not safe for concurrent use.
type ChainLinks struct {
	h       storage.ChainHasher
	writers map[string][]chainLink
	places  []string
	removed map[string][]storage.SeqRange // by writer, accounted for by signed notes
}

type chainLink struct {
	seq        uint64
	prev, hash string
	place      int32 // index in places
	line       int32
}

// Add checks one stored line (without its '\n') found at line (1-based) of
// where (a file or object name). ok is false when the line carries no
// chain (an unchained entry or damage: the caller decides which). A chained
// line whose bytes do not match its hash is reported as a
// [ProblemModified] problem (nil otherwise); its position still counts,
// so a changed entry is not also reported as missing.
func (x *ChainLinks) Add(where string, line int, b []byte) (c storage.Chain, p *Problem, ok bool) {
	prefix, c, ok := storage.SplitChain(b)
	if !ok {
		return c, nil, false
	}
	if x.writers == nil {
		x.writers = make(map[string][]chainLink)
	}
	if len(x.places) == 0 || x.places[len(x.places)-1] != where {
		x.places = append(x.places, where)
	}
	x.writers[c.Writer] = append(x.writers[c.Writer], chainLink{seq: c.Seq, prev: c.Prev, hash: c.Hash, place: int32(len(x.places) - 1), line: int32(line)})
	if !x.h.Matches(prefix, c) {
		return c, &Problem{Kind: ProblemModified, File: where, Line: line, Detail: fmt.Sprintf("entry %s:%d does not match its hash (content changed)", c.Writer, c.Seq)}, true
	}
	return c, nil, true
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

// HashAt returns the hash, place and line of entry seq of writer w, once
// [ChainLinks.Check] ran; ok is false when the entry was not added.
func (x *ChainLinks) HashAt(w string, seq uint64) (hash, where string, line int, ok bool) {
	ls := x.writers[w]
	i, found := slices.BinarySearchFunc(ls, seq, func(l chainLink, s uint64) int { return cmp.Compare(l.seq, s) })
	if !found {
		return "", "", 0, false
	}
	return ls[i].hash, x.places[ls[i].place], int(ls[i].line), true
}

// Writers returns the number of writers seen.
func (x *ChainLinks) Writers() int { return len(x.writers) }

// Check checks the chain of every writer added so far and calls problem
// for each finding, writer by writer (sorted by id), in chain order:
// entries missing before a position ([ProblemMissing], naming the first
// entry after the gap), a position present more than once
// ([ProblemDuplicate]: a replayed or copied entry), a first entry with a
// predecessor hash or an entry not linking to the one before
// ([ProblemChainBroken]). It returns each writer's highest position.
//
// What no chain can show: the removal of a writer's newest entries (its
// chain just ends earlier) or of all of its entries; signed checkpoints or
// digests and witnesses cover those.
func (x *ChainLinks) Check(problem func(Problem)) map[string]uint64 {
	heads := make(map[string]uint64, len(x.writers))
	ws := make([]string, 0, len(x.writers))
	for w := range x.writers {
		ws = append(ws, w)
	}
	slices.Sort(ws)
	for _, w := range ws {
		ls := x.writers[w]
		slices.SortStableFunc(ls, func(a, b chainLink) int { return cmp.Compare(a.seq, b.seq) })
		var prev *chainLink
		for i := range ls {
			l := &ls[i]
			at := func(kind ProblemKind, detail string) {
				problem(Problem{Kind: kind, File: x.places[l.place], Line: int(l.line), Detail: detail})
			}
			switch {
			case l.seq == 0:
				at(ProblemChainBroken, fmt.Sprintf("entry of writer %s at position 0 (chains start at 1)", w))
				continue
			case prev != nil && l.seq == prev.seq:
				at(ProblemDuplicate, fmt.Sprintf("entry %s:%d also at %s:%d (replayed or copied)", w, l.seq, x.places[prev.place], prev.line))
				continue
			case prev == nil && l.seq > 1:
				if last, ok := x.covered(w, 1, l.seq-1); ok {
					if l.prev != last {
						at(ProblemChainBroken, fmt.Sprintf("entry %s:%d does not link to the entries a removal note accounts for", w, l.seq))
					}
					break
				}
				at(ProblemMissing, fmt.Sprintf("entries %s:1..%d before this one are missing (deleted lines or objects, or this entry inserted)", w, l.seq-1))
			case prev != nil && l.seq > prev.seq+1:
				if last, ok := x.covered(w, prev.seq+1, l.seq-1); ok {
					if l.prev != last {
						at(ProblemChainBroken, fmt.Sprintf("entry %s:%d does not link to the entries a removal note accounts for", w, l.seq))
					}
					break
				}
				at(ProblemMissing, fmt.Sprintf("entries %s:%d..%d before this one are missing (deleted lines or objects, or this entry inserted); entry %d is at %s:%d", w, prev.seq+1, l.seq-1, prev.seq, x.places[prev.place], prev.line))
			case l.seq == 1 && l.prev != "":
				at(ProblemChainBroken, fmt.Sprintf("first entry of writer %s has a predecessor hash", w))
			case prev != nil && l.prev != prev.hash:
				at(ProblemChainBroken, fmt.Sprintf("entry %s:%d does not link to %s:%d at %s:%d", w, l.seq, w, prev.seq, x.places[prev.place], prev.line))
			}
			prev = l
		}
		if prev != nil {
			heads[w] = prev.seq
		}
	}
	return heads
}
