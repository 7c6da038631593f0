package s3store

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Object key layout, relative to the store's prefix (see the package doc):
//
//	YYYY-MM-DD/<writer>-<seq>.<gen>.<minNs>-<maxNs>.<n>.jsonl   batch object
//	YYYY-MM-DD/<id>.json                                        reference layout, one entry
//	_ids/YYYY-MM-DD/<minID>_<maxID>_YYYY-MM-DD_<batch name>     id marker (UUIDv7 ids)
//	_ids/other/YYYY-MM-DD_<batch name>                          id marker (other ids)
//
// minNs and maxNs are nanoseconds since UTC midnight of the partition day,
// 14 digits; n is the number of entries in the object.

const (
	dateLayout  = "2006-01-02"
	idsDir      = "_ids/"
	otherBucket = "other"
	batchExt    = ".jsonl"
	legacyExt   = ".json"
	nsDigits    = 14
)

// batchName identifies one generation of one batch object inside a
// partition.
//
// Generation 0 (the upload) is named with its time span and count, so that
// listings answer Count and range pruning. Later generations (rewrites by
// Delete and DeleteBefore) are "slot" names, <base>.<gen>.jsonl, holding
// nothing that depends on the content: a conditional put on that name is
// then a real lock on the generation number, so two concurrent rewrites
// cannot both produce generation gen. Their span and count are unknown
// from the name (n = -1); readers read them. Rewrites are rare (single
// deletes, the straddling batches of a retention cut), so few exist.
type batchName struct {
	writer string // 16 hex digits, random per Store (or per recovered spool file)
	seq    uint64 // batch number of the writer
	gen    uint64 // rewrite generation, 0 when first uploaded
	minNs  int64  // earliest entry timestamp, ns since midnight (0 for a slot)
	maxNs  int64  // latest entry timestamp, ns since midnight (end of day for a slot)
	n      int    // entries in the object; -1 when unknown (slot)
	slot   bool   // named <base>.<gen>.jsonl
}

// base is the part of the name shared by every generation.
func (b batchName) base() string { return b.writer + "-" + strconv.FormatUint(b.seq, 10) }

// String returns the object name (the last key element).
func (b batchName) String() string {
	if b.slot {
		return fmt.Sprintf("%s.%d%s", b.base(), b.gen, batchExt)
	}
	return fmt.Sprintf("%s.%d.%0*d-%0*d.%d%s", b.base(), b.gen, nsDigits, b.minNs, nsDigits, b.maxNs, b.n, batchExt)
}

// slotName returns the name of generation gen of base as a slot.
func slotName(base batchName, gen uint64) batchName {
	return batchName{writer: base.writer, seq: base.seq, gen: gen, minNs: 0, maxNs: nsPerDay - 1, n: -1, slot: true}
}

const nsPerDay = int64(24 * time.Hour)

// parseBatchName parses the last path element of a batch object key.
func parseBatchName(s string) (batchName, bool) {
	var b batchName
	rest, ok := strings.CutSuffix(s, batchExt)
	if !ok {
		return b, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) == 2 {
		w, seq, ok := strings.Cut(parts[0], "-")
		if !ok || len(w) != 16 || !isHex(w) {
			return b, false
		}
		sq, err := strconv.ParseUint(seq, 10, 64)
		if err != nil {
			return b, false
		}
		g, err := strconv.ParseUint(parts[1], 10, 64)
		if err != nil || g == 0 {
			return b, false
		}
		return slotName(batchName{writer: w, seq: sq}, g), true
	}
	if len(parts) != 4 {
		return b, false
	}
	w, seq, ok := strings.Cut(parts[0], "-")
	if !ok || len(w) != 16 || !isHex(w) {
		return b, false
	}
	var err error
	if b.seq, err = strconv.ParseUint(seq, 10, 64); err != nil {
		return b, false
	}
	if b.gen, err = strconv.ParseUint(parts[1], 10, 64); err != nil {
		return b, false
	}
	lo, hi, ok := strings.Cut(parts[2], "-")
	if !ok {
		return b, false
	}
	if b.minNs, err = strconv.ParseInt(lo, 10, 64); err != nil {
		return b, false
	}
	if b.maxNs, err = strconv.ParseInt(hi, 10, 64); err != nil {
		return b, false
	}
	n, err := strconv.Atoi(parts[3])
	if err != nil || n < 0 {
		return b, false
	}
	b.n = n
	b.writer = w
	return b, true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// day returns the UTC midnight starting t's day.
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// nsOfDay returns the nanoseconds between t's UTC midnight and t.
func nsOfDay(t time.Time) int64 { return int64(t.UTC().Sub(day(t))) }

// parseDate parses a partition directory name.
func parseDate(s string) (time.Time, bool) {
	if len(s) != len(dateLayout) {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation(dateLayout, s, time.UTC)
	return t, err == nil
}

// v7Date returns the UTC day encoded in a canonical lowercase UUIDv7 id, or
// false when id is not one. Only the canonical 36-character form counts, so
// that marker names built from ids have a fixed shape.
func v7Date(id string) (string, bool) {
	if len(id) != 36 || id[14] != '7' {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return "", false
			}
		}
	}
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 {
		return "", false
	}
	sec, nsec := u.Time().UnixTime()
	return time.Unix(sec, nsec).UTC().Format(dateLayout), true
}

// marker is a parsed id marker key.
type marker struct {
	minID, maxID string // empty for the "other" bucket
	date         string // partition of the batch object
	name         batchName
}

// markerRel returns the key (relative to the prefix) of the marker for a
// group of v7 ids with the given bounds, or of the "other" marker when
// minID is empty.
func markerRel(bucket, minID, maxID, date string, name batchName) string {
	if bucket == otherBucket {
		return idsDir + otherBucket + "/" + date + "_" + name.String()
	}
	return idsDir + bucket + "/" + minID + "_" + maxID + "_" + date + "_" + name.String()
}

// parseMarker parses a marker key relative to the prefix.
func parseMarker(rel string) (marker, bool) {
	var m marker
	rest, ok := strings.CutPrefix(rel, idsDir)
	if !ok {
		return m, false
	}
	bucket, leaf, ok := strings.Cut(rest, "/")
	if !ok {
		return m, false
	}
	if bucket != otherBucket {
		// <36>_<36>_<10>_<name>
		if len(leaf) < 36+1+36+1+10+1 || leaf[36] != '_' || leaf[73] != '_' || leaf[84] != '_' {
			return m, false
		}
		m.minID, m.maxID = leaf[:36], leaf[37:73]
		leaf = leaf[74:]
	}
	if len(leaf) < 11 || leaf[10] != '_' {
		return m, false
	}
	m.date = leaf[:10]
	if _, ok := parseDate(m.date); !ok {
		return m, false
	}
	if m.name, ok = parseBatchName(leaf[11:]); !ok {
		return m, false
	}
	return m, true
}

// batchRuns is a set of batches (writer and batch number, any
// generation), written as runs for a retention's Done note
// ([storage.RemovalNote].Batches): "<writer>-<seq>" or
// "<writer>-<from>..<to>". The zero value is empty.
type batchRuns map[string]map[uint64]bool

// add records batch seq of writer.
func (r *batchRuns) add(writer string, seq uint64) {
	if *r == nil {
		*r = batchRuns{}
	}
	if (*r)[writer] == nil {
		(*r)[writer] = map[uint64]bool{}
	}
	(*r)[writer][seq] = true
}

// addPartition records every batch object of p: current, superseded and
// tombstoned generations alike.
func (r *batchRuns) addPartition(p *partition) {
	for _, bn := range p.batch {
		r.add(bn.writer, bn.seq)
	}
	for _, g := range p.stale {
		r.add(g.name.writer, g.name.seq)
	}
	for _, bn := range p.tombs {
		r.add(bn.writer, bn.seq)
	}
}

// strings returns the set as runs, by writer and batch number.
func (r batchRuns) strings() []string {
	var out []string
	for _, w := range slices.Sorted(maps.Keys(r)) {
		seqs := slices.Sorted(maps.Keys(r[w]))
		for i := 0; i < len(seqs); {
			j := i
			for j+1 < len(seqs) && seqs[j+1] == seqs[j]+1 {
				j++
			}
			if i == j {
				out = append(out, fmt.Sprintf("%s-%d", w, seqs[i]))
			} else {
				out = append(out, fmt.Sprintf("%s-%d..%d", w, seqs[i], seqs[j]))
			}
			i = j + 1
		}
	}
	return out
}

// parseBatchRun parses one run as batchRuns.strings writes it.
func parseBatchRun(run string) (writer string, from, to uint64, ok bool) {
	w, span, ok := strings.Cut(run, "-")
	if !ok || len(w) != 16 || !isHex(w) {
		return "", 0, 0, false
	}
	lo, hi, isRun := strings.Cut(span, "..")
	from, err := strconv.ParseUint(lo, 10, 64)
	if err != nil {
		return "", 0, 0, false
	}
	to = from
	if isRun {
		if to, err = strconv.ParseUint(hi, 10, 64); err != nil || to < from {
			return "", 0, 0, false
		}
	}
	return w, from, to, true
}
