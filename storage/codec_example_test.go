package storage_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
)

// An entry's wire form is one JSON line; ParseEntry reads it back equal,
// and rejects a line that could not be written back as it reads (here, a
// key that differs from "safety_passed" only in case, which
// encoding/json would let override the real field).
func ExampleParseEntry() {
	model := "gpt-4o"
	e := &storage.AuditEntry{
		ID:           "0197a3c2-7a4e-7b31-9f00-5a1c2e3d4f60",
		Timestamp:    time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		InputHash:    "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
		OutputHash:   "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9",
		Model:        &model,
		SafetyPassed: false,
	}
	line, err := e.AppendJSON(nil)
	if err != nil {
		panic(err)
	}
	back, err := storage.ParseEntry(line)
	if err != nil {
		panic(err)
	}
	fmt.Println(back.ID, *back.Model, back.SafetyPassed, back.Timestamp)

	forged := []byte(`{"id":"x","timestamp":"2025-06-01T12:00:00Z","safety_passed":false,"Safety_Passed":true}`)
	_, err = storage.ParseEntry(forged)
	fmt.Println(errors.Is(err, storage.ErrInvalidEntry), err)
	// Output:
	// 0197a3c2-7a4e-7b31-9f00-5a1c2e3d4f60 gpt-4o false 2025-06-01 12:00:00 +0000 UTC
	// true storage: invalid audit entry: entry "x": an unknown key differs from "safety_passed" only in case
}
