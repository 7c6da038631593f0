package filestore

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/otelaudit/otelaudit-go/storage"
)

// Index file format (little endian), one per data file in .index/:
//
//	header  magic[8] covered u64 count u64 minTs i64 maxTs i64 recsCRC u32
//	        pad u32 sorted u32 nblocks u32 dataCRC u32 skipped u32
//	        fanout[256]u32 crc u32 (recsCRC: CRC-32C of the records, checked
//	        when the index is loaded)
//	records count x {hash u64, off u64, len u32, pad u32, ts i64}, sorted by
//	        (hash, off); fanout[b] is the end of the records whose hash's
//	        top byte is <= b
//	blocks  nblocks x {minTs i64, maxTs i64, start u64, end u64}: every
//	        indexBlock records in file order, the byte range they span
//	        and the time range they hold (a sparse time index)
//	        followed by crc u32 over the blocks
//
// The index covers the data file's bytes [0, covered); dataCRC is the
// CRC-32C of all of them, which ties the index to the data it describes:
// an index whose data was damaged anywhere, rewritten, truncated or
// replaced is ignored (and rebuilt by the next writer), so Count and
// queries agree with what is readable. An index is checked against its
// data once per load; one this Store wrote itself is trusted. The lookup state kept in memory is the 1 KiB header
// of recently used files, so memory does not grow with the number of
// entries.
const (
	idxMagic      = "OAIDX\x00\x00\x03"
	idxHeaderSize = 8 + 8*5 + 4*4 + 256*4 + 4
	idxRecSize    = 32
	idxBlockSize  = 32
	indexBlock    = 128 // records per sparse time-index block
	idxCacheMax   = 256 // loaded index headers kept open
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// idxRec locates one entry line in a data file.
type idxRec struct {
	hash uint64 // idHash(id)
	off  int64  // offset of the line
	len  uint32 // length of the line without '\n'
	ts   int64  // entry timestamp, Unix nanoseconds
}

type idxBlock struct {
	minTs, maxTs int64
	start, end   int64
}

type idxHeader struct {
	covered      int64
	count        int64
	minTs, maxTs int64
	sorted       bool
	nblocks      int
	dataCRC      uint32
	recsCRC      uint32
	skipped      int
	fanout       [256]uint32
}

// idHash is FNV-1a 64 of the id: stable across processes.
func idHash[T string | []byte](id T) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	return h
}

// encodeIndex builds an index file for the records (in file order).
func encodeIndex(recs []idxRec, covered int64, dataCRC uint32, skipped int) []byte {
	var hdr idxHeader
	hdr.covered = covered
	hdr.count = int64(len(recs))
	hdr.dataCRC = dataCRC
	hdr.skipped = skipped
	hdr.sorted = true
	var blocks []idxBlock
	for i, r := range recs {
		if i == 0 || r.ts < hdr.minTs {
			hdr.minTs = r.ts
		}
		if i == 0 || r.ts > hdr.maxTs {
			hdr.maxTs = r.ts
		}
		if i > 0 && r.ts < recs[i-1].ts {
			hdr.sorted = false
		}
		end := r.off + int64(r.len) + 1
		if i%indexBlock == 0 {
			blocks = append(blocks, idxBlock{minTs: r.ts, maxTs: r.ts, start: r.off, end: end})
		} else {
			b := &blocks[len(blocks)-1]
			b.minTs = min(b.minTs, r.ts)
			b.maxTs = max(b.maxTs, r.ts)
			b.end = end
		}
	}
	hdr.nblocks = len(blocks)
	byHash := slices.Clone(recs)
	sortByHash(byHash)
	for _, r := range byHash {
		hdr.fanout[r.hash>>56]++
	}
	for i := 1; i < 256; i++ {
		hdr.fanout[i] += hdr.fanout[i-1]
	}
	out := make([]byte, idxHeaderSize, idxHeaderSize+len(recs)*idxRecSize+len(blocks)*idxBlockSize+4)
	for _, r := range byHash {
		out = binary.LittleEndian.AppendUint64(out, r.hash)
		out = binary.LittleEndian.AppendUint64(out, uint64(r.off))
		out = binary.LittleEndian.AppendUint32(out, r.len)
		out = binary.LittleEndian.AppendUint32(out, 0)
		out = binary.LittleEndian.AppendUint64(out, uint64(r.ts))
	}
	hdr.recsCRC = crc32.Checksum(out[idxHeaderSize:], castagnoli)
	appendHeader(out[:0], &hdr)
	bstart := len(out)
	for _, b := range blocks {
		out = binary.LittleEndian.AppendUint64(out, uint64(b.minTs))
		out = binary.LittleEndian.AppendUint64(out, uint64(b.maxTs))
		out = binary.LittleEndian.AppendUint64(out, uint64(b.start))
		out = binary.LittleEndian.AppendUint64(out, uint64(b.end))
	}
	out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(out[bstart:], castagnoli))
	return out
}

func appendHeader(out []byte, h *idxHeader) []byte {
	start := len(out)
	out = append(out, idxMagic...)
	out = binary.LittleEndian.AppendUint64(out, uint64(h.covered))
	out = binary.LittleEndian.AppendUint64(out, uint64(h.count))
	out = binary.LittleEndian.AppendUint64(out, uint64(h.minTs))
	out = binary.LittleEndian.AppendUint64(out, uint64(h.maxTs))
	sorted := uint32(0)
	if h.sorted {
		sorted = 1
	}
	out = binary.LittleEndian.AppendUint32(out, h.recsCRC)
	out = binary.LittleEndian.AppendUint32(out, 0) // pad
	out = binary.LittleEndian.AppendUint32(out, sorted)
	out = binary.LittleEndian.AppendUint32(out, uint32(h.nblocks))
	out = binary.LittleEndian.AppendUint32(out, h.dataCRC)
	out = binary.LittleEndian.AppendUint32(out, uint32(h.skipped))
	for _, v := range h.fanout {
		out = binary.LittleEndian.AppendUint32(out, v)
	}
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out[start:], castagnoli))
}

var errBadIndex = errors.New("filestore: index file is damaged")

func decodeHeader(b []byte) (idxHeader, error) {
	var h idxHeader
	if len(b) < idxHeaderSize || string(b[:8]) != idxMagic {
		return h, errBadIndex
	}
	if crc32.Checksum(b[:idxHeaderSize-4], castagnoli) != binary.LittleEndian.Uint32(b[idxHeaderSize-4:]) {
		return h, errBadIndex
	}
	le := binary.LittleEndian
	h.covered = int64(le.Uint64(b[8:]))
	h.count = int64(le.Uint64(b[16:]))
	h.minTs = int64(le.Uint64(b[24:]))
	h.maxTs = int64(le.Uint64(b[32:]))
	h.recsCRC = le.Uint32(b[40:])
	h.sorted = le.Uint32(b[48:]) == 1
	h.nblocks = int(le.Uint32(b[52:]))
	h.dataCRC = le.Uint32(b[56:])
	h.skipped = int(le.Uint32(b[60:]))
	for i := range h.fanout {
		h.fanout[i] = le.Uint32(b[64+4*i:])
	}
	if h.covered < 0 || h.count < 0 || int64(h.fanout[255]) != h.count ||
		int64(h.nblocks) != (h.count+indexBlock-1)/indexBlock {
		// nblocks is what encodeIndex makes of count: a larger one would
		// make blocks() allocate up to 128 GiB before its first read.
		return h, errBadIndex
	}
	return h, nil
}

// size is the length of the index file hdr heads, as encodeIndex writes it.
func (h *idxHeader) size() int64 {
	return idxHeaderSize + h.count*idxRecSize + int64(h.nblocks)*idxBlockSize + 4
}

func decodeRec(b []byte) idxRec {
	le := binary.LittleEndian
	return idxRec{hash: le.Uint64(b), off: int64(le.Uint64(b[8:])), len: le.Uint32(b[16:]), ts: int64(le.Uint64(b[24:]))}
}

// dataCRC extends crc, the CRC-32C of a data file's bytes [0, from), to
// the bytes [0, to): what ties an index to the whole of the data it
// covers, so that damage anywhere in it (or a rewrite by another writer)
// makes the index stale. The data must end in '\n' at to.
func dataCRC(f io.ReaderAt, crc uint32, from, to int64) (uint32, error) {
	buf := make([]byte, min(1<<20, max(to-from, 1)))
	for off := from; off < to; {
		n := min(int64(len(buf)), to-off)
		if _, err := f.ReadAt(buf[:n], off); err != nil {
			return 0, err
		}
		crc = crc32.Update(crc, castagnoli, buf[:n])
		off += n
		if off == to && buf[n-1] != '\n' {
			return 0, errBadIndex
		}
	}
	return crc, nil
}

// dataLines is dataCRC from the start of the data to to, which also
// counts the non-blank lines there (as isBlank tells them; a line longer
// than maxLine, when maxLine > 0, counts as non-blank, as scanRecords
// counts it as skipped). An index lists every non-blank line it covers,
// as an entry or as skipped: loading one checks that they add up, which
// costs no read beyond the CRC's.
func dataLines(f io.ReaderAt, to int64, maxLine int) (crc uint32, lines int64, err error) {
	buf := make([]byte, min(1<<20, max(to, 1)))
	var line []byte // start of a line that does not begin with a visible ASCII byte
	inLine, slow, long := false, false, false
	for off := int64(0); off < to; {
		n := min(int64(len(buf)), to-off)
		if _, err := f.ReadAt(buf[:n], off); err != nil {
			return 0, 0, err
		}
		b := buf[:n]
		crc = crc32.Update(crc, castagnoli, b)
		off += n
		if off == to && b[n-1] != '\n' {
			return 0, 0, errBadIndex
		}
		for len(b) > 0 {
			if !inLine {
				// Nearly every line is an entry: its first byte tells.
				inLine = true
				if c := b[0]; c > ' ' && c < 0x80 {
					lines++
				} else {
					slow, long, line = true, false, line[:0]
				}
			}
			i := bytes.IndexByte(b, '\n')
			part := b
			if i >= 0 {
				part = b[:i]
			}
			if slow && !long {
				if maxLine > 0 && len(line)+len(part) > maxLine {
					long = true
				} else {
					line = append(line, part...)
				}
			}
			if i < 0 {
				break
			}
			b = b[i+1:]
			inLine = false
			if slow && (long || !isBlank(line)) {
				lines++
			}
			slow = false
		}
	}
	return crc, lines, nil
}

// recordsOK checks the records section against its CRC (once per load;
// the index is then cached), so that a damaged index is ignored rather than
// making entries unreadable by id.
func recordsOK(f *os.File, hdr *idxHeader) bool {
	const chunk = 1 << 20
	buf := make([]byte, min(chunk, max(1, hdr.count*idxRecSize)))
	crc := uint32(0)
	for off, end := int64(idxHeaderSize), idxHeaderSize+hdr.count*idxRecSize; off < end; {
		n := min(int64(len(buf)), end-off)
		if _, err := f.ReadAt(buf[:n], off); err != nil {
			return false
		}
		crc = crc32.Update(crc, castagnoli, buf[:n])
		off += n
	}
	return crc == hdr.recsCRC
}

// loadedIndex is an open index file validated against one data file.
type loadedIndex struct {
	hdr     idxHeader
	f       *os.File
	idxStat fileID
	dataID  fileID
	refs    int
	evicted bool
}

type fileID struct {
	ino, size int64
	mtime     int64
}

func statID(fi os.FileInfo) fileID {
	id := fileID{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	id.ino = inodeOf(fi)
	return id
}

// lookup returns the records whose id hash is h.
func (li *loadedIndex) lookup(h uint64) ([]idxRec, error) {
	b := h >> 56
	lo := uint32(0)
	if b > 0 {
		lo = li.hdr.fanout[b-1]
	}
	hi := li.hdr.fanout[b]
	if hi <= lo {
		return nil, nil
	}
	buf := make([]byte, int(hi-lo)*idxRecSize)
	if _, err := li.f.ReadAt(buf, idxHeaderSize+int64(lo)*idxRecSize); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadIndex, err)
	}
	n := int(hi - lo)
	// Binary search over the fixed-size records.
	l, r := 0, n
	for l < r {
		m := (l + r) / 2
		if binary.LittleEndian.Uint64(buf[m*idxRecSize:]) < h {
			l = m + 1
		} else {
			r = m
		}
	}
	var out []idxRec
	for ; l < n; l++ {
		rec := decodeRec(buf[l*idxRecSize:])
		if rec.hash != h {
			break
		}
		out = append(out, rec)
	}
	return out, nil
}

// blocks returns the sparse time index.
func (li *loadedIndex) blocks() ([]idxBlock, error) {
	n := li.hdr.nblocks
	buf := make([]byte, n*idxBlockSize+4)
	if _, err := li.f.ReadAt(buf, idxHeaderSize+li.hdr.count*idxRecSize); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadIndex, err)
	}
	if crc32.Checksum(buf[:n*idxBlockSize], castagnoli) != binary.LittleEndian.Uint32(buf[n*idxBlockSize:]) {
		return nil, errBadIndex
	}
	out := make([]idxBlock, n)
	le := binary.LittleEndian
	for i := range out {
		p := buf[i*idxBlockSize:]
		out[i] = idxBlock{minTs: int64(le.Uint64(p)), maxTs: int64(le.Uint64(p[8:])), start: int64(le.Uint64(p[16:])), end: int64(le.Uint64(p[24:]))}
	}
	return out, nil
}

// records returns every record, in file order.
func (li *loadedIndex) records() ([]idxRec, error) {
	buf := make([]byte, li.hdr.count*idxRecSize)
	if _, err := li.f.ReadAt(buf, idxHeaderSize); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadIndex, err)
	}
	out := make([]idxRec, li.hdr.count)
	for i := range out {
		out[i] = decodeRec(buf[i*idxRecSize:])
	}
	sortByOffset(out)
	return out, nil
}

// sortByHash sorts recs by hash, and records of equal hash (the same id
// written twice) by offset: the order an index file keeps.
func sortByHash(recs []idxRec) {
	radixSortRecs(recs, true)
	// Equal hashes, rare, go in offset order whatever order they came in.
	for i := 0; i < len(recs); {
		j := i + 1
		for j < len(recs) && recs[j].hash == recs[i].hash {
			j++
		}
		if j-i > 1 {
			sortByOffset(recs[i:j])
		}
		i = j
	}
}

// sortByOffset sorts recs by offset (offsets are >= 0).
func sortByOffset(recs []idxRec) { radixSortRecs(recs, false) }

// radixSortRecs sorts recs stably by hash (byHash) or by offset, a byte
// of the key per pass, skipping passes where every key has the same byte
// (the high bytes of offsets). An index is sorted under the store's lock
// when a part rotates (tens of thousands of records): this takes about a
// third of the time of a comparison sort there (BenchmarkSortIndexRecs).
func radixSortRecs(recs []idxRec, byHash bool) {
	if len(recs) < 64 {
		slices.SortStableFunc(recs, func(a, b idxRec) int {
			return cmp.Compare(recKey(a, byHash), recKey(b, byHash))
		})
		return
	}
	src, dst := recs, make([]idxRec, len(recs))
	for shift := uint(0); shift < 64; shift += 8 {
		var count [256]int
		for _, r := range src {
			count[byte(recKey(r, byHash)>>shift)]++
		}
		if count[byte(recKey(src[0], byHash)>>shift)] == len(src) {
			continue // one value of this byte: the pass would keep the order
		}
		pos := 0
		for i, c := range count {
			count[i], pos = pos, pos+c
		}
		for _, r := range src {
			d := byte(recKey(r, byHash) >> shift)
			dst[count[d]] = r
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &recs[0] {
		copy(recs, src)
	}
}

func recKey(r idxRec, byHash bool) uint64 {
	if byHash {
		return r.hash
	}
	return uint64(r.off)
}

// indexCache keeps recently used index files open. It holds at most
// idxCacheMax headers (about 1 KiB each), whatever the number of entries.
type indexCache struct {
	dir     string
	maxLine int // the store's line limit (see dataLines)
	mu      sync.Mutex
	m       map[string]*loadedIndex
	// own holds, by data file name, the stat of the index file this Store
	// last wrote for it: that index was built from the data it covers, so
	// loading it needs no check of the data.
	own map[string]fileID
}

// trust records that the index file of name was just written by us.
func (c *indexCache) trust(name string) {
	fi, err := os.Stat(indexPath(c.dir, name))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.own == nil {
		c.own = make(map[string]fileID)
	}
	if err != nil {
		delete(c.own, name)
		return
	}
	c.own[name] = statID(fi)
}

// distrust forgets that this Store wrote the index file of name: one
// that could not be replaced must be checked against the data again.
func (c *indexCache) distrust(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.own, name)
}

func indexPath(dir, name string) string { return filepath.Join(dir, indexDirName, name+".idx") }

// get returns the index of data file name, validated against the open data
// file, or nil when there is no valid index. The caller must release a
// non-nil result.
func (c *indexCache) get(name string, data *os.File) (*loadedIndex, error) {
	dfi, err := data.Stat()
	if err != nil {
		return nil, err
	}
	return c.load(name, statID(dfi), func() (io.ReaderAt, func(), error) { return data, func() {}, nil })
}

// getPath is get for a data file that is not open: on a cache hit it costs
// two stat calls; the data file is opened only to validate a newly loaded
// index. It also returns the data file's size.
func (c *indexCache) getPath(name, path string) (*loadedIndex, int64, error) {
	dfi, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	did := statID(dfi)
	li, err := c.load(name, did, func() (io.ReaderAt, func(), error) {
		f, err := openStoreFile(path, os.O_RDONLY, 0)
		if err != nil {
			return nil, nil, err
		}
		return f, func() { f.Close() }, nil
	})
	return li, did.size, err
}

func (c *indexCache) load(name string, did fileID, open func() (io.ReaderAt, func(), error)) (*loadedIndex, error) {
	path := indexPath(c.dir, name)
	ifi, err := os.Stat(path)
	if err != nil {
		c.invalidate(name)
		return nil, nil
	}
	iid := statID(ifi)
	c.mu.Lock()
	if li := c.m[name]; li != nil {
		if li.idxStat == iid && li.dataID.ino == did.ino && li.hdr.covered <= did.size {
			li.refs++
			c.mu.Unlock()
			return li, nil
		}
		c.evictLocked(name)
	}
	c.mu.Unlock()

	f, err := openStoreFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, nil // no usable index (a named pipe in its place is not read)
	}
	hb := make([]byte, idxHeaderSize)
	if _, err := f.ReadAt(hb, 0); err != nil {
		f.Close()
		return nil, nil
	}
	hdr, err := decodeHeader(hb)
	if err != nil || hdr.covered > did.size || hdr.size() != iid.size {
		f.Close()
		return nil, nil
	}
	if !recordsOK(f, &hdr) {
		f.Close()
		return nil, nil
	}
	c.mu.Lock()
	own, trusted := c.own[name]
	c.mu.Unlock()
	if !trusted || own != iid {
		data, done, err := open()
		if err != nil {
			f.Close()
			return nil, err
		}
		crc, lines, err := dataLines(data, hdr.covered, c.maxLine)
		done()
		if err != nil && !errors.Is(err, errBadIndex) && !errors.Is(err, io.EOF) {
			f.Close()
			return nil, err // the data cannot be read: not a stale index
		}
		// An index whose entries and skipped lines do not add up to the
		// lines it covers misses some (a forged one that omits entries
		// but keeps the CRCs right): ignored, so readers scan the data
		// and the next writer to open the store rebuilds it. Verify finds
		// the forgeries this cannot (ProblemIndexMismatch).
		if err != nil || crc != hdr.dataCRC || lines != hdr.count+int64(hdr.skipped) {
			f.Close()
			return nil, nil
		}
	}
	li := &loadedIndex{hdr: hdr, f: f, idxStat: iid, dataID: did, refs: 2}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]*loadedIndex)
	}
	if old := c.m[name]; old != nil {
		c.evictLocked(name)
	}
	if len(c.m) >= idxCacheMax {
		for k := range c.m {
			c.evictLocked(k)
			break
		}
	}
	c.m[name] = li
	c.mu.Unlock()
	return li, nil
}

func (c *indexCache) release(li *loadedIndex) {
	if li == nil {
		return
	}
	c.mu.Lock()
	li.refs--
	if li.refs == 0 {
		li.f.Close()
	}
	c.mu.Unlock()
}

func (c *indexCache) evictLocked(name string) {
	li := c.m[name]
	if li == nil {
		return
	}
	delete(c.m, name)
	li.evicted = true
	li.refs--
	if li.refs == 0 {
		li.f.Close()
	}
}

// rename moves what the cache knows of data file oldName's index (the
// index file moved with the data, see rotateLocked) to newName.
func (c *indexCache) rename(oldName, newName string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evictLocked(oldName)
	c.evictLocked(newName)
	if id, ok := c.own[oldName]; ok {
		delete(c.own, oldName)
		c.own[newName] = id
	} else {
		delete(c.own, newName)
	}
}

func (c *indexCache) invalidate(name string) {
	c.mu.Lock()
	c.evictLocked(name)
	c.mu.Unlock()
}

func (c *indexCache) closeAll() {
	c.mu.Lock()
	for k := range c.m {
		c.evictLocked(k)
	}
	c.mu.Unlock()
}

// lineInfo is [storage.EntryKey] with the timestamp in Unix nanoseconds,
// as the index keeps it; ok is false for a line that is not a readable
// entry.
func lineInfo(line []byte) (id string, ts int64, ok bool) {
	id, t, err := storage.EntryKey(line)
	if err != nil {
		return "", 0, false
	}
	return id, clampNano(t), true
}

// isBlank reports whether a line holds only white space (ignored, not
// counted as a skipped line).
func isBlank(line []byte) bool { return len(bytes.TrimSpace(line)) == 0 }

// scanLines calls fn for every complete line (without its '\n') of
// [from, to). It returns the offset of a final line that has no '\n' (a
// torn tail), or -1.
func scanLines(ra io.ReaderAt, from, to int64, fn func(off int64, line []byte) error) (int64, error) {
	return scanBounded(ra, from, to, 0, fn, nil)
}

// readerPool holds the read buffers of scanBounded: a scan reads a
// region per index block, and a fresh 256 KiB buffer for each was a
// large share of a full scan's allocation and clearing.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 256<<10) }}

// scanBounded is scanLines for lines of at most maxLine bytes (maxLine <= 0:
// no bound): a longer complete line is not buffered; long(off, n) is
// called for it instead of fn (n counts its bytes without the '\n').
func scanBounded(ra io.ReaderAt, from, to int64, maxLine int, fn func(off int64, line []byte) error, long func(off, n int64)) (int64, error) {
	if to <= from {
		return -1, nil
	}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(io.NewSectionReader(ra, from, to-from))
	defer func() {
		br.Reset(nil)
		readerPool.Put(br)
	}()
	off := from
	var buf []byte
	var n int64      // bytes of the current line read so far (before the chunk)
	inLong := false  // the current line spans chunks
	discard := false // the current line is over maxLine: counted, not kept
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			n += int64(len(chunk))
			if !discard {
				buf = append(buf, chunk...)
				if maxLine > 0 && len(buf) > maxLine {
					discard, buf = true, buf[:0]
				}
			}
			inLong = true
			continue
		}
		line := chunk
		if inLong && !discard {
			buf = append(buf, chunk...)
			line = buf
		}
		if err == io.EOF {
			if n+int64(len(chunk)) > 0 {
				return off, nil
			}
			return -1, nil
		}
		if err != nil {
			return -1, err
		}
		total := n + int64(len(chunk)) // with the '\n'
		if discard || maxLine > 0 && total-1 > int64(maxLine) {
			if long != nil {
				long(off, total-1)
			}
		} else if ferr := fn(off, line[:len(line)-1]); ferr != nil {
			return -1, ferr
		}
		off += total
		n = 0
		if inLong {
			inLong, discard = false, false
			if cap(buf) > 4<<20 {
				buf = nil
			} else {
				buf = buf[:0]
			}
		}
	}
}
