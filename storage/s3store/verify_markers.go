package s3store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/otelaudit/otelaudit-go/storage/verify"
)

// verifiedObject is a current batch object Verify read, with the ids its
// id markers must cover.
type verifiedObject struct {
	rel, date string
	name      batchName
	gone      bool                // removed or superseded while verifying
	v7        map[string]*idRange // UUIDv7 ids by the day they encode
	other     bool                // holds ids of another form
}

// idRange is the lowest and highest id of a group.
type idRange struct{ lo, hi string }

// addID records that id must be found by its markers.
func (vo *verifiedObject) addID(id string) {
	d, ok := v7Date(id)
	if !ok {
		vo.other = true
		return
	}
	if vo.v7 == nil {
		vo.v7 = map[string]*idRange{}
	}
	if r := vo.v7[d]; r != nil {
		r.lo, r.hi = min(r.lo, id), max(r.hi, id)
		return
	}
	vo.v7[d] = &idRange{id, id}
}

// listedMarker is a marker Verify listed, with the bucket (id day or
// "other") it is filed under.
type listedMarker struct {
	rel, bucket string
	m           marker
}

// checkMarkers lists every id marker and checks them against the batch
// objects Verify read (objs). Read, Delete and `otelaudit show` find an
// entry by id only through a marker under the id's bucket whose batch is
// the entry's and whose id range covers it, so each group of ids of each
// object needs one: a group none covers is a problem
// ([verify.ProblemMarkerMissing]). Markers are uploaded before their
// batch object (see batch.objects), and listed here after the objects
// were, so a crash or a writer uploading meanwhile leaves at most a
// marker naming no object: a warning ([verify.WarningOrphanMarker]) when
// its day holds no such batch, nothing when its day is gone (retention
// leaves markers filed under later id days). Cost: one list per 1,000
// markers, plus one list per object with a missing marker (to tell a
// rewrite or retention running meanwhile from a deletion).
func (s *Store) checkMarkers(ctx context.Context, objs []verifiedObject, dates []string, dv *digestView, rep *verify.Report, problem func(verify.Problem)) error {
	type batchKey struct{ date, base string }
	byBatch := map[batchKey][]listedMarker{}
	var all []listedMarker
	err := s.list(ctx, idsDir, "", "", func(rel string, _ bool, _ objMeta) bool {
		m, ok := parseMarker(rel)
		if !ok {
			return true
		}
		bucket, _, _ := strings.Cut(strings.TrimPrefix(rel, idsDir), "/")
		lm := listedMarker{rel: rel, bucket: bucket, m: m}
		k := batchKey{m.date, m.name.base()}
		byBatch[k] = append(byBatch[k], lm)
		all = append(all, lm)
		return true
	})
	if err != nil {
		return fmt.Errorf("s3store: verify: list id markers: %w", err)
	}
	covered := func(ms []listedMarker, bucket string, r *idRange) bool {
		for _, lm := range ms {
			if lm.bucket == bucket && (r == nil || lm.m.minID <= r.lo && r.hi <= lm.m.maxID) {
				return true
			}
		}
		return false
	}
	have := map[batchKey]bool{}
	for _, vo := range objs {
		k := batchKey{vo.date, vo.name.base()}
		have[k] = true
		if vo.gone {
			continue
		}
		ms := byBatch[k]
		var missing []verify.Problem
		// The exact marker key is known for a first generation (its
		// markers carry its name); a rewritten one keeps the markers of
		// the first, whose id range only its ids of then tell.
		exact := !vo.name.slot
		for _, d := range slices.Sorted(maps.Keys(vo.v7)) {
			r := vo.v7[d]
			if covered(ms, d, r) {
				continue
			}
			detail := fmt.Sprintf("no id marker under %s%s/ for batch %s covers ids %s..%s: these entries of the object cannot be found by id (Read, Delete, otelaudit show); markers deleted", idsDir, d, vo.name.base(), r.lo, r.hi)
			if exact {
				detail = fmt.Sprintf("id marker %s is missing: the entries of this object with ids %s..%s cannot be found by id (Read, Delete, otelaudit show); marker deleted", markerRel(d, r.lo, r.hi, vo.date, vo.name), r.lo, r.hi)
			}
			missing = append(missing, verify.Problem{Kind: verify.ProblemMarkerMissing, File: vo.rel, Detail: detail})
		}
		if vo.other && !covered(ms, otherBucket, nil) {
			detail := fmt.Sprintf("no id marker under %s%s/ names batch %s: the entries of this object whose ids are not UUIDv7 cannot be found by id (Read, Delete, otelaudit show); markers deleted", idsDir, otherBucket, vo.name.base())
			if exact {
				detail = fmt.Sprintf("id marker %s is missing: the entries of this object whose ids are not UUIDv7 cannot be found by id (Read, Delete, otelaudit show); marker deleted", markerRel(otherBucket, "", "", vo.date, vo.name))
			}
			missing = append(missing, verify.Problem{Kind: verify.ProblemMarkerMissing, File: vo.rel, Detail: detail})
		}
		if len(missing) == 0 {
			continue
		}
		// A rewrite or retention running meanwhile may have replaced or
		// removed the object (and retention its markers) since it was read.
		p, err := s.listPartition(ctx, vo.date, vo.name.base()+".")
		if err != nil {
			return fmt.Errorf("s3store: verify: %w", err)
		}
		if cur, ok := p.byBase[vo.name.base()]; !ok || cur != vo.name {
			rep.Warnings = append(rep.Warnings, verify.Problem{Kind: verify.WarningChanged, File: vo.rel, Detail: "object removed or superseded while verifying; verify again for a stable result"})
			continue
		}
		for _, p := range missing {
			problem(p)
		}
	}
	days := map[string]bool{}
	for _, d := range dates {
		days[d] = !dv.removedDays[d]
	}
	for _, lm := range all {
		if have[batchKey{lm.m.date, lm.m.name.base()}] || !days[lm.m.date] {
			continue
		}
		rep.Warnings = append(rep.Warnings, verify.Problem{Kind: verify.WarningOrphanMarker, File: lm.rel, Detail: fmt.Sprintf("id marker of batch %s, which day %s does not hold: an upload stopped between its markers and its object, or a writer uploaded while verifying (reads skip it)", lm.m.name.base(), lm.m.date)})
	}
	return nil
}
