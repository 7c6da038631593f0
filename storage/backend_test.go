package storage_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/storage"
)

func TestNewEntryIDIsUUIDv7WithCurrentTime(t *testing.T) {
	before := time.Now().UnixMilli()
	id := storage.NewEntryID()
	after := time.Now().UnixMilli()
	require.Len(t, id, 36)
	u, err := uuid.Parse(id)
	require.NoError(t, err)
	assert.Equal(t, id, u.String(), "canonical lower-case text")
	assert.Equal(t, uuid.Version(7), u.Version())
	assert.Equal(t, uuid.RFC4122, u.Variant())
	sec, nsec := u.Time().UnixTime()
	ms := sec*1000 + nsec/1e6
	assert.GreaterOrEqual(t, ms, before)
	assert.LessOrEqual(t, ms, after+1) // +1: a burst may borrow the next millisecond
}

// Ids made concurrently are unique, and each goroutine's ids sort in the
// order it made them.
func TestNewEntryIDUniqueAndOrdered(t *testing.T) {
	const g, n = 8, 20000
	all := make([][]string, g)
	var wg sync.WaitGroup
	for w := range g {
		wg.Go(func() {
			ids := make([]string, n)
			for i := range ids {
				ids[i] = storage.NewEntryID()
			}
			all[w] = ids
		})
	}
	wg.Wait()
	seen := make(map[string]bool, g*n)
	for _, ids := range all {
		assert.True(t, slices.IsSorted(ids), "ids of one goroutine sort in creation order")
		for _, id := range ids {
			require.False(t, seen[id], "duplicate id %s", id)
			seen[id] = true
		}
	}
	// Random bits differ between ids (not all zero or constant).
	a, b := uuid.MustParse(all[0][0]), uuid.MustParse(all[0][1])
	assert.NotEqual(t, a[8:], b[8:])
}

func BenchmarkNewEntryID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = storage.NewEntryID()
	}
}
