// Package verify holds what the tamper-evidence verification of every
// backend shares: the report and its finding kinds, the collection and
// check of writers' chains ([ChainLinks]) and the reading and check of
// witnesses. filestore.Verify and s3store.Store.Verify use it, so tools
// print and match one set of findings whatever the store. Lines, chains
// and signed notes are parsed and hashed only through the storage codec.
//
//	rep, err := filestore.Verify(ctx, dir)
//	if err == nil && !rep.OK() {
//		for _, p := range rep.Problems {
//			fmt.Println(p) // file:line: kind: detail
//		}
//	}
package verify

import (
	"encoding/json"
	"strconv"
	"time"
)

// ProblemKind classifies a finding of a verification.
type ProblemKind string

// Problems: evidence of tampering or damage ([Report.Problems]).
const (
	// ProblemModified: an entry's bytes do not match its chain hash, or
	// its hash differs from the one a signed checkpoint recorded.
	ProblemModified ProblemKind = "modified"
	// ProblemChainBroken: an entry does not link to the hash of the
	// writer's previous entry (inserted, replaced or altered entries).
	ProblemChainBroken ProblemKind = "chain-broken"
	// ProblemWitnessed: a signed note that the witness holds
	// (filestore.WithVerifyWitness) is not in the store: its newest entries were
	// removed with their checkpoints, a writer session was deleted, or the
	// store was rolled back to an older copy.
	ProblemWitnessed ProblemKind = "witnessed-missing"
	// ProblemMissing: entries of a writer's chain are missing (deleted
	// lines, a truncated or deleted file) without a signed removal note.
	ProblemMissing ProblemKind = "missing"
	// ProblemReordered: a writer's entries are out of order in a file, or
	// an object's lines are not in the order its writer stored them.
	ProblemReordered ProblemKind = "reordered"
	// ProblemDuplicate: an entry of a chain appears more than once.
	ProblemDuplicate ProblemKind = "duplicate"
	// ProblemUnknownWriter: chained entries of a writer that no signed
	// note knows (forged entries, or checkpoints.jsonl was removed); on
	// S3 also a writer whose signed open digest names another store than
	// the prefix's legacy note (a session of another prefix whose writers
	// sign with the same key, copied in; or the legacy note replaced).
	ProblemUnknownWriter ProblemKind = "unknown-writer"
	// ProblemUnlisted: an S3 batch object that no signed digest lists
	// although it must be listed (its entries precede its writer's last
	// signed head): an added, replaced or forged object, or a rewrite
	// (Delete, retention) that wrote no signed removal note.
	ProblemUnlisted ProblemKind = "unlisted"
	// ProblemAfterClose: entries after the writer's final checkpoint.
	ProblemAfterClose ProblemKind = "after-close"
	// ProblemBadSignature: a line of checkpoints.jsonl is not signed by
	// a known key, or is not well-formed.
	ProblemBadSignature ProblemKind = "bad-signature"
	// ProblemNoKey: checkpoints exist but no key to check them was given
	// or found; nothing signed can be trusted.
	ProblemNoKey ProblemKind = "no-key"
	// ProblemCorrupt: a line in the middle of a file is not an entry.
	ProblemCorrupt ProblemKind = "corrupt"
	// ProblemWrongDay: an entry lies in the file of another day.
	ProblemWrongDay ProblemKind = "wrong-day"
	// ProblemRestored: entries a signed removal note removed, in a removal
	// later notes show finished, are in the store again (a copy from
	// before a Delete or retention put back; on S3, a batch object of a
	// day retention emptied, which its signed Done note names).
	ProblemRestored ProblemKind = "restored"
	// ProblemLegacyChanged: the unchained (legacy) lines differ from the
	// digest signed when chaining began (legacy lines inserted, changed
	// or removed); on S3, a reference-layout object added, changed or
	// removed since the first signing writer listed them.
	ProblemLegacyChanged ProblemKind = "legacy-changed"
	// ProblemMarkerMissing: an S3 batch object lacks an id marker its
	// entries need, so Read, Delete and `otelaudit show` by id do not find
	// them although they are stored (markers deleted).
	ProblemMarkerMissing ProblemKind = "marker-missing"
	// ProblemIndexMismatch: an index file that readers would use (it
	// passes their checks) does not describe its data file: it omits or
	// misplaces entries, so counts, queries, reads by id and deletes miss
	// entries that are in the data. An index is derived data: removing
	// it makes readers scan the data and the next writer rebuild it.
	ProblemIndexMismatch ProblemKind = "index-mismatch"
)

// Warnings: not tampering, but not verified either ([Report.Warnings]).
const (
	// WarningLegacy: entries without a chain (written by the reference
	// implementation or before chaining): readable but unverifiable one
	// by one.
	WarningLegacy ProblemKind = "legacy"
	// WarningTornTail: the last line of a file is incomplete: a write in
	// progress in a store being appended to, or a crash (a writer opening
	// the store cuts it off).
	WarningTornTail ProblemKind = "torn-tail"
	// WarningUnconfirmed: entries after the last checkpoint of a writer
	// that has not closed (still running, or crashed): their chain is
	// intact, but removing them would not be detectable.
	WarningUnconfirmed ProblemKind = "unconfirmed"
	// WarningChanged: the store kept changing (rotation) while it was
	// verified; the result covers the last pass.
	WarningChanged ProblemKind = "store-changed"
	// WarningUnfinishedRemoval: a signed removal (Delete, retention) did
	// not complete: its process stopped after signing what it would
	// remove and before rewriting the object, which still holds the
	// entries, unchanged. Deleting again finishes it.
	WarningUnfinishedRemoval ProblemKind = "unfinished-removal"
	// WarningOrphanMarker: an S3 id marker names a batch object that its
	// day does not hold: an upload stopped between its markers and its
	// object, or a writer uploading while verifying. Reads skip it.
	WarningOrphanMarker ProblemKind = "orphan-marker"
)

// Problem is one finding: what, and where (File and 1-based Line when it
// is about one line; Line 0 otherwise). Detail never contains entry
// content.
type Problem struct {
	Kind   ProblemKind `json:"kind"`
	File   string      `json:"file,omitempty"`
	Line   int         `json:"line,omitempty"`
	Detail string      `json:"detail"`
}

// String formats p as "file:line: kind: detail".
func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc += ":" + strconv.Itoa(p.Line)
	}
	if loc != "" {
		loc += ": "
	}
	return loc + string(p.Kind) + ": " + p.Detail
}

// Report is the result of a verification, whatever the backend.
type Report struct {
	Dir         string        `json:"dir"`         // the store: a directory, or s3://bucket/prefix
	Files       int           `json:"files"`       // data files or batch objects checked
	Entries     int64         `json:"entries"`     // entry lines (chained + legacy)
	Chained     int64         `json:"chained"`     // entries with a chain, hash checked
	Legacy      int64         `json:"legacy"`      // entries without a chain
	Writers     int           `json:"writers"`     // writer sessions seen
	Checkpoints int           `json:"checkpoints"` // signed notes checked
	Unconfirmed int64         `json:"unconfirmed"` // chained entries after the last checkpoint of an open session
	Witness     bool          `json:"witness"`     // a witness was given (WithVerifyWitness)
	Witnessed   int           `json:"witnessed"`   // notes the witness holds, each required in the store
	Problems    []Problem     `json:"problems"`    // tampering or damage; empty when the store verifies
	Warnings    []Problem     `json:"warnings"`    // not tampering, see the Warning kinds
	Duration    time.Duration `json:"duration_ns"`
	// Unverifiable names, in plain words, what this verification cannot
	// rule out for this store (for example, on S3 without digests, the
	// removal of a writer's newest entries). Empty when every case the
	// backend knows of is checked.
	Unverifiable []string `json:"unverifiable,omitempty"`
}

// OK reports whether no problem was found.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// MarshalJSON encodes the report with "problems" and "warnings" as JSON
// arrays, [] when there are none (never null), so that tools can iterate
// over them without a check: `otelaudit verify --format json | jq
// '.problems[]'` prints nothing for an intact store instead of failing.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report // the same fields, without this method
	p := plain(r)
	if p.Problems == nil {
		p.Problems = []Problem{}
	}
	if p.Warnings == nil {
		p.Warnings = []Problem{}
	}
	return json.Marshal(p)
}
