package storage

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestLastChainMarker: the tail-first search finds exactly what
// bytes.LastIndex finds, for markers at every position around the tail
// boundary (inside, straddling, before it, several, none).
func TestLastChainMarker(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 3000 {
		size := r.IntN(3 * chainTail)
		line := bytes.Repeat([]byte{'x'}, size)
		for range r.IntN(3) {
			if size < len(chainMarker) {
				break
			}
			at := r.IntN(size - len(chainMarker) + 1)
			if n%3 == 0 && size > chainTail+len(chainMarker) {
				at = size - chainTail - r.IntN(len(chainMarker)) // straddles the boundary
			}
			copy(line[at:], chainMarker)
		}
		if got, want := lastChainMarker(line), bytes.LastIndex(line, chainMarker); got != want {
			t.Fatalf("size %d: got %d, want %d", size, got, want)
		}
	}
}
