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

// A Decoder reads many stored lines, here out of one buffer that is
// reused for each line (as a file scan does): the entries it returns keep
// copies of their fields, so reusing the buffer does not change them, and
// a line that is not an entry gets the error ParseEntry would give.
func ExampleDecoder() {
	var stored []string
	for i, model := range []string{"gpt-4o", "gpt-4o", "claude-sonnet"} {
		e := &storage.AuditEntry{
			ID:         fmt.Sprintf("entry-%d", i),
			Timestamp:  time.Date(2025, 6, 1, 12, 0, i, 0, time.UTC),
			InputHash:  "in",
			OutputHash: "out",
			Model:      &model,
		}
		line, err := e.AppendJSON(nil)
		if err != nil {
			panic(err)
		}
		stored = append(stored, string(line))
	}
	stored = append(stored, `{"id":"broken"}`)

	var dec storage.Decoder
	var buf []byte
	var kept []*storage.AuditEntry
	for _, line := range stored {
		buf = append(buf[:0], line...)
		e, err := dec.Decode(buf)
		if err != nil {
			fmt.Println(errors.Is(err, storage.ErrInvalidEntry), err)
			continue
		}
		kept = append(kept, e)
	}
	for _, e := range kept {
		fmt.Println(e.ID, *e.Model, e.Timestamp.Format(time.TimeOnly))
	}
	// Output:
	// true storage: invalid audit entry: entry "broken": missing timestamp
	// entry-0 gpt-4o 12:00:00
	// entry-1 gpt-4o 12:00:01
	// entry-2 claude-sonnet 12:00:02
}
