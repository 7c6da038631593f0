package genai

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/jsontape"
)

// The parsers were written against gjson; these helpers keep the parts of
// its behaviour they rely on (checked against gjson itself by a
// differential fuzz when the switch was made).

func mustParse(t *testing.T, s string) jsontape.Value {
	t.Helper()
	v, err := jsontape.ParseString(s)
	require.NoError(t, err)
	return v
}

func TestIntOf(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{`3`, 3}, {`1.9`, 1}, {`-0.5`, 0}, {`1e1`, 10}, {`-7`, -7},
		{`1e300`, math.MaxInt64}, {`-1e300`, math.MinInt64}, {`12345678901234567890`, math.MaxInt64},
		{`true`, 1}, {`false`, 0}, {`null`, 0}, {`[1]`, 0}, {`{"a":1}`, 0},
		{`"3"`, 3}, {`"+3"`, 3}, {`"1e1"`, 10}, {`"2.5"`, 2}, {`"x"`, 0}, {`""`, 0},
		{`"99999999999999999999"`, math.MaxInt64}, {`"-99999999999999999999"`, math.MinInt64},
	} {
		assert.Equal(t, tc.want, intOf(mustParse(t, tc.in)), tc.in)
	}
	assert.Zero(t, intOf(jsontape.Value{}), "missing")
}

func TestPath(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{`{"a":{"b":"x"}}`, `"x"`},
		{`{"a":"s","a":{"b":"later"}}`, `"later"`},
		{`{"a":{},"a":{"b":"later"}}`, `"later"`},
		{`{"a":{"b":"first"},"a":{"b":"second"}}`, `"first"`},
		{`{"a":[{"b":"in array"}]}`, ``},
		{`{"b":1}`, ``},
		{`[{"a":{"b":1}}]`, ``},
	} {
		assert.Equal(t, tc.want, path(mustParse(t, tc.in), "a", "b").Raw(), tc.in)
	}
}

func TestEach(t *testing.T) {
	raws := func(v jsontape.Value) []string {
		var out []string
		for e := range each(v) {
			out = append(out, e.Raw())
		}
		return out
	}
	assert.Equal(t, []string{"1", `"a"`}, raws(mustParse(t, `[1,"a"]`)))
	assert.Nil(t, raws(mustParse(t, `{"x":1,"y":{}}`)), "an object is not a list")
	assert.Nil(t, raws(mustParse(t, `null`)), "null is no list")
	assert.Nil(t, raws(mustParse(t, `"s"`)))
	assert.Nil(t, raws(jsontape.Value{}), "missing yields nothing")
	assert.Nil(t, raws(mustParse(t, `[]`)))
	n := 0
	for range each(mustParse(t, `[1,2,3]`)) {
		n++
		break
	}
	assert.Equal(t, 1, n, "stops when the loop does")
}
