package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/storage"
)

// refRoot is the reference stores written by the Python implementation.
const refRoot = "../../testdata/reference-store"

type refEntry struct {
	File           string   `json:"file"`
	Line           int      `json:"line"`
	Input          string   `json:"input"`
	Output         string   `json:"output"`
	ID             string   `json:"id"`
	Timestamp      string   `json:"timestamp"`
	Provider       *string  `json:"provider"`
	Model          *string  `json:"model"`
	ConversationID *string  `json:"conversation_id"`
	SafetyPassed   bool     `json:"safety_passed"`
	Detectors      []string `json:"detectors_triggered"`
	InputContent   *string  `json:"input_content"`
}

type refDataset struct {
	Dir       string     `json:"dir"`
	Encrypted bool       `json:"encrypted"`
	Count     int        `json:"count"`
	Entries   []refEntry `json:"entries"`
}

type refExpected struct {
	FernetKey string                `json:"fernet_key"`
	KeyFile   string                `json:"key_file"`
	Datasets  map[string]refDataset `json:"datasets"`
}

func loadExpected(t testing.TB) refExpected {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(refRoot, "expected.json"))
	require.NoError(t, err)
	var exp refExpected
	require.NoError(t, json.Unmarshal(data, &exp))
	require.Len(t, exp.Datasets, 3)
	return exp
}

// refDir returns the directory of a reference dataset.
func refDir(name string) string { return filepath.Join(refRoot, name) }

// copyDir copies the regular files of src (not subdirectories) into a new
// temporary directory, so that tests can change a store.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	des, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, de := range des {
		if !de.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, de.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, de.Name()), data, 0o600))
	}
	return dst
}

type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs otelaudit in-process with the real clock.
func runCLI(t testing.TB, args ...string) result {
	t.Helper()
	return runAt(t, time.Time{}, args...)
}

// runAt runs otelaudit in-process; a non-zero now fixes its clock.
func runAt(t testing.TB, now time.Time, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	var code int
	if now.IsZero() {
		code = run(context.Background(), args, &stdout, &stderr)
	} else {
		c := &cli{stdout: &stdout, stderr: &stderr, now: func() time.Time { return now }}
		code = c.main(context.Background(), args)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// jsonlIDs parses query --format jsonl output and returns the ids in
// output order.
func jsonlIDs(t testing.TB, out string) []string {
	t.Helper()
	ids := []string{}
	for line := range strings.Lines(out) {
		e, err := storage.ParseEntry([]byte(line))
		require.NoError(t, err, "query --format jsonl printed a line that is not an entry")
		ids = append(ids, e.ID)
	}
	return ids
}

// idsWhere returns the ids of the dataset's entries that satisfy keep,
// oldest first.
func idsWhere(t testing.TB, ds refDataset, keep func(refEntry) bool) []string {
	t.Helper()
	type idTS struct {
		id string
		ts time.Time
	}
	var sel []idTS
	for _, e := range ds.Entries {
		if keep(e) {
			ts, err := storage.ParseTimestamp(e.Timestamp)
			require.NoError(t, err)
			sel = append(sel, idTS{e.ID, ts})
		}
	}
	slices.SortStableFunc(sel, func(a, b idTS) int { return a.ts.Compare(b.ts) })
	ids := make([]string, 0, len(sel))
	for _, s := range sel {
		ids = append(ids, s.id)
	}
	return ids
}

// writeStore writes entries into dir as a file store: JSON lines in the
// wire format, one file per UTC day, without chain fields (as the
// reference implementation writes them).
func writeStore(t testing.TB, dir string, entries []*storage.AuditEntry) {
	t.Helper()
	files := map[string][]byte{}
	for _, e := range entries {
		name := "audit_" + e.Timestamp.UTC().Format("20060102") + ".jsonl"
		b, err := e.AppendJSON(files[name])
		require.NoError(t, err)
		files[name] = append(b, '\n')
	}
	for name, data := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
}

func ptr[T any](v T) *T { return &v }
