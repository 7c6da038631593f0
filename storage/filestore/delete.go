package filestore

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
)

// Delete removes the entry with the given id and reports whether it was
// there (every line with that id goes). The file holding it is rewritten
// atomically (temp file, fsync, rename, directory fsync); a signed removal
// note naming the removed chain entries is written once the temp file is
// durable and before it replaces the file, so that [Verify] still passes.
// The store signs nothing else in between, so a later note of the store
// shows the removal finished, and [Verify] reports entries it removed
// that are put back ([ProblemRestored]). Writers and checkpoints wait
// while the file is rewritten.
func (s *Store) Delete(ctx context.Context, id string) (bool, error) {
	if err := s.checkUsable(ctx); err != nil {
		return false, err
	}
	if s.cfg.readOnly {
		return false, ErrReadOnly
	}
	// No checkpoint may be signed between the removal note and the file's
	// replacement: Verify takes a later note of this writer as proof that
	// the removal finished (and entries it removed, if present again, as
	// restored).
	s.cpMu.Lock()
	defer s.cpMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return false, storage.ErrClosed
	}
	_, loc, ok := s.lookupTailLocked(id)
	if !ok {
		var err error
		_, loc, err = s.lookupFiles(ctx, id, s.activeLocked())
		if errors.Is(err, storage.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	maybe := idFilter(id)
	removed, err := s.rewriteLocked(loc.name, "delete", time.Time{}, func(_ int64, line []byte) bool {
		if !maybe(line) {
			return false
		}
		e, err := storage.ParseEntry(line)
		return err == nil && e.ID == id
	})
	return removed > 0, err
}

// DeleteBefore removes every entry with Timestamp < t and returns how many
// it removed. Files of days entirely before t are removed whole (their
// index gives the count); the files of t's own day are rewritten atomically
// without the expired lines. A signed removal note listing the files and
// the chain entries removed is written before anything is removed, so that
// [Verify] still passes after cleanup. Writers wait meanwhile.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (int, error) {
	if err := s.checkUsable(ctx); err != nil {
		return 0, err
	}
	if s.cfg.readOnly {
		return 0, ErrReadOnly
	}
	s.cpMu.Lock() // see Delete
	defer s.cpMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return 0, storage.ErrClosed
	}
	s.finishClosingLocked()
	refs, err := listDataFiles(s.dir)
	if err != nil {
		return 0, err
	}
	cut := dayOf(t)
	tn := clampNano(t)
	var whole []fileRef
	var partial []fileRef
	for _, ref := range refs {
		switch {
		case ref.day < cut:
			whole = append(whole, ref)
		case ref.day == cut:
			partial = append(partial, ref)
		}
	}
	// Whole files: summarise what goes, sign it, then remove.
	var ranges storage.SeqRanges
	var legacy storage.LineDigest
	total := 0
	names := make([]string, 0, len(whole))
	for _, ref := range whole {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("filestore: %w", err)
		}
		if p := s.active[ref.day]; p != nil && ref.part == 0 {
			if err := s.closePartLocked(p, true); err != nil {
				return total, err
			}
		}
		n, err := s.summarise(ref.name, &ranges, &legacy)
		if err != nil {
			return total, err
		}
		total += n
		names = append(names, ref.name)
	}
	if len(names) > 0 {
		rn := &storage.RemovalNote{Reason: "retention", Files: names, Ranges: ranges.Ranges, Legacy: legacy.Summary(), Count: total, Before: t.UTC().Format(time.RFC3339Nano)}
		if err := s.appendNotes(&storage.Note{Type: storage.NoteRemoval, Seq: s.chain.Seq(), Hash: s.chain.Head(), Removal: rn}); err != nil {
			return 0, err
		}
		for _, name := range names {
			if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return total, fmt.Errorf("filestore: remove %s: %w", name, err)
			}
			os.Remove(indexPath(s.dir, name))
			s.idx.invalidate(name)
		}
		s.invalidateList()
		if err := syncDir(s.dir); err != nil {
			return total, err
		}
	}
	for _, ref := range partial {
		n, err := s.rewriteLocked(ref.name, "retention", t, func(_ int64, line []byte) bool {
			_, ts, ok := lineInfo(line)
			return ok && ts < tn
		})
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// longLine records the first line of a data file longer than the store's
// line limit met by a removal's scan. Such a line is no entry this store
// writes or reads (Write refuses it, readers skip it), and holding it to
// decide whether it goes would make the removal's memory grow with it:
// the removal fails, before anything is signed or changed, instead.
type longLine struct {
	name  string
	limit int
	err   error
}

func (s *Store) lineTooLong(name string) *longLine {
	return &longLine{name: name, limit: s.cfg.maxLineSize}
}

// note is scanBounded's callback for a line over the limit.
func (l *longLine) note(off, n int64) {
	if l.err == nil {
		l.err = fmt.Errorf("filestore: %s holds a line of %d bytes at offset %d, longer than the store's line limit (%d): %w; nothing was removed (open the store with a larger WithMaxLineSize if the line is an entry, or repair the file)", l.name, n, off, l.limit, storage.ErrLineTooLong)
	}
}

// summarise counts the entries of a file and adds its chain ranges and
// unchained lines to the accumulators.
func (s *Store) summarise(name string, ranges *storage.SeqRanges, legacy *storage.LineDigest) (int, error) {
	f, size, err := s.openDataFile(name)
	if err != nil || f == nil {
		return 0, err
	}
	defer f.Close()
	count := -1
	if li, _ := s.idx.get(name, f); li != nil && li.hdr.covered == size {
		count = int(li.hdr.count)
		s.idx.release(li)
	} else if li != nil {
		s.idx.release(li)
	}
	n := 0
	tooLong := s.lineTooLong(name)
	_, err = scanBounded(f, 0, size, s.cfg.maxLineSize, func(_ int64, line []byte) error {
		if _, c, ok := storage.SplitChain(line); ok {
			ranges.Add(c)
			if count < 0 {
				if _, _, ok := lineInfo(line); ok {
					n++
				}
			}
			return nil
		}
		if isBlank(line) || !json.Valid(line) {
			return nil
		}
		legacy.Add(line)
		if count < 0 {
			if _, _, ok := lineInfo(line); ok {
				n++
			}
		}
		return nil
	}, tooLong.note)
	if err != nil {
		return 0, fmt.Errorf("filestore: read %s: %w", name, err)
	}
	if tooLong.err != nil {
		return 0, tooLong.err
	}
	if count >= 0 {
		return count, nil
	}
	return n, nil
}

// rewriteLocked rewrites data file name without the lines drop selects
// (only lines that are valid entries are offered), after writing a signed
// removal note. It returns how many lines it removed.
func (s *Store) rewriteLocked(name, reason string, before time.Time, drop func(off int64, line []byte) bool) (int, error) {
	s.finishClosingLocked()
	ref, _ := parseFileName(name)
	if p := s.active[ref.day]; p != nil && ref.part == 0 {
		if err := s.closePartLocked(p, true); err != nil {
			return 0, err
		}
	}
	path := filepath.Join(s.dir, name)
	f, size, err := s.openDataFile(name)
	if err != nil || f == nil {
		return 0, err
	}
	defer f.Close()
	// First pass: what goes.
	var ranges storage.SeqRanges
	var legacy storage.LineDigest
	removed := 0
	tooLong := s.lineTooLong(name)
	if _, err := scanBounded(f, 0, size, s.cfg.maxLineSize, func(off int64, line []byte) error {
		if isBlank(line) || !drop(off, line) {
			return nil
		}
		removed++
		if _, c, ok := storage.SplitChain(line); ok {
			ranges.Add(c)
		} else {
			legacy.Add(line)
		}
		return nil
	}, tooLong.note); err != nil {
		return 0, fmt.Errorf("filestore: read %s: %w", name, err)
	}
	if tooLong.err != nil {
		return 0, tooLong.err
	}
	if removed == 0 {
		return 0, nil
	}
	rn := &storage.RemovalNote{Reason: reason, Ranges: ranges.Ranges, Legacy: legacy.Summary(), Count: removed}
	if !before.IsZero() {
		rn.Before = before.UTC().Format(time.RFC3339Nano)
	}
	// note signs the removal once what stays is durable in the temp file,
	// so that a full disk or a failed read stops the removal before its
	// note, and only the replacement itself lies between the note and the
	// end of the removal.
	note := func() error {
		if err := s.appendNotes(&storage.Note{Type: storage.NoteRemoval, Seq: s.chain.Seq(), Hash: s.chain.Head(), Removal: rn}); err != nil {
			return err
		}
		if s.beforeSwap != nil {
			s.beforeSwap()
		}
		return nil
	}
	// Second pass: copy what stays to a temp file, then swap it in.
	tmp, err := os.CreateTemp(s.dir, ".tmp-rewrite-*")
	if err != nil {
		return 0, err
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(tmp, 256<<10)
	var recs []idxRec
	var off int64
	skipped := 0
	if _, err := scanLines(f, 0, size, func(o int64, line []byte) error {
		if !isBlank(line) && drop(o, line) {
			return nil
		}
		if id, ts, ok := lineInfo(line); ok {
			recs = append(recs, idxRec{hash: idHash(id), off: off, len: uint32(len(line)), ts: ts})
		} else if !isBlank(line) {
			skipped++
		}
		w.Write(line)
		w.WriteByte('\n')
		off += int64(len(line)) + 1
		return nil
	}); err != nil {
		return 0, fmt.Errorf("filestore: read %s: %w", name, err)
	}
	if err := w.Flush(); err != nil {
		return 0, fmt.Errorf("filestore: rewrite %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return 0, fmt.Errorf("filestore: fsync rewrite of %s: %w", name, err)
	}
	if off == 0 {
		// Nothing stays: remove the file.
		tmp.Close()
		os.Remove(tmpName)
		ok = true
		if err := note(); err != nil {
			return 0, err
		}
		if err := os.Remove(path); err != nil {
			return 0, fmt.Errorf("filestore: remove %s: %w", name, err)
		}
		os.Remove(indexPath(s.dir, name))
		s.idx.invalidate(name)
		s.invalidateList()
		return removed, syncDir(s.dir)
	}
	// An index that cannot be written does not stop the removal the
	// signed note announced (see indexFailed): the old index, if it
	// stays, no longer matches the data and is ignored.
	indexed := true
	if err := s.writeIndex(name+".new", tmp, recs, off, skipped, 0, 0); err != nil {
		if !errors.Is(err, errIndexWrite) {
			return 0, err
		}
		s.indexFailed(name, err)
		indexed = false
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	if err := note(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmpName, path); err != nil {
		return 0, fmt.Errorf("filestore: replace %s: %w", name, err)
	}
	ok = true
	// The index was written under a temporary name and follows the data:
	// a crash in between leaves a stale index, which is detected and rebuilt.
	if !indexed || os.Rename(indexPath(s.dir, name+".new"), indexPath(s.dir, name)) != nil {
		os.Remove(indexPath(s.dir, name))
		s.idx.distrust(name)
	}
	s.idx.invalidate(name)
	s.invalidateList()
	if err := syncDir(s.dir); err != nil {
		return removed, err
	}
	if err := syncDir(filepath.Join(s.dir, indexDirName)); err != nil {
		s.indexFailed(name, err) // a crash may lose the new index: then it is rebuilt
	}
	return removed, nil
}
