package verify_test

import (
	"fmt"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/verify"
)

// ExampleChainLinks checks one writer's chain after its third entry was
// deleted from the place that stored it: the check names the entry after
// the gap and what is missing.
func ExampleChainLinks() {
	ch := storage.NewChainer("w1")
	var lines [][]byte
	for i := range 5 {
		e := &storage.AuditEntry{ID: fmt.Sprint("call-", i), Timestamp: time.Date(2025, 1, 2, 3, 4, i, 0, time.UTC), Operation: "chat"}
		prefix, err := e.AppendPrefix(nil)
		if err != nil {
			panic(err)
		}
		line := ch.AppendLine(nil, prefix)
		lines = append(lines, line[:len(line)-1]) // without the newline
	}
	lines = append(lines[:2], lines[3:]...) // the attacker's edit

	var links verify.ChainLinks
	for i, line := range lines {
		if _, p, ok := links.Add("audit_20250102.jsonl", i+1, line); !ok || p != nil {
			fmt.Println("not a chained entry:", i+1)
		}
	}
	heads := links.Check(func(p verify.Problem) { fmt.Println(p) })
	fmt.Println("head of w1:", heads["w1"])
	// Output:
	// audit_20250102.jsonl:3: missing: entries w1:3..3 before this one are missing (deleted lines or objects, or this entry inserted); entry 2 is at audit_20250102.jsonl:2
	// head of w1: 5
}
