package filestore

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
)

// loadCheckpointKey returns the configured signer, or one for the store's
// own key file. The key file is created only for a store that has signed
// nothing yet: once a note is signed with it, a missing key file is an
// error matching [ErrCheckpointKeyNeeded] (see there), never a new key.
func loadCheckpointKey(dir string, cfg config) (storage.Signer, error) {
	if cfg.checkpointPriv != nil {
		return storage.NewEd25519Signer(cfg.checkpointKeyID, cfg.checkpointPriv)
	}
	if cfg.checkpointKey != nil {
		return storage.NewHMACSigner(cfg.checkpointKeyID, cfg.checkpointKey)
	}
	path := filepath.Join(dir, keyFileName)
	key, err := readKeyFile(path)
	if errors.Is(err, os.ErrNotExist) {
		// A new key would sign on under the same id "local": from then
		// on every note before it fails with the new key and every note
		// after it with the old one, and Verify reports the store as
		// tampered for good. (checkKeyGiven has already refused a store
		// signed with another key id.)
		kid, err := SigningKeyID(dir)
		if err != nil {
			return storage.Signer{}, err
		}
		if kid != "" {
			return storage.Signer{}, fmt.Errorf("%w: its notes are signed with key id %q, the store's own key file %s, which is missing; "+
				"put that file back (mode 0600) or give the key it held with WithCheckpointKey(%q, key); "+
				"to sign on with a key of your own, give that one instead and the old key to Verify for the notes signed before "+
				"(a new key file would leave them unverifiable)",
				ErrCheckpointKeyNeeded, kid, path, kid)
		}
		key = make([]byte, 32)
		rand.Read(key) // never fails (crypto/rand.Read crashes the program instead)
		if err := writeFileAtomic(path, []byte(hex.EncodeToString(key)+"\n")); err != nil {
			return storage.Signer{}, fmt.Errorf("filestore: write checkpoint key file: %w", err)
		}
	} else if err != nil {
		return storage.Signer{}, err
	}
	return storage.NewHMACSigner(localKeyID, key)
}

// localKeyID is the key id of the store's own key file.
const localKeyID = "local"

// ErrCheckpointKeyNeeded is matched (errors.Is) by the error of [New] when
// the Store is opened for writing without [WithCheckpointKey] or
// [WithCheckpointSigner] and the key that signed the store's latest note
// is not at hand:
//
//   - a key of the user's own: the Store would sign its notes with the
//     store's own key file instead, and [Verify] with the user's key would
//     report every one of them as forged;
//   - the store's own key (key id "local") whose file, .checkpoint.key in
//     the store directory, is missing (moved out, or left behind by a copy
//     that skipped dotfiles): a new key under the same id would make the
//     notes signed before unverifiable, and the store would verify as
//     tampered from then on.
//
// The error names the key id (and, for "local", the file expected), never
// a key. New then writes no note and no key file: the store's data and
// notes stay as they were.
var ErrCheckpointKeyNeeded = errors.New("filestore: the store is signed with a checkpoint key that was not given")

// ErrCheckpointKeyMismatch is matched (errors.Is) by the error of [New]
// opened [WithSameCheckpointKey] when the key the Store would sign with did
// not sign the store's latest signed note: another key id, another key
// under that id, or a key of the other kind. Its notes would not verify
// with the store's key, and [Verify] would report them as forged. The
// error names the key id the store is signed with and the one given,
// never a key; New writes nothing.
var ErrCheckpointKeyMismatch = errors.New("filestore: the store is signed with another checkpoint key than the one given")

// checkSameKey returns an error matching [ErrCheckpointKeyMismatch] when
// the latest signed note of the store in dir is not signed with key.
func checkSameKey(dir string, key storage.Signer) error {
	line, err := lastSignedNote(dir)
	if err != nil || line == nil || key.Signed(line) {
		return err
	}
	kid, _ := storage.NoteKeyID(line)
	if kid == key.KeyID() {
		return fmt.Errorf("%w: its latest note is signed with key id %q, and the key given under that id does not check its signature "+
			"(another key under the same id, or an HMAC key for an Ed25519 one or the reverse; or the note was altered: run Verify)",
			ErrCheckpointKeyMismatch, kid)
	}
	return fmt.Errorf("%w: its latest note is signed with key id %q, not with key id %q given", ErrCheckpointKeyMismatch, kid, key.KeyID())
}

// SigningKeyID returns the key id of the last signed note of the store in
// dir: "local" for the store's own key file, the id given to
// [WithCheckpointKey] or [WithCheckpointSigner] otherwise, "" when dir
// holds no signed note; an id over 64 bytes is cut ([storage.NoteKeyID]).
// It does not check the signature (that is [Verify]'s job): it says which
// key a writer of the store needs. It finds the last signed note however
// many other lines follow it (reading checkpoints.jsonl backwards; once
// in the common case); a torn last line is no note and is passed over.
func SigningKeyID(dir string) (string, error) {
	line, err := lastSignedNote(dir)
	if err != nil || line == nil {
		return "", err
	}
	kid, _ := storage.NoteKeyID(line)
	return kid, nil
}

// lastSignedNote returns the last signed note line of the store in dir
// (see SigningKeyID), nil when there is none.
func lastSignedNote(dir string) ([]byte, error) {
	f, err := openStoreFile(filepath.Join(dir, checkpointFileName), os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("filestore: open checkpoints: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	line, err := lastSignedLine(f, fi.Size(), keyIDChunk, maxVerifyLine)
	if err != nil {
		return nil, fmt.Errorf("filestore: read checkpoints: %w", err)
	}
	return line, nil
}

// keyIDChunk is how many bytes of checkpoints.jsonl SigningKeyID reads at
// a time, from the end: notes are under a few KiB each (a removal note
// lists files and ranges), so one read finds the last signed note unless
// lines that are none (garbage, or very long lines) fill the end.
const keyIDChunk = 1 << 20

// lastSignedKeyID returns the key id of the last signed note line in
// ra[:size] ([storage.NoteKeyID]), "" when there is none (see
// lastSignedLine).
func lastSignedKeyID(ra io.ReaderAt, size int64, chunk, maxLine int) (string, error) {
	line, err := lastSignedLine(ra, size, chunk, maxLine)
	if err != nil || line == nil {
		return "", err
	}
	kid, _ := storage.NoteKeyID(line)
	return kid, nil
}

// lastSignedLine returns the last signed note line in ra[:size], nil when
// there is none, reading backwards (see lastLineWhere) so that no amount
// of other lines after the last signed note hides it: a writer that took
// the store for unsigned would sign on without its key. A line longer
// than maxLine is not a note, as for [Verify].
func lastSignedLine(ra io.ReaderAt, size int64, chunk, maxLine int) ([]byte, error) {
	return lastLineWhere(ra, size, chunk, maxLine, func(line []byte) bool {
		_, ok := storage.NoteKeyID(line)
		return ok
	})
}

// lastLineWhere returns the last complete line of ra[:size] (without its
// '\n') for which match is true, nil when there is none. It reads
// backwards, chunk bytes at a time, and stops at the first line that
// matches, so the common case (a match near the end) is one read. Only
// complete lines count: the bytes after the last '\n' are a torn line (a
// crash mid-write). A line longer than maxLine is skipped without being
// held in memory or given to match.
func lastLineWhere(ra io.ReaderAt, size int64, chunk, maxLine int, match func(line []byte) bool) ([]byte, error) {
	buf := make([]byte, min(int64(chunk), size))
	// tail holds the bytes of the line being read backwards that lie
	// after the chunk at hand (the line starts in it or before it).
	var tail []byte
	complete := false // tail's line ends in '\n' (the file's last bytes do not)
	long := false     // tail's line is over maxLine: skipped, not kept
	check := func(head []byte) ([]byte, bool) {
		if !complete || long || len(head)+len(tail) > maxLine {
			return nil, false
		}
		if len(tail) > 0 {
			head = append(head[:len(head):len(head)], tail...)
		}
		return head, match(head)
	}
	for pos := size; pos > 0; {
		b := buf[:min(int64(len(buf)), pos)]
		pos -= int64(len(b))
		if n, err := ra.ReadAt(b, pos); n < len(b) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // the file shrank under us
			}
			return nil, err
		}
		for {
			i := bytes.LastIndexByte(b, '\n')
			if i < 0 {
				break
			}
			if line, ok := check(b[i+1:]); ok {
				return line, nil
			}
			b, tail, complete, long = b[:i], tail[:0], true, false
		}
		// b starts the chunk and ends the line of tail: keep it, unless
		// that line is too long anyway.
		switch {
		case long:
		case len(b)+len(tail) > maxLine:
			long, tail = true, tail[:0]
		default:
			tail = append(bytes.Clone(b), tail...)
		}
	}
	if line, ok := check(nil); ok { // the file's first line
		return line, nil
	}
	return nil, nil
}

// checkKeyGiven returns an error matching [ErrCheckpointKeyNeeded] when
// cfg gives no checkpoint key and the latest note of the store in dir is
// signed with one.
func checkKeyGiven(dir string, cfg config) error {
	if cfg.checkpointPriv != nil || cfg.checkpointKey != nil {
		return nil
	}
	kid, err := SigningKeyID(dir)
	if err != nil {
		return err
	}
	if kid != "" && kid != localKeyID {
		return fmt.Errorf("%w: its notes are signed with key id %q; open it with WithCheckpointKey or WithCheckpointSigner and that key", ErrCheckpointKeyNeeded, kid)
	}
	return nil
}

// readKeyFile reads the store's own key file.
func readKeyFile(path string) ([]byte, error) {
	f, err := openStoreFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4<<10)) // a key line is under 200 bytes
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(string(bytes.TrimSpace(b)))
	if err != nil || len(key) < storage.MinHMACKeyLen {
		return nil, fmt.Errorf("filestore: checkpoint key file %s is damaged", filepath.Base(path))
	}
	return key, nil
}

// appendNotes signs and appends notes to checkpoints.jsonl and fsyncs it.
func (s *Store) appendNotes(ns ...*storage.Note) error {
	s.notesMu.Lock()
	defer s.notesMu.Unlock()
	path := filepath.Join(s.dir, checkpointFileName)
	_, statErr := os.Stat(path)
	f, err := openStoreFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("filestore: open checkpoints: %w", err)
	}
	defer f.Close()
	if _, err := cutTornTail(f, checkpointFileName); err != nil {
		return err
	}
	if !s.notesInit {
		last, err := lastLineOf(f)
		if err != nil {
			return fmt.Errorf("filestore: read checkpoints: %w", err)
		}
		if last != nil {
			s.lastNote = storage.NoteDigest(last)
		}
		s.notesInit = true
	}
	var buf []byte
	prev := s.lastNote
	for _, n := range ns {
		if n.Writer == "" {
			n.Writer = s.writerID
		}
		if n.Time == "" {
			n.Time = s.cfg.now().UTC().Format(time.RFC3339Nano)
		}
		n.PrevNote = prev
		b, err := storage.EncodeNote(n, s.key)
		if err != nil {
			return fmt.Errorf("filestore: encode checkpoint: %w", err)
		}
		prev = storage.NoteDigest(b[:len(b)-1])
		buf = append(buf, b...)
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if _, err := f.Write(buf); err != nil {
		// Leave no partial note behind.
		f.Truncate(fi.Size())
		return fmt.Errorf("filestore: write checkpoint: %w", err)
	}
	s.lastNote = prev
	if err := f.Sync(); err != nil {
		return fmt.Errorf("filestore: fsync checkpoints: %w", err)
	}
	if statErr != nil {
		if err := syncDir(s.dir); err != nil {
			return err
		}
	}
	// The witness gets a note only once it is durable in the store, so that
	// whatever a witness holds, the store held first.
	if s.cfg.witness != nil {
		if _, err := s.cfg.witness.Write(buf); err != nil {
			s.cfg.logger.Warn("filestore: witness write failed; the witness lags behind the store", "dir", s.dir, "notes", len(ns), "error", err)
		}
	}
	return nil
}

// lastLineOf returns the last complete line of f (without '\n'), or nil,
// however long: the next note links to the digest of the whole line, and
// removal notes, which list every file and writer session's range a
// cleanup removed, can be long.
func lastLineOf(f *os.File) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return lastLineWhere(f, fi.Size(), 64<<10, math.MaxInt, func([]byte) bool { return true })
}

// recordRecoveries writes recovery notes (during open they are written by
// startSession).
func (s *Store) recordRecoveries(notes []storage.RecoveryNote) error {
	if len(notes) == 0 {
		return nil
	}
	if s.writerID == "" {
		s.pendingRecoveries = append(s.pendingRecoveries, notes...)
		return nil
	}
	ns := make([]*storage.Note, len(notes))
	for i := range notes {
		ns[i] = &storage.Note{Type: storage.NoteRecovery, Seq: s.chain.Seq(), Hash: s.chain.Head(), Recovery: &notes[i]}
	}
	return s.appendNotes(ns...)
}

// startSession starts a writer session: a legacy note when chaining
// begins on a store that already holds unchained lines, pending recovery
// notes, and the signed "open" note.
func (s *Store) startSession() error {
	_, err := os.Stat(filepath.Join(s.dir, checkpointFileName))
	fresh := errors.Is(err, os.ErrNotExist)
	s.writerID = storage.NewWriterID()
	s.chain = storage.NewChainer(s.writerID)
	var ns []*storage.Note
	if fresh {
		acc, err := s.legacyDigest()
		if err != nil {
			return err
		}
		if acc.Count() > 0 {
			sum := acc.Summary()
			ns = append(ns, &storage.Note{Type: storage.NoteLegacy, Legacy: &sum})
		}
	}
	for i := range s.pendingRecoveries {
		ns = append(ns, &storage.Note{Type: storage.NoteRecovery, Recovery: &s.pendingRecoveries[i]})
	}
	s.pendingRecoveries = nil
	ns = append(ns, &storage.Note{Type: storage.NoteOpen})
	s.cpTime = s.cfg.now()
	return s.appendNotes(ns...)
}

// legacyDigest sums the unchained lines of every data file.
func (s *Store) legacyDigest() (storage.LineDigest, error) {
	var acc storage.LineDigest
	refs, err := listDataFiles(s.dir)
	if err != nil {
		return acc, err
	}
	for _, ref := range refs {
		f, err := openStoreFile(filepath.Join(s.dir, ref.name), os.O_RDONLY, 0)
		if err != nil {
			return acc, fmt.Errorf("filestore: open %s: %w", ref.name, err)
		}
		fi, err := f.Stat()
		if err == nil {
			_, err = scanLines(f, 0, fi.Size(), func(_ int64, line []byte) error {
				if _, _, ok := storage.SplitChain(line); !ok && !isBlank(line) && json.Valid(line) {
					acc.Add(line)
				}
				return nil
			})
		}
		f.Close()
		if err != nil {
			return acc, fmt.Errorf("filestore: read %s: %w", ref.name, err)
		}
	}
	return acc, nil
}

// maybeCheckpoint writes a checkpoint if the chain advanced and one is due
// (or force).
func (s *Store) maybeCheckpoint(force bool) error {
	s.mu.Lock()
	due := !s.closed.Load() && s.chain.Seq() != s.cpSeq &&
		(force || s.chain.Seq()-s.cpSeq >= uint64(s.cfg.checkpointEvery) || s.cfg.now().Sub(s.cpTime) >= s.cfg.checkpointInterval)
	s.mu.Unlock()
	if !due {
		return nil
	}
	return s.checkpoint(false)
}

// checkpoint fsyncs the written data and then signs the chain head, so
// that a checkpoint never covers data that is not durable. Writers are not
// held up by the fsyncs: the head is taken under mu, the rest runs outside.
func (s *Store) checkpoint(final bool) error {
	s.cpMu.Lock()
	defer s.cpMu.Unlock()
	s.mu.Lock()
	seq, head := s.chain.Seq(), s.chain.Head()
	if !final && seq == s.cpSeq {
		s.mu.Unlock()
		return nil
	}
	files := make([]*os.File, 0, len(s.dirty))
	for f := range s.dirty {
		files = append(files, f)
	}
	s.mu.Unlock()
	for _, f := range files {
		// A file closed meanwhile was fsynced by whoever closed it.
		if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
			return fmt.Errorf("filestore: fsync %s: %w", filepath.Base(f.Name()), err)
		}
	}
	if h := s.beforeCheckpointNote.Load(); h != nil {
		(*h)()
	}
	if err := s.appendNotes(&storage.Note{Type: storage.NoteCheckpoint, Seq: seq, Hash: head, Final: final}); err != nil {
		return err
	}
	s.mu.Lock()
	if seq > s.cpSeq {
		s.cpSeq = seq
	}
	s.cpTime = s.cfg.now()
	s.mu.Unlock()
	return nil
}
