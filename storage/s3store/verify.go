package s3store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
)

// S3Unverifiable is what [Store.Verify] cannot rule out on S3 until
// digests and witnesses exist (see the package doc's tamper-evidence
// design); every report lists it in [storage.VerifyReport.Unverifiable].
var S3Unverifiable = []string{
	"removal of a writer's newest entries (its last batch objects, or lines at the end of its chain): S3 stores write no signed digests yet, so a chain that ends early looks complete",
	"deletion of all objects of a writer, and rollback of the prefix to an older copy: there is no witness for S3 stores yet",
	"forgery by someone with write access who re-chains their entries consistently under a new writer id: S3 chains are not signed yet",
}

// Verify checks the tamper evidence of every entry under the store's
// prefix without changing anything: the hash of every chained line over
// its exact bytes and, writer by writer, that its entries form one
// unbroken chain 1..n across all its batch objects and days (through
// [storage.ChainLinks]). In each batch object it also checks that the lines
// are in the order the Store writes them (timestamp, then id), that every
// entry lies in its object's day, and that the object holds as many
// entries as its name says.
//
// It reports, with the object key (relative to the prefix) and line: a
// changed byte ([storage.ProblemModified]), deleted lines or objects
// ([storage.ProblemMissing]), inserted or replaced entries
// ([storage.ProblemChainBroken], [storage.ProblemModified]), reordered
// lines ([storage.ProblemReordered]) and replayed entries
// ([storage.ProblemDuplicate]). Objects in the reference layout (one entry
// per object) and unchained lines are counted as legacy and reported as a
// warning ([storage.WarningLegacy]), not as tampering.
//
// Limits: the report lists in Unverifiable what S3 verification cannot
// rule out yet ([S3Unverifiable]): without digests and witnesses, removing
// a writer's newest entries or all of them, or rolling the prefix back,
// leaves a smaller store that verifies. Delete and DeleteBefore write no
// removal notes on S3 yet, so entries they removed are reported as
// missing.
//
// A prefix without any object is an error matching [storage.ErrNoStore];
// failures to list or read are errors too. Verify flushes what this Store
// accepted first. Memory holds a small record per chained entry.
func (s *Store) Verify(ctx context.Context) (*storage.VerifyReport, error) {
	if err := s.flush(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	rep := &storage.VerifyReport{Dir: "s3://" + s.bucket + "/" + s.cfg.prefix, Unverifiable: S3Unverifiable}
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
	if !anyObject {
		return nil, fmt.Errorf("s3store: verify %s: %w (no objects under the prefix)", rep.Dir, storage.ErrNoStore)
	}
	var links storage.ChainLinks
	problem := func(p storage.Problem) { rep.Problems = append(rep.Problems, p) }
	for _, date := range dates {
		p, err := s.listPartition(ctx, date, "")
		if err != nil {
			return nil, fmt.Errorf("s3store: verify: %w", err)
		}
		rep.Entries += int64(len(p.legacy))
		rep.Legacy += int64(len(p.legacy))
		for _, bn := range p.batch {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("s3store: verify: %w", err)
			}
			rel := date + "/" + bn.String()
			body, err := s.get(ctx, rel)
			if errors.Is(err, storage.ErrNotFound) || err == nil && isTombstone(body) {
				// Superseded or removed since the listing (a Delete or
				// retention running meanwhile).
				rep.Warnings = append(rep.Warnings, storage.Problem{Kind: storage.WarningChanged, File: rel, Detail: "object removed or superseded while verifying; verify again for a stable result"})
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("s3store: verify: %w", err)
			}
			rep.Files++
			s.verifyObject(rel, date, bn, body, &links, rep, problem)
		}
	}
	if rep.Files == 0 && rep.Legacy == 0 {
		problem(storage.Problem{Kind: storage.ProblemMissing, Detail: "no entry is left under the prefix: every batch object is gone (only markers or other objects remain)"})
	}
	rep.Writers = links.Writers()
	links.Check(problem)
	if rep.Legacy > 0 {
		rep.Warnings = append(rep.Warnings, storage.Problem{Kind: storage.WarningLegacy, Detail: fmt.Sprintf("%d entries have no chain (reference-layout objects, or written before chaining): not verifiable one by one", rep.Legacy)})
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// verifyObject checks the lines of one batch object.
func (s *Store) verifyObject(rel, date string, bn batchName, body []byte, links *storage.ChainLinks, rep *storage.VerifyReport, problem func(storage.Problem)) {
	line, n := 0, 0
	var lastID string
	var lastTS time.Time
	for b := range lines(body) {
		line++
		n++
		rep.Entries++
		_, p, chained := links.Add(rel, line, b)
		if p != nil {
			problem(*p)
		}
		id, ts, err := storage.EntryKey(b)
		if err != nil {
			if chained || json.Valid(b) {
				problem(storage.Problem{Kind: storage.ProblemCorrupt, File: rel, Line: line, Detail: "line is not a readable entry"})
			} else {
				problem(storage.Problem{Kind: storage.ProblemCorrupt, File: rel, Line: line, Detail: "line is not a JSON entry"})
			}
			continue
		}
		if chained {
			rep.Chained++
		} else {
			rep.Legacy++
		}
		if d := ts.UTC().Format(dateLayout); d != date {
			problem(storage.Problem{Kind: storage.ProblemWrongDay, File: rel, Line: line, Detail: "entry has timestamp day " + d})
		}
		if line > 1 {
			if c := ts.Compare(lastTS); c < 0 || c == 0 && cmp.Compare(id, lastID) <= 0 {
				problem(storage.Problem{Kind: storage.ProblemReordered, File: rel, Line: line, Detail: fmt.Sprintf("line %d is out of the order the Store writes (timestamp, then id) after line %d: lines reordered, moved or inserted", line, line-1)})
			}
		}
		lastID, lastTS = id, ts
	}
	if !bn.slot && bn.n != n {
		kind, what := storage.ProblemMissing, "lines deleted"
		if n > bn.n {
			kind, what = storage.ProblemCorrupt, "lines inserted"
		}
		problem(storage.Problem{Kind: kind, File: rel, Detail: fmt.Sprintf("the object's name says %d entries, it holds %d (%s)", bn.n, n, what)})
	}
}
