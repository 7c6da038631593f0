package filestore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/verify"
)

// ProblemKind classifies a finding of [Verify]; the kinds are shared by
// every backend's verification (see [verify.ProblemKind]).
type ProblemKind = verify.ProblemKind

// Problem is one finding of [Verify] (see [verify.Problem]).
type Problem = verify.Problem

// VerifyReport is the result of [Verify] (see [verify.Report]).
type VerifyReport = verify.Report

// The finding kinds of [Verify], as defined in package storage.
const (
	ProblemModified      = verify.ProblemModified
	ProblemChainBroken   = verify.ProblemChainBroken
	ProblemWitnessed     = verify.ProblemWitnessed
	ProblemMissing       = verify.ProblemMissing
	ProblemReordered     = verify.ProblemReordered
	ProblemDuplicate     = verify.ProblemDuplicate
	ProblemUnknownWriter = verify.ProblemUnknownWriter
	ProblemAfterClose    = verify.ProblemAfterClose
	ProblemBadSignature  = verify.ProblemBadSignature
	ProblemNoKey         = verify.ProblemNoKey
	ProblemCorrupt       = verify.ProblemCorrupt
	ProblemWrongDay      = verify.ProblemWrongDay
	ProblemLegacyChanged = verify.ProblemLegacyChanged
	ProblemRestored      = verify.ProblemRestored
	ProblemIndexMismatch = verify.ProblemIndexMismatch
	WarningLegacy        = verify.WarningLegacy
	WarningTornTail      = verify.WarningTornTail
	WarningUnconfirmed   = verify.WarningUnconfirmed
	WarningChanged       = verify.WarningChanged
	// WarningUnfinishedRemoval: a removal note whose entries are still
	// stored, with no later note of its store (a crash between the note
	// and the file's replacement).
	WarningUnfinishedRemoval = verify.WarningUnfinishedRemoval
)

// VerifyProgress is passed to the [WithVerifyProgress] callback.
type VerifyProgress struct {
	File       string // file being read
	FilesDone  int
	FilesTotal int
	Bytes      int64 // bytes of data files read so far
	TotalBytes int64 // bytes of all data files
	Entries    int64 // entry lines read so far
}

// VerifyOption configures [Verify].
type VerifyOption interface{ applyVerify(*verifyConfig) }

type verifyOptionFunc func(*verifyConfig)

func (f verifyOptionFunc) applyVerify(c *verifyConfig) { f(c) }

type verifyConfig struct {
	keys        storage.KeyRing
	keyErr      error // the first unusable key given; Verify fails with it
	witness     io.Reader
	witnessed   []verify.WitnessNote // read from witness before the store
	progress    func(VerifyProgress)
	maxProblems int
}

// WithVerifyKey adds an HMAC key (with its key id) that checkpoints may be
// signed with; give it (and [WithVerifyPublicKey]) several times for
// rotated keys. Keys given under the same id are all tried: a note is
// accepted when one of them checks its signature, so a store whose
// .checkpoint.key was replaced (notes of key id "local" signed with two
// keys) verifies given both. Without any key option, [Verify] uses the
// store's own key file (.checkpoint.key, key id "local") if there is one;
// with none at all, signed notes cannot be checked ([ProblemNoKey]). A key
// shorter than [storage.MinHMACKeyLen] bytes or an empty id makes Verify
// fail with an error matching [storage.ErrBadKey]: it never falls back to
// the key file. A key given says the store is signed: a store with entries
// and no signed note at all is then reported ([ProblemMissing]), as its
// notes were removed (a store only the reference implementation wrote is
// verified without a key).
func WithVerifyKey(keyID string, key []byte) VerifyOption {
	return verifyOptionFunc(func(c *verifyConfig) {
		c.badKey(c.keys.AddHMAC(keyID, key))
	})
}

// WithVerifyPublicKey adds the Ed25519 public key (with its key id) of a
// store written [WithCheckpointSigner]. A key of the wrong size or an
// empty id makes Verify fail with an error matching [storage.ErrBadKey].
func WithVerifyPublicKey(keyID string, pub ed25519.PublicKey) VerifyOption {
	return verifyOptionFunc(func(c *verifyConfig) {
		c.badKey(c.keys.AddEd25519(keyID, pub))
	})
}

// badKey keeps the first key error.
func (c *verifyConfig) badKey(err error) {
	if c.keyErr == nil && err != nil {
		c.keyErr = err
	}
}

// WithVerifyWitness gives Verify the lines a store published with
// [WithWitness] (a file in another directory, lines collected from a log
// pipeline). Every note the witness holds must be in the store's
// checkpoints.jsonl, byte for byte; one that is not is a problem
// ([ProblemWitnessed]) naming the writer, its position and the witness
// line. That detects the store's newest entries removed together with
// their last checkpoint, a deleted writer session and a rollback of the
// whole directory to an older copy, which the store alone cannot show.
// The witness is read once, before the store (so notes appended while
// Verify runs cannot be missed); blank lines are skipped, and a line that
// is not a note is itself a problem. A nil r is ignored.
func WithVerifyWitness(r io.Reader) VerifyOption {
	return verifyOptionFunc(func(c *verifyConfig) {
		if r != nil {
			c.witness = r
		}
	})
}

// readWitness reads the witness lines into c.witnessed (through the
// storage witness reader both backends use); lines that are not notes are
// returned as problems.
func (c *verifyConfig) readWitness() ([]Problem, error) {
	if c.witness == nil {
		return nil, nil
	}
	ws, bad, err := verify.ReadWitness(c.witness)
	if err != nil {
		return nil, fmt.Errorf("filestore: verify: %w", err)
	}
	c.witnessed = ws
	return bad, nil
}

// WithVerifyProgress sets a callback called after every data file and
// every 65536 lines, from the goroutine running Verify. Nil is ignored.
func WithVerifyProgress(fn func(VerifyProgress)) VerifyOption {
	return verifyOptionFunc(func(c *verifyConfig) {
		if fn != nil {
			c.progress = fn
		}
	})
}

// WithMaxProblems caps how many problems (and, separately, warnings) the
// report lists one by one; further ones are counted in a last entry of
// kind "more". Default 1000; values <= 0 are ignored.
func WithMaxProblems(n int) VerifyOption {
	return verifyOptionFunc(func(c *verifyConfig) {
		if n > 0 {
			c.maxProblems = n
		}
	})
}

// ErrStoreChanged is matched (errors.Is) by the error [Verify] returns
// when data files were rewritten or removed (Delete, DeleteBefore) during
// every one of its passes, so that none saw one consistent state of the
// store: it cannot tell whether the store is intact. Verify again once
// the cleanup is over.
var ErrStoreChanged = errors.New("filestore: store changed while verifying")

// verifyPasses is how many passes [Verify] makes before it gives up with
// [ErrStoreChanged]: a pass only restarts when a rewrite overlapped it,
// and Delete and retention rewrite rarely.
const verifyPasses = 6

// Verify checks the tamper evidence of the file store in dir without
// changing anything (no lock is taken; a store being appended to can be
// verified). It checks every chained line's hash over its exact bytes,
// every link to the writer's previous entry (across files), the signed
// checkpoints (HMAC-SHA256 or Ed25519) and that every entry a checkpoint covers is
// present unless a signed removal note (Delete, DeleteBefore) accounts for
// it; a closed writer's final checkpoint must be its last entry.
//
// It detects a changed byte in an entry, deleted, inserted, duplicated or
// reordered lines, a dropped last line of a closed store, and truncated or
// deleted files, and reports each with file and line where it can. It
// also compares every index file readers would use with the lines of its
// data file as it reads them ([ProblemIndexMismatch]: an index that
// makes counts, queries, reads by id or deletes miss stored entries); a
// missing or stale index is not a finding. Legacy
// entries without a chain (reference stores) are reported as warnings,
// not tampering; so are a torn tail of a file being written and entries
// after the last checkpoint of a session still running or crashed.
//
// Limits: what is signed last cannot be vouched for by anything later in
// the store. Entries after a running (or crashed) writer's last checkpoint
// are only chain-checked (see [WarningUnconfirmed]), and removing the last
// lines of checkpoints.jsonl itself makes a closed session look crashed.
// Copying each checkpoint line elsewhere (a log shipper, another host)
// closes that gap; with the default key file in the store directory,
// anyone who can write the directory can also forge signatures (see
// [WithCheckpointKey]).
//
// It can run while a writer appends, rotates, deletes and applies
// retention. A pass that a rewrite or removal (Delete, DeleteBefore)
// overlapped, which could see an entry both in the old file and in its
// rewritten copy, is found out (a file read is no longer listed, another
// file has its inode number but not its content, or a removal note was
// added) and made again; if every one of several passes is overlapped,
// Verify returns [ErrStoreChanged] rather than a report of a store it did
// not see whole.
//
// The returned error is for failures to read the store (or ctx ending, or
// [ErrStoreChanged]); findings are in the report. Memory holds, per
// writer, its latest checkpoint and the chain ends of each file, not the
// entries.
func Verify(ctx context.Context, dir string, opts ...VerifyOption) (*VerifyReport, error) {
	cfg := verifyConfig{maxProblems: 1000}
	for _, o := range opts {
		if o != nil {
			o.applyVerify(&cfg)
		}
	}
	if cfg.keyErr != nil {
		return nil, fmt.Errorf("filestore: verify: %w", cfg.keyErr)
	}
	badWitness, err := cfg.readWitness()
	if err != nil {
		return nil, err
	}
	// A key given by the caller says the store was signed: then a store
	// without a single signed note had its notes removed (every writer of
	// this package writes one when it opens), which a store whose own key
	// file is the only key cannot tell from one the reference
	// implementation wrote.
	keyGiven := cfg.keys.Len() > 0
	// ownKeyErr: the store's own key file is there but cannot be used
	// (damaged, unreadable): the no-key finding says so rather than that
	// there is none.
	var ownKeyErr error
	if !keyGiven {
		k, err := readKeyFile(filepath.Join(dir, keyFileName))
		switch {
		case err == nil:
			cfg.keys.AddHMAC(localKeyID, k) // readKeyFile checked the length
		case !errors.Is(err, fs.ErrNotExist):
			ownKeyErr = err
		}
	}
	start := time.Now()
	var rep *VerifyReport
	for attempt := 0; ; attempt++ {
		v := &verifier{cfg: cfg, dir: dir, ownKeyErr: ownKeyErr}
		// Notes first: every checkpoint read then covers data that was
		// durable before the listing below.
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("filestore: verify: %w", err)
		}
		v.init()
		if err := v.readNotes(); err != nil {
			return nil, err
		}
		before, err := listDataFiles(dir)
		if err != nil {
			return nil, err
		}
		if len(before) == 0 && !v.anyNote {
			// Nothing to check: either no store was ever here, or every
			// data file and every note was removed. Neither is intact.
			if !hasStoreFiles(dir) && len(cfg.witnessed) == 0 {
				return nil, fmt.Errorf("filestore: verify %s: %w (no data files, no %s)", dir, storage.ErrNoStore, checkpointFileName)
			}
			v.problem(Problem{Kind: ProblemMissing, File: checkpointFileName, Detail: "the store was emptied: every data file and every signed note is gone"})
			v.checkWitness(badWitness)
			rep = v.rep
			break
		}
		if err := v.run(ctx, before); err != nil {
			return nil, err
		}
		if keyGiven && !v.anyNote && v.rep.Entries > 0 {
			v.problem(Problem{Kind: ProblemMissing, File: checkpointFileName, Detail: "a checkpoint key was given but the store holds no signed note: its checkpoints were removed, and its entries, none chained, cannot be checked (a directory written only by the reference implementation is verified without a key)"})
		}
		v.checkWitness(badWitness)
		rep = v.rep
		if !v.vanished {
			break
		}
		// An interrupted pass stopped before the checks across files
		// (chains, checkpoints, removals): its report must not be
		// returned, as it could call a tampered store intact.
		if attempt == verifyPasses-1 {
			return nil, fmt.Errorf("%w: %s: files were rewritten or removed during each of %d passes", ErrStoreChanged, dir, verifyPasses)
		}
		// Give the rewrite (DeleteBefore may rewrite several files, one
		// after the other) time to finish before the next pass.
		t := time.NewTimer(10 * time.Millisecond << attempt)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("filestore: verify: %w", ctx.Err())
		case <-t.C:
		}
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// settled reports whether removal rm is known to have finished: a store
// writes nothing after a removal note until the removal is done (Delete
// and DeleteBefore hold off its checkpoints), so any later note of the
// same writer shows it.
func (v *verifier) settled(rm removal) bool { return v.lastNote[rm.by] > rm.line }

// kindOf names what the store file at path is, for a report about one
// that is not a regular file.
func kindOf(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "gone"
	}
	return "a " + fileKind(fi.Mode())
}

// checkWitness reports every witnessed note the store's notes lack, and
// the witness lines that were not notes.
func (v *verifier) checkWitness(bad []Problem) {
	if v.cfg.witness == nil {
		return
	}
	v.rep.Witness = true
	v.rep.Witnessed = len(v.cfg.witnessed)
	for _, p := range bad {
		v.problem(p)
	}
	verify.CheckWitness(v.cfg.witnessed, v.seenNotes, func(verify.WitnessNote) string { return checkpointFileName }, v.problem)
}

// hasStoreFiles reports whether dir holds one of the files a store keeps
// besides its data and notes (key file, lock, index).
func hasStoreFiles(dir string) bool {
	for _, name := range []string{keyFileName, lockFileName, indexDirName} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

type writerInfo struct {
	known    bool   // an open note or checkpoint exists
	maxCP    uint64 // seq of its latest signed checkpoint (0: none)
	final    bool
	finalSeq uint64
	maxSeen  uint64
	entries  int64
	firstAt  Problem // location of its first entry (for reports)
}

// removal is a signed removal note read from checkpoints.jsonl.
type removal struct {
	by     string // the writer that removed (wrote the note)
	line   int
	ranges []storage.SeqRange
}

type verifier struct {
	// ownKeyErr is why the store's own key file, present, was not used.
	ownKeyErr error
	cfg       verifyConfig
	dir       string
	rep       *VerifyReport
	writers   map[string]*writerInfo
	links     verify.ChainLinks // the chain walk both backends share
	legacy    storage.LineDigest
	legacyIn  *storage.LegacySummary // signed digest when chaining began
	legRm     storage.LineDigest     // removed legacy lines, per removal notes
	removals  []removal
	lastNote  map[string]int // by writer: the line of its last note read
	anyNote   bool
	seenNotes map[string]bool // NoteDigest of every note line read
	vanished  bool
	files     map[uint64]*fileScan // by inode
	buf       []byte               // scratch for fileScan.holds
	irregular map[string]bool      // data file names that are not regular files (reported)
	aliases   [][2]string          // pairs of data file names listed with one inode
	notesEnd  int64                // end of the notes read
	seed      maphash.Seed         // of the index checks (see indexCheck)
	nProb     int
	nWarn     int
}

func (v *verifier) problem(p Problem) {
	v.nProb++
	if v.nProb <= v.cfg.maxProblems {
		v.rep.Problems = append(v.rep.Problems, p)
	}
}

func (v *verifier) warn(p Problem) {
	v.nWarn++
	if v.nWarn <= v.cfg.maxProblems {
		v.rep.Warnings = append(v.rep.Warnings, p)
	}
}

func (v *verifier) writer(w string) *writerInfo {
	wi := v.writers[w]
	if wi == nil {
		wi = &writerInfo{}
		v.writers[w] = wi
	}
	return wi
}

func (v *verifier) init() {
	v.rep = &VerifyReport{Dir: v.dir}
	v.seenNotes = map[string]bool{}
	v.writers = map[string]*writerInfo{}
	v.irregular = map[string]bool{}
	v.lastNote = map[string]int{}
	v.seed = maphash.MakeSeed()
}

// run scans the listed files, then lists again and scans what a running
// writer's rotation moved or created meanwhile, until nothing is new. A
// file is identified by its inode: one renamed by rotation after it was
// read is not read twice; one replaced by a rewrite (Delete, DeleteBefore)
// makes the pass restart (vanished).
func (v *verifier) run(ctx context.Context, refs []fileRef) error {
	v.rep.Files = len(refs)
	var total int64
	for _, ref := range refs {
		if fi, err := os.Stat(filepath.Join(v.dir, ref.name)); err == nil {
			total += fi.Size()
		}
	}
	prog := VerifyProgress{FilesTotal: len(refs), TotalBytes: total}
	v.files = map[uint64]*fileScan{}
	var unlisted map[uint64]bool // inodes read that the last listing lacked
	for round := 0; round < 20; round++ {
		if round > 0 {
			var err error
			if refs, err = listDataFiles(v.dir); err != nil {
				return err
			}
		}
		var todo []fileRef
		inos := map[uint64]bool{}
		byIno := map[uint64]string{}
		for _, ref := range refs {
			if v.irregular[ref.name] {
				continue
			}
			fi, reused, err := v.identify(ref.name)
			if err != nil {
				return err
			}
			if reused {
				v.vanished = true
				return nil
			}
			if fi == nil {
				if round == 0 {
					todo = append(todo, ref) // scanFile notes it vanished
				}
				continue
			}
			ino := fileIno(fi)
			if other, ok := byIno[ino]; ok && fi.Mode().IsRegular() {
				// Two names of one file in one listing: read once (by
				// inode), while every reader reads it under each name.
				// Confirmed below (a rotation's rename can show both).
				v.aliases = append(v.aliases, [2]string{other, ref.name})
			}
			byIno[ino] = ref.name
			inos[ino] = true
			if st := v.files[ino]; st == nil || fi.Size() > st.size {
				todo = append(todo, ref)
			}
		}
		if round > 0 {
			// Every file read must still be listed, under its name or
			// the one rotation renamed it to; one that is not was
			// replaced or removed (Delete, DeleteBefore) after it was
			// read, and the pass may hold both its old entries and
			// the rewritten copy: start again. A listing can miss a
			// file that is being renamed (readdir during a rename), but
			// not twice: rotation renames a file once.
			missing := map[uint64]bool{}
			for ino := range v.files {
				if !inos[ino] {
					if unlisted[ino] {
						v.vanished = true
						return nil
					}
					missing[ino] = true
				}
			}
			unlisted = missing
			if len(todo) == 0 && len(unlisted) == 0 {
				break
			}
			prog.FilesTotal += len(todo)
		}
		for _, ref := range todo {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("filestore: verify: %w", err)
			}
			prog.File = ref.name
			if err := v.scanFile(ctx, ref, &prog); err != nil {
				return err
			}
			if v.vanished {
				return nil
			}
			prog.FilesDone++
			if v.cfg.progress != nil {
				v.cfg.progress(prog)
			}
		}
	}
	if len(unlisted) > 0 {
		// Out of rounds with a file read not seen since: take it as
		// replaced.
		v.vanished = true
		return nil
	}
	v.rep.Files = len(v.files)
	v.checkAliases()
	// Files removed or rewritten meanwhile by Delete or DeleteBefore: their
	// removal note was written after the notes were read; start again.
	if changed, err := v.removalSince(); err != nil {
		return err
	} else if changed {
		v.vanished = true
		return nil
	}
	v.resolve()
	if v.nProb > v.cfg.maxProblems {
		v.rep.Problems = append(v.rep.Problems, Problem{Kind: "more", Detail: fmt.Sprintf("%d more problems not listed", v.nProb-v.cfg.maxProblems)})
	}
	if v.nWarn > v.cfg.maxProblems {
		v.rep.Warnings = append(v.rep.Warnings, Problem{Kind: "more", Detail: fmt.Sprintf("%d more warnings not listed", v.nWarn-v.cfg.maxProblems)})
	}
	return nil
}

// identify stats data file name (nil if it cannot be stat'ed or opened:
// removed or renamed meanwhile) and reports whether it is under the inode
// number of a file read before without holding what was read (see
// fileScan.holds): a new file under a reused number. Every listed file is
// checked each round after the first, also those that did not grow, or a
// new file no longer than the removed one would never be read. Only
// regular files are opened (a named pipe would block the open); scanFile
// reports the others.
func (v *verifier) identify(name string) (os.FileInfo, bool, error) {
	path := filepath.Join(v.dir, name)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, false, nil
	}
	if len(v.files) == 0 || !fi.Mode().IsRegular() {
		return fi, false, nil
	}
	f, err := openStoreFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, false, nil
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, false, nil
	}
	st := v.files[fileIno(fi)]
	if st == nil {
		return fi, false, nil
	}
	held, err := st.holds(f, fi.Size(), &v.buf)
	if err != nil {
		return nil, false, fmt.Errorf("filestore: verify: read %s: %w", name, err)
	}
	return fi, !held, nil
}

// checkAliases reports the data files that are still, after the scan,
// another name (a hard or symbolic link) of a data file listed before
// them: Verify checked the file once, but readers count and return its
// entries under every name.
func (v *verifier) checkAliases() {
	reported := map[string]bool{}
	for _, a := range v.aliases {
		if reported[a[1]] {
			continue
		}
		f0, err0 := os.Stat(filepath.Join(v.dir, a[0]))
		f1, err1 := os.Stat(filepath.Join(v.dir, a[1]))
		if err0 != nil || err1 != nil || !os.SameFile(f0, f1) {
			continue
		}
		reported[a[1]] = true
		v.problem(Problem{Kind: ProblemDuplicate, File: a[1], Detail: fmt.Sprintf("the same file as %s (a hard or symbolic link): its entries are stored again under a second name, and readers count them twice", a[0])})
	}
}

// removalSince reports whether a removal note was appended to
// checkpoints.jsonl after readNotes read it.
func (v *verifier) removalSince() (bool, error) {
	f, err := openStoreFile(filepath.Join(v.dir, checkpointFileName), os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrNotRegular) {
		return false, nil // readNotes reported a file that is not regular
	}
	if err != nil {
		return false, fmt.Errorf("filestore: verify: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	if fi.Size() < v.notesEnd {
		return true, nil
	}
	found := false
	_, err = scanBounded(f, v.notesEnd, fi.Size(), maxVerifyLine, func(_ int64, b []byte) error {
		if bytes.Contains(b, []byte(`"type":"removal"`)) {
			found = true
		}
		return nil
	}, nil)
	return found, err
}

// readNotes checks and loads checkpoints.jsonl.
func (v *verifier) readNotes() error {
	path := filepath.Join(v.dir, checkpointFileName)
	f, err := openStoreFile(path, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if errors.Is(err, ErrNotRegular) {
		v.anyNote = true
		v.problem(Problem{Kind: ProblemCorrupt, File: checkpointFileName, Detail: "not a regular file (" + kindOf(path) + "): not read, so no signed note can be checked"})
		return nil
	}
	if err != nil {
		return fmt.Errorf("filestore: verify: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	line := 0
	prevNote := ""
	var longErr error
	v.notesEnd = fi.Size()
	torn, err := scanBounded(f, 0, fi.Size(), maxVerifyLine, func(off int64, b []byte) error {
		v.notesEnd = off + int64(len(b)) + 1
		line++
		if isBlank(b) {
			return nil
		}
		v.anyNote = true
		thisNote := storage.NoteDigest(b)
		v.seenNotes[thisNote] = true
		defer func() { prevNote = thisNote }()
		if v.cfg.keys.Len() == 0 {
			return nil // reported once below
		}
		n, err := storage.ParseNote(b, &v.cfg.keys)
		if err != nil {
			v.problem(Problem{Kind: ProblemBadSignature, File: checkpointFileName, Line: line, Detail: err.Error()})
			return nil
		}
		if n.PrevNote != prevNote {
			v.problem(Problem{Kind: ProblemBadSignature, File: checkpointFileName, Line: line, Detail: "note does not follow the previous one (notes removed, inserted or reordered)"})
		}
		v.rep.Checkpoints++
		v.applyNote(n, line)
		return nil
	}, func(off, n int64) {
		// No store writes a note this long: not held in memory, only
		// digested (a witness may name it) and reported.
		v.notesEnd = off + n + 1
		line++
		v.anyNote = true
		d, err := sectionDigest(f, off, n)
		if err != nil {
			longErr = err
			return
		}
		v.seenNotes[d] = true
		prevNote = d
		v.problem(Problem{Kind: ProblemBadSignature, File: checkpointFileName, Line: line, Detail: fmt.Sprintf("line of %d bytes is longer than any note a store writes (%d): not a signed note", n, maxVerifyLine)})
	})
	if err == nil {
		err = longErr
	}
	if err != nil {
		return fmt.Errorf("filestore: verify: read %s: %w", checkpointFileName, err)
	}
	if torn >= 0 {
		v.warn(Problem{Kind: WarningTornTail, File: checkpointFileName, Line: line + 1, Detail: "incomplete last note (being written, or a crash)"})
	}
	if v.anyNote && v.cfg.keys.Len() == 0 {
		detail := "no checkpoint key given and no .checkpoint.key in the store: signatures cannot be checked"
		if v.ownKeyErr != nil {
			detail = fmt.Sprintf("no checkpoint key given, and the store's .checkpoint.key cannot be used (%v): signatures cannot be checked", v.ownKeyErr)
		}
		v.problem(Problem{Kind: ProblemNoKey, File: checkpointFileName, Detail: detail})
	}
	return nil
}

// applyNote records what note n (at line of checkpoints.jsonl) says.
func (v *verifier) applyNote(n *storage.Note, line int) {
	wi := v.writer(n.Writer)
	wi.known = true
	v.lastNote[n.Writer] = line
	switch n.Type {
	case storage.NoteCheckpoint:
		// Only the latest checkpoint is needed: every entry links to its
		// predecessor, so the latest signed head vouches for all before.
		if n.Seq >= wi.maxCP {
			wi.maxCP = n.Seq
		}
		v.links.SignedHead(n.Writer, n.Seq, n.Hash, checkpointFileName, line)
		if n.Final {
			wi.final, wi.finalSeq = true, n.Seq
		}
	case storage.NoteRemoval:
		if n.Removal == nil {
			return
		}
		for _, r := range n.Removal.Ranges {
			v.writer(r.Writer)
		}
		v.removals = append(v.removals, removal{by: n.Writer, line: line, ranges: n.Removal.Ranges})
		v.legRm.Merge(n.Removal.Legacy)
	case storage.NoteLegacy:
		if n.Legacy != nil {
			l := *n.Legacy
			v.legacyIn = &l
		}
	}
}

// scanFile checks every line of one data file.
// fileScan is how far a data file (an inode) has been read: a file that a
// running writer appends to may be read again from where the last read
// stopped.
type fileScan struct {
	name     string
	off      int64        // end of the last complete line read
	size     int64        // file size at the last read
	line     int          // lines read
	unit     *verify.Unit // its entries, in the chain walk
	tornLine int          // line number of an incomplete last line, 0 if none
	// ix compares the file's index with its lines until they reach the
	// end of what it covers; nil when there is none to compare (or no
	// longer).
	ix *indexCheck
	// The last non-blank line read: where it is, and the SHA-256 of its
	// last holdsWindow bytes (all of a line of usual size). An inode
	// number is only a file's identity while the file exists: a rewrite
	// (Delete, DeleteBefore) frees the old file's, and the filesystem may
	// give it to the next file created (ext4 does within milliseconds),
	// such as the writer's new active part. A file met under an inode read
	// before must still hold this line there (see holds).
	lastOff int64
	lastLen int64
	lastSum [sha256.Size]byte
}

// holdsWindow is how much of the end of a file's last line read
// fileScan.holds compares: the chain key ends a chained line, and a line
// of usual size is compared whole; a long line is not held in memory.
const holdsWindow = 4 << 10

// lastSum is the SHA-256 of the end of the n-byte line at off of f (see
// fileScan.lastSum). buf is scratch space.
func lastSum(f io.ReaderAt, off, n int64, buf *[]byte) ([sha256.Size]byte, error) {
	k := min(n, holdsWindow)
	b := slices.Grow((*buf)[:0], int(k))[:k]
	*buf = b
	if _, err := f.ReadAt(b, off+n-k); err != nil {
		return [sha256.Size]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// holds reports whether f, met under the inode st was read from, is still
// that file: at least as long as what was read, with the end of the last
// line read unchanged where it was. A file that only grew since (appends,
// rotation) does; a new file that was given the inode number of one
// removed since does not (its lines are other entries, at other offsets).
// buf is scratch space.
func (st *fileScan) holds(f io.ReaderAt, size int64, buf *[]byte) (bool, error) {
	if size < st.off {
		return false, nil
	}
	if st.lastLen == 0 {
		// Nothing but blank lines read (or nothing at all): they must
		// still be blank.
		n := min(st.off, holdsWindow)
		if n == 0 {
			return true, nil
		}
		b := slices.Grow((*buf)[:0], int(n))[:n]
		*buf = b
		if _, err := f.ReadAt(b, st.off-n); err != nil {
			if errors.Is(err, io.EOF) {
				return false, nil // truncated meanwhile
			}
			return false, err
		}
		return isBlank(b), nil
	}
	sum, err := lastSum(f, st.lastOff, st.lastLen, buf)
	if errors.Is(err, io.EOF) {
		return false, nil // truncated meanwhile
	}
	return err == nil && sum == st.lastSum, err
}

// fileIno is the identity Verify gives a data file: its inode number. A
// variable so that a test can give a new file the number of a removed one,
// as a filesystem reusing inode numbers does.
var fileIno = func(fi os.FileInfo) uint64 { return uint64(statID(fi).ino) }

// scanFile reads a data file (from where an earlier read stopped) and
// checks every line.
func (v *verifier) scanFile(ctx context.Context, ref fileRef, prog *VerifyProgress) error {
	f, err := openStoreFile(filepath.Join(v.dir, ref.name), os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			// Renamed by rotation (the next round finds it under its new
			// name) or removed by cleanup (which writes a removal note
			// first; see removalSince).
			return nil
		}
		if errors.Is(err, ErrNotRegular) {
			// A named pipe would block this read for ever, a device
			// never ends: not read, and damage either way.
			v.irregular[ref.name] = true
			v.problem(Problem{Kind: ProblemCorrupt, File: ref.name, Detail: "not a regular file (" + kindOf(filepath.Join(v.dir, ref.name)) + "): not read; its entries, if any, cannot be verified"})
			return nil
		}
		return fmt.Errorf("filestore: verify: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("filestore: verify: %w", err)
	}
	ino := fileIno(fi)
	st := v.files[ino]
	if st == nil {
		st = &fileScan{unit: v.links.Unit(ref.name, true)} // a writer's lines are in chain order in a file
		v.files[ino] = st
		// Its index is compared with the lines as they are read. An index
		// is written after the data it covers: one that reaches past the
		// size just read was written meanwhile, and the data is there.
		if st.ix = loadIndexCheck(v.dir, ref.name, v.seed); st.ix != nil && st.ix.hdr.covered > fi.Size() {
			if fi, err = f.Stat(); err != nil {
				return fmt.Errorf("filestore: verify: %w", err)
			}
		}
	} else {
		held, err := st.holds(f, fi.Size(), &v.buf)
		if err != nil {
			return fmt.Errorf("filestore: verify: read %s: %w", ref.name, err)
		}
		if !held {
			// Another file under a reused inode number: what was read
			// of the old one was rewritten or removed meanwhile.
			v.vanished = true
			return nil
		}
		if fi.Size() <= st.size {
			return nil
		}
	}
	st.name = ref.name
	st.size = fi.Size()
	st.tornLine = 0
	wantDay := ref.day[:4] + "-" + ref.day[4:6] + "-" + ref.day[6:]
	line := st.line
	lastOff, lastLen := st.lastOff, st.lastLen
	var ctxErr error
	// Lines are read here, checked one by one (hash, day) by up to
	// GOMAXPROCS goroutines in chunks, and applied to the chain state in
	// file order (apply), so that findings come out as a sequential scan
	// reports them.
	p := newLinePipeline(wantDay, func(ch *lineChunk) { v.applyChunk(ch, ref.name, st, prog) })
	p.keys = st.ix != nil
	cur := p.chunk()
	var longErr error
	torn, err := scanBounded(f, st.off, fi.Size(), maxVerifyLine, func(off int64, b []byte) error {
		st.off = off + int64(len(b)) + 1
		line++
		prog.Bytes += int64(len(b)) + 1
		if line&0xffff == 0 {
			if ctxErr = ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			if v.cfg.progress != nil {
				v.cfg.progress(*prog)
			}
		}
		if isBlank(b) {
			return nil
		}
		lastOff, lastLen = off, int64(len(b))
		cur.add(line, off, b)
		if cur.full() {
			p.send(cur)
			cur = p.chunk()
		}
		return nil
	}, func(off, n int64) {
		// A line longer than any a store writes by default is checked
		// from the file, never held in memory: the lines before it are
		// applied first, so that findings stay in file order.
		st.off = off + n + 1
		line++
		prog.Bytes += n + 1
		lastOff, lastLen = off, n
		p.send(cur)
		p.wait()
		cur = p.chunk()
		if longErr != nil {
			return
		}
		r, err := checkLongLine(f, off, n)
		if err != nil {
			longErr = err
			return
		}
		v.applyLine(ref.name, wantDay, st, prog, line, &r, nil)
		if st.ix != nil {
			st.ix.longLine(off, n)
		}
	})
	p.send(cur)
	p.wait()
	if ctxErr != nil {
		return fmt.Errorf("filestore: verify: %w", ctxErr)
	}
	if err == nil {
		err = longErr
	}
	if err != nil {
		return fmt.Errorf("filestore: verify: read %s: %w", ref.name, err)
	}
	st.line = line
	if torn >= 0 {
		st.tornLine = line + 1
	}
	if st.ix != nil && st.off >= st.ix.hdr.covered {
		prob, err := st.ix.finish(f, ref.name)
		st.ix = nil
		if err != nil {
			return fmt.Errorf("filestore: verify: read %s: %w", ref.name, err)
		}
		if prob != nil {
			v.problem(*prob)
		}
	}
	if lastOff != st.lastOff || lastLen != st.lastLen {
		// Read again through the same descriptor, so it is the line of
		// this inode (the file only grows).
		sum, err := lastSum(f, lastOff, lastLen, &v.buf)
		if err != nil {
			return fmt.Errorf("filestore: verify: read %s: %w", ref.name, err)
		}
		st.lastOff, st.lastLen, st.lastSum = lastOff, lastLen, sum
	}
	return nil
}

// applyChunk applies the checked lines of one chunk to the verifier's
// state, in file order.
func (v *verifier) applyChunk(ch *lineChunk, name string, st *fileScan, prog *VerifyProgress) {
	for i := range ch.lines {
		b := ch.line(i)
		r := &ch.res[i]
		v.applyLine(name, ch.wantDay, st, prog, ch.lines[i], r, b)
		if st.ix != nil {
			st.ix.line(ch.offs[i], int64(len(b)), r.entry, r.hash, r.ts)
		}
	}
}

// applyLine applies the checked line at line of file name (b, or for a
// line too long to hold, r.longSum) to the verifier's state.
func (v *verifier) applyLine(name, wantDay string, st *fileScan, prog *VerifyProgress, line int, r *lineResult, b []byte) {
	c := r.c
	if !r.chained {
		if !r.json {
			v.problem(Problem{Kind: ProblemCorrupt, File: name, Line: line, Detail: "line is not a JSON entry"})
			return
		}
		v.rep.Entries++
		v.rep.Legacy++
		prog.Entries++
		if r.longSum != nil {
			v.legacy.Merge(*r.longSum)
		} else {
			v.legacy.Add(b)
		}
		if v.anyNote && v.legacyIn == nil {
			v.problem(Problem{Kind: ProblemLegacyChanged, File: name, Line: line, Detail: "entry without a chain in a chained store, not present when chaining began (inserted?)"})
		}
		return
	}
	v.rep.Entries++
	v.rep.Chained++
	prog.Entries++
	if !r.hashOK {
		v.problem(Problem{Kind: ProblemModified, File: name, Line: line, Detail: fmt.Sprintf("entry %s:%d does not match its hash (content changed)", c.Writer, c.Seq)})
	}
	if r.day == "" {
		v.problem(Problem{Kind: ProblemCorrupt, File: name, Line: line, Detail: fmt.Sprintf("entry %s:%d is not a readable entry", c.Writer, c.Seq)})
	} else if r.day != wantDay {
		v.problem(Problem{Kind: ProblemWrongDay, File: name, Line: line, Detail: fmt.Sprintf("entry %s:%d has timestamp day %q", c.Writer, c.Seq, r.day)})
	}
	wi := v.writer(c.Writer)
	if wi.entries == 0 {
		wi.firstAt = Problem{File: name, Line: line}
	}
	wi.entries++
	wi.maxSeen = max(wi.maxSeen, c.Seq)
	if wi.final && c.Seq > wi.finalSeq {
		v.problem(Problem{Kind: ProblemAfterClose, File: name, Line: line, Detail: fmt.Sprintf("entry %s:%d follows the writer's final checkpoint (%d)", c.Writer, c.Seq, wi.finalSeq)})
	}
	if p := st.unit.Link(line, c); p != nil {
		v.problem(*p)
	}
}

// lineChunk is a run of non-blank lines of one file and, once checked,
// what each line is.
type lineChunk struct {
	wantDay string
	keys    bool // read each line's index key (lineResult.entry, hash, ts)
	buf     []byte
	ends    []int   // end of each line in buf
	lines   []int   // 1-based line number of each
	offs    []int64 // offset of each in the file
	res     []lineResult
	done    chan struct{}
}

// lineResult is what the per-line checks found.
type lineResult struct {
	chained bool
	c       storage.Chain
	hashOK  bool   // chained: the bytes match the hash
	day     string // chained: the entry's timestamp day ("" unreadable)
	json    bool   // unchained: valid JSON
	// longSum is the legacy digest of an unchained line too long to hold
	// (checkLongLine); nil otherwise.
	longSum *storage.LegacySummary
	// With lineChunk.keys: whether the line is an entry, as an index
	// holds it (see indexKey), and its id hash and timestamp.
	entry bool
	hash  uint64
	ts    int64
}

// maxVerifyLine is the longest line (data or note) Verify holds in
// memory: the longest a store writes by default. A longer data line is
// checked from the file by checkLongLine, so that a damaged or planted
// file (one line of gigabytes, a sparse file without a newline) cannot
// make Verify's memory grow with it.
const maxVerifyLine = storage.DefaultMaxLineSize

// longLineEdge is how much of each end of a long line checkLongLine
// reads: the entry's id and timestamp lead, the chain key ends the line.
const longLineEdge = 64 << 10

// checkLongLine is lineChunk.check for the n-byte line at off of f, too
// long to hold in memory: the chain key is read from its last bytes and
// the hash computed over the rest as it is read, the day from its first
// bytes. An unchained long line counts as JSON when it is braced (it is
// legacy, unverifiable one by one, either way); its digest is computed as
// it is read.
func checkLongLine(f io.ReaderAt, off, n int64) (lineResult, error) {
	var r lineResult
	edge := min(n, longLineEdge)
	tail := make([]byte, edge)
	if _, err := f.ReadAt(tail, off+n-edge); err != nil {
		return r, err
	}
	if prefix, c, ok := storage.SplitChain(tail); ok {
		var h storage.ChainHasher
		match, err := h.MatchesReader(io.NewSectionReader(f, off, n-edge+int64(len(prefix))), c)
		if err != nil {
			return r, err
		}
		r.chained, r.c, r.hashOK = true, c, match
		head := make([]byte, edge)
		if _, err := f.ReadAt(head, off); err != nil {
			return r, err
		}
		r.day, _ = storage.EncodedDay(head)
		return r, nil
	}
	var first [1]byte
	if _, err := f.ReadAt(first[:], off); err != nil {
		return r, err
	}
	r.json = first[0] == '{' && tail[len(tail)-1] == '}'
	if r.json {
		d, err := sectionDigest(f, off, n)
		if err != nil {
			return r, err
		}
		r.longSum = &storage.LegacySummary{Count: 1, Sum: d}
	}
	return r, nil
}

// sectionDigest returns storage.NoteDigest of the n bytes at off of f (the
// SHA-256 of a line, as LineDigest and witnesses take it), read in pieces.
func sectionDigest(f io.ReaderAt, off, n int64) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, off, n)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// chunkBytes is the size at which a chunk is handed to a checker.
const chunkBytes = 1 << 20

func (ch *lineChunk) add(line int, off int64, b []byte) {
	ch.buf = append(ch.buf, b...)
	ch.ends = append(ch.ends, len(ch.buf))
	ch.lines = append(ch.lines, line)
	ch.offs = append(ch.offs, off)
}

func (ch *lineChunk) full() bool { return len(ch.buf) >= chunkBytes }

func (ch *lineChunk) line(i int) []byte {
	start := 0
	if i > 0 {
		start = ch.ends[i-1]
	}
	return ch.buf[start:ch.ends[i]]
}

// check runs the per-line checks of the whole chunk.
func (ch *lineChunk) check() {
	var hasher storage.ChainHasher
	ch.res = slices.Grow(ch.res[:0], len(ch.ends))[:len(ch.ends)]
	clear(ch.res)
	for i := range ch.ends {
		b := ch.line(i)
		r := &ch.res[i]
		prefix, c, ok := storage.SplitChain(b)
		if !ok {
			r.json = json.Valid(b)
			if ch.keys && r.json {
				r.entry, r.hash, r.ts = indexKey(b, false)
			}
			continue
		}
		r.chained, r.c = true, c
		r.hashOK = hasher.Matches(prefix, c)
		if ch.keys {
			r.entry, r.hash, r.ts = indexKey(b, r.hashOK)
		}
		// The hash vouches for the bytes; only the day is read off the
		// line (a full parse per line made verify several times slower).
		d, ok := storage.EncodedDay(b)
		if !ok {
			if _, ts, err := storage.EntryKey(b); err == nil {
				d = ts.UTC().Format(time.DateOnly)
			}
		}
		r.day = d
	}
	close(ch.done)
}

// linePipeline checks chunks concurrently and applies them in order.
type linePipeline struct {
	wantDay string
	keys    bool // chunks read index keys (lineChunk.keys)
	apply   func(*lineChunk)
	queue   []*lineChunk // sent, not applied yet, in file order
	free    []*lineChunk
	workers int
}

func newLinePipeline(wantDay string, apply func(*lineChunk)) *linePipeline {
	return &linePipeline{wantDay: wantDay, apply: apply, workers: max(1, runtime.GOMAXPROCS(0))}
}

// chunkPool keeps chunk buffers across files and verifications.
var chunkPool = sync.Pool{New: func() any { return &lineChunk{buf: make([]byte, 0, chunkBytes+64<<10)} }}

// chunk returns an empty chunk, reusing applied ones.
func (p *linePipeline) chunk() *lineChunk {
	var ch *lineChunk
	if n := len(p.free); n > 0 {
		ch = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		ch = chunkPool.Get().(*lineChunk)
	}
	ch.buf, ch.ends, ch.lines, ch.offs, ch.res = ch.buf[:0], ch.ends[:0], ch.lines[:0], ch.offs[:0], ch.res[:0]
	ch.wantDay, ch.keys = p.wantDay, p.keys
	ch.done = make(chan struct{})
	return ch
}

// send starts checking ch and applies the oldest chunks once more than
// workers are in flight.
func (p *linePipeline) send(ch *lineChunk) {
	if len(ch.ends) == 0 {
		p.free = append(p.free, ch)
		return
	}
	go ch.check()
	p.queue = append(p.queue, ch)
	for len(p.queue) > p.workers {
		p.next()
	}
}

func (p *linePipeline) next() {
	ch := p.queue[0]
	p.queue = p.queue[1:]
	<-ch.done
	p.apply(ch)
	p.free = append(p.free, ch)
}

// wait applies every chunk sent and returns the buffers to the pool.
func (p *linePipeline) wait() {
	for len(p.queue) > 0 {
		p.next()
	}
	for _, ch := range p.free {
		chunkPool.Put(ch)
	}
	p.free = nil
}

// resolve checks every writer's chain across files (the shared chain
// walk, with the runs signed removal notes account for), then the
// checkpoints and the legacy digest.
func (v *verifier) resolve() {
	for _, st := range v.files {
		if st.tornLine > 0 {
			v.warn(Problem{Kind: WarningTornTail, File: st.name, Line: st.tornLine, Detail: "incomplete last line (a write in progress, or a crash; a writer opening the store cuts it off)"})
		}
	}
	for _, rm := range v.removals {
		for _, r := range rm.ranges {
			if v.settled(rm) {
				v.links.Settled(r, checkpointFileName, rm.line)
			} else {
				v.links.Removed(r)
			}
		}
	}
	v.links.Check(v.problem)
	for _, rm := range v.removals {
		if v.settled(rm) {
			continue
		}
		for _, r := range rm.ranges {
			if v.links.Holds(r.Writer, r.From, r.To) {
				v.warn(Problem{Kind: WarningUnfinishedRemoval, File: checkpointFileName, Line: rm.line, Detail: fmt.Sprintf("the removal signed here did not complete: entries %s:%d..%d it removes are still stored (its store stopped between the note and the file's replacement, or is replacing it now); deleting them again finishes it", r.Writer, r.From, r.To)})
				break
			}
		}
	}
	for _, w := range slices.Sorted(maps.Keys(v.writers)) {
		wi := v.writers[w]
		if wi.entries > 0 || wi.known {
			v.rep.Writers++
		}
		if wi.entries > 0 && !wi.known {
			v.problem(Problem{Kind: ProblemUnknownWriter, File: wi.firstAt.File, Line: wi.firstAt.Line, Detail: fmt.Sprintf("%d entries of writer %s that no signed note knows (forged, or checkpoints removed)", wi.entries, w)})
			continue
		}
		if int64(wi.maxSeen) < wi.entries {
			v.problem(Problem{Kind: ProblemDuplicate, Detail: fmt.Sprintf("writer %s has %d entries but its chain only reaches %d", w, wi.entries, wi.maxSeen)})
		}
		if !wi.final && wi.maxSeen > wi.maxCP {
			v.rep.Unconfirmed += int64(wi.maxSeen - wi.maxCP)
			v.warn(Problem{Kind: WarningUnconfirmed, Detail: fmt.Sprintf("writer %s has not closed (running or crashed): entries %d..%d come after its last checkpoint", w, wi.maxCP+1, wi.maxSeen)})
		}
	}
	if v.rep.Legacy > 0 {
		v.warn(Problem{Kind: WarningLegacy, Detail: fmt.Sprintf("%d entries have no chain (written by the reference implementation or before chaining): not verifiable one by one", v.rep.Legacy)})
	}
	if v.legacyIn != nil {
		all := v.legacy
		all.Merge(v.legRm.Summary())
		if all.Summary() != *v.legacyIn {
			v.problem(Problem{Kind: ProblemLegacyChanged, Detail: fmt.Sprintf("entries without a chain differ from the digest signed when chaining began (%d then, %d now, %d removed by notes): legacy lines were inserted, changed or removed", v.legacyIn.Count, v.legacy.Count(), v.legRm.Count())})
		}
	}
}
