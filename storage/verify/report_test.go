package verify

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReportJSONEmptyLists: an intact store's report has "problems": []
// and "warnings": [], never null, so `jq '.problems[]'` works on it; a
// report with findings keeps them; a decoded report round-trips.
func TestReportJSONEmptyLists(t *testing.T) {
	for _, rep := range []*Report{{Dir: "d", Entries: 3}, {Dir: "d", Problems: []Problem{}, Warnings: []Problem{}}} {
		data, err := json.Marshal(rep)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(data, &m))
		assert.Equal(t, []any{}, m["problems"], string(data))
		assert.Equal(t, []any{}, m["warnings"], string(data))
		assert.Equal(t, "d", m["dir"])
		data2, err := json.Marshal(*rep) // value and pointer encode alike
		require.NoError(t, err)
		assert.JSONEq(t, string(data), string(data2))
	}

	rep := Report{Dir: "d", Entries: 2, Problems: []Problem{{Kind: ProblemMissing, File: "f", Line: 2, Detail: "x"}}}
	data, err := json.Marshal(rep)
	require.NoError(t, err)
	var back Report
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, rep.Problems, back.Problems)
	assert.Equal(t, []Problem{}, back.Warnings)
	assert.Equal(t, int64(2), back.Entries)
}
