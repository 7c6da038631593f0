package storage_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
)

// ExampleNewFileStorage writes an entry, reads it back by id and by time
// range, and verifies the store's hash chain.
func ExampleNewFileStorage() {
	dir, _ := os.MkdirTemp("", "audit-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	st, err := storage.NewFileStorage(dir)
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

	// A second writer would get storage.ErrLocked while st is open; a
	// read-only reader (the CLI) never does.
	rep, err := storage.Verify(ctx, dir)
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
