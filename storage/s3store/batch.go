package s3store

import (
	"cmp"
	"maps"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
)

// batch is a group of accepted entries uploaded together. While open it
// grows under Store.mu; once sealed it is immutable and owned by the
// worker delivering it.
type batch struct {
	writer string
	seq    uint64
	buf    []byte      // encoded entries, each followed by '\n'
	ends   []int       // end offset in buf of each entry (after its '\n')
	ids    []string    // id of each entry
	ts     []time.Time // timestamp of each entry (UTC)

	spoolPath string   // "" without spool
	spoolFile *os.File // open while the batch is open
	spoolSize int64

	timer *time.Timer   // seals the batch after the max delay
	done  chan struct{} // closed once delivered

	lastErr error // last delivery error; guarded by Store.mu

	objs []*object // computed at first delivery attempt

	last storage.Chain // chain of the batch's last entry (this Store's batches only)
}

// object is one object a batch uploads.
type object struct {
	rel    string // key relative to the prefix
	body   []byte
	marker bool
	stored bool
	n      int                // entry lines (batch objects)
	ranges []storage.SeqRange // chain runs of its entries (batch objects, when signing)
}

func (b *batch) base() string { return b.writer + "-" + strconv.FormatUint(b.seq, 10) }

func (b *batch) size() int { return len(b.buf) }

// add appends encs, to the spool file first when there is one.
func (b *batch) add(encs []encoded) error {
	start := len(b.buf)
	for _, e := range encs {
		b.buf = append(b.buf, e.line...)
		b.buf = append(b.buf, '\n')
	}
	if b.spoolFile != nil {
		n, err := b.spoolFile.Write(b.buf[start:])
		if err != nil {
			// Cut a partial write off so that later lines stay whole.
			if n > 0 {
				_ = b.spoolFile.Truncate(b.spoolSize)
			}
			b.buf = b.buf[:start]
			return err
		}
		b.spoolSize += int64(n)
	}
	off := start
	for _, e := range encs {
		off += len(e.line) + 1
		b.ends = append(b.ends, off)
		b.ids = append(b.ids, e.id)
		b.ts = append(b.ts, e.ts)
	}
	return nil
}

// seal ends the open phase.
func (b *batch) seal() {
	if b.spoolFile != nil {
		_ = b.spoolFile.Sync()
		_ = b.spoolFile.Close()
		b.spoolFile = nil
	}
}

func (b *batch) line(i int) []byte {
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.buf[start:b.ends[i]]
}

// objects returns the objects b uploads: the id markers of each batch
// object, followed by the batch objects, one per UTC day of its entries'
// timestamps, entries sorted by timestamp (then id). Keys depend only on the writer, the sequence
// number and the entries, so a batch rebuilt from its spool file uploads
// under the same keys.
// With sign, batch objects carry the chain runs of their entries (for
// digests).
func (b *batch) objects(sign bool) []*object {
	if b.objs != nil {
		return b.objs
	}
	idx := make([]int, len(b.ids))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(x, y int) int {
		if c := b.ts[x].Compare(b.ts[y]); c != 0 {
			return c
		}
		return cmp.Compare(b.ids[x], b.ids[y])
	})
	var data, markers []*object
	for lo := 0; lo < len(idx); {
		d := day(b.ts[idx[lo]])
		hi := lo
		for hi < len(idx) && day(b.ts[idx[hi]]).Equal(d) {
			hi++
		}
		group := idx[lo:hi]
		date := d.Format(dateLayout)
		name := batchName{
			writer: b.writer, seq: b.seq,
			minNs: nsOfDay(b.ts[group[0]]), maxNs: nsOfDay(b.ts[group[len(group)-1]]),
			n: len(group),
		}
		var body []byte
		for _, i := range group {
			body = append(body, b.line(i)...)
		}
		o := &object{rel: date + "/" + name.String(), body: body, n: len(group)}
		if sign {
			_, o.ranges = seqRanges(body)
		}
		data = append(data, o)
		markers = append(markers, markerObjects(b, group, date, name)...)
		lo = hi
	}
	// Markers go up first: a crash between the two leaves a marker naming
	// no object (harmless: Read skips it, Verify warns), never an object
	// its markers do not find, which Verify reports as a problem.
	b.objs = append(markers, data...)
	return b.objs
}

// markerObjects returns the id markers of one batch object: one per UTC
// day encoded in its UUIDv7 ids (with the id range) and one "other"
// marker when it holds ids of another form.
func markerObjects(b *batch, group []int, date string, name batchName) []*object {
	type bounds struct{ lo, hi string }
	v7 := map[string]*bounds{}
	other := false
	for _, i := range group {
		id := b.ids[i]
		d, ok := v7Date(id)
		if !ok {
			other = true
			continue
		}
		bd := v7[d]
		if bd == nil {
			v7[d] = &bounds{id, id}
			continue
		}
		bd.lo, bd.hi = min(bd.lo, id), max(bd.hi, id)
	}
	var out []*object
	for _, d := range slices.Sorted(maps.Keys(v7)) {
		bd := v7[d]
		out = append(out, &object{rel: markerRel(d, bd.lo, bd.hi, date, name), marker: true})
	}
	if other {
		out = append(out, &object{rel: markerRel(otherBucket, "", "", date, name), marker: true})
	}
	return out
}
