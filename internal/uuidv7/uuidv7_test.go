package uuidv7

import (
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"
)

// parse checks the text form of id and returns its 16 bytes.
func parse(t *testing.T, id string) [16]byte {
	t.Helper()
	var u [16]byte
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		t.Fatalf("%q: not in 8-4-4-4-12 form", id)
	}
	if id != strings.ToLower(id) {
		t.Fatalf("%q: not lower-case hex", id)
	}
	if _, err := hex.Decode(u[:], []byte(strings.ReplaceAll(id, "-", ""))); err != nil {
		t.Fatalf("%q: %v", id, err)
	}
	return u
}

func TestNew(t *testing.T) {
	before := time.Now().UnixMilli()
	ids := make([]string, 10000)
	for i := range ids {
		ids[i] = New()
	}
	after := time.Now().UnixMilli()
	for i, id := range ids {
		u := parse(t, id)
		for _, c := range []struct {
			name      string
			got, want byte
		}{
			{"version", u[6] >> 4, 7},
			{"variant", u[8] >> 6, 0b10},
		} {
			if c.got != c.want {
				t.Fatalf("%s: %s = %d, want %d", id, c.name, c.got, c.want)
			}
		}
		ms := int64(u[0])<<40 | int64(u[1])<<32 | int64(u[2])<<24 | int64(u[3])<<16 | int64(u[4])<<8 | int64(u[5])
		// More than 4096 ids a millisecond run ahead of the clock by one
		// sub-millisecond step per id.
		ahead := int64(len(ids)/4096 + 2)
		if ms < before || ms > after+ahead {
			t.Fatalf("%s: timestamp %d ms outside [%d, %d+%d]", id, ms, before, after, ahead)
		}
		if i > 0 && ids[i-1] >= id {
			t.Fatalf("id %d %s does not sort after %s", i, id, ids[i-1])
		}
	}
}

// Ids made concurrently never repeat.
func TestNewConcurrentUnique(t *testing.T) {
	const workers, each = 4, 2000
	var mu sync.Mutex
	seen := make(map[string]bool, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]string, each)
			for i := range local {
				local[i] = New()
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range local {
				if seen[id] {
					t.Errorf("duplicate id %s", id)
				}
				seen[id] = true
			}
		}()
	}
	wg.Wait()
	if len(seen) != workers*each {
		t.Fatalf("%d distinct ids, want %d", len(seen), workers*each)
	}
}
