package middleware

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
)

// TestInternerCopies: the interner's strings never share the memory of
// the string asked for (a recycled capture buffer), repeated values come
// back as the same copy, and more distinct values than slots still come
// back equal.
func TestInternerCopies(t *testing.T) {
	var n interner
	buf := []byte("gpt-4o-mini")
	s := unsafe.String(&buf[0], len(buf))
	a := n.get(s)
	assert.Equal(t, "gpt-4o-mini", a)
	assert.NotSame(t, unsafe.StringData(s), unsafe.StringData(a))
	b := n.get(string(buf))
	assert.Same(t, unsafe.StringData(a), unsafe.StringData(b), "a repeated value is shared")
	buf[0] = '#' // the buffer is reused
	assert.Equal(t, "gpt-4o-mini", a)
	for _, m := range []string{"m1", "m2", "m3", "m4", "m5", "m6", "gpt-4o-mini"} {
		assert.Equal(t, m, n.get(m))
	}
	assert.Empty(t, n.get(""))
}

// TestFinishReasonsAttr: common single reasons share a prebuilt attribute,
// others are copied; either way the value is the reasons given.
func TestFinishReasonsAttr(t *testing.T) {
	buf := []byte("stopweird")
	stop, weird := unsafe.String(&buf[0], 4), unsafe.String(&buf[4], 5)
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{[]string{stop}, []string{"stop"}},
		{[]string{weird}, []string{"weird"}},
		{[]string{stop, weird}, []string{"stop", "weird"}},
	} {
		kv := finishReasonsAttr(tc.in)
		assert.Equal(t, semconv.GenAIResponseFinishReasonsKey, kv.Key)
		for i := range buf {
			buf[i] = '#'
		}
		assert.Equal(t, tc.want, kv.Value.AsStringSlice())
		copy(buf, "stopweird")
	}
}
