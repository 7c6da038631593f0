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
// goroutine; only decodeBatch fans out.
type regionDecoder struct {
	s     *Store
	name  string
	keep  func(*storage.AuditEntry) bool
	buf   []byte // the batch's lines, back to back; reused
	lines []lineSpan
	decs  []*storage.Decoder // one per decoding goroutine; kept with the pool
	dec   []*storage.AuditEntry
	out   []*storage.AuditEntry
}

// parseRegion returns the entries of the lines in [from, to) of data file
// name (open as f) that keep accepts, in file order. A line that is not a
// valid entry, or is longer than the configured bound, is counted and
// skipped (see [Store.Stats]); so is a final line without '\n' when tornOK.
func (s *Store) parseRegion(f io.ReaderAt, name string, from, to int64, tornOK bool, keep func(*storage.AuditEntry) bool) ([]*storage.AuditEntry, error) {
	d := decoderPool.Get().(*regionDecoder)
	d.s, d.name, d.keep = s, name, keep
	defer d.release()
	long := func(off, _ int64) { s.noteSkipped(name, off, false) }
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
		s.noteSkipped(name, torn, true)
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
	workers := max(1, min(runtime.GOMAXPROCS(0), len(d.lines)/decodeGrain))
	for len(d.decs) < workers {
		d.decs = append(d.decs, new(storage.Decoder))
	}
	decodeBatch(d.buf, d.lines, d.dec, d.decs[:workers])
	for i, e := range d.dec {
		switch {
		case e == nil:
			d.s.noteSkipped(d.name, d.lines[i].off, false)
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
