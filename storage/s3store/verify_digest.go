package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/verify"
)

// digestView is what the digest objects of a store say, as Verify reads
// them.
type digestView struct {
	signed      bool                       // a key was given: digests are checked and required
	listed      map[string][]*listedObject // by key relative to the prefix: what each note says of it
	intact      map[string]bool            // current objects with the SHA-256 a digest lists
	superseded  map[string]bool            // generations a removal note replaced
	removedDays map[string]bool            // partitions retention removed ("YYYY-MM-DD")
	writers     map[string]*digestWriter
	seen        map[string]bool // NoteDigest of every digest line
	// late holds, by writer, the objects of writers that had no digest
	// when the digests were read: forged, or a writer that started while
	// verifying (resolveLate tells which).
	late map[string][]lateObject
	// legacy is what the legacy note lists: the reference-layout objects
	// present when signing began, by key (nil without a readable note).
	legacy map[string]*legacyObject
	// legacyNote tells whether the store holds a legacy note, readable
	// or not.
	legacyNote bool
	// legacySum is the summary the readable legacy note signs.
	legacySum *storage.LegacySummary
	// legacyClaims are the open notes of writers that stored the legacy
	// note, each with the summary it signed.
	legacyClaims []legacyClaim
	// storeID is the store's identity: the NoteDigest of the legacy
	// note's line, when it is there and signed ("" otherwise).
	storeID string
	// storeClaims are the open notes that name a store (Note.Store).
	storeClaims []storeClaim
	// retained is what retention notes say of each day they name.
	retained map[string]*dayRemoval
	// retaining holds, by writer and day, the retention note naming the
	// day that no Done note of that writer followed yet.
	retaining map[string]map[string]pendingRemoval
}

// pendingRemoval is a retention note of a day, with its signed time.
type pendingRemoval struct {
	at string
	t  time.Time
}

// dayRemoval is what the retention notes naming one day say of it.
type dayRemoval struct {
	gone       map[string][]batchSpan // by writer: batches a finished removal deleted
	unfinished string                 // key of a retention note with no Done note after it ("" if none)
	doneAt     string                 // key of a Done note for the day ("" if none)
	doneLast   time.Time              // signed time of the latest Done note
	left       int                    // objects present, not deleted by a finished removal, while one is unfinished
}

// batchSpan is a run of batch numbers a Done note names, with the key of
// that note.
type batchSpan struct {
	from, to uint64
	at       string
}

// removedBy returns the key of the Done note whose removal deleted batch
// seq of writer, or "".
func (r *dayRemoval) removedBy(writer string, seq uint64) string {
	for _, sp := range r.gone[writer] {
		if sp.from <= seq && seq <= sp.to {
			return sp.at
		}
	}
	return ""
}

// storeClaim is an open note naming the store its writer opened in.
type storeClaim struct {
	at, writer, store string
}

// legacyClaim is an open note saying its writer stored the legacy note.
type legacyClaim struct {
	at  string // key of the open note
	sum storage.LegacySummary
}

// legacyObject is a reference-layout object the legacy note lists.
type legacyObject struct {
	sha256 string
	seen   bool
}

// lateObject is an object of a writer without digests when they were read.
type lateObject struct {
	rel     string
	entries int
}

// listedObject is what one digest says of an object: its SHA-256, and
// whether it is stored or the generation a removal note is about to
// write (replacing the generations in replaces).
type listedObject struct {
	d        storage.ObjectDigest
	digest   string   // key of the digest listing it
	replaces []string // for a removal note's new generation: the generations it replaces
	seen     bool
}

// digestWriter is one writer's digest chain.
type digestWriter struct {
	head     storage.Chain // chain head of its latest digest
	headAt   string        // key of that digest
	final    bool
	finalAt  string
	lastDone uint64 // number of the last digest read
}

// readDigests reads and checks every digest object under the prefix.
func (s *Store) readDigests(ctx context.Context, ring *storage.KeyRing, dv *digestView, links *verify.ChainLinks, rep *verify.Report, problem func(verify.Problem)) error {
	byWriter := map[string][]uint64{}
	err := s.list(ctx, digestsDir, "", "", func(rel string, _ bool, _ objMeta) bool {
		if rel == legacyNoteRel {
			return true // read by readLegacyNote
		}
		if w, n, ok := parseDigestRel(rel); ok {
			byWriter[w] = append(byWriter[w], n)
		} else {
			problem(verify.Problem{Kind: verify.ProblemBadSignature, File: rel, Detail: "object under " + digestsDir + " that is not a digest"})
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("s3store: verify: list digests: %w", err)
	}
	for _, w := range slices.Sorted(maps.Keys(byWriter)) {
		nums := byWriter[w]
		slices.Sort(nums)
		dw := &digestWriter{}
		dv.writers[w] = dw
		prevLine := ""
		for _, n := range nums {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("s3store: verify: %w", err)
			}
			rel := digestRel(w, n)
			body, err := s.get(ctx, rel)
			if errors.Is(err, storage.ErrNotFound) {
				continue // the missing number is reported below
			}
			if errors.Is(err, ErrObjectTooLarge) {
				problem(tooLarge(rel, s.cfg.maxObjectBytes))
				dw.lastDone, prevLine = n, ""
				continue
			}
			if err != nil {
				return fmt.Errorf("s3store: verify: %w", err)
			}
			line := bytes.TrimSuffix(body, []byte("\n"))
			thisLine := storage.NoteDigest(line)
			dv.seen[thisLine] = true
			contiguous := n == dw.lastDone+1
			if !contiguous {
				problem(verify.Problem{Kind: verify.ProblemMissing, File: rel, Detail: fmt.Sprintf("digests %d..%d of writer %s before this one are missing (deleted)", dw.lastDone+1, n-1, w)})
			}
			dw.lastDone = n
			if !dv.signed {
				prevLine = thisLine
				continue
			}
			note, err := storage.ParseNote(line, ring)
			if err != nil {
				problem(verify.Problem{Kind: verify.ProblemBadSignature, File: rel, Detail: err.Error()})
				prevLine = thisLine
				continue
			}
			rep.Checkpoints++
			switch {
			case note.Writer != w || note.Digest != n:
				problem(verify.Problem{Kind: verify.ProblemBadSignature, File: rel, Detail: fmt.Sprintf("the digest is signed as number %d of writer %s: moved or copied", note.Digest, note.Writer)})
			case contiguous && note.PrevNote != prevLine:
				problem(verify.Problem{Kind: verify.ProblemChainBroken, File: rel, Detail: fmt.Sprintf("digest %d of writer %s does not follow digest %d (digests replaced or reordered)", n, w, n-1)})
			}
			prevLine = thisLine
			if dw.final {
				problem(verify.Problem{Kind: verify.ProblemAfterClose, File: rel, Detail: fmt.Sprintf("digest %d of writer %s follows its final digest %s", n, w, dw.finalAt)})
			}
			if note.Type == storage.NoteOpen && note.Legacy != nil {
				dv.legacyClaims = append(dv.legacyClaims, legacyClaim{at: rel, sum: *note.Legacy})
			}
			if note.Type == storage.NoteOpen && note.Store != "" {
				dv.storeClaims = append(dv.storeClaims, storeClaim{at: rel, writer: w, store: note.Store})
			}
			dv.apply(note, rel, links)
			if note.Seq >= dw.head.Seq {
				dw.head, dw.headAt = storage.Chain{Writer: w, Seq: note.Seq, Hash: note.Hash}, rel
			}
			links.SignedHead(w, note.Seq, note.Hash, rel, 0)
			if note.Final {
				dw.final, dw.finalAt = true, rel
			}
		}
	}
	return nil
}

// apply records what one signed note lists and removes.
func (dv *digestView) apply(n *storage.Note, at string, links *verify.ChainLinks) {
	for _, o := range n.Objects {
		lo := &listedObject{d: o, digest: at}
		if n.Type == storage.NoteRemoval && n.Removal != nil {
			// The note is signed before the generation is written (see
			// Store.rewrite): its own generation may never have been.
			for _, f := range n.Removal.Files {
				if sameBatch(f, o.Key) {
					lo.replaces = append(lo.replaces, f)
				}
			}
		}
		dv.listed[o.Key] = append(dv.listed[o.Key], lo)
	}
	if n.Type != storage.NoteRemoval || n.Removal == nil {
		return
	}
	for _, f := range n.Removal.Files {
		if d, ok := strings.CutSuffix(f, "/"); ok {
			dv.removedDays[d] = true
			dv.retention(n, d, at)
		} else {
			dv.superseded[f] = true
		}
	}
	for _, r := range n.Removal.Ranges {
		links.Removed(r)
	}
}

// retention records a retention note of n's writer naming day d: the
// first, signed before the deletes, leaves the removal unfinished until a
// Done note of the same writer for d follows it in the writer's chain
// (digests are applied in chain order), which names the batches it
// deleted.
func (dv *digestView) retention(n *storage.Note, d, at string) {
	if dv.retained == nil {
		dv.retained = map[string]*dayRemoval{}
		dv.retaining = map[string]map[string]pendingRemoval{}
	}
	r := dv.retained[d]
	if r == nil {
		r = &dayRemoval{gone: map[string][]batchSpan{}}
		dv.retained[d] = r
	}
	if dv.retaining[n.Writer] == nil {
		dv.retaining[n.Writer] = map[string]pendingRemoval{}
	}
	t, _ := time.Parse(time.RFC3339Nano, n.Time)
	if !n.Removal.Done {
		dv.retaining[n.Writer][d] = pendingRemoval{at: at, t: t}
		return
	}
	delete(dv.retaining[n.Writer], d)
	if r.doneAt == "" {
		r.doneAt = at
	}
	if t.After(r.doneLast) {
		r.doneLast = t
	}
	for _, run := range n.Removal.Batches {
		if w, from, to, ok := parseBatchRun(run); ok {
			r.gone[w] = append(r.gone[w], batchSpan{from: from, to: to, at: at})
		}
	}
}

// settleRetention marks the days whose retention note no Done note of
// its writer followed: those removals stopped (a crash or an error
// between the note and an empty day; or writers older than Done notes),
// unless a removal of the day signed finished later (by the notes'
// signed times; writers' clocks may differ, which only moves this
// warning) emptied the day since. Called once every digest is read.
func (dv *digestView) settleRetention() {
	for _, w := range slices.Sorted(maps.Keys(dv.retaining)) {
		for d, p := range dv.retaining[w] {
			r := dv.retained[d]
			if !r.doneLast.IsZero() && p.t.Before(r.doneLast) {
				continue
			}
			if r.unfinished == "" || p.at < r.unfinished {
				r.unfinished = p.at
			}
		}
	}
}

// checkRetained checks a batch object present in a day a retention note
// names. A batch a finished removal deleted (its Done note names it) is
// back: [verify.ProblemRestored], naming the object (a copy from before
// the removal put back; readers count its entries again). Any other
// batch was written into the day afterwards (entries with an old
// timestamp), which is legitimate; while a removal of the day is
// unfinished it is counted for that warning instead (see
// reportUnfinishedDays).
func (dv *digestView) checkRetained(date, rel string, bn batchName, problem func(verify.Problem)) {
	r := dv.retained[date]
	if !dv.signed || r == nil {
		return
	}
	if at := r.removedBy(bn.writer, bn.seq); at != "" {
		problem(verify.Problem{Kind: verify.ProblemRestored, File: rel, Detail: fmt.Sprintf("batch %s, which retention deleted with day %s (digest %s signs the removal finished and names the batch), is here again: put back from a copy taken before the removal; readers count its entries again", bn.base(), date, at)})
		return
	}
	if r.unfinished != "" {
		r.left++
	}
}

// checkRetainedLegacy checks a reference-layout object present in a day a
// retention note names: once a removal of the day finished, none can be
// there (no Store writes one), so it is restored; while one is
// unfinished, it is counted for that warning.
func (dv *digestView) checkRetainedLegacy(date, rel string, problem func(verify.Problem)) {
	r := dv.retained[date]
	if !dv.signed || r == nil {
		return
	}
	if r.doneAt != "" {
		problem(verify.Problem{Kind: verify.ProblemRestored, File: rel, Detail: fmt.Sprintf("reference-layout object of day %s, which retention removed (digest %s signs the removal finished), is here again: put back from a copy taken before the removal", date, r.doneAt)})
		return
	}
	if r.unfinished != "" {
		r.left++
	}
}

// reportUnfinishedDays warns, per day, of the objects left in a day whose
// retention stopped before the day was empty: not tampering, since the
// store holds what it signed; deleting again finishes the removal.
func (dv *digestView) reportUnfinishedDays(rep *verify.Report) {
	for _, d := range slices.Sorted(maps.Keys(dv.retained)) {
		r := dv.retained[d]
		if r.unfinished == "" || r.left == 0 {
			continue
		}
		rep.Warnings = append(rep.Warnings, verify.Problem{Kind: verify.WarningUnfinishedRemoval, File: d + "/", Detail: fmt.Sprintf("the retention of day %s signed in digest %s did not complete (no later note of its writer signs the day empty): %d objects of the day are still here (deleting again finishes it)", d, r.unfinished, r.left)})
	}
}

// checkObject checks one current batch object against the digests.
func (dv *digestView) checkObject(rel string, bn batchName, body []byte, maxSeq uint64, rep *verify.Report, problem func(verify.Problem)) {
	if !dv.signed {
		return
	}
	if los := dv.listed[rel]; len(los) > 0 {
		// Two rewrites of one batch racing both sign its next
		// generation; the one whose put won is what is stored.
		sum, match := storage.ObjectSHA256(body), false
		for _, lo := range los {
			lo.seen = true
			match = match || sum == lo.d.SHA256
		}
		if !match {
			problem(verify.Problem{Kind: verify.ProblemModified, File: rel, Detail: fmt.Sprintf("the object differs from the SHA-256 that digest %s lists (changed or replaced)", los[0].digest)})
			return
		}
		dv.intact[rel] = true
		return
	}
	dw := dv.writers[bn.writer]
	n, rs := seqRanges(body)
	own, foreign := 0, ""
	for _, r := range rs {
		if r.Writer == bn.writer {
			own += int(r.To - r.From + 1)
		} else if foreign == "" {
			foreign = r.Writer
		}
	}
	switch {
	case dw == nil:
		if dv.late == nil {
			dv.late = map[string][]lateObject{}
		}
		dv.late[bn.writer] = append(dv.late[bn.writer], lateObject{rel: rel, entries: n})
	case dw.final:
		problem(verify.Problem{Kind: verify.ProblemAfterClose, File: rel, Detail: fmt.Sprintf("object of writer %s that its final digest %s does not list (added after close)", bn.writer, dw.finalAt)})
	case own < n:
		// A Store chains every line of its objects in its own chain: these
		// were not written by it, and no digest vouches for them.
		what := fmt.Sprintf("%d of its %d lines carry no chain", n-own, n)
		if foreign != "" {
			what = fmt.Sprintf("%d of its %d lines are not in the chain of writer %s (lines of writer %s, or none)", n-own, n, bn.writer, foreign)
		}
		problem(verify.Problem{Kind: verify.ProblemUnlisted, File: rel, Detail: fmt.Sprintf("no digest lists this object of signing writer %s, and %s: added (a Store chains every line it writes)", bn.writer, what)})
	case maxSeq > 0 && maxSeq <= dw.head.Seq:
		problem(verify.Problem{Kind: verify.ProblemUnlisted, File: rel, Detail: fmt.Sprintf("no digest lists this object although its entries precede the head of digest %s (added or replaced object, or a rewrite without a signed removal note)", dw.headAt)})
	default:
		rep.Unconfirmed += int64(n)
	}
}

// resolveLate decides about the objects of writers that had no digest
// when the digests were read (checkObject): a writer whose first digest is
// now in the store, signed and an "open" note of that writer, started
// while verifying (a Store writes that note before its first object), so
// its objects are unconfirmed, like those a running writer stored after
// its last digest; any other writer signed nothing: its objects are
// forged, written without a key, or its digests were deleted.
func (s *Store) resolveLate(ctx context.Context, ring *storage.KeyRing, dv *digestView, rep *verify.Report, problem func(verify.Problem)) error {
	for _, w := range slices.Sorted(maps.Keys(dv.late)) {
		started := false
		body, err := s.get(ctx, digestRel(w, 1))
		switch {
		case err == nil:
			n, perr := storage.ParseNote(bytes.TrimSuffix(body, []byte("\n")), ring)
			started = perr == nil && n.Writer == w && n.Digest == 1 && n.Type == storage.NoteOpen
			if started && n.Store != "" {
				dv.checkStoreClaim(storeClaim{at: digestRel(w, 1), writer: w, store: n.Store}, problem)
			}
		case !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, ErrObjectTooLarge):
			return fmt.Errorf("s3store: verify: %w", err)
		}
		objs := dv.late[w]
		if started {
			for _, o := range objs {
				rep.Unconfirmed += int64(o.entries)
			}
			rep.Warnings = append(rep.Warnings, verify.Problem{Kind: verify.WarningChanged, File: objs[0].rel, Detail: fmt.Sprintf("writer %s started while verifying (its signed open digest appeared after the digests were read): its %d objects are unconfirmed", w, len(objs))})
			continue
		}
		for _, o := range objs {
			problem(verify.Problem{Kind: verify.ProblemUnknownWriter, File: o.rel, Detail: fmt.Sprintf("object of writer %s, which signed no digest (forged, written without a checkpoint key, or its digests were deleted)", w)})
		}
	}
	return nil
}

// checkListed reports the listed objects that are gone without a signed
// note accounting for them, and records the chain runs of those a
// retention note removed. A removal note's new generation that was never
// written, while every generation it replaces is current and as its
// digests list it and no digest lists the new one as stored, is a removal
// that stopped between its note and its put: a warning, since what the
// store holds is what it signed before.
func (dv *digestView) checkListed(links *verify.ChainLinks, rep *verify.Report, problem func(verify.Problem)) {
	if !dv.signed {
		return
	}
	keys := make([]string, 0, len(dv.listed))
	for k, los := range dv.listed {
		if !los[0].seen {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		los := dv.listed[k]
		lo := los[0]
		date, _, _ := strings.Cut(k, "/")
		switch {
		case dv.superseded[k]:
		case dv.removedDays[date]:
			for _, r := range lo.d.Ranges {
				links.Removed(r)
			}
		case dv.unfinished(los):
			rep.Warnings = append(rep.Warnings, verify.Problem{Kind: verify.WarningUnfinishedRemoval, File: lo.replaces[0], Detail: fmt.Sprintf("the removal signed in digest %s did not complete: generation %s was never written, and this object still holds the entries it removes (deleting them again finishes it)", lo.digest, k)})
		default:
			problem(verify.Problem{Kind: verify.ProblemMissing, File: k, Detail: fmt.Sprintf("object listed by digest %s (%d entries) is gone or superseded without a signed removal note", lo.digest, lo.d.Entries)})
		}
	}
}

// unfinished reports whether los, what the digests say of an object that
// is not there, are only removal notes about to write it, each of whose
// replaced generations is current and intact.
func (dv *digestView) unfinished(los []*listedObject) bool {
	for _, lo := range los {
		if len(lo.replaces) == 0 {
			return false
		}
		for _, f := range lo.replaces {
			if !dv.intact[f] {
				return false
			}
		}
	}
	return true
}

// sameBatch reports whether keys a and b ("date/name", relative to the
// prefix) are generations of one batch object.
func sameBatch(a, b string) bool {
	da, na, _ := strings.Cut(a, "/")
	db, nb, _ := strings.Cut(b, "/")
	ba, ok1 := parseBatchName(na)
	bb, ok2 := parseBatchName(nb)
	return ok1 && ok2 && da == db && ba.base() == bb.base()
}

// readLegacyNote reads the signed legacy note (see
// Store.ensureLegacyNoteLocked). It is read after the digests: a writer
// writes it before its open note, so when any writer's digest was listed
// it is there to read.
func (s *Store) readLegacyNote(ctx context.Context, ring *storage.KeyRing, dv *digestView, problem func(verify.Problem)) error {
	body, err := s.get(ctx, legacyNoteRel)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if errors.Is(err, ErrObjectTooLarge) {
		dv.legacyNote = true
		problem(tooLarge(legacyNoteRel, s.cfg.maxObjectBytes))
		return nil
	}
	if err != nil {
		return fmt.Errorf("s3store: verify: %w", err)
	}
	dv.legacyNote = true
	n, err := storage.ParseNote(bytes.TrimSuffix(body, []byte("\n")), ring)
	if err != nil {
		problem(verify.Problem{Kind: verify.ProblemBadSignature, File: legacyNoteRel, Detail: err.Error()})
		return nil
	}
	if n.Type != storage.NoteLegacy {
		problem(verify.Problem{Kind: verify.ProblemBadSignature, File: legacyNoteRel, Detail: fmt.Sprintf("a signed %q note where the legacy note belongs: moved or copied", n.Type)})
		return nil
	}
	dv.legacySum = n.Legacy
	dv.storeID = storage.NoteDigest(bytes.TrimSuffix(body, []byte("\n")))
	dv.legacy = make(map[string]*legacyObject, len(n.Objects))
	for _, o := range n.Objects {
		dv.legacy[o.Key] = &legacyObject{sha256: o.SHA256}
	}
	return nil
}

// checkLegacyClaims requires the legacy note that writers' open notes say
// they stored: gone, the reference-layout objects it listed could be
// deleted unseen; replaced by a later writer's (the note deleted, and a
// writer that started afterwards signed what was there then), objects
// deleted or added meanwhile would pass.
func (dv *digestView) checkLegacyClaims(problem func(verify.Problem)) {
	for _, c := range dv.legacyClaims {
		switch {
		case !dv.legacyNote:
			problem(verify.Problem{Kind: verify.ProblemMissing, File: legacyNoteRel, Detail: fmt.Sprintf("the legacy note that digest %s says its writer stored (%d reference-layout objects) is gone: deleted, so the reference-layout objects it listed cannot be checked", c.at, c.sum.Count)})
			return
		case dv.legacySum == nil:
			return // an unreadable note is reported already
		case *dv.legacySum != c.sum:
			problem(verify.Problem{Kind: verify.ProblemLegacyChanged, File: legacyNoteRel, Detail: fmt.Sprintf("the legacy note differs from the one digest %s says its writer stored (%d reference-layout objects): deleted and signed again later, over the reference-layout objects present then", c.at, c.sum.Count)})
		}
	}
}

// checkStoreClaims requires every open note that names a store to name
// this one (see Store.openLocked): a writer session of another prefix
// whose writers sign with the same key, copied in whole (objects, markers,
// digests), names that prefix's legacy note. Open notes that name no
// store (written before stores were named, or by a writer that could not
// read the prefix) are taken as before. A store whose legacy note is gone
// while open notes name one is reported once; an unreadable or unsigned
// note is reported already.
func (dv *digestView) checkStoreClaims(problem func(verify.Problem)) {
	if len(dv.storeClaims) == 0 {
		return
	}
	if !dv.legacyNote {
		c := dv.storeClaims[0]
		problem(verify.Problem{Kind: verify.ProblemMissing, File: legacyNoteRel, Detail: fmt.Sprintf("the legacy note, which names this store, is gone, while %d writers' open digests name a store (the first, %s of writer %s, names %s): deleted", len(dv.storeClaims), c.at, c.writer, c.store)})
		return
	}
	if dv.storeID == "" {
		return
	}
	for _, c := range dv.storeClaims {
		dv.checkStoreClaim(c, problem)
	}
}

// checkStoreClaim reports c when it names another store than this one.
func (dv *digestView) checkStoreClaim(c storeClaim, problem func(verify.Problem)) {
	if dv.storeID == "" || c.store == dv.storeID {
		return
	}
	problem(verify.Problem{Kind: verify.ProblemUnknownWriter, File: c.at, Detail: fmt.Sprintf("writer %s opened in another store: its signed open digest names store %s, this prefix's legacy note is store %s (a session of another prefix signed with the same key, copied in; or this prefix's legacy note replaced)", c.writer, c.store, dv.storeID)})
}

// checkLegacy checks one reference-layout object of a signed store
// against the legacy note: it must be one the note lists, with the bytes
// it lists. A store whose writers signed digests but that has no legacy
// note (its writers predate the note) may hold none at all.
func (s *Store) checkLegacy(ctx context.Context, dv *digestView, rel string, rep *verify.Report, problem func(verify.Problem)) error {
	if !dv.signed {
		return nil
	}
	if dv.legacy == nil {
		if !dv.legacyNote && len(dv.writers) > 0 {
			problem(verify.Problem{Kind: verify.ProblemLegacyChanged, File: rel, Detail: "reference-layout object in a signed store that has no signed legacy note (" + legacyNoteRel + "): not present when signing began (added?)"})
		}
		return nil // an unreadable note is reported already
	}
	lo := dv.legacy[rel]
	if lo == nil {
		problem(verify.Problem{Kind: verify.ProblemLegacyChanged, File: rel, Detail: "reference-layout object in a signed store, not present when signing began (" + legacyNoteRel + " does not list it): added after signing began"})
		return nil
	}
	body, err := s.get(ctx, rel)
	if errors.Is(err, storage.ErrNotFound) {
		lo.seen = true
		rep.Warnings = append(rep.Warnings, verify.Problem{Kind: verify.WarningChanged, File: rel, Detail: "object removed while verifying; verify again for a stable result"})
		return nil
	}
	if errors.Is(err, ErrObjectTooLarge) {
		lo.seen = true
		problem(tooLarge(rel, s.cfg.maxObjectBytes))
		return nil
	}
	if err != nil {
		return fmt.Errorf("s3store: verify: %w", err)
	}
	lo.seen = true
	switch {
	case storage.ObjectSHA256(body) != lo.sha256:
		problem(verify.Problem{Kind: verify.ProblemLegacyChanged, File: rel, Detail: "reference-layout object differs from the SHA-256 that " + legacyNoteRel + " signed when signing began (changed or replaced)"})
	case dv.superseded[rel]:
		rep.Warnings = append(rep.Warnings, verify.Problem{Kind: verify.WarningUnfinishedRemoval, File: rel, Detail: "a signed removal note removes this reference-layout object, which is still here, unchanged: the removal stopped before the delete, or the object was put back (deleting it again finishes it)"})
	}
	return nil
}

// checkLegacyListed reports the reference-layout objects the legacy note
// lists that are gone without a signed removal note naming them or their
// day.
func (dv *digestView) checkLegacyListed(problem func(verify.Problem)) {
	for _, k := range slices.Sorted(maps.Keys(dv.legacy)) {
		date, _, _ := strings.Cut(k, "/")
		if dv.legacy[k].seen || dv.superseded[k] || dv.removedDays[date] {
			continue
		}
		problem(verify.Problem{Kind: verify.ProblemLegacyChanged, File: k, Detail: "reference-layout object that " + legacyNoteRel + " signed when signing began is gone without a signed removal note (deleted)"})
	}
}
