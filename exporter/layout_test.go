package exporter

import (
	"testing"
	"unsafe"
)

// TestProcessorFieldsOnOwnLines: what the callers write on every span
// (sendMu, accepted, open), what the worker writes on every batch
// (settled) and the fields both read (stopped, queue, ctx, ...) are at
// least two cache lines apart, so that a write by one side does not cost
// the other a miss (see processor).
func TestProcessorFieldsOnOwnLines(t *testing.T) {
	var p processor
	const apart = unsafe.Sizeof(cacheLinePad{})
	shared := unsafe.Offsetof(p.stopped) + unsafe.Sizeof(p.stopped) // the last of the shared ones
	callers := [2]uintptr{unsafe.Offsetof(p.sendMu), unsafe.Offsetof(p.accepted) + unsafe.Sizeof(p.accepted)}
	worker := [2]uintptr{unsafe.Offsetof(p.settled), unsafe.Offsetof(p.settled) + unsafe.Sizeof(p.settled)}
	open := unsafe.Offsetof(p.open)
	for _, c := range []struct {
		name      string
		end, next uintptr
	}{
		{"shared -> callers", shared, callers[0]},
		{"callers -> worker", callers[1], worker[0]},
		{"worker -> open spans", worker[1], open},
	} {
		if c.next-c.end < apart {
			t.Errorf("%s: %d bytes apart, want at least %d", c.name, c.next-c.end, apart)
		}
	}
}
