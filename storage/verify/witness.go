package verify

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/otelaudit/otelaudit-go/storage"
)

// WitnessNote is one line a witness holds: the [storage.NoteDigest] of a signed
// note a store published, and what the note says about itself (read
// without checking the signature: the witness is trusted to hold what the
// store published, the store is what is being checked).
type WitnessNote struct {
	NoteDigest string
	Line       int // 1-based line of the witness
	Writer     string
	Seq        uint64 // the writer's chain head when the note was written
	Digest     uint64 // digest number (S3 stores), 0 for checkpoint lines
	Type       string
}

// ReadWitness reads the note lines a store published to a witness (one
// signed note per line, as [storage.EncodeNote] writes them; blank lines are
// skipped). A line that is not a note is returned as a
// [ProblemWitnessed] problem naming its line, never quoting it; the error
// is for failures to read r.
func ReadWitness(r io.Reader) ([]WitnessNote, []Problem, error) {
	var out []WitnessNote
	var bad []Problem
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(b) == 0 || isSpace(b) {
			continue
		}
		var n storage.Note
		if err := json.Unmarshal(b, &n); err != nil || n.Writer == "" {
			bad = append(bad, Problem{Kind: ProblemWitnessed, File: "witness", Line: line, Detail: "witness line is not a signed note"})
			continue
		}
		out = append(out, WitnessNote{NoteDigest: storage.NoteDigest(b), Line: line, Writer: n.Writer, Seq: n.Seq, Digest: n.Digest, Type: n.Type})
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("storage: read witness: %w", err)
	}
	return out, bad, nil
}

func isSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// CheckWitness calls problem for every witnessed note whose line is not
// among the store's notes (seen holds the [storage.NoteDigest] of every note line
// the store has): its newest entries were removed together with their
// last signed note, a writer session was deleted, or the store was rolled
// back to an older copy. where names the store's notes (a file, or the
// digest object the note would be) for the report.
func CheckWitness(ws []WitnessNote, seen map[string]bool, where func(WitnessNote) string, problem func(Problem)) {
	for _, w := range ws {
		if seen[w.NoteDigest] {
			continue
		}
		at := fmt.Sprintf("entry %d", w.Seq)
		if w.Digest > 0 {
			at = fmt.Sprintf("digest %d, entry %d", w.Digest, w.Seq)
		}
		problem(Problem{Kind: ProblemWitnessed, File: where(w), Line: w.Line,
			Detail: fmt.Sprintf("the %s note of writer %s at %s (witness line %d) is not in the store: newest entries removed with their signed note, a writer session deleted, or the store rolled back", w.Type, w.Writer, at, w.Line)})
	}
}
