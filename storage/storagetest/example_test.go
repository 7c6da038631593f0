package storagetest_test

import (
	"fmt"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/storagetest"
)

// A backend's own test runs the whole suite with one call (a persisting
// backend also sets Config.Reopen, and Config.Unreadable and Config.Damage
// where it can simulate a read error and damage in place):
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Backend {
//			return storage.NewMemoryStorage(0)
//		})
//	}
//
// The suite compares entries as a round trip through the wire format gives
// them back; Normalize shows what a backend may change (the zone of the
// timestamp, an empty list, a metadata number's Go type) and nothing else.
func ExampleRun() {
	e := &storage.AuditEntry{
		ID:                 "id-1",
		Timestamp:          time.Date(2025, 3, 1, 13, 0, 0, 5, time.FixedZone("CET", 3600)),
		DetectorsTriggered: []string{},
		Metadata:           map[string]any{"tokens": 12},
	}
	n := storagetest.Normalize(e)
	fmt.Println(n.Timestamp, n.DetectorsTriggered == nil, n.Metadata["tokens"])
	// Output:
	// 2025-03-01 12:00:00.000000005 +0000 UTC true 12
}
