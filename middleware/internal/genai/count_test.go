package genai

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/jsontape"
)

// TestCount: a token count is a non-negative integral JSON number, however
// it is spelled; anything else is no count. The integer fast path and the
// float path agree.
func TestCount(t *testing.T) {
	for _, tc := range []struct {
		json string
		want int64 // -1: no count
	}{
		{"151", 151}, {"0", 0}, {"-0", 0}, {"9223372036854775807", 9223372036854775807},
		{"151.0", 151}, {"1e3", 1000}, {"1.5e1", 15}, {"1E2", 100},
		{"-1", -1}, {"-1.0", -1}, {"1.5", -1}, {"1e30", -1}, {"99999999999999999999", -1},
		{`"151"`, -1}, {"null", -1}, {"true", -1},
	} {
		v, err := jsontape.ParseString(tc.json)
		require.NoError(t, err, tc.json)
		got := count(v)
		if tc.want < 0 {
			assert.Nil(t, got, tc.json)
			continue
		}
		if assert.NotNil(t, got, tc.json) {
			assert.Equal(t, tc.want, *got, tc.json)
		}
		var n int64 = 7
		assert.Same(t, &n, countInto(&n, v), tc.json)
		assert.Equal(t, tc.want, n, tc.json)
	}
}
