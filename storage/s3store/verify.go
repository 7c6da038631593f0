package s3store

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/verify"
)

// S3Unverifiable is what [Store.Verify] cannot rule out on an S3 store
// that is not signed (its writers had no [WithCheckpointKey], or Verify
// was given no key); every such report lists it in
// [verify.Report.Unverifiable].
var S3Unverifiable = []string{
	"removal of a writer's newest entries (its last batch objects, or lines at the end of its chain): the store is not signed (no digest objects checked; give the writers s3store.WithCheckpointKey and verify the key), so a chain that ends early looks complete",
	"replaced or added objects re-chained consistently, and deletion of all objects of a writer: nothing signed lists the objects",
	"rollback of the prefix to an older copy: no witness",
}

// UnverifiableWithoutWitness returns what [Store.Verify] of a signed S3
// store cannot rule out without a witness ([WithVerifyWitness]), as the
// report's Unverifiable lists it. Each call returns a new slice.
func UnverifiableWithoutWitness() []string { return slices.Clone(unverifiableWithoutWitness) }

var unverifiableWithoutWitness = []string{
	"removal of a writer's newest entries together with its newest digest objects, deletion of a whole writer session (its objects and digests) and rollback of the prefix to an older copy: what the store signed last cannot be vouched for by the store; a witness (s3store.WithWitness, verify --witness) rules these out",
}

// VerifyOption configures [Store.Verify].
type VerifyOption interface{ applyVerify(*verifyConfig) }

type verifyOptionFunc func(*verifyConfig)

func (f verifyOptionFunc) applyVerify(c *verifyConfig) { f(c) }

type verifyConfig struct {
	keys    storage.KeyRing
	keyErr  error
	witness io.Reader
}

// WithVerifyKey adds an HMAC key (with its id) that digests may be signed
// with; give it several times for rotated keys. Keys given under the
// same id are all tried: a digest is accepted when one of them checks its
// signature. A key shorter than [storage.MinHMACKeyLen] bytes or an empty
// id makes Verify fail with an error matching [storage.ErrBadKey].
func WithVerifyKey(keyID string, key []byte) VerifyOption {
	return verifyOptionFunc(func(c *verifyConfig) {
		if err := c.keys.AddHMAC(keyID, key); err != nil && c.keyErr == nil {
			c.keyErr = err
		}
	})
}

// WithVerifyPublicKey adds the Ed25519 public key (with its id) of writers
// that sign with [WithCheckpointSigner]. A key of the wrong size or an
// empty id makes Verify fail with an error matching [storage.ErrBadKey].
func WithVerifyPublicKey(keyID string, pub ed25519.PublicKey) VerifyOption {
	return verifyOptionFunc(func(c *verifyConfig) {
		if err := c.keys.AddEd25519(keyID, pub); err != nil && c.keyErr == nil {
			c.keyErr = err
		}
	})
}

// WithVerifyWitness gives Verify the lines writers published with
// [WithWitness] (the same record a file store's witness holds). Every
// note the witness holds must be among the store's digest objects, byte
// for byte; one that is not is a [verify.ProblemWitnessed] problem naming
// the writer, the digest and the witness line. It is read once, before the
// store. A nil r is ignored.
func WithVerifyWitness(r io.Reader) VerifyOption {
	return verifyOptionFunc(func(c *verifyConfig) {
		if r != nil {
			c.witness = r
		}
	})
}

// Verify checks the tamper evidence of every entry under the store's
// prefix without changing anything.
//
// Always: the hash of every chained line over its exact bytes and, writer
// by writer, that its entries form one unbroken chain 1..n across all its
// batch objects and days (through [verify.ChainLinks]); in each batch
// object, that the lines are in the order the Store writes them
// (timestamp, then id), that every entry lies in its object's day, and
// that the object holds as many entries as its name says. It reports, with
// the object key (relative to the prefix) and line: a changed byte
// ([verify.ProblemModified]), deleted lines or objects
// ([verify.ProblemMissing]), inserted or replaced entries
// ([verify.ProblemChainBroken], [verify.ProblemModified]), reordered
// lines ([verify.ProblemReordered]) and replayed entries
// ([verify.ProblemDuplicate]). Objects in the reference layout (one entry
// per object) and unchained lines are counted as legacy and reported as a
// warning ([verify.WarningLegacy]), not as tampering. Every id marker a
// batch object's entries need to be found by id must exist: a missing one
// is a [verify.ProblemMarkerMissing] naming the object and the marker
// (Read, Delete and `otelaudit show` miss those entries), a marker naming
// no batch object of a day that exists a [verify.WarningOrphanMarker].
//
// Given the key the writers signed with ([WithVerifyKey],
// [WithVerifyPublicKey]), it also checks every writer's digest objects:
// signatures, numbering and the chain of digests (a deleted, altered,
// moved or forged digest is found), that every object a digest lists is
// present with the listed SHA-256 unless a signed removal note accounts
// for it (Delete, DeleteBefore), that the reference-layout objects are
// those the signed legacy note lists, unchanged, less the removed ones
// ([verify.ProblemLegacyChanged]), that every object present is listed
// ([verify.ProblemUnlisted], or [verify.ProblemUnknownWriter] for a
// writer that never signed; objects a running writer stored after its
// last digest are reported as unconfirmed, [verify.WarningUnconfirmed],
// when every line is in that writer's own chain),
// that each writer's signed head is present, that nothing follows a
// final digest, and that no batch object a finished retention deleted is
// in its day again ([verify.ProblemRestored], naming the object: a copy
// from before the removal put back, whole day or one object; batches
// written into the day after it are new and pass; a retention stopped
// before the day was empty is a [verify.WarningUnfinishedRemoval] naming
// the day). Readers are not changed: Count and queries still count a
// restored object's entries; only Verify reports it. Given a witness ([WithVerifyWitness]) it requires every
// witnessed note in the store. The report lists in Unverifiable what this
// verification cannot rule out ([S3Unverifiable] unsigned,
// [UnverifiableWithoutWitness] signed without a witness).
//
// A prefix without any object is an error matching [storage.ErrNoStore]
// (unless a witness says a store was there: then every witnessed note is
// reported missing); an unusable key one matching [storage.ErrBadKey];
// failures to list or read are errors too, except an object over
// [WithMaxObjectBytes], which no Store writes: it is a
// [verify.ProblemCorrupt] naming it, not read, and the rest of the store
// is verified. Verify flushes what this Store
// accepted first (and, when it signs, writes its digest). Memory holds a
// small record per chained entry and per listed object.
func (s *Store) Verify(ctx context.Context, opts ...VerifyOption) (*verify.Report, error) {
	var cfg verifyConfig
	for _, o := range opts {
		if o != nil {
			o.applyVerify(&cfg)
		}
	}
	if cfg.keyErr != nil {
		return nil, fmt.Errorf("s3store: verify: %w", cfg.keyErr)
	}
	var witnessed []verify.WitnessNote
	var badWitness []verify.Problem
	if cfg.witness != nil {
		var err error
		if witnessed, badWitness, err = verify.ReadWitness(cfg.witness); err != nil {
			return nil, fmt.Errorf("s3store: verify: %w", err)
		}
	}
	if err := s.flush(ctx); err != nil {
		return nil, err
	}
	if err := s.digest(ctx, false); err != nil {
		return nil, err
	}
	start := time.Now()
	rep := &verify.Report{Dir: "s3://" + s.bucket + "/" + s.cfg.prefix, Witness: cfg.witness != nil, Witnessed: len(witnessed)}
	problem := func(p verify.Problem) { rep.Problems = append(rep.Problems, p) }
	var dates []string
	anyObject := false
	err := s.list(ctx, "", "", "/", func(rel string, isPrefix bool, _ objMeta) bool {
		anyObject = true
		if d, ok := strings.CutSuffix(rel, "/"); ok && isPrefix {
			if _, ok := parseDate(d); ok {
				dates = append(dates, d)
			}
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("s3store: verify: %w", err)
	}
	if !anyObject && len(witnessed) == 0 {
		return nil, fmt.Errorf("s3store: verify %s: %w (no objects under the prefix)", rep.Dir, storage.ErrNoStore)
	}
	var links verify.ChainLinks
	dv := &digestView{signed: cfg.keys.Len() > 0, listed: map[string][]*listedObject{}, intact: map[string]bool{}, superseded: map[string]bool{}, removedDays: map[string]bool{}, writers: map[string]*digestWriter{}, seen: map[string]bool{}}
	// Digests first: every digest read then lists objects stored before
	// the listing of the partitions below.
	if err := s.readDigests(ctx, &cfg.keys, dv, &links, rep, problem); err != nil {
		return nil, err
	}
	dv.settleRetention()
	if dv.signed {
		if err := s.readLegacyNote(ctx, &cfg.keys, dv, problem); err != nil {
			return nil, err
		}
		dv.checkLegacyClaims(problem)
		dv.checkStoreClaims(problem)
	}
	var objs []verifiedObject
	for _, date := range dates {
		p, err := s.listPartition(ctx, date, "")
		if err != nil {
			return nil, fmt.Errorf("s3store: verify: %w", err)
		}
		rep.Entries += int64(len(p.legacy))
		rep.Legacy += int64(len(p.legacy))
		for _, rel := range p.legacy {
			if err := s.checkLegacy(ctx, dv, rel, rep, problem); err != nil {
				return nil, err
			}
			dv.checkRetainedLegacy(date, rel, problem)
		}
		for _, bn := range p.batch {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("s3store: verify: %w", err)
			}
			rel := date + "/" + bn.String()
			body, err := s.get(ctx, rel)
			if errors.Is(err, storage.ErrNotFound) || err == nil && isTombstone(body) {
				// Superseded or removed since the listing (a Delete or
				// retention running meanwhile).
				rep.Warnings = append(rep.Warnings, verify.Problem{Kind: verify.WarningChanged, File: rel, Detail: "object removed or superseded while verifying; verify again for a stable result"})
				for _, lo := range dv.listed[rel] {
					lo.seen = true
				}
				objs = append(objs, verifiedObject{rel: rel, date: date, name: bn, gone: true})
				continue
			}
			if errors.Is(err, ErrObjectTooLarge) {
				// Planted or damaged (no Store writes one): reported, not
				// read, and the rest of the store still verified.
				problem(tooLarge(rel, s.cfg.maxObjectBytes))
				for _, lo := range dv.listed[rel] {
					lo.seen = true
				}
				objs = append(objs, verifiedObject{rel: rel, date: date, name: bn, gone: true})
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("s3store: verify: %w", err)
			}
			rep.Files++
			vo := verifiedObject{rel: rel, date: date, name: bn}
			maxSeq := s.verifyObject(&vo, body, &links, rep, problem)
			dv.checkObject(rel, bn, body, maxSeq, rep, problem)
			dv.checkRetained(date, rel, bn, problem)
			objs = append(objs, vo)
		}
	}
	// (A signed store is checked object by object against its digests and
	// removal notes instead: retention may have removed every entry.)
	if rep.Files == 0 && rep.Legacy == 0 && anyObject && !dv.signed {
		problem(verify.Problem{Kind: verify.ProblemMissing, Detail: "no entry is left under the prefix: every batch object is gone (only markers, digests or other objects remain)"})
	}
	if err := s.resolveLate(ctx, &cfg.keys, dv, rep, problem); err != nil {
		return nil, err
	}
	dv.checkListed(&links, rep, problem)
	dv.reportUnfinishedDays(rep)
	dv.checkLegacyListed(problem)
	if err := s.checkMarkers(ctx, objs, dates, dv, rep, problem); err != nil {
		return nil, err
	}
	links.Check(problem)
	rep.Writers = max(links.Writers(), len(dv.writers))
	if dv.signed && len(dv.writers) == 0 && !dv.legacyNote && rep.Legacy > 0 {
		// A key says the prefix was signed; its every digest gone and its
		// entries all in the reference layout is what stripping it would
		// leave, which without the key passes as a reference bucket.
		problem(verify.Problem{Kind: verify.ProblemMissing, File: digestsDir, Detail: "a checkpoint key was given but the prefix holds no signed digest: its digests were removed, and its entries, none chained, cannot be checked (a prefix written only by the reference implementation is verified without a key)"})
	}
	if len(dv.writers) > 0 && !dv.signed {
		problem(verify.Problem{Kind: verify.ProblemNoKey, File: digestsDir, Detail: "the store has signed digest objects but no checkpoint key was given: they cannot be checked"})
	}
	if cfg.witness != nil {
		for _, p := range badWitness {
			problem(p)
		}
		verify.CheckWitness(witnessed, dv.seen, func(w verify.WitnessNote) string { return digestRel(w.Writer, w.Digest) }, problem)
	}
	switch {
	case !dv.signed:
		rep.Unverifiable = S3Unverifiable
	case cfg.witness == nil:
		rep.Unverifiable = UnverifiableWithoutWitness()
	}
	if rep.Unconfirmed > 0 {
		rep.Warnings = append(rep.Warnings, verify.Problem{Kind: verify.WarningUnconfirmed, Detail: fmt.Sprintf("%d entries in objects stored after their writer's last digest (a writer still running, or crashed): chain intact, not yet signed", rep.Unconfirmed)})
	}
	if rep.Legacy > 0 {
		rep.Warnings = append(rep.Warnings, verify.Problem{Kind: verify.WarningLegacy, Detail: fmt.Sprintf("%d entries have no chain (reference-layout objects, or written before chaining): not verifiable one by one", rep.Legacy)})
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// verifyObject checks the lines of one batch object.
// It returns the highest chain position among them (0 when none is
// chained).
// It records in vo the ids its markers must cover.
func (s *Store) verifyObject(vo *verifiedObject, body []byte, links *verify.ChainLinks, rep *verify.Report, problem func(verify.Problem)) (maxSeq uint64) {
	rel, date, bn := vo.rel, vo.date, vo.name
	line, n := 0, 0
	var lastID string
	var lastTS time.Time
	for b := range lines(body) {
		line++
		n++
		rep.Entries++
		c, p, chained := links.Add(rel, line, b)
		if p != nil {
			problem(*p)
		}
		if chained {
			maxSeq = max(maxSeq, c.Seq)
		}
		id, ts, err := storage.EntryKey(b)
		if err != nil {
			if chained || json.Valid(b) {
				problem(verify.Problem{Kind: verify.ProblemCorrupt, File: rel, Line: line, Detail: "line is not a readable entry"})
			} else {
				problem(verify.Problem{Kind: verify.ProblemCorrupt, File: rel, Line: line, Detail: "line is not a JSON entry"})
			}
			continue
		}
		vo.addID(id)
		if chained {
			rep.Chained++
		} else {
			rep.Legacy++
		}
		if d := ts.UTC().Format(dateLayout); d != date {
			problem(verify.Problem{Kind: verify.ProblemWrongDay, File: rel, Line: line, Detail: "entry has timestamp day " + d})
		}
		if line > 1 {
			if c := ts.Compare(lastTS); c < 0 || c == 0 && cmp.Compare(id, lastID) <= 0 {
				problem(verify.Problem{Kind: verify.ProblemReordered, File: rel, Line: line, Detail: fmt.Sprintf("line %d is out of the order the Store writes (timestamp, then id) after line %d: lines reordered, moved or inserted", line, line-1)})
			}
		}
		lastID, lastTS = id, ts
	}
	if !bn.slot && bn.n != n {
		kind, what := verify.ProblemMissing, "lines deleted"
		if n > bn.n {
			kind, what = verify.ProblemCorrupt, "lines inserted"
		}
		problem(verify.Problem{Kind: kind, File: rel, Detail: fmt.Sprintf("the object's name says %d entries, it holds %d (%s)", bn.n, n, what)})
	}
	return maxSeq
}

// tooLarge is the problem of an object over [WithMaxObjectBytes], which
// Verify does not read.
func tooLarge(rel string, limit int64) verify.Problem {
	return verify.Problem{Kind: verify.ProblemCorrupt, File: rel, Detail: fmt.Sprintf("object over %d bytes (WithMaxObjectBytes), larger than any the store writes: not read (planted or damaged)", limit)}
}
