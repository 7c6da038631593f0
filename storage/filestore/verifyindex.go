package filestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"

	"github.com/otelaudit/otelaudit-go/storage"
)

// indexCheck compares the index file of one data file with the lines
// [Verify] reads from that file, as it reads them: the data is not read
// twice, and memory holds the index's sparse time blocks (1/128 of its
// records), not its records.
//
// An index is derived data, but readers trust one that passes their
// checks (framing, CRCs, the CRC of the data it covers; see
// indexCache.load), and a forged one that passes them hides entries from
// Count, queries, Read and Delete while the data and its chain are intact.
// The records are compared as a multiset, by the sum of a hash of each
// (id hash, offset, length, timestamp) under a seed drawn for this Verify:
// whoever wrote the index cannot know the seed, so cannot make records
// that differ from the data sum to the same value (a sum of unseeded
// hashes could be matched by adding made-up records).
type indexCheck struct {
	path   string // the index file, relative to the store directory
	hdr    idxHeader
	seed   maphash.Seed
	recSum uint64     // of the index's records
	blocks []idxBlock // nil when the block section fails its CRC (readers then scan)
	order  string     // what is wrong with the records' order or fanout, "" if nothing

	// What the data holds in [0, hdr.covered), in file order.
	entries      int64 // lines that are entries
	other        int64 // non-blank lines that are not entries
	long         int64 // lines too long to hold (see longLine)
	sum          uint64
	minTs, maxTs int64
	sorted       bool
	last         int64    // timestamp of the last entry
	cur          idxBlock // the block being collected
	blockBad     string   // the first block that differs, "" if none
	stale        bool     // a line crosses covered: readers ignore the index
}

// loadIndexCheck reads the index of data file name as a reader would load
// it (see indexCache.load) and returns the check that compares it with
// the data, or nil when a reader would not use the index (none, damaged,
// not a regular file). The data-CRC check is left to finish.
func loadIndexCheck(dir, name string, seed maphash.Seed) *indexCheck {
	path := indexPath(dir, name)
	f, err := openStoreFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	hb := make([]byte, idxHeaderSize)
	if _, err := f.ReadAt(hb, 0); err != nil {
		return nil
	}
	hdr, err := decodeHeader(hb)
	if err != nil || hdr.size() != fi.Size() {
		return nil
	}
	ix := &indexCheck{path: filepath.Join(indexDirName, name+".idx"), hdr: hdr, seed: seed, sorted: true}
	// Records: their CRC (a reader ignores an index that fails it), their
	// seeded sum, and the order lookups rely on: sorted by id hash, with
	// fanout[b] the end of the records whose hash's top byte is <= b.
	var fan [256]uint32
	crc := uint32(0)
	prev := uint64(0)
	buf := make([]byte, min(1<<20, max(idxRecSize, hdr.count*idxRecSize)))
	var rec [idxRecSize]byte
	for off, end := int64(idxHeaderSize), idxHeaderSize+hdr.count*idxRecSize; off < end; {
		n := min(int64(len(buf)), end-off)
		if _, err := f.ReadAt(buf[:n], off); err != nil {
			return nil
		}
		crc = crc32.Update(crc, castagnoli, buf[:n])
		for p := int64(0); p < n; p += idxRecSize {
			copy(rec[:], buf[p:p+idxRecSize])
			clear(rec[20:24]) // padding, which readers ignore
			h := binary.LittleEndian.Uint64(rec[:])
			if h < prev && ix.order == "" {
				ix.order = "its records are not sorted by id hash"
			}
			prev = h
			fan[h>>56]++
			ix.recSum += maphash.Bytes(seed, rec[:])
		}
		off += n
	}
	if crc != hdr.recsCRC {
		return nil
	}
	for i := 1; i < 256; i++ {
		fan[i] += fan[i-1]
	}
	if fan != hdr.fanout && ix.order == "" {
		ix.order = "its fanout table does not match its records"
	}
	li := &loadedIndex{hdr: hdr, f: f}
	if blocks, err := li.blocks(); err == nil {
		ix.blocks = blocks
	}
	return ix
}

// recordSum is the seeded hash of one record, as loadIndexCheck hashes
// the index's (the on-disk layout, padding zero).
func (ix *indexCheck) recordSum(r idxRec) uint64 {
	var b [idxRecSize]byte
	binary.LittleEndian.PutUint64(b[0:], r.hash)
	binary.LittleEndian.PutUint64(b[8:], uint64(r.off))
	binary.LittleEndian.PutUint32(b[16:], r.len)
	binary.LittleEndian.PutUint64(b[24:], uint64(r.ts))
	return maphash.Bytes(ix.seed, b[:])
}

// line applies a non-blank line of n bytes at off (without its '\n'):
// an entry with id hash and timestamp ts when entry is true, else a line
// the index counts as skipped. Lines must come in file order.
func (ix *indexCheck) line(off, n int64, entry bool, hash uint64, ts int64) {
	end := off + n + 1
	if off >= ix.hdr.covered {
		return
	}
	if end > ix.hdr.covered {
		ix.stale = true // covered is not a line end: readers ignore the index
		return
	}
	if !entry {
		ix.other++
		return
	}
	k := ix.entries
	ix.entries++
	ix.sum += ix.recordSum(idxRec{hash: hash, off: off, len: uint32(n), ts: ts})
	if k == 0 {
		ix.minTs, ix.maxTs = ts, ts
	} else {
		ix.minTs, ix.maxTs = min(ix.minTs, ts), max(ix.maxTs, ts)
		if ts < ix.last {
			ix.sorted = false
		}
	}
	ix.last = ts
	if k%indexBlock == 0 {
		if k > 0 {
			ix.endBlock(k/indexBlock - 1)
		}
		ix.cur = idxBlock{minTs: ts, maxTs: ts, start: off, end: end}
	} else {
		ix.cur.minTs, ix.cur.maxTs = min(ix.cur.minTs, ts), max(ix.cur.maxTs, ts)
		ix.cur.end = end
	}
}

// longLine applies a line too long for Verify to hold: an index written
// by a store with a larger line limit ([WithMaxLineSize]) holds it as an
// entry, one rebuilt with the default limit counts it as skipped, so only
// the total of the two can be compared for this file.
func (ix *indexCheck) longLine(off, n int64) {
	if off < ix.hdr.covered && off+n+1 <= ix.hdr.covered {
		ix.long++
	} else if off < ix.hdr.covered {
		ix.stale = true
	}
}

// endBlock compares the block collected, block j of the entries, with
// the index's.
func (ix *indexCheck) endBlock(j int64) {
	if ix.blocks == nil || ix.blockBad != "" {
		return
	}
	if j >= int64(len(ix.blocks)) || ix.blocks[j] != ix.cur {
		ix.blockBad = fmt.Sprintf("its time index (block %d) does not match the entries there", j)
	}
}

// mismatch returns what differs between the index and the data read, or
// "" when the index describes the data.
func (ix *indexCheck) mismatch() string {
	if ix.long > 0 {
		if ix.hdr.count < ix.entries || ix.hdr.count > ix.entries+ix.long {
			return fmt.Sprintf("it lists %d entries, the data file holds %d there and %d lines too long to tell", ix.hdr.count, ix.entries, ix.long)
		}
		return ix.order
	}
	if ix.hdr.count != ix.entries {
		return fmt.Sprintf("it lists %d entries, the data file holds %d there", ix.hdr.count, ix.entries)
	}
	if ix.sum != ix.recSum {
		return "its records do not match the entries of the data file (ids, offsets, lengths or timestamps differ)"
	}
	if ix.order != "" {
		return ix.order
	}
	if ix.entries > 0 && (ix.hdr.minTs != ix.minTs || ix.hdr.maxTs != ix.maxTs) {
		return "its time range does not match the entries' timestamps"
	}
	if ix.hdr.sorted && !ix.sorted {
		return "it claims the entries are in time order, and they are not"
	}
	if ix.entries > 0 {
		ix.endBlock((ix.entries - 1) / indexBlock)
	}
	return ix.blockBad
}

// finish compares the index with the data once every line it covers was
// applied. f is the data file, open. It returns the problem to report, or
// nil: also when the index differs from the data in a way that makes
// readers ignore it (see indexCache.load: it does not end at a line end,
// its entries and skipped lines do not add up to the data's non-blank
// lines, or the data's CRC differs from the one it records), as a stale
// one left by a crash does. Only then is the data read again (up to
// covered), for its CRC.
func (ix *indexCheck) finish(f io.ReaderAt, name string) (*Problem, error) {
	if ix.stale || ix.hdr.count+int64(ix.hdr.skipped) != ix.entries+ix.other+ix.long {
		return nil, nil
	}
	what := ix.mismatch()
	if what == "" {
		return nil, nil
	}
	crc, err := dataCRC(f, 0, 0, ix.hdr.covered)
	if errors.Is(err, errBadIndex) || errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if crc != ix.hdr.dataCRC {
		return nil, nil
	}
	var miss string
	switch {
	case ix.hdr.count < ix.entries:
		miss = fmt.Sprintf("%d entries", ix.entries-ix.hdr.count)
	default:
		miss = "entries"
	}
	return &Problem{Kind: ProblemIndexMismatch, File: name, Detail: fmt.Sprintf(
		"index %s does not describe this file (%s): count, queries, reads by id and deletes miss %s that are stored in it; the data is not affected: remove the index file (or the whole %s directory), readers then scan the data and the next writer to open the store rebuilds it",
		ix.path, what, miss, indexDirName)}, nil
}

// indexKey is what an index holds of a line (see Store.scanRecords):
// whether it is an entry, its id hash and its timestamp. A line whose
// chain hash matches (hashed) was written by a store's encoder (or its
// chain or signature check fails elsewhere), so its id and timestamp are
// read off their fixed places (storage.EncodedKey); any other line is
// parsed, as the index builder parses it.
func indexKey(line []byte, hashed bool) (entry bool, hash uint64, ts int64) {
	if hashed {
		if id, t, ok := storage.EncodedKey(line); ok {
			return true, idHash(id), clampNano(t)
		}
	}
	id, ts, ok := lineInfo(line)
	if !ok {
		return false, 0, 0
	}
	return true, idHash(id), ts
}
