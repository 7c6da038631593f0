package storagetest

import (
	"encoding/json"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// FuzzWriteRead writes entries with random ids, timestamps, unknown keys,
// content and metadata (UTF-8 and not) to the memory and file backends:
// every Write that returns nil must read back equal by id, by a query for
// its instant and in Count; every other Write must fail with an error
// matching storage.ErrInvalidEntry and store nothing (CheckAccepted).
// Seeds: testdata/fuzz/FuzzWriteRead (one per defect the suite covers)
// plus the ones below.
func FuzzWriteRead(f *testing.F) {
	f.Add("id", int64(1735689600), int64(5), "Safety_Passed", "true", "prompt", "k", "v")
	f.Add("back\\slash\"quote\u2028", int64(-62135596800), int64(0), "x", `{"a":[1,2]}`, "ok\xffbad", "\xffk", "v")
	f.Add("id\xff", int64(253402300800), int64(0), "MODEL", `"m"`, "", "", "")
	mem := storage.NewMemoryStorage(0)
	fs, err := filestore.New(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { fs.Close() })
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, id string, sec, nsec int64, extraKey, extraVal, content, metaKey, metaVal string) {
		// Ids are made unique per input (the fuzzed bytes stay in front),
		// because the backends treat a repeated id differently.
		e := &storage.AuditEntry{
			ID:           id + "#" + strconv.FormatInt(n.Add(1), 10),
			Timestamp:    time.Unix(sec, nsec),
			InputHash:    "h",
			InputContent: &content,
			SafetyPassed: len(content)%2 == 0,
		}
		if extraKey != "" {
			e.Extra = map[string]json.RawMessage{extraKey: json.RawMessage(extraVal)}
		}
		if metaKey != "" {
			var v any = metaVal
			if json.Valid([]byte(metaVal)) {
				json.Unmarshal([]byte(metaVal), &v)
			}
			e.Metadata = map[string]any{metaKey: v}
		}
		a := CheckAccepted(t, mem, e)
		b := CheckAccepted(t, fs, e)
		if a != b {
			t.Fatalf("memory accepted %v, file accepted %v: the backends must agree", a, b)
		}
	})
}
