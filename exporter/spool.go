package exporter

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/otelaudit/otelaudit-go/storage"
)

// DefaultSpoolSegmentEntries is how many entries (10,000) a spool segment
// file holds before the next one is started.
const DefaultSpoolSegmentEntries = 10000

const (
	spoolPrefix = "spool-"
	spoolSuffix = ".jsonl"
)

// spool is an append-only local store of entries the queue could not take.
// Entries are kept in numbered segment files (spool-<seq>.jsonl, mode 0600,
// in a 0700 directory) in the wire format: already hashed or encrypted, as
// they would be in the backend. Segments are replayed oldest first and
// removed once every entry in them is in the backend.
//
// mu protects cur, curN, seq and pending; segments holds the closed
// segments waiting for replay, oldest first.
type spool struct {
	dir string

	mu       sync.Mutex
	cur      *os.File
	curN     int
	seq      uint64
	segments []string
	pending  int64 // entries in the spool (closed segments + cur)
}

func openSpool(dir string) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("exporter: spool dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("exporter: spool dir: %w", err)
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("exporter: spool dir: %w", err)
	}
	s := &spool{dir: dir}
	for _, d := range names {
		n := d.Name()
		if !strings.HasPrefix(n, spoolPrefix) || !strings.HasSuffix(n, spoolSuffix) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(n, spoolPrefix), spoolSuffix), 10, 64)
		if err != nil {
			continue
		}
		s.segments = append(s.segments, n)
		s.seq = max(s.seq, seq)
		// Left from an earlier run: count its lines as pending.
		if c, err := countLines(filepath.Join(dir, n)); err == nil {
			s.pending += int64(c)
		}
	}
	slices.Sort(s.segments) // fixed-width numbers sort in order
	return s, nil
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	buf := make([]byte, 64<<10)
	for {
		k, err := f.Read(buf)
		for _, b := range buf[:k] {
			if b == '\n' {
				n++
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func segName(seq uint64) string {
	return fmt.Sprintf("%s%020d%s", spoolPrefix, seq, spoolSuffix)
}

// append writes es to the current segment (written to the OS before it
// returns).
func (s *spool) append(es []*storage.AuditEntry) error {
	var buf []byte
	for _, e := range es {
		var err error
		if buf, err = e.AppendJSON(buf); err != nil {
			return err
		}
		buf = append(buf, '\n')
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		s.seq++
		f, err := os.OpenFile(filepath.Join(s.dir, segName(s.seq)), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("exporter: spool: %w", err)
		}
		s.cur, s.curN = f, 0
	}
	if _, err := s.cur.Write(buf); err != nil {
		return fmt.Errorf("exporter: spool: %w", err)
	}
	s.curN += len(es)
	s.pending += int64(len(es))
	if s.curN >= DefaultSpoolSegmentEntries {
		return s.sealLocked()
	}
	return nil
}

// sealLocked closes the current segment (fsync first) and queues it for
// replay.
func (s *spool) sealLocked() error {
	if s.cur == nil {
		return nil
	}
	f := s.cur
	s.cur = nil
	s.segments = append(s.segments, filepath.Base(f.Name()))
	return joinErr(f.Sync(), f.Close())
}

func joinErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// Pending returns the number of entries in the spool.
func (s *spool) Pending() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending
}

// next seals the current segment if no sealed one waits, and returns the
// oldest sealed segment ("" when the spool is empty).
func (s *spool) next() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segments) == 0 {
		if err := s.sealLocked(); err != nil {
			return "", err
		}
	}
	if len(s.segments) == 0 {
		return "", nil
	}
	return s.segments[0], nil
}

// read returns the entries of segment name. Lines that do not parse (a
// torn last line after a crash) are skipped and counted in bad.
func (s *spool) read(name string) (es []*storage.AuditEntry, bad int, err error) {
	f, err := os.Open(filepath.Join(s.dir, name))
	if err != nil {
		return nil, 0, fmt.Errorf("exporter: spool: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		e, err := storage.ParseEntry(line)
		if err != nil {
			bad++
			continue
		}
		es = append(es, e)
	}
	if err := sc.Err(); err != nil {
		return es, bad, fmt.Errorf("exporter: spool %s: %w", name, err)
	}
	return es, bad, nil
}

// done removes segment name after its n entries (and bad lines) reached
// the backend.
func (s *spool) done(name string, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segments) > 0 && s.segments[0] == name {
		s.segments = s.segments[1:]
	}
	s.pending -= int64(n)
	if s.pending < 0 {
		s.pending = 0
	}
	return os.Remove(filepath.Join(s.dir, name))
}

func (s *spool) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return nil
	}
	err := joinErr(s.cur.Sync(), s.cur.Close())
	s.segments = append(s.segments, filepath.Base(s.cur.Name()))
	s.cur = nil
	return err
}
