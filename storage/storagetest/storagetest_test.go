package storagetest_test

import (
	"context"
	"encoding/json"
	"iter"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/storagetest"
)

// defectEnv selects the defect TestBrokenBackend injects; it is set only in
// the subprocesses TestSuiteCatchesDefects starts.
const defectEnv = "STORAGETEST_DEFECT"

// broken wraps a correct backend and breaks one part of the contract.
type broken struct {
	storage.Backend
	defect string
	writes atomic.Int64
	closed atomic.Bool

	mu    sync.Mutex
	cache map[string]*storage.AuditEntry // no-copy: what Read handed out
}

// defects maps each injected defect to the subtest that must catch it.
var defects = map[string]string{
	"end-exclusive":        "RangeInclusive",
	"skip-days-29-31":      "Ordering",
	"delete-before-incl":   "DeleteBefore",
	"metadata-float64":     "RoundTrip/AllFields",
	"zero-tokens-null":     "RoundTrip/AllFields",
	"zone-kept":            "RoundTrip/Timestamps",
	"no-copy":              "Isolation",
	"close-not-idempotent": "Close",
	"ctx-ignored":          "Context",
	"lossy-writes":         "Concurrent",
	"batch-not-atomic":     "Invalid",
	"entries-ignore-break": "Entries/BreakEarly",
	"entries-reversed":     "Entries",
	"delete-says-false":    "Delete",
	"notfound-plain-error": "NotFound",
	"ties-unstable":        "Ties",
}

func (b *broken) Write(ctx context.Context, e *storage.AuditEntry) error {
	switch b.defect {
	case "lossy-writes":
		if b.writes.Add(1)%500 == 0 {
			return nil // accepted, never stored
		}
	case "ctx-ignored":
		ctx = context.Background()
	}
	return b.Backend.Write(ctx, e)
}

func (b *broken) WriteBatch(ctx context.Context, es []*storage.AuditEntry) error {
	if b.defect == "batch-not-atomic" {
		for _, e := range es {
			if err := b.Backend.Write(ctx, e); err != nil {
				return err
			}
		}
		return nil
	}
	return b.Backend.WriteBatch(ctx, es)
}

func (b *broken) Read(ctx context.Context, id string) (*storage.AuditEntry, error) {
	e, err := b.Backend.Read(ctx, id)
	if err != nil {
		if b.defect == "notfound-plain-error" {
			return nil, context.DeadlineExceeded
		}
		return e, err
	}
	switch b.defect {
	case "metadata-float64":
		for k, v := range e.Metadata {
			if n, ok := v.(json.Number); ok {
				f, _ := n.Float64()
				e.Metadata[k] = f
			}
		}
	case "zero-tokens-null":
		if e.OutputTokens != nil && *e.OutputTokens == 0 {
			e.OutputTokens = nil
		}
	case "zone-kept":
		e.Timestamp = e.Timestamp.In(time.FixedZone("X", 3600))
	case "no-copy":
		b.mu.Lock()
		defer b.mu.Unlock()
		if s, ok := b.cache[id]; ok {
			return s, nil
		}
		if b.cache == nil {
			b.cache = make(map[string]*storage.AuditEntry)
		}
		b.cache[id] = e
	}
	return e, nil
}

func (b *broken) ListEntries(ctx context.Context, start, end time.Time) ([]*storage.AuditEntry, error) {
	es, err := b.Backend.ListEntries(ctx, start, end)
	if err != nil {
		return es, err
	}
	var out []*storage.AuditEntry
	for _, e := range es {
		switch {
		case b.defect == "end-exclusive" && e.Timestamp.Equal(end):
		case b.defect == "skip-days-29-31" && e.Timestamp.UTC().Day() >= 29:
		default:
			out = append(out, e)
		}
	}
	if b.defect == "ties-unstable" && len(out) > 2 && b.writes.Add(1)%2 == 0 {
		for i := 1; i < len(out); i++ {
			if out[i].Timestamp.Equal(out[i-1].Timestamp) {
				out[i], out[i-1] = out[i-1], out[i]
				break
			}
		}
	}
	return out, nil
}

func (b *broken) Entries(ctx context.Context, start, end time.Time) iter.Seq2[*storage.AuditEntry, error] {
	switch b.defect {
	case "entries-ignore-break":
		return func(yield func(*storage.AuditEntry, error) bool) {
			for e, err := range b.Backend.Entries(ctx, start, end) {
				yield(e, err) // keeps going after the consumer broke out
			}
		}
	case "entries-reversed":
		return func(yield func(*storage.AuditEntry, error) bool) {
			es, err := b.Backend.ListEntries(ctx, start, end)
			if err != nil {
				yield(nil, err)
				return
			}
			for i := len(es) - 1; i >= 0; i-- {
				if !yield(es[i], nil) {
					return
				}
			}
		}
	}
	return b.Backend.Entries(ctx, start, end)
}

func (b *broken) Delete(ctx context.Context, id string) (bool, error) {
	ok, err := b.Backend.Delete(ctx, id)
	if b.defect == "delete-says-false" {
		return false, err
	}
	return ok, err
}

func (b *broken) DeleteBefore(ctx context.Context, t time.Time) (int, error) {
	if b.defect == "delete-before-incl" {
		t = t.Add(1)
	}
	return b.Backend.DeleteBefore(ctx, t)
}

func (b *broken) Close() error {
	if b.defect == "close-not-idempotent" && b.closed.Swap(true) {
		return os.ErrClosed
	}
	return b.Backend.Close()
}

// TestBrokenBackend runs the suite against a backend with the defect named
// in $STORAGETEST_DEFECT. It only runs as a subprocess of
// TestSuiteCatchesDefects, which expects it to fail.
func TestBrokenBackend(t *testing.T) {
	defect := os.Getenv(defectEnv)
	if defect == "" {
		t.Skip("runs only as a subprocess of TestSuiteCatchesDefects")
	}
	storagetest.RunConfig(t, storagetest.Config{
		New: func(t *testing.T) storage.Backend {
			return &broken{Backend: storage.NewMemoryStorage(0), defect: defect}
		},
		Writers:   4,
		PerWriter: 250,
	})
}

// TestSuiteCatchesDefects checks that the suite is not vacuous: each
// injected defect must make the subtest meant to catch it fail.
func TestSuiteCatchesDefects(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess per defect")
	}
	for defect, subtest := range defects {
		t.Run(defect, func(t *testing.T) {
			t.Parallel()
			pattern := "^TestBrokenBackend$/^" + strings.ReplaceAll(subtest, "/", "$/^") + "$"
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run="+pattern, "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), defectEnv+"="+defect)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("suite passed a backend with defect %q; output:\n%s", defect, out)
			}
			want := regexp.MustCompile(`--- FAIL: TestBrokenBackend/` + regexp.QuoteMeta(subtest) + ` `)
			if !want.Match(out) {
				t.Fatalf("defect %q: subtest %s did not fail; output:\n%s", defect, subtest, out)
			}
		})
	}
}

// TestNormalize checks the comparison helper itself.
func TestNormalize(t *testing.T) {
	ts := time.Date(2024, 2, 29, 23, 0, 0, 5, time.FixedZone("X", 7200))
	e := &storage.AuditEntry{
		ID:                 "a",
		Timestamp:          ts,
		DetectorsTriggered: []string{},
		Alerts:             []string{},
		Metadata:           map[string]any{"n": 1, "f": 1.5, "big": json.Number("9007199254740993")},
		Extra:              map[string]json.RawMessage{"x": json.RawMessage(` {"b": 1, "a": [1, 2]} `)},
	}
	n := storagetest.Normalize(e)
	if n.Timestamp.Location() != time.UTC || !n.Timestamp.Equal(ts) {
		t.Errorf("Timestamp = %v, want %v in UTC", n.Timestamp, ts)
	}
	if n.DetectorsTriggered != nil || n.Alerts != nil {
		t.Errorf("empty lists not nil: %#v %#v", n.DetectorsTriggered, n.Alerts)
	}
	for k, want := range map[string]json.Number{"n": "1", "f": "1.5", "big": "9007199254740993"} {
		if got := n.Metadata[k]; got != want {
			t.Errorf("Metadata[%q] = %#v, want %#v", k, got, want)
		}
	}
	if got := string(n.Extra["x"]); got != `{"a":[1,2],"b":1}` {
		t.Errorf("Extra[x] = %s", got)
	}
	if e.Timestamp.Location() == time.UTC || len(e.Extra["x"]) == len(n.Extra["x"]) {
		t.Error("Normalize modified its argument")
	}
	if storagetest.Normalize(nil) != nil {
		t.Error("Normalize(nil) != nil")
	}
}
