package liveheap_test

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/liveheap"
)

// The heap is live while kept: the collector cannot free it, and the
// process's live heap grows by about its size.
func TestHeapStaysLive(t *testing.T) {
	const size = 16 << 20
	live := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := live()
	h := liveheap.New(size)
	during := live()
	require.Equal(t, size/72, h.Len())
	grown := int64(during) - int64(before)
	require.InDelta(t, size, grown, size/8, "live heap grew by %d bytes", grown)
	runtime.KeepAlive(h)
	require.Less(t, live(), during-size/2, "released once unreferenced")
}
