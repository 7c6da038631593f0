package storage

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The direct copy of canonicalMetadata must give exactly what the JSON
// round trip gives, and defer to it for everything it does not handle.
func TestCanonicalMetadataMatchesRoundTrip(t *testing.T) {
	type custom struct{ A int }
	cases := []map[string]any{
		{"s": "text", "b": true, "n": nil, "i": 42, "i64": int64(-7), "u8": uint8(200), "u64": uint64(math.MaxUint64)},
		{"f": 1.5, "whole": 12.0, "tiny": 1e-7, "big": 1e21, "neg": -2.5e-9, "zero": 0.0, "negzero": math.Copysign(0, -1)},
		{"max": math.MaxFloat64, "min": math.SmallestNonzeroFloat64, "third": 1.0 / 3},
		{"list": []any{"a", 1, 2.5, nil, []any{}, map[string]any{"k": "v"}}, "strs": []string{"x", "y"}},
		{"nilList": []any(nil), "nilStrs": []string(nil), "nilMap": map[string]any(nil), "empty": map[string]any{}},
		{"html": "<a href=\"x\">&</a>", "ls": "\u2028\u2029", "ctl": "\x00\x1f"},
		{"i8": int8(-128), "i16": int16(300), "i32": int32(-5), "u": uint(9), "u16": uint16(9), "u32": uint32(9)},
		// Not handled directly: the round trip decides.
		{"struct": custom{A: 1}},
		{"f32": float32(0.1)},
		{"num": "x", "jn": []any{map[string]any{"deep": []string{"\xff"}}}},
		{"bad\xffkey": 1},
		{"ptr": new(int)},
	}
	for i := range 200 {
		r := rand.New(rand.NewPCG(uint64(i), 7))
		cases = append(cases, map[string]any{
			"f":  math.Float64frombits(r.Uint64()),
			"g":  r.NormFloat64() * math.Pow(10, float64(r.IntN(60)-30)),
			"i":  r.Int64(),
			"ls": []any{r.Float64(), r.Uint64()},
		})
	}
	for i, md := range cases {
		want, wantErr := roundTripMetadata(md)
		got, gotErr := canonicalMetadata(md)
		if wantErr != nil {
			require.Error(t, gotErr, "case %d", i)
			assert.Equal(t, wantErr.Error(), gotErr.Error(), "case %d", i)
			continue
		}
		require.NoError(t, gotErr, "case %d", i)
		assert.Equal(t, want, got, "case %d", i)
	}
}

func TestCanonicalMetadataRejectsNonFinite(t *testing.T) {
	for _, v := range []any{math.NaN(), math.Inf(1), []any{math.Inf(-1)}, map[string]any{"x": math.NaN()}} {
		_, err := canonicalMetadata(map[string]any{"v": v})
		assert.Error(t, err)
	}
}

func TestCanonicalMetadataDeepNesting(t *testing.T) {
	var v any = "leaf"
	for range 100 {
		v = []any{map[string]any{"k": v}}
	}
	want, err := roundTripMetadata(map[string]any{"deep": v})
	require.NoError(t, err)
	got, err := canonicalMetadata(map[string]any{"deep": v})
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

// BenchmarkCanonicalMetadata compares the direct copy with the JSON round
// trip on the metadata the exporter typically writes.
func BenchmarkCanonicalMetadata(b *testing.B) {
	md := map[string]any{
		"gen_ai.response.id": "chatcmpl-bench", "gen_ai.response.model": "gpt-4o-mini",
		"gen_ai.response.finish_reasons": []any{"stop"}, "stream": false, "retries": int64(0),
	}
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := canonicalMetadata(md); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("roundtrip", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := roundTripMetadata(md); err != nil {
				b.Fatal(err)
			}
		}
	})
}
