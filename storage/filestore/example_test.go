package filestore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// ExampleNew writes an entry, reads it back by id and by time
// range, and verifies the store's hash chain.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "audit-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	st, err := filestore.New(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	ts := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	e := &storage.AuditEntry{ID: "0195...-example", Timestamp: ts, InputHash: "ab", OutputHash: "cd", SafetyPassed: true}
	if err := st.Write(ctx, e); err != nil {
		fmt.Println(err)
		return
	}
	got, _ := st.Read(ctx, e.ID)
	fmt.Println(got.ID, got.Timestamp.Format(time.RFC3339), got.Chain.Seq)
	day, _ := st.ListEntries(ctx, ts.Add(-time.Hour), ts.Add(time.Hour))
	fmt.Println(len(day), "entry in range")
	if err := st.Close(); err != nil {
		fmt.Println(err)
		return
	}

	// A second writer would get filestore.ErrLocked while st is open; a
	// read-only reader (the CLI) never does.
	rep, err := filestore.Verify(ctx, dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("verified:", rep.OK(), rep.Chained, "chained entries")
	// Output:
	// 0195...-example 2025-03-01T12:00:00Z 1
	// 1 entry in range
	// verified: true 1 chained entries
}

// ExampleVerify changes one byte of a stored entry and lets Verify find it.
func ExampleVerify() {
	dir, _ := os.MkdirTemp("", "audit-verify-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	st, _ := filestore.New(dir)
	ts := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		st.Write(ctx, &storage.AuditEntry{ID: fmt.Sprint("id-", i), Timestamp: ts.Add(time.Duration(i) * time.Minute), InputHash: "ab", OutputHash: "cd", LatencyMS: 120})
	}
	st.Close()

	path := dir + "/audit_20250301.jsonl"
	b, _ := os.ReadFile(path)
	b = bytes.Replace(b, []byte(`"latency_ms":120`), []byte(`"latency_ms":125`), 1) // first line
	os.WriteFile(path, b, 0o600)

	rep, err := filestore.Verify(ctx, dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ok:", rep.OK())
	for _, p := range rep.Problems {
		fmt.Println(p.Kind, p.File, p.Line)
	}
	// Output:
	// ok: false
	// modified audit_20250301.jsonl 1
}

// ExampleWithWitness publishes the store's signed notes to a witness kept
// elsewhere (a buffer here; a file in another directory or a log pipeline
// in production), then rolls the store back to an empty copy: verification
// with the witness catches it.
func ExampleWithWitness() {
	dir, _ := os.MkdirTemp("", "audit-witness-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	var witness bytes.Buffer

	st, err := filestore.New(dir, filestore.WithWitness(&witness))
	if err != nil {
		fmt.Println(err)
		return
	}
	e := &storage.AuditEntry{ID: "0195...-witness", Timestamp: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), InputHash: "ab", OutputHash: "cd", SafetyPassed: true}
	if err := st.Write(ctx, e); err != nil {
		fmt.Println(err)
		return
	}
	if err := st.Close(); err != nil {
		fmt.Println(err)
		return
	}
	rep, _ := filestore.Verify(ctx, dir, filestore.WithVerifyWitness(bytes.NewReader(witness.Bytes())))
	fmt.Println("intact:", rep.OK())

	// Roll back: the notes and data as they were before the write.
	os.Remove(filepath.Join(dir, "checkpoints.jsonl"))
	data, _ := filepath.Glob(filepath.Join(dir, "audit_*.jsonl"))
	for _, name := range data {
		os.Remove(name)
	}
	rep, _ = filestore.Verify(ctx, dir, filestore.WithVerifyWitness(bytes.NewReader(witness.Bytes())))
	fmt.Println("intact:", rep.OK(), rep.Problems[len(rep.Problems)-1].Kind)
	// Output:
	// intact: true
	// intact: false witnessed-missing
}
