package storage_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
)

func ExampleNewMemoryStorage() {
	ctx := context.Background()
	st := storage.NewMemoryStorage(2) // keeps the last two entries written
	defer st.Close()

	day := time.Date(2024, 2, 29, 9, 0, 0, 0, time.UTC)
	for i, model := range []string{"gpt-4o", "claude-sonnet-4", "gemini-2.5-pro"} {
		err := st.Write(ctx, &storage.AuditEntry{
			ID:           fmt.Sprintf("entry-%d", i),
			Timestamp:    day.Add(time.Duration(i) * time.Hour),
			Model:        &model,
			SafetyPassed: true,
		})
		if err != nil {
			fmt.Println("write:", err)
			return
		}
	}

	entries, _ := st.ListEntries(ctx, day, day.Add(24*time.Hour))
	for _, e := range entries {
		fmt.Println(e.ID, e.Timestamp.Format(time.Kitchen), *e.Model)
	}
	_, err := st.Read(ctx, "entry-0")
	fmt.Println("entry-0 evicted:", errors.Is(err, storage.ErrNotFound), "evictions:", st.Stats().Evicted)
	// Output:
	// entry-1 10:00AM claude-sonnet-4
	// entry-2 11:00AM gemini-2.5-pro
	// entry-0 evicted: true evictions: 1
}
