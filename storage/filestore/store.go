package filestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otelaudit/otelaudit-go/internal/lend"
	"github.com/otelaudit/otelaudit-go/storage"
)

// ErrLocked is matched (errors.Is) by the error [New] returns when
// another Store (in this or another process) has the directory open
// for writing. Open it [WithReadOnly] to read it meanwhile.
var ErrLocked = errors.New("filestore: store is locked by another writer")

var errLockHeld = errors.New("lock held")

// ErrNotRegular is matched (errors.Is) by the error of opening a store
// file (a data file, checkpoints.jsonl, an index, the key file) that is
// not a regular file: a named pipe, device, socket or directory put in its
// place, or a symbolic link to one. Such a file is never read (a named
// pipe would block every reader, writer and [Verify] for ever; /dev/null
// would swallow appended entries); [Verify] reports it as a problem.
var ErrNotRegular = errors.New("filestore: not a regular file")

// checkRegular returns f if it is a regular file, and otherwise closes it
// and returns an error matching ErrNotRegular.
func checkRegular(f *os.File) (*os.File, error) {
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s is a %s", ErrNotRegular, filepath.Base(f.Name()), fileKind(fi.Mode()))
	}
	return f, nil
}

// fileKind names the kind of a file that is not regular.
func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeDevice != 0:
		return "device"
	case m&os.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}

// ErrReadOnly is matched (errors.Is) by the error a write, Delete or
// DeleteBefore returns on a store opened [WithReadOnly].
var ErrReadOnly = errors.New("filestore: store is opened read-only")

// Store is a [storage.Backend] that keeps entries as JSON lines in files, one
// file per UTC day of the entry timestamp (audit_YYYYMMDD.jsonl, rotated to
// audit_YYYYMMDD_NNN.jsonl by size, see [WithRotationSize]). It reads stores
// written by the reference Python implementation.
//
// Durability: see [Durability]; [Store.Flush] makes everything written
// so far durable.
//
// Crash safety: lines are only ever appended; a crash can at worst leave the
// last line of a file torn. Opening the store for writing cuts such a torn
// tail off (truncating the file to its last complete line), counts it in
// [storage.Stats].TornTails, logs a warning (file, offset, length, never the
// content) and records it in a signed recovery note, so the next append
// starts on a clean line. An acknowledged entry is never torn: Write returns
// after the whole line was written. Rewrites (Delete, the partially expired
// file of DeleteBefore, index files) go through a temp file, fsync, rename
// and a directory fsync. A line that is not a valid entry never stops reads
// of the others: it is skipped, counted in [storage.Stats].SkippedLines and
// logged (without its content).
//
// Indexes: every data file has an index in .index/ (id hash to offset, and a
// sparse time index), rebuilt from the data when missing or stale, so Read
// does not scan the store and range queries open only the files of the days
// in range and, within a file, only the blocks in range. Memory does not
// grow with the number of stored entries: the writer keeps an in-memory
// index only of the part of the files it appends to that is not yet in an
// index file (about half of a part, at most two thirds, see
// [WithRotationSize]). Index files are rewritten by a background
// goroutine, not in Write. One that cannot be written (a read-only or
// replaced .index directory) fails nothing: it is logged and counted in
// [storage.Stats].IndexFailures, and reads scan the data it would have
// covered. An index written by another process is checked against the
// data before it is used, and [Verify] reports one that does not
// describe its data ([ProblemIndexMismatch]).
//
// Tamper evidence: every entry written gets a [storage.Chain] (a per-writer hash
// chain); signed checkpoints are written to checkpoints.jsonl; see [Verify].
//
// Ids: Write appends; it does not check whether the id is already stored.
// If the same id is written twice, Count and range queries see both lines,
// Read returns one of them; each Delete removes the copies in one file.
//
// One Store at a time may write a directory (flock on .lock; a second
// one gets [ErrLocked]); any number of [WithReadOnly] ones may read it.
// All methods are safe for concurrent use. After Close every method but
// Close and Stats returns an error matching [storage.ErrClosed].
type Store struct {
	dir string
	cfg config // fixed after construction
	idx *indexCache
	key storage.Signer // fixed after construction; zero in read-only mode
	// writerID is this session's chain writer id, fixed once the session
	// has started (empty in read-only mode).
	writerID string

	lock *os.File // nil in read-only mode

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool

	// mu orders appends (and the hash chain), and guards the fields below.
	// File rewrites (rotation, Delete, DeleteBefore) also hold it. Readers
	// hold it only to open the files they read.
	mu       sync.Mutex
	active   map[string]*activePart // by day
	lru      []string               // days of active, least recently used first
	gen      uint64                 // incremented by every append
	dirty    map[*os.File]uint64    // files written since their last fsync
	chain    storage.Chainer
	cpSeq    uint64    // chain seq of the last checkpoint
	cpTime   time.Time // when the last checkpoint was written
	writeErr error     // sticky error of the background fsync, reported by Flush
	// recovery notes found before the session started
	pendingRecoveries []storage.RecoveryNote
	retired           []*os.File // closed parts waiting for their fsync
	wbuf              []byte     // append buffer, reused
	wrecs             []idxRec   // index records of wbuf, reused

	// group append (see submit)
	qMu     sync.Mutex
	queue   []*appendReq
	leading bool

	cpMu    sync.Mutex // serialises checkpoints
	notesMu sync.Mutex // serialises appends to checkpoints.jsonl (taken after mu)
	// guarded by notesMu: hash of the last line of checkpoints.jsonl
	lastNote  string
	notesInit bool

	listMu    sync.Mutex
	listCache []fileRef
	listMtime time.Time
	listValid bool

	// group commit
	syncMu    sync.Mutex
	syncCond  *sync.Cond
	syncing   bool
	syncedGen uint64

	accepted   atomic.Uint64
	skipped    atomic.Uint64
	torn       atomic.Uint64
	indexFails atomic.Uint64 // index files that could not be written (see indexFailed)
	warned     sync.Map      // file name -> struct{}: skipped lines already logged

	stop   chan struct{}
	bgDone chan struct{}
	// indexKick (capacity 1) asks the indexer goroutine to write the
	// index files that are due (see persistIndexes); idxDone is closed
	// when it has stopped.
	indexKick chan struct{}
	idxDone   chan struct{}
	// bgIndexes counts the index files persistIndexes put in place.
	bgIndexes atomic.Uint64
	// closing holds the parts rotation renamed whose full index the
	// indexer has not written yet (guarded by mu; see rotateLocked).
	closing []*activePart
	// holdIndexer, set by tests, makes persistIndexes do nothing.
	holdIndexer atomic.Bool
	// beforeIndexJobs, set by tests, is called by persistIndexes once it
	// has taken its jobs, before it does them (without mu).
	beforeIndexJobs atomic.Pointer[func()]
	// beforeSwap, set by tests before the Delete it is for, is called by
	// rewriteLocked (under mu) after the removal note, before the file is
	// replaced: a reader can then run between the two.
	beforeSwap func()
	// beforeCheckpointNote, set by tests, is called by checkpoint after
	// its fsyncs, before it appends its note (without mu).
	beforeCheckpointNote atomic.Pointer[func()]
	// lastDay caches the day of the entry written last (see writeDay).
	lastDay atomic.Pointer[dayName]
}

var (
	_ storage.Backend       = (*Store)(nil)
	_ storage.Flusher       = (*Store)(nil)
	_ storage.StatsReporter = (*Store)(nil)
	_ lend.Borrower         = (*Store)(nil)
)

// activePart is the unsuffixed file of a day, open for appending.
type activePart struct {
	day       string
	f         *os.File
	size      int64
	covered   int64    // bytes covered by the index file
	baseCount int      // records in the index file
	tail      []idxRec // records of [covered, size), in file order
	// skipped counts the non-blank lines of [covered, size) that are not
	// entries (found when the part was opened; a writer appends none):
	// the index counts them, so that its entries and skipped lines add
	// up to the lines it covers (see dataLines).
	skipped int
	// failedAt is len(tail) when writing its index last failed, 0 after
	// a success (see indexDue).
	failedAt int
	tailByID map[uint64]int32
	crc      uint32 // CRC-32C of [0, size), of the bytes written (see dataCRC)
	// closedName is the numbered name a rotated part was renamed to while
	// it waits in Store.closing; empty for an active part.
	closedName string
}

// name is the data file name of p: the day's unsuffixed name while it
// is active, its numbered name once rotated.
func (p *activePart) name() string {
	if p.closedName != "" {
		return p.closedName
	}
	return partName(p.day, 0)
}

// Stats returns the counters a file store keeps: Accepted, SkippedLines,
// TornTails and IndexFailures. It is safe to call at any time, also after
// Close.
func (s *Store) Stats() storage.Stats {
	return storage.Stats{Accepted: s.accepted.Load(), SkippedLines: s.skipped.Load(), TornTails: s.torn.Load(), IndexFailures: s.indexFails.Load()}
}

// indexFailed counts and logs a failure to write the index of data file
// name. An index is an optimisation: readers scan what no index covers,
// so the failure never fails a write, a Delete or Close.
func (s *Store) indexFailed(name string, err error) {
	s.indexFails.Add(1)
	s.cfg.logger.Warn("filestore: could not write index; reads scan the data instead", "file", name, "error", err)
}

// Dir returns the store directory.
func (s *Store) Dir() string { return s.dir }

// New opens (creating it, mode 0700, if needed) the store in dir
// for writing, or for reading only with [WithReadOnly]. Opening for writing
// takes an exclusive lock ([ErrLocked] if another writer holds it), cuts off
// torn tails left by a crash, builds missing indexes and starts a new
// writer session of the hash chain.
func New(dir string, opts ...Option) (*Store, error) {
	if dir == "" {
		return nil, errors.New("filestore: empty directory name")
	}
	cfg := newConfig(opts)
	s := &Store{
		dir:    dir,
		cfg:    cfg,
		idx:    &indexCache{dir: dir, maxLine: cfg.maxLineSize},
		active: make(map[string]*activePart),
		dirty:  make(map[*os.File]uint64),
	}
	s.indexKick = make(chan struct{}, 1)
	s.syncCond = sync.NewCond(&s.syncMu)
	if cfg.readOnly {
		fi, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("filestore: open %s read-only: %w", dir, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("filestore: %s is not a directory", dir)
		}
		return s, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("filestore: create %s: %w", dir, err)
	}
	// Without an index directory (something else in its place) the
	// store works, without index files: see indexFailed.
	indexDirErr := os.MkdirAll(filepath.Join(dir, indexDirName), 0o700)
	lf, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("filestore: open lock file: %w", err)
	}
	if err := lockFile(lf); err != nil {
		lf.Close()
		if errors.Is(err, errLockHeld) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("filestore: lock %s: %w", dir, err)
	}
	s.lock = lf
	if indexDirErr != nil {
		s.indexFailed(indexDirName, indexDirErr)
	}
	fail := func(err error) (*Store, error) {
		s.idx.closeAll()
		lf.Close()
		return nil, err
	}
	// Before the key: without one, loading it creates the store's own
	// key file, which a store signed with the user's key must not get.
	if err := checkKeyGiven(dir, cfg); err != nil {
		return fail(err)
	}
	key, err := loadCheckpointKey(dir, cfg)
	if err != nil {
		return fail(err)
	}
	if cfg.sameKey {
		if err := checkSameKey(dir, key); err != nil {
			return fail(err)
		}
	}
	s.key = key
	// Torn tails are noted (signed, fsynced) before they are cut off, so
	// that a crash in between cannot hide a cut.
	torn, err := s.findTornTails()
	if err != nil {
		return fail(err)
	}
	s.pendingRecoveries = torn
	if err := s.startSession(); err != nil {
		return fail(err)
	}
	if err := s.recover(); err != nil {
		return fail(err)
	}
	s.stop = make(chan struct{})
	s.bgDone = make(chan struct{})
	s.idxDone = make(chan struct{})
	go s.background()
	go s.indexer()
	return s, nil
}

// findTornTails returns a recovery note for every data file whose last
// line is incomplete, without changing anything.
func (s *Store) findTornTails() ([]storage.RecoveryNote, error) {
	refs, err := listDataFiles(s.dir)
	if err != nil {
		return nil, err
	}
	var notes []storage.RecoveryNote
	for _, ref := range refs {
		f, err := openStoreFile(filepath.Join(s.dir, ref.name), os.O_RDONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("filestore: open %s: %w", ref.name, err)
		}
		note, err := tornTail(f, ref.name, false)
		f.Close()
		if err != nil {
			return nil, err
		}
		if note != nil {
			notes = append(notes, *note)
		}
	}
	return notes, nil
}

// recover cuts torn tails off every data file (their notes are written)
// and builds missing indexes.
func (s *Store) recover() error {
	refs, err := listDataFiles(s.dir)
	if err != nil {
		return err
	}
	for _, ref := range refs {
		path := filepath.Join(s.dir, ref.name)
		f, err := openStoreFile(path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("filestore: open %s: %w", ref.name, err)
		}
		note, err := tornTail(f, ref.name, true)
		if err == nil && note != nil {
			s.torn.Add(1)
			s.cfg.logger.Warn("filestore: cut off torn last line left by a crash",
				"file", ref.name, "offset", note.Offset, "length", note.Length)
		}
		if err == nil {
			err = s.ensureIndex(ref.name, f)
			if errors.Is(err, errIndexWrite) {
				s.indexFailed(ref.name, err)
				err = nil
			}
		}
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// cutTornTail truncates f to its last '\n' if it does not end with one
// and returns what it cut (see tornTail).
func cutTornTail(f *os.File, name string) (*storage.RecoveryNote, error) {
	return tornTail(f, name, true)
}

// tornTail describes an incomplete last line of f and, if cut, truncates
// f to its last '\n'. A last line that lacks only its '\n' is not torn:
// it is a whole JSON object (a crash between a line and its newline, or a
// newline lost since), which no prefix of a line can be; nothing of it is
// cut (a signed note, an acknowledged entry, or evidence for Verify), and
// with cut the '\n' is appended. Neither returns a note.
func tornTail(f *os.File, name string, cut bool) (*storage.RecoveryNote, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	if size == 0 {
		return nil, nil
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return nil, err
	}
	if last[0] == '\n' {
		return nil, nil
	}
	// Find the last newline, reading backwards.
	end := size
	at := int64(0)
	buf := make([]byte, 64<<10)
	for end > 0 && at == 0 {
		from := max(0, end-int64(len(buf)))
		n, err := f.ReadAt(buf[:end-from], from)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		for i := n - 1; i >= 0; i-- {
			if buf[i] == '\n' {
				at = from + int64(i) + 1
				break
			}
		}
		end = from
	}
	if size-at <= storage.DefaultMaxLineSize {
		// Only a line a store could have written can be whole; a longer
		// tail is never held in memory.
		tail := make([]byte, size-at)
		if _, err := f.ReadAt(tail, at); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if tail[0] == '{' && json.Valid(tail) {
			if !cut {
				return nil, nil
			}
			if _, err := f.Seek(0, io.SeekEnd); err != nil {
				return nil, err
			}
			if _, err := f.Write([]byte{'\n'}); err != nil {
				return nil, fmt.Errorf("filestore: end the last line of %s: %w", name, err)
			}
			return nil, f.Sync()
		}
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, at, size-at)); err != nil {
		return nil, err
	}
	note := &storage.RecoveryNote{File: name, Offset: at, Length: size - at, SHA256: hex.EncodeToString(h.Sum(nil))}
	if !cut {
		return note, nil
	}
	if err := f.Truncate(at); err != nil {
		return nil, fmt.Errorf("filestore: truncate torn tail of %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	return note, nil
}

// ensureIndex builds and persists the index of a data file that has no
// valid one (or one that does not cover the whole file).
func (s *Store) ensureIndex(name string, f *os.File) error {
	li, err := s.idx.get(name, f)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		s.idx.release(li)
		return err
	}
	var recs []idxRec
	var crc uint32
	covered, skipped := int64(0), 0
	if li != nil {
		if li.hdr.covered == fi.Size() {
			s.idx.release(li)
			return nil
		}
		recs, err = li.records()
		covered, skipped, crc = li.hdr.covered, li.hdr.skipped, li.hdr.dataCRC
		s.idx.release(li)
		if err != nil {
			recs, covered, skipped, crc = nil, 0, 0, 0
		}
	}
	more, sk, end, err := s.scanRecords(f, covered, fi.Size())
	if err != nil {
		return fmt.Errorf("filestore: index %s: %w", name, err)
	}
	recs = append(recs, more...)
	return s.writeIndex(name, f, recs, end, skipped+sk, crc, covered)
}

// scanRecords reads the index records of the complete lines of [from, to).
// It returns the end of the last complete line.
func (s *Store) scanRecords(f io.ReaderAt, from, to int64) ([]idxRec, int, int64, error) {
	var recs []idxRec
	skipped := 0
	end := from
	long := func(off, n int64) { end, skipped = off+n+1, skipped+1 }
	_, err := scanBounded(f, from, to, s.cfg.maxLineSize, func(off int64, line []byte) error {
		end = off + int64(len(line)) + 1
		if isBlank(line) {
			return nil
		}
		id, ts, ok := lineInfo(line)
		if !ok {
			skipped++
			return nil
		}
		recs = append(recs, idxRec{hash: idHash(id), off: off, len: uint32(len(line)), ts: ts})
		return nil
	}, long)
	return recs, skipped, end, err
}

// errIndexWrite is matched by the error of writing an index file (not of
// reading the data it is built from): see indexFailed.
var errIndexWrite = errors.New("filestore: write index")

// writeIndex persists the index of data file name (open as f) covering
// [0, covered).
// crc is the CRC-32C of the data's bytes [0, from) when the caller knows
// it (from 0: nothing known); the rest is read from f.
func (s *Store) writeIndex(name string, f io.ReaderAt, recs []idxRec, covered int64, skipped int, crc uint32, from int64) error {
	if from > covered {
		crc, from = 0, 0
	}
	crc, err := dataCRC(f, crc, from, covered)
	if err != nil {
		return fmt.Errorf("filestore: index %s: %w", name, err)
	}
	data := encodeIndex(recs, covered, crc, skipped)
	if err := writeFileAtomic(indexPath(s.dir, name), data); err != nil {
		// What was there (if anything) no longer comes from this Store.
		s.idx.distrust(name)
		return fmt.Errorf("%w of %s: %w", errIndexWrite, name, err)
	}
	s.idx.invalidate(name)
	s.idx.trust(name)
	return nil
}

// pendingLine is an entry encoded outside the lock, before chaining.
type pendingLine struct {
	prefix []byte  // wire form without the closing '}'
	buf    *[]byte // pooled buffer holding prefix
	day    string
	id     string
	ts     int64
	// digest is storage.PrefixDigest(prefix), computed by the writing
	// goroutine before it queues the line, so that the chain step under
	// mu hashes only the line's position and this digest, not the line.
	digest [32]byte
}

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func (s *Store) checkUsable(ctx context.Context) error {
	if s.closed.Load() {
		return storage.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	return nil
}

// Write appends e to the file of its UTC day. Its Chain ([storage.Chain]) is ignored and
// replaced by the store's own. When Write returns nil the entry has been
// written to the operating system (and fsynced, under [DurabilitySync]). An
// invalid entry yields an error matching [storage.ErrInvalidEntry] and nothing is
// written. A ctx that ends after the write began does not undo it.
func (s *Store) Write(ctx context.Context, e *storage.AuditEntry) error {
	return s.WriteBatch(ctx, []*storage.AuditEntry{e})
}

// WriteBatch writes es in order, in as few write(2) calls as possible (one
// per run of entries of the same day), and under [DurabilitySync] with one
// fsync. If any entry is invalid nothing is written. If writing fails
// midway, the entries before the failing run are stored (and chained) and
// the error is returned.
func (s *Store) WriteBatch(ctx context.Context, es []*storage.AuditEntry) error {
	if err := s.checkUsable(ctx); err != nil {
		return err
	}
	if s.cfg.readOnly {
		return ErrReadOnly
	}
	if len(es) == 0 {
		return nil
	}
	// A single entry (Write) needs no slice of its own: its line lives in
	// the request.
	req := &appendReq{}
	lines := req.one[:]
	if len(es) > 1 {
		lines = make([]pendingLine, len(es))
	}
	req.lines = lines
	defer func() {
		for i := range lines {
			if lines[i].buf != nil {
				*lines[i].buf = lines[i].prefix[:0]
				linePool.Put(lines[i].buf)
			}
		}
	}()
	for i, e := range es {
		if e == nil {
			return fmt.Errorf("%w: nil entry at index %d", storage.ErrInvalidEntry, i)
		}
		bp := linePool.Get().(*[]byte)
		b, err := e.AppendPrefix((*bp)[:0])
		if err == nil {
			err = storage.CheckLineSize(e.ID, len(b)+storage.MaxChainSuffix(s.writerID), s.cfg.maxLineSize)
		}
		if err != nil {
			*bp = b[:0]
			linePool.Put(bp)
			return err
		}
		ts := e.Timestamp.UTC()
		lines[i] = pendingLine{prefix: b, buf: bp, day: s.writeDay(ts), id: e.ID, ts: clampNano(ts), digest: storage.PrefixDigest(b)}
	}
	gen, err := s.submit(req)
	if err == nil && s.cfg.durability == DurabilitySync {
		err = s.waitSynced(gen)
	}
	if err == nil {
		s.accepted.Add(uint64(len(es)))
	}
	return err
}

// writeDay is dayOf(ts) for a UTC ts, without formatting (and allocating)
// the name again for every entry of the day written last.
func (s *Store) writeDay(ts time.Time) string {
	if d := s.lastDay.Load(); d != nil && !ts.Before(d.start) && ts.Before(d.end) {
		return d.name
	}
	y, m, dd := ts.Date()
	start := time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)
	d := &dayName{start: start, end: start.AddDate(0, 0, 1), name: dayOf(ts)}
	s.lastDay.Store(d)
	return d.name
}

// dayName is the file day of the UTC times in [start, end).
type dayName struct {
	start, end time.Time
	name       string
}

// appendReq is one Write or WriteBatch waiting to be appended.
type appendReq struct {
	lines []pendingLine
	one   [1]pendingLine // lines of a single-entry request
	gen   uint64
	err   error
	// state is reqWaiting while the request waits for a leader, then
	// reqDone (gen and err are set) or reqLead (it leads the next round);
	// reqParked while it sleeps on done. See await and signal.
	state atomic.Uint32
	// done (buffered, 1) wakes a parked request; the request makes it
	// just before it parks, so a request that never parks allocates no
	// channel.
	done chan struct{}
}

// States of an appendReq.
const (
	reqWaiting uint32 = iota
	reqDone
	reqLead
	reqParked
)

// awaitSpin is how long a waiting request yields its processor
// (runtime.Gosched) and checks its state before it parks. One round of a
// leader, for a few entries, takes some microseconds, while waking a
// parked goroutine takes about as long again (on a virtual machine often
// tens of microseconds: the waker only queues it, another thread must
// wake up and steal it), on the path of every Write that met a leader.
// Yielding rather than spinning leaves the processor to any other
// goroutine that can run, the leader included. Every waiting request
// yields, not only the first one queued: with two writers the second one
// often queues behind the first one's own request (the leader's, or one
// just handed the lead, still in the queue), and with many writers the
// ones behind are woken together at the end of the round; parking at
// once made both wait for a wake-up (BenchmarkLoggerLogEncrypted
// parallel/ and many/, alternating pairs, see docs/performance.md).
const awaitSpin = 50 * time.Microsecond

// await waits until a leader has appended req (reqDone) or handed it the
// lead (reqLead), and returns which. It yields for up to awaitSpin before
// it parks.
func (req *appendReq) await() uint32 {
	for start := time.Now(); ; {
		if st := req.state.Load(); st != reqWaiting {
			return st
		}
		if time.Since(start) > awaitSpin {
			break
		}
		runtime.Gosched()
	}
	req.done = make(chan struct{}, 1)
	if req.state.CompareAndSwap(reqWaiting, reqParked) {
		<-req.done
	}
	return req.state.Load()
}

// signal sets the state of a waiting req to st (reqDone or reqLead) and
// wakes it if it has parked. req must not be touched afterwards: it may
// have returned.
func (req *appendReq) signal(st uint32) {
	if req.state.CompareAndSwap(reqWaiting, st) {
		return
	}
	done := req.done // set before it parked (the CAS above saw reqParked)
	req.state.Store(st)
	done <- struct{}{}
}

// submit appends lines. Concurrent callers are combined (group append):
// one of them, the leader, takes every request queued meanwhile and
// appends them all under one acquisition of mu, with one write(2) per run
// of entries of the same day; then it hands leadership to the first
// request queued during its round. Each request learns its own result.
// A waiting request yields briefly before it sleeps (see awaitSpin).
func (s *Store) submit(req *appendReq) (uint64, error) {
	lines := req.lines
	s.qMu.Lock()
	s.queue = append(s.queue, req)
	if s.leading {
		s.qMu.Unlock()
		if req.await() == reqDone {
			return req.gen, req.err
		}
	} else {
		s.leading = true
		s.qMu.Unlock()
	}
	s.qMu.Lock()
	batch, q := s.queue, s.queue
	s.queue = nil
	var single [1]*appendReq
	if len(q) == 1 {
		// The usual case without contention: keep the queue's array for
		// the next round (batch no longer points into it).
		single[0] = q[0]
		s.queue = q[:0]
		batch = single[:]
	}
	s.qMu.Unlock()

	s.mu.Lock()
	if s.closed.Load() {
		for _, r := range batch {
			r.err = storage.ErrClosed
		}
	} else {
		all := lines
		if len(batch) > 1 {
			all = make([]pendingLine, 0, len(batch)*len(lines))
			for _, r := range batch {
				all = append(all, r.lines...)
			}
		}
		gen, n, err := s.appendLocked(all)
		off := 0
		for _, r := range batch {
			off += len(r.lines)
			r.gen = gen
			if off > n {
				r.err = err
			}
		}
	}
	s.mu.Unlock()

	s.qMu.Lock()
	if len(s.queue) > 0 {
		s.queue[0].signal(reqLead)
	} else {
		s.leading = false
	}
	s.qMu.Unlock()
	gen, err := req.gen, req.err
	for _, r := range batch {
		if r != req {
			r.signal(reqDone)
		}
	}
	return gen, err
}

// appendLocked chains and appends lines. It returns the write generation
// that covers them and how many of them were written (all unless err).
func (s *Store) appendLocked(lines []pendingLine) (uint64, int, error) {
	buf, recs := s.wbuf[:0], s.wrecs[:0]
	defer func() {
		if cap(buf) <= 4<<20 {
			s.wbuf, s.wrecs = buf[:0], recs[:0]
		} else {
			s.wbuf, s.wrecs = nil, nil
		}
	}()
	var part *activePart
	written, pending := 0, 0
	ch := s.chain // tentative; committed after each successful write
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if err := s.writePart(part, buf, recs); err != nil {
			ch = s.chain
			return err
		}
		s.chain = ch
		written += pending
		buf, recs, pending = buf[:0], recs[:0], 0
		return nil
	}
	fail := func(err error) (uint64, int, error) {
		if written > 0 {
			s.gen++
		}
		return s.gen, written, err
	}
	for i := range lines {
		l := &lines[i]
		if part == nil || part.day != l.day {
			if err := flush(); err != nil {
				return fail(err)
			}
			p, err := s.openPartLocked(l.day)
			if err != nil {
				return fail(err)
			}
			part = p
		}
		lineLen := int64(len(l.prefix) + storage.MaxChainSuffix(ch.Writer()))
		if rs := s.cfg.rotationSize; rs > 0 && part.size+int64(len(buf)) > 0 && part.size+int64(len(buf))+lineLen+1 > rs {
			if err := flush(); err != nil {
				return fail(err)
			}
			if part.size > 0 {
				p, err := s.rotateLocked(part)
				if err != nil {
					return fail(err)
				}
				part = p
			}
		}
		start := len(buf)
		buf = ch.AppendLineDigest(buf, l.prefix, &l.digest)
		recs = append(recs, idxRec{hash: idHash(l.id), off: part.size + int64(start), len: uint32(len(buf) - start - 1), ts: l.ts})
		pending++
	}
	if err := flush(); err != nil {
		return fail(err)
	}
	s.gen++
	return s.gen, written, nil
}

// writePart appends buf (whole lines) to part. On failure it truncates the
// file back so that no partial line stays behind.
func (s *Store) writePart(p *activePart, buf []byte, recs []idxRec) error {
	if _, err := p.f.Write(buf); err != nil {
		if terr := p.f.Truncate(p.size); terr != nil {
			// The file may now end in a partial line; close it so that
			// the next open cuts it off before appending.
			s.closePartLocked(p, false)
		}
		return fmt.Errorf("filestore: append to %s: %w", partName(p.day, 0), err)
	}
	p.size += int64(len(buf))
	p.crc = crc32.Update(p.crc, castagnoli, buf)
	for _, r := range recs {
		p.tailByID[r.hash] = int32(len(p.tail))
		p.tail = append(p.tail, r)
	}
	s.dirty[p.f] = s.gen + 1
	if n := indexDue(p); len(p.tail) >= 2*n {
		// The background has not kept up: bound the memory here.
		if err := s.persistPartIndexLocked(p, partName(p.day, 0)); err != nil {
			s.indexFailed(partName(p.day, 0), err)
		}
	} else if len(p.tail) >= n {
		s.kickIndexer()
	}
	return nil
}

// indexDue is how many unindexed records an active part collects before
// its index file is rewritten: at least 8,192 and at least as many as the
// index file holds, so that rewriting it costs O(1) per entry. The indexer
// goroutine writes it (see persistIndexes); a writer does so itself only
// at twice as many, when the indexer has fallen behind. After a failed
// attempt, it is twice the records then in memory (failedAt), so that an
// index that cannot be written (see indexFailed) costs O(1) per entry
// too, not an attempt per Write.
func indexDue(p *activePart) int { return max(8192, p.baseCount, 2*p.failedAt) }

// persistIndexes writes the index files of the active parts whose
// unindexed tail is due, doing the costly part (merging, encoding,
// writing and fsyncing a temp file) without holding mu, so that writers
// keep appending meanwhile. Under mu it only renames the temp file into
// place and drops the records it covers from memory, and only if the part
// is still active and nobody indexed it meanwhile (rotation, Delete,
// DeleteBefore and Close write their own index under mu); otherwise the
// temp file is removed and the next round tries again. Neither the temp
// file nor the directory is fsynced: if a crash loses the rename, the
// previous index (still valid: data files are append-only) stays, and if
// it loses the file's bytes, the index fails its checks on load; either
// way opening the store indexes the rest from the data.
func (s *Store) persistIndexes() {
	type job struct {
		p                *activePart
		covered, size    int64
		crc              uint32
		tail             []idxRec
		baseCount, tailN int
		skipped          int
	}
	if s.holdIndexer.Load() {
		return
	}
	var jobs []job
	s.mu.Lock()
	for _, p := range s.closing {
		n := len(p.tail) // a closed part's tail no longer grows
		jobs = append(jobs, job{p: p, covered: p.covered, size: p.size, crc: p.crc, tail: p.tail[:n:n], baseCount: p.baseCount, tailN: n, skipped: p.skipped})
	}
	for _, p := range s.active {
		if len(p.tail) >= indexDue(p) {
			// tail[:n] is never written again: appends go past it, and
			// whoever indexes p under mu replaces p.tail.
			n := len(p.tail)
			jobs = append(jobs, job{p: p, covered: p.covered, size: p.size, crc: p.crc, tail: p.tail[:n:n], baseCount: p.baseCount, tailN: n, skipped: p.skipped})
		}
	}
	s.mu.Unlock()
	if hook := s.beforeIndexJobs.Load(); hook != nil {
		(*hook)()
	}
	for _, j := range jobs {
		name := j.p.name()
		closed := j.p.closedName != ""
		// current reports (under mu) whether the job is still to be
		// done: its part still active (or still waiting in closing) and
		// nobody indexed it meanwhile (see the doc above).
		current := func() bool {
			owner := s.active[j.p.day] == j.p
			if closed {
				owner = slices.Contains(s.closing, j.p)
			}
			return !s.closed.Load() && owner && j.p.covered == j.covered && len(j.p.tail) >= j.tailN
		}
		tmp, recs, err := s.writeIndexTemp(name, j.p.f, j.covered, j.size, j.crc, j.tail, j.skipped)
		if err != nil {
			s.mu.Lock()
			// A job that Delete, DeleteBefore, rotation or Close did
			// meanwhile under mu fails here too (their index replaced
			// the one it builds on): nothing is wrong, nothing to retry.
			cur := current()
			if cur && closed {
				// Its index covers [0, covered): readers scan the rest,
				// and opening the store indexes it.
				s.takeClosingLocked(j.p)
			} else if cur {
				j.p.failedAt = j.tailN
			}
			s.mu.Unlock()
			if cur {
				s.indexFailed(name, err)
			}
			continue
		}
		s.mu.Lock()
		if !current() {
			s.mu.Unlock()
			os.Remove(tmp)
			continue
		}
		if err := os.Rename(tmp, indexPath(s.dir, name)); err != nil {
			if closed {
				s.takeClosingLocked(j.p)
			} else {
				j.p.failedAt = j.tailN
			}
			s.mu.Unlock()
			os.Remove(tmp)
			s.indexFailed(name, err)
			continue
		}
		s.idx.invalidate(name)
		s.idx.trust(name)
		p := j.p
		p.covered, p.baseCount, p.skipped, p.failedAt = j.size, recs, 0, 0 // a writer appends no skipped lines
		p.tail = slices.Clone(p.tail[j.tailN:])
		clear(p.tailByID)
		for i, r := range p.tail {
			p.tailByID[r.hash] = int32(i)
		}
		if closed {
			s.takeClosingLocked(p)
		}
		s.bgIndexes.Add(1)
		s.mu.Unlock()
	}
}

// writeIndexTemp writes the index of data file name (open as f) covering
// [0, size) to a temp file in the index directory: the records of
// its index file, which must cover [0, covered), followed by tail. crc is
// the CRC-32C of the data's [0, size), and skipped the lines of [covered,
// size) that are not entries. It returns the temp file's path and the
// number of records.
func (s *Store) writeIndexTemp(name string, f *os.File, covered, size int64, crc uint32, tail []idxRec, skipped int) (string, int, error) {
	recs := tail
	if covered > 0 {
		li, err := s.idx.get(name, f)
		if err != nil {
			return "", 0, err
		}
		if li == nil || li.hdr.covered != covered {
			s.idx.release(li)
			return "", 0, fmt.Errorf("index of %s no longer covers %d bytes", name, covered)
		}
		old, err := li.records()
		skipped += li.hdr.skipped
		s.idx.release(li)
		if err != nil {
			return "", 0, err
		}
		recs = append(old, tail...)
	}
	data := encodeIndex(recs, size, crc, skipped)
	t, err := os.CreateTemp(filepath.Join(s.dir, indexDirName), ".tmp-*")
	if err != nil {
		return "", 0, err
	}
	// Not fsynced: an index file is checked in full (header, records CRC,
	// data CRC) whenever a process loads one it did not write itself, so
	// one that a crash left empty or torn is rebuilt from the data, never
	// trusted. An fsync here, which can take 100 ms under I/O load, would
	// only let the writers outrun the indexer.
	_, err = t.Write(data) // CreateTemp makes the file 0600
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(t.Name())
		return "", 0, err
	}
	return t.Name(), len(recs), nil
}

// openPartLocked returns the active part of day, opening it if needed.
func (s *Store) openPartLocked(day string) (*activePart, error) {
	if p := s.active[day]; p != nil {
		if i := slices.Index(s.lru, day); i >= 0 && i != len(s.lru)-1 {
			s.lru = append(slices.Delete(s.lru, i, i+1), day)
		}
		return p, nil
	}
	for len(s.active) >= s.cfg.maxOpenFiles && len(s.lru) > 0 {
		old := s.active[s.lru[0]]
		if len(old.tail) > 0 {
			if err := s.persistPartIndexLocked(old, partName(old.day, 0)); err != nil {
				s.indexFailed(partName(old.day, 0), err)
			}
		}
		s.retirePartLocked(old)
	}
	name := partName(day, 0)
	path := filepath.Join(s.dir, name)
	_, statErr := os.Stat(path)
	f, err := openStoreFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("filestore: open %s: %w", name, err)
	}
	if statErr != nil {
		s.invalidateList()
		if err := syncDir(s.dir); err != nil {
			f.Close()
			return nil, fmt.Errorf("filestore: sync dir: %w", err)
		}
	}
	note, err := tornTail(f, name, false)
	if err == nil && note != nil {
		// Another process wrote a partial line (we hold the lock, so it
		// did not take it): note it, then cut it off.
		s.torn.Add(1)
		s.cfg.logger.Warn("filestore: cut off torn last line", "file", name, "offset", note.Offset, "length", note.Length)
		if err = s.recordRecoveries([]storage.RecoveryNote{*note}); err == nil {
			_, err = tornTail(f, name, true)
		}
	} else if err == nil {
		_, err = tornTail(f, name, true) // ends a whole last line that lacks its '\n'
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	p := &activePart{day: day, f: f, size: fi.Size(), tailByID: make(map[uint64]int32)}
	li, _ := s.idx.get(name, f)
	if li != nil {
		p.covered, p.baseCount, p.crc = li.hdr.covered, int(li.hdr.count), li.hdr.dataCRC
		s.idx.release(li)
	}
	if p.crc, err = dataCRC(f, p.crc, p.covered, p.size); err != nil {
		f.Close()
		return nil, fmt.Errorf("filestore: read %s: %w", name, err)
	}
	tail, skipped, _, err := s.scanRecords(f, p.covered, p.size)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("filestore: read %s: %w", name, err)
	}
	p.skipped = skipped
	for _, r := range tail {
		p.tailByID[r.hash] = int32(len(p.tail))
		p.tail = append(p.tail, r)
	}
	s.active[day] = p
	s.lru = append(s.lru, day)
	return p, nil
}

// persistPartIndexLocked writes the index of the active part p under name
// (its current name, or the name it is about to be renamed to).
func (s *Store) persistPartIndexLocked(p *activePart, name string) error {
	recs := p.tail
	skipped := 0
	if p.covered > 0 {
		li, err := s.idx.get(p.name(), p.f)
		if err != nil {
			return err
		}
		var old []idxRec
		if li != nil && li.hdr.covered == p.covered {
			old, err = li.records()
			skipped = li.hdr.skipped
		}
		s.idx.release(li)
		if li == nil || li.hdr.covered != p.covered || err != nil {
			// The index vanished or changed under us: rebuild from data.
			old, skipped, _, err = s.scanRecords(p.f, 0, p.covered)
			if err != nil {
				return err
			}
		}
		recs = append(old, p.tail...)
	}
	// p.crc is the CRC of what this Store wrote (and of what it found when
	// it opened the part), not of what the file holds now: damage done
	// behind its back makes the index stale instead of blessing it.
	if err := s.writeIndex(name, p.f, recs, p.size, skipped+p.skipped, p.crc, p.size); err != nil {
		p.failedAt = len(p.tail)
		return err
	}
	p.covered, p.baseCount, p.tail, p.skipped, p.failedAt = p.size, len(recs), nil, 0, 0
	clear(p.tailByID)
	return nil
}

// closePartLocked persists the index of p (if persist), fsyncs and closes
// it. An index that cannot be written is counted, not returned (see
// indexFailed): readers scan what the index file does not cover.
func (s *Store) closePartLocked(p *activePart, persist bool) error {
	var errs []error
	if persist && len(p.tail) > 0 {
		if err := s.persistPartIndexLocked(p, partName(p.day, 0)); err != nil {
			s.indexFailed(partName(p.day, 0), err)
		}
	}
	if err := p.f.Sync(); err != nil {
		errs = append(errs, fmt.Errorf("filestore: fsync %s: %w", partName(p.day, 0), err))
	}
	delete(s.dirty, p.f)
	if err := p.f.Close(); err != nil {
		errs = append(errs, err)
	}
	s.unlistLocked(p)
	return errors.Join(errs...)
}

// retirePartLocked stops appending to p; the background sync fsyncs and
// closes its file (so that rotation does not wait for an fsync).
func (s *Store) retirePartLocked(p *activePart) {
	s.retired = append(s.retired, p.f)
	if _, ok := s.dirty[p.f]; !ok {
		s.dirty[p.f] = s.gen
	}
	if s.active[p.day] == p { // a rotated part (see rotateLocked) is no longer active
		s.unlistLocked(p)
	}
}

// unlistLocked takes the active part p out of the active set and the LRU
// order of open parts.
func (s *Store) unlistLocked(p *activePart) {
	delete(s.active, p.day)
	if i := slices.Index(s.lru, p.day); i >= 0 {
		s.lru = slices.Delete(s.lru, i, i+1)
	}
}

// kickIndexer wakes the indexer goroutine (see persistIndexes) unless a
// wake-up is pending already.
func (s *Store) kickIndexer() {
	select {
	case s.indexKick <- struct{}{}:
	default:
	}
}

// takeClosingLocked removes p from the rotated parts waiting for their
// index (closing) and retires it. It reports whether p was there.
func (s *Store) takeClosingLocked(p *activePart) bool {
	i := slices.Index(s.closing, p)
	if i < 0 {
		return false
	}
	s.closing = slices.Delete(s.closing, i, i+1)
	s.retirePartLocked(p)
	return true
}

// finishClosingLocked writes, under mu, the full index of every rotated
// part the indexer has not indexed yet and retires it, for those that
// rewrite or remove closed parts (Delete, DeleteBefore) and for Close.
func (s *Store) finishClosingLocked() {
	for _, p := range s.closing {
		if err := s.persistPartIndexLocked(p, p.closedName); err != nil {
			// Its index covers [0, covered); readers scan the rest.
			s.indexFailed(p.closedName, err)
		}
		s.retirePartLocked(p)
	}
	s.closing = nil
}

// rotateLocked renames the active part of p's day to the next numbered
// part and opens a fresh unsuffixed file.
func (s *Store) rotateLocked(p *activePart) (*activePart, error) {
	refs, err := listDataFiles(s.dir)
	if err != nil {
		return nil, err
	}
	next := 1
	for _, r := range refs {
		if r.day == p.day && r.part >= next {
			next = r.part + 1
		}
	}
	oldName, newName := partName(p.day, 0), partName(p.day, next)
	if ref, ok := parseFileName(newName); !ok || ref.part != next {
		// A part numbered at the top of int (a file planted, or damage)
		// leaves no next number: renaming to one that overflowed would
		// hide the part from every reader.
		return nil, fmt.Errorf("filestore: rotate %s: no part number left after %s", oldName, partName(p.day, next-1))
	}
	// The full index of the closed part is written by the indexer (see
	// persistIndexes), not here under mu: until then the index of its
	// first p.covered bytes, moved to the new name, and p.tail in memory
	// (see lookupTailLocked) serve readers. The index moves first: a
	// crash before the data's rename leaves an index that matches no file
	// (ignored), never a file with a wrong one; a crash before the
	// indexer's leaves an index that covers a prefix, and the rest is
	// indexed from the data when the store opens.
	if p.covered > 0 {
		if err := os.Rename(indexPath(s.dir, oldName), indexPath(s.dir, newName)); err != nil && !errors.Is(err, os.ErrNotExist) {
			// Not a reason to stop writing: readers scan the closed part
			// (no index has its name), and an index left under the old
			// name covers more than the new part holds, or data it does
			// not hold, so it is ignored (see indexCache.load).
			s.indexFailed(newName, err)
			os.Remove(indexPath(s.dir, oldName))
		}
	} else {
		os.Remove(indexPath(s.dir, newName)) // left by a crash, if any
		os.Remove(indexPath(s.dir, oldName)) // stale: it covers nothing
	}
	s.idx.rename(oldName, newName)
	if err := os.Rename(filepath.Join(s.dir, oldName), filepath.Join(s.dir, newName)); err != nil {
		return nil, fmt.Errorf("filestore: rotate %s: %w", oldName, err)
	}
	s.invalidateList()
	if err := syncDir(s.dir); err != nil {
		return nil, err
	}
	s.unlistLocked(p)
	p.closedName = newName
	s.closing = append(s.closing, p)
	s.kickIndexer()
	return s.openPartLocked(p.day)
}

// waitSynced returns once everything up to write generation gen is
// fsynced. Concurrent callers share one fsync (group commit): one of them
// syncs all dirty files while the others wait for it.
func (s *Store) waitSynced(gen uint64) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	for s.syncedGen < gen {
		if s.syncing {
			s.syncCond.Wait()
			continue
		}
		s.syncing = true
		s.syncMu.Unlock()
		upTo, err := s.syncDirty()
		s.syncMu.Lock()
		s.syncing = false
		if err == nil && upTo > s.syncedGen {
			s.syncedGen = upTo
		}
		s.syncCond.Broadcast()
		if err != nil {
			return err
		}
	}
	return nil
}

// syncDirty fsyncs every file written since its last fsync and returns the
// write generation now durable.
func (s *Store) syncDirty() (uint64, error) {
	s.mu.Lock()
	upTo := s.gen
	files := make([]*os.File, 0, len(s.dirty))
	for f := range s.dirty {
		files = append(files, f)
	}
	clear(s.dirty)
	retired := s.retired
	s.retired = nil
	s.mu.Unlock()
	var errs []error
	for _, f := range files {
		// A file closed meanwhile was fsynced by whoever closed it.
		if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, fmt.Errorf("filestore: fsync %s: %w", filepath.Base(f.Name()), err))
		}
	}
	if len(errs) == 0 {
		for _, f := range retired {
			if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
				errs = append(errs, err)
			}
		}
	} else {
		s.mu.Lock()
		s.retired = append(s.retired, retired...)
		s.mu.Unlock()
	}
	if len(errs) > 0 {
		// Put them back so that the next sync retries.
		s.mu.Lock()
		for _, f := range files {
			s.dirty[f] = upTo
		}
		s.mu.Unlock()
		return 0, errors.Join(errs...)
	}
	return upTo, nil
}

// indexer writes index files when writers ask (indexKick), in a goroutine
// of its own so that a slow fsync of the data in background does not hold
// it up.
func (s *Store) indexer() {
	defer close(s.idxDone)
	for {
		select {
		case <-s.stop:
			return
		case <-s.indexKick:
			s.persistIndexes()
		}
	}
}

// background fsyncs dirty files every sync interval and writes periodic
// checkpoints.
func (s *Store) background() {
	defer close(s.bgDone)
	t := time.NewTicker(s.cfg.syncInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.mu.Lock()
			gen := s.gen
			s.mu.Unlock()
			err := s.waitSynced(gen)
			if err == nil {
				err = s.maybeCheckpoint(false)
			}
			if err != nil {
				s.mu.Lock()
				s.writeErr = err
				s.mu.Unlock()
				s.cfg.logger.Error("filestore: background fsync failed", "dir", s.dir, "error", err)
			}
		}
	}
}

// Flush makes every entry written so far durable (fsync) and writes a
// signed checkpoint of the chain head. It reports a failure of an earlier
// background fsync once. On a read-only store it does nothing.
func (s *Store) Flush(ctx context.Context) error {
	if err := s.checkUsable(ctx); err != nil {
		return err
	}
	return s.flush()
}

func (s *Store) flush() error {
	if s.cfg.readOnly {
		return nil
	}
	s.mu.Lock()
	gen := s.gen
	werr := s.writeErr
	s.writeErr = nil
	s.mu.Unlock()
	if err := s.waitSynced(gen); err != nil {
		return err
	}
	if err := s.maybeCheckpoint(true); err != nil {
		return err
	}
	return werr
}

// Close flushes (fsync, final signed checkpoint), writes the indexes of
// the files it appended to, closes them and releases the lock. It is
// idempotent: later calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.cfg.readOnly {
			s.closed.Store(true)
			s.idx.closeAll()
			return
		}
		close(s.stop)
		<-s.bgDone
		<-s.idxDone
		var errs []error
		s.mu.Lock()
		gen := s.gen
		s.mu.Unlock()
		if err := s.waitSynced(gen); err != nil {
			errs = append(errs, err)
		}
		s.mu.Lock()
		s.closed.Store(true)
		if s.writeErr != nil {
			errs = append(errs, s.writeErr)
		}
		s.mu.Unlock()
		// No write can start any more (closed is set under mu).
		if err := s.checkpoint(true); err != nil {
			errs = append(errs, err)
		}
		s.mu.Lock()
		s.finishClosingLocked()
		for len(s.lru) > 0 {
			if err := s.closePartLocked(s.active[s.lru[0]], true); err != nil {
				errs = append(errs, err)
			}
		}
		for _, f := range s.retired {
			if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
				errs = append(errs, err)
			}
			f.Close()
		}
		s.retired = nil
		s.mu.Unlock()
		s.idx.closeAll()
		if s.lock != nil {
			unlockFile(s.lock)
			if err := s.lock.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// BorrowEntries is for otelaudit.Logger, which alone can call it (its
// argument's type is internal to this module): it returns s, marking s as
// a backend that keeps nothing of an entry once Write or WriteBatch
// returned (they encode each entry into a line buffer of the store's own
// before they return, and keep only that and the entry's id). See
// internal/lend.
func (s *Store) BorrowEntries(lend.Token) any { return s }
