package s3store

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBatchNameRoundTrip(t *testing.T) {
	cases := []batchName{
		{writer: "0123456789abcdef", seq: 1, gen: 0, minNs: 0, maxNs: 0, n: 0},
		{writer: "ffffffffffffffff", seq: 18446744073709551615, gen: 7, minNs: 1, maxNs: 86399999999999, n: 5000},
	}
	for _, c := range cases {
		got, ok := parseBatchName(c.String())
		require.True(t, ok, c.String())
		assert.Equal(t, c, got)
	}
	slot := slotName(cases[0], 3)
	assert.Equal(t, "0123456789abcdef-1.3.jsonl", slot.String())
	got, ok := parseBatchName(slot.String())
	require.True(t, ok)
	assert.Equal(t, slot, got)
	assert.Equal(t, -1, got.n, "a slot's count is unknown")
	for _, bad := range []string{
		"", "x.jsonl", "0123456789abcdef-1.0.jsonl", "0123456789abcdef-1.0.1-2.3.json", "0123456789ABCDEF-1.0.1-2.3.jsonl",
		"0123456789abcdef-1.0.1-2.-3.jsonl", "0123456789abcdef-x.0.1-2.3.jsonl", "0123456789abcdef-1.0.12.3.jsonl",
		"a2d6303d-03b7-492b-838e-66ba7b9b5af6.json",
	} {
		_, ok := parseBatchName(bad)
		assert.False(t, ok, bad)
	}
}

func TestV7Date(t *testing.T) {
	u, err := uuid.NewV7()
	require.NoError(t, err)
	d, ok := v7Date(u.String())
	require.True(t, ok)
	assert.Equal(t, time.Now().UTC().Format(dateLayout), d) // may flake only exactly at midnight
	for _, id := range []string{
		"a2d6303d-03b7-492b-838e-66ba7b9b5af6",             // v4
		"0190B4E2-1C3D-7ABC-8DEF-0123456789AB",             // v7, not lowercase canonical
		"{0190b4e2-1c3d-7abc-8def-0123456789ab}",           // braces
		"0190b4e2-1c3d-7abc-0def-0123456789ab",             // wrong variant
		"id-1", "", "0190b4e2-1c3d-7abc-8def-0123456789a/", // slash
	} {
		_, ok := v7Date(id)
		assert.False(t, ok, id)
	}
}

func TestMarkerRoundTrip(t *testing.T) {
	name := batchName{writer: "0123456789abcdef", seq: 3, minNs: 10, maxNs: 20, n: 2}
	lo, hi := "0190b4e2-1c3d-7abc-8def-0123456789ab", "0190b4e2-1c3d-7abc-8def-0123456789ff"
	m, ok := parseMarker(markerRel("2024-07-01", lo, hi, "2024-02-29", name))
	require.True(t, ok)
	assert.Equal(t, marker{minID: lo, maxID: hi, date: "2024-02-29", name: name}, m)
	m, ok = parseMarker(markerRel(otherBucket, "", "", "2024-03-31", name))
	require.True(t, ok)
	assert.Equal(t, marker{date: "2024-03-31", name: name}, m)
	for _, bad := range []string{"_ids/other/2024-13-01_" + name.String(), "_ids/other/x", "2024-01-01/" + name.String(), "_ids/2024-01-01/short"} {
		_, ok := parseMarker(bad)
		assert.False(t, ok, bad)
	}
}

func TestDayHelpers(t *testing.T) {
	ts := time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.FixedZone("X", -3600))
	assert.Equal(t, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), day(ts))
	assert.Equal(t, int64(59*time.Minute+59*time.Second+999999999), nsOfDay(ts))
	_, ok := parseDate("2023-02-29")
	assert.False(t, ok, "no Feb 29 in 2023")
	_, ok = parseDate("2024-02-29")
	assert.True(t, ok)
}

// TestBatchRuns: the batches a retention's Done note names are written as
// runs per writer and read back as the same batches.
func TestBatchRuns(t *testing.T) {
	var r batchRuns
	for _, seq := range []uint64{7, 3, 4, 5, 9} {
		r.add("0123456789abcdef", seq)
	}
	r.add("ffffffffffffffff", 0)
	runs := r.strings()
	assert.Equal(t, []string{"0123456789abcdef-3..5", "0123456789abcdef-7", "0123456789abcdef-9", "ffffffffffffffff-0"}, runs)
	var back batchRuns
	for _, run := range runs {
		w, from, to, ok := parseBatchRun(run)
		require.True(t, ok, run)
		for seq := from; seq <= to; seq++ {
			back.add(w, seq)
		}
	}
	assert.Equal(t, r, back)
	for _, bad := range []string{"", "0123456789abcdef", "0123456789abcde-1", "0123456789abcdeg-1", "0123456789abcdef-x", "0123456789abcdef-5..3", "0123456789abcdef-1..x"} {
		_, _, _, ok := parseBatchRun(bad)
		assert.False(t, ok, bad)
	}
}
