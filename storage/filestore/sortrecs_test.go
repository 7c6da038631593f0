package filestore

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRadixSortRecsMatchesComparisonSort checks the index's radix sorts
// against the comparison sorts they replaced, for sizes around the cut
// to the small-slice path, with duplicate hashes (in and out of offset
// order) and offsets past 4 GiB.
func TestRadixSortRecsMatchesComparisonSort(t *testing.T) {
	byHash := func(a, b idxRec) int {
		if a.hash != b.hash {
			if a.hash < b.hash {
				return -1
			}
			return 1
		}
		return int(a.off - b.off)
	}
	byOff := func(a, b idxRec) int { return int(a.off - b.off) }
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 63, 64, 65, 1000, 20000} {
		recs := make([]idxRec, n)
		off := int64(rng.IntN(1 << 20))
		if n == 1000 {
			off = 5 << 30
		}
		for i := range recs {
			recs[i] = idxRec{hash: rng.Uint64(), off: off, len: uint32(i), ts: rng.Int64()}
			if i > 0 && rng.IntN(10) == 0 {
				recs[i].hash = recs[rng.IntN(i)].hash // the same id again
			}
			off += int64(1 + rng.IntN(8000))
		}
		for _, shuffled := range []bool{false, true} {
			in := slices.Clone(recs)
			if shuffled {
				rng.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
			}
			want, got := slices.Clone(in), slices.Clone(in)
			slices.SortFunc(want, byHash)
			sortByHash(got)
			if !slices.Equal(got, want) {
				t.Fatalf("sortByHash, %d records (shuffled %v): order differs from the comparison sort", n, shuffled)
			}
			want, got = slices.Clone(in), slices.Clone(in)
			slices.SortFunc(want, byOff)
			sortByOffset(got)
			if !slices.Equal(got, want) {
				t.Fatalf("sortByOffset, %d records (shuffled %v): order differs from the comparison sort", n, shuffled)
			}
		}
	}
}

// BenchmarkSortIndexRecs sorts the records of a rotated part (about
// 18,000 encrypted entries in 64 MiB) by hash, as writing its index does.
func BenchmarkSortIndexRecs(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	recs := make([]idxRec, 18000)
	for i := range recs {
		recs[i] = idxRec{hash: rng.Uint64(), off: int64(i) * 3708}
	}
	buf := make([]idxRec, len(recs))
	b.Run("radix", func(b *testing.B) {
		for b.Loop() {
			copy(buf, recs)
			sortByHash(buf)
		}
	})
	b.Run("comparison", func(b *testing.B) {
		for b.Loop() {
			copy(buf, recs)
			slices.SortFunc(buf, func(a, b idxRec) int {
				if a.hash != b.hash {
					if a.hash < b.hash {
						return -1
					}
					return 1
				}
				return int(a.off - b.off)
			})
		}
	})
}
