package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// The benchmark store: benchEntries entries spread evenly over benchDays
// UTC days from benchStart, written once with filestore.Store and cached under
// os.TempDir(). The cache directory's name carries a hash of the storage
// package's source, so a change to the file format builds a new store
// (and removes stale ones); a marker file says the store is complete.
const (
	benchEntries = 1_000_000
	benchDays    = 10
)

var benchStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func benchStore(b *testing.B) string {
	b.Helper()
	prefix := filepath.Join(os.TempDir(), "otelaudit-cli-bench-"+strconv.Itoa(benchEntries)+"-")
	dir := prefix + storageSourceHash(b)
	marker := filepath.Join(dir, ".bench-complete")
	if _, err := os.Stat(marker); err == nil {
		return dir
	}
	stale, _ := filepath.Glob(prefix + "*")
	for _, d := range stale {
		if err := os.RemoveAll(d); err != nil {
			b.Fatal(err)
		}
	}
	began := time.Now()
	st, err := filestore.New(dir)
	if err != nil {
		b.Fatal(err)
	}
	step := benchDays * 24 * time.Hour / benchEntries
	models := []string{"gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "llama-3.1-70b"}
	providers := []string{"openai", "openai", "anthropic", "local"}
	ctx := context.Background()
	const batch = 5000
	es := make([]*storage.AuditEntry, 0, batch)
	for i := range benchEntries {
		in, out := int64(100+i%900), int64(20+i%300)
		e := &storage.AuditEntry{
			ID:             storage.NewEntryID(),
			Timestamp:      benchStart.Add(time.Duration(i) * step),
			InputHash:      otelaudit.HashContent("prompt " + strconv.Itoa(i)),
			OutputHash:     otelaudit.HashContent("answer " + strconv.Itoa(i)),
			Provider:       &providers[i%4],
			Model:          &models[i%4],
			ConversationID: otelaudit.Ptr(fmt.Sprintf("conv-%d", i/10)),
			SafetyPassed:   i%50 != 0,
			LatencyMS:      float64(50 + i%2000),
			InputTokens:    &in,
			OutputTokens:   &out,
			TraceID:        fmt.Sprintf("%032x", i/3+1),
			SpanID:         fmt.Sprintf("%016x", i+1),
			Operation:      "chat",
		}
		if !e.SafetyPassed {
			e.DetectorsTriggered = []string{"pii"}
		}
		es = append(es, e)
		if len(es) == batch {
			if err := st.WriteBatch(ctx, es); err != nil {
				b.Fatal(err)
			}
			es = es[:0]
		}
	}
	if len(es) > 0 {
		if err := st.WriteBatch(ctx, es); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d-entry benchmark store in %s (%s)", benchEntries, time.Since(began).Round(time.Millisecond), dir)
	return dir
}

// storageSourceHash returns a short hash of the storage package's non-test
// sources, which define the file format.
func storageSourceHash(b *testing.B) string {
	b.Helper()
	names, err := filepath.Glob("../../storage/*.go")
	if err != nil || len(names) == 0 {
		b.Fatalf("storage sources not found: %v", err)
	}
	h := sha256.New()
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		data, err := os.ReadFile(n)
		if err != nil {
			b.Fatal(err)
		}
		h.Write([]byte(filepath.Base(n)))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// BenchmarkQueryOneHour1M runs "otelaudit query" for one hour of a
// 1M-entry store (about 4,200 matching entries), in-process, output
// discarded. Target: <= 0.5 s per query.
func BenchmarkQueryOneHour1M(b *testing.B) {
	dir := benchStore(b)
	from := benchStart.Add(5*24*time.Hour + 12*time.Hour)
	for _, format := range []string{"table", "jsonl"} {
		b.Run(format, func(b *testing.B) {
			args := []string{"query", "--dir", dir, "--format", format,
				"--from", from.Format(time.RFC3339Nano), "--to", from.Add(time.Hour - time.Nanosecond).Format(time.RFC3339Nano)}
			var out countingWriter
			var errBuf bytes.Buffer
			for b.Loop() {
				out.lines = 0
				c := &cli{stdout: &out, stderr: &errBuf, now: time.Now}
				if code := c.main(context.Background(), args); code != 0 {
					b.Fatalf("exit %d: %s", code, errBuf.String())
				}
			}
			want := int64(time.Hour / (benchDays * 24 * time.Hour / benchEntries))
			if format == "table" {
				want += 2 // header and total line
			}
			if out.lines < want-2 || out.lines > want+2 {
				b.Fatalf("query printed %d lines, want about %d", out.lines, want)
			}
			b.ReportMetric(float64(out.lines), "lines/op")
			b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/query")
		})
	}
}

// countingWriter discards what is written and counts lines.
type countingWriter struct{ lines int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.lines += int64(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

var _ io.Writer = (*countingWriter)(nil)
