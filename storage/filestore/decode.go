package filestore

import (
	"fmt"
	"io"
	"runtime"
	"strings"
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
// Lines are copied once, into shared strings of about lineChunkBytes
// (strings.Builder chunks that are only ever appended to), and decoded
// entries point into them (storage.ParseEntryString): one allocation and
// one copy per chunk rather than per line, which a full scan of 1M
// entries feels (about an eighth of its CPU went to copying each line
// into a string of its own). The price is bounded: a kept entry keeps its
// chunk, at most lineChunkBytes or its own line, reachable.

const (
	// decodeBatchBytes bounds the line bytes held for one batch, so that
	// a region of any size (a whole unsorted file) is decoded in bounded
	// memory.
	decodeBatchBytes = 1 << 20
	// decodeGrain is the number of lines a decoding goroutine takes at a
	// time, and the least a batch must hold for a second goroutine to
	// start.
	decodeGrain = 16
	// lineChunkBytes is the size of the strings lines are copied into: a
	// line longer than that gets a string of its own.
	lineChunkBytes = 32 << 10
)

// lineSpan is one line of a batch: its offset in the data file and its
// bytes.
type lineSpan struct {
	off  int64
	line string
}

// regionDecoder decodes the lines of one region. It is used by one
// goroutine; only decodeBatch fans out.
type regionDecoder struct {
	s     *Store
	name  string
	keep  func(*storage.AuditEntry) bool
	chunk strings.Builder // the lines' current chunk; never reset, only replaced
	size  int             // line bytes in the batch
	lines []lineSpan
	dec   []*storage.AuditEntry
	out   []*storage.AuditEntry
}

// parseRegion returns the entries of the lines in [from, to) of data file
// name (open as f) that keep accepts, in file order. A line that is not a
// valid entry, or is longer than the configured bound, is counted and
// skipped (see [Store.Stats]); so is a final line without '\n' when tornOK.
func (s *Store) parseRegion(f io.ReaderAt, name string, from, to int64, tornOK bool, keep func(*storage.AuditEntry) bool) ([]*storage.AuditEntry, error) {
	d := decoderPool.Get().(*regionDecoder)
	*d = regionDecoder{s: s, name: name, keep: keep, lines: d.lines[:0], dec: d.dec[:0]}
	defer d.release()
	long := func(off, _ int64) { s.noteSkipped(name, off, false) }
	torn, err := scanBounded(f, from, to, s.cfg.maxLineSize, func(off int64, line []byte) error {
		if isBlank(line) {
			return nil
		}
		if d.size+len(line) > decodeBatchBytes && len(d.lines) > 0 {
			d.flush()
		}
		d.lines = append(d.lines, lineSpan{off: off, line: d.copyLine(line)})
		d.size += len(line)
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

// decoderPool keeps batch buffers between regions: a full scan decodes
// one region per megabyte of data.
var decoderPool = sync.Pool{New: func() any { return new(regionDecoder) }}

// release returns d's buffers to decoderPool. The line chunks are not
// reused: entries point into them.
func (d *regionDecoder) release() {
	clear(d.lines)
	*d = regionDecoder{lines: d.lines[:0], dec: d.dec[:0]}
	decoderPool.Put(d)
}

// copyLine returns a copy of line in the current chunk, starting a new one
// when it does not fit. Bytes a chunk's earlier strings hold are never
// written again (a strings.Builder only appends, and a chunk is replaced
// rather than grown), so the strings stay immutable.
func (d *regionDecoder) copyLine(line []byte) string {
	if d.chunk.Cap()-d.chunk.Len() < len(line) {
		d.chunk = strings.Builder{}
		d.chunk.Grow(max(lineChunkBytes, len(line)))
	}
	lo := d.chunk.Len()
	d.chunk.Write(line)
	return d.chunk.String()[lo:]
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
	decodeBatch(d.lines, d.dec)
	for i, e := range d.dec {
		switch {
		case e == nil:
			d.s.noteSkipped(d.name, d.lines[i].off, false)
		case d.keep(e):
			d.out = append(d.out, e)
		}
	}
	clear(d.dec)
	clear(d.lines)
	d.lines, d.size = d.lines[:0], 0
}

// decodeBatch sets out[i] to the entry of lines[i], nil for a line
// that is not a valid entry. Goroutines beyond the caller's take
// decodeGrain lines at a time from a shared counter, so a core that is
// busy elsewhere does not hold the batch up.
func decodeBatch(lines []lineSpan, out []*storage.AuditEntry) {
	var next atomic.Int64
	work := func() {
		for {
			lo := int(next.Add(decodeGrain)) - decodeGrain
			if lo >= len(lines) {
				return
			}
			for i := lo; i < min(lo+decodeGrain, len(lines)); i++ {
				if e, err := storage.ParseEntryString(lines[i].line); err == nil {
					out[i] = e
				}
			}
		}
	}
	helpers := min(runtime.GOMAXPROCS(0), len(lines)/decodeGrain) - 1
	var wg sync.WaitGroup
	for range helpers {
		wg.Go(work)
	}
	work()
	wg.Wait()
}
