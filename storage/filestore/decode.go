package filestore

import (
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/otelaudit/otelaudit-go/storage"
)

// Decoding a region of a data file for Entries. Parsing a line is most of
// the CPU a scan costs and the lines are independent, so a region's lines
// are copied out of the read buffer in batches and each batch is decoded
// on up to GOMAXPROCS goroutines; results are put back in file order, so
// the order Entries promises does not depend on this.
//
// A batch's lines are copied into one buffer that is reused for the next
// batch, and each decoding goroutine has a storage.Decoder, which copies
// the fields an entry keeps into blocks shared with the entries it decoded
// before. A kept entry thus holds its own field bytes, not its line: a
// full ListEntries keeps about a third less memory than when entries
// pointed into their lines (the JSON text around the values and the
// repeated chain hash and writer are not kept), and the kernel has that
// much less new heap to map on the first scan in a process.

const (
	// decodeBatchBytes bounds the line bytes held for one batch, so that
	// a region of any size (a whole unsorted file) is decoded in bounded
	// memory.
	decodeBatchBytes = 1 << 20
	// decodeGrain is the number of lines a decoding goroutine takes at a
	// time, and the least a batch must hold for a second goroutine to
	// start.
	decodeGrain = 16
	// maxKeptBatchBuf is the largest batch buffer kept for reuse; one that
	// grew past it for a long line is dropped.
	maxKeptBatchBuf = 4 << 20
)

// lineSpan is one line of a batch: its offset in the data file and where
// its bytes are in the batch buffer.
type lineSpan struct {
	off        int64
	start, end int
}

// regionDecoder decodes the lines of one region. It is used by one
// goroutine; only decodeBatch fans out, on up to workers goroutines.
type regionDecoder struct {
	note    func(off int64, torn bool) // a skipped line
	keep    func(*storage.AuditEntry) bool
	workers int
	buf     []byte // the batch's lines, back to back; reused
	lines   []lineSpan
	decs    []*storage.Decoder // one per decoding goroutine; kept with the pool
	dec     []*storage.AuditEntry
	out     []*storage.AuditEntry
}

// parseRegion returns the entries of the lines in [from, to) of data file
// name (open as f) that keep accepts, in file order. A line that is not a
// valid entry, or is longer than the configured bound, is counted and
// skipped (see [Store.Stats]); so is a final line without '\n' when tornOK.
// Batches are decoded on up to GOMAXPROCS goroutines.
func (s *Store) parseRegion(f io.ReaderAt, name string, from, to int64, tornOK bool, keep func(*storage.AuditEntry) bool) ([]*storage.AuditEntry, error) {
	note := func(off int64, torn bool) { s.noteSkipped(name, off, torn) }
	return s.decodeRegion(f, name, from, to, tornOK, keep, runtime.GOMAXPROCS(0), note)
}

// decodeRegion is parseRegion on up to workers goroutines, with the
// skipped lines passed to note (offset, and whether it is a torn last
// line) in the order parseRegion counts them, instead of counted.
func (s *Store) decodeRegion(f io.ReaderAt, name string, from, to int64, tornOK bool, keep func(*storage.AuditEntry) bool, workers int, note func(off int64, torn bool)) ([]*storage.AuditEntry, error) {
	d := decoderPool.Get().(*regionDecoder)
	d.note, d.keep, d.workers = note, keep, workers
	defer d.release()
	long := func(off, _ int64) { note(off, false) }
	torn, err := scanBounded(f, from, to, s.cfg.maxLineSize, func(off int64, line []byte) error {
		if isBlank(line) {
			return nil
		}
		if len(d.buf)+len(line) > decodeBatchBytes && len(d.lines) > 0 {
			d.flush()
		}
		lo := len(d.buf)
		d.buf = append(d.buf, line...)
		d.lines = append(d.lines, lineSpan{off: off, start: lo, end: len(d.buf)})
		return nil
	}, long)
	if err != nil {
		return nil, fmt.Errorf("filestore: read %s: %w", name, err)
	}
	d.flush()
	if torn >= 0 && tornOK {
		note(torn, true)
	}
	out := d.out
	d.out = nil // the caller's, not the pool's
	return out, nil
}

// decoderPool keeps batch buffers and Decoders between regions: a full
// scan decodes one region per megabyte of data.
var decoderPool = sync.Pool{New: func() any { return new(regionDecoder) }}

// release returns d's buffers to decoderPool.
func (d *regionDecoder) release() {
	buf := d.buf[:0]
	if cap(buf) > maxKeptBatchBuf {
		buf = nil
	}
	*d = regionDecoder{buf: buf, lines: d.lines[:0], decs: d.decs, dec: d.dec[:0]}
	decoderPool.Put(d)
}

// flush decodes the batch and appends what keep accepts to d.out.
func (d *regionDecoder) flush() {
	if len(d.lines) == 0 {
		return
	}
	if cap(d.dec) < len(d.lines) {
		d.dec = make([]*storage.AuditEntry, len(d.lines))
	}
	d.dec = d.dec[:len(d.lines)] // all nil: cleared after each use
	workers := max(1, min(d.workers, len(d.lines)/decodeGrain))
	for len(d.decs) < workers {
		d.decs = append(d.decs, new(storage.Decoder))
	}
	decodeBatch(d.buf, d.lines, d.dec, d.decs[:workers])
	for i, e := range d.dec {
		switch {
		case e == nil:
			d.note(d.lines[i].off, false)
		case d.keep(e):
			d.out = append(d.out, e)
		}
	}
	clear(d.dec)
	d.lines, d.buf = d.lines[:0], d.buf[:0]
}

// decodeBatch sets out[i] to the entry of lines[i] (its bytes in buf),
// nil for a line that is not a valid entry, on one goroutine per decoder
// in decs (the caller's included). Goroutines take decodeGrain lines at a
// time from a shared counter, so a core that is busy elsewhere does not
// hold the batch up.
func decodeBatch(buf []byte, lines []lineSpan, out []*storage.AuditEntry, decs []*storage.Decoder) {
	var next atomic.Int64
	work := func(dec *storage.Decoder) {
		for {
			lo := int(next.Add(decodeGrain)) - decodeGrain
			if lo >= len(lines) {
				return
			}
			for i := lo; i < min(lo+decodeGrain, len(lines)); i++ {
				if e, err := dec.Decode(buf[lines[i].start:lines[i].end]); err == nil {
					out[i] = e
				}
			}
		}
	}
	var wg sync.WaitGroup
	for _, dec := range decs[1:] {
		wg.Go(func() { work(dec) })
	}
	work(decs[0])
	wg.Wait()
}

// Regions decoded ahead. A file written in time order is read region by
// region as Entries consumes it (a region is a run of index blocks of up
// to decodeBatchBytes). A full scan of such files would otherwise be
// serial between batches: one goroutine reads and copies a batch, the
// batch is decoded, and the same goroutine then hands its entries out
// before it reads the next. So the next regions are decoded ahead, each on
// a goroutine of its own with one Decoder, while the caller consumes the
// current one; with two cores or more, reading, decoding and yielding
// overlap. What the caller sees does not change: regions are consumed in
// file order, their skipped lines are counted when the region is consumed
// (not when it was decoded, so a scan stopped early counts what a
// sequential scan would have), and an error is returned when its region's
// turn comes.

// regionJob is one region decoded ahead.
type regionJob struct {
	done  chan struct{} // closed when es, skips and err are set
	es    []*storage.AuditEntry
	skips []skippedLine
	err   error
}

// skippedLine is a line decodeRegion skipped, to be counted later.
type skippedLine struct {
	off  int64
	torn bool
}

// sortedSource returns the source of the regions sel of file name (open
// as f), written in time order, yielding the entries keep accepts. With
// ahead > 1 and more than one region, up to ahead regions are decoded
// ahead of the one being consumed (see above); otherwise one at a time, on
// demand. The caller must call the source's stop before closing f.
func (s *Store) sortedSource(f io.ReaderAt, name string, sel []idxBlock, keep func(*storage.AuditEntry) bool, ahead int) *entrySource {
	k := 0
	if ahead <= 1 || len(sel) < 2 {
		return &entrySource{next: func() ([]*storage.AuditEntry, error) {
			for k < len(sel) {
				b := sel[k]
				k++
				es, err := s.parseRegion(f, name, b.start, b.end, false, keep)
				if err != nil || len(es) > 0 {
					return es, err
				}
			}
			return nil, nil
		}}
	}
	var pending []*regionJob // started, not consumed, in file order
	start := func() {
		for len(pending) < ahead && k < len(sel) {
			b := sel[k]
			k++
			j := &regionJob{done: make(chan struct{})}
			pending = append(pending, j)
			go func() {
				defer close(j.done)
				note := func(off int64, torn bool) { j.skips = append(j.skips, skippedLine{off, torn}) }
				j.es, j.err = s.decodeRegion(f, name, b.start, b.end, false, keep, 1, note)
			}()
		}
	}
	src := &entrySource{}
	src.next = func() ([]*storage.AuditEntry, error) {
		for {
			start()
			if len(pending) == 0 {
				return nil, nil
			}
			j := pending[0]
			pending[0] = nil
			pending = pending[1:]
			<-j.done
			for _, sk := range j.skips {
				s.noteSkipped(name, sk.off, sk.torn)
			}
			if j.err != nil || len(j.es) > 0 {
				return j.es, j.err
			}
		}
	}
	src.stop = func() {
		for _, j := range pending {
			<-j.done
		}
		pending = nil
	}
	start()
	return src
}
