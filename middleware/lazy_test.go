package middleware

import (
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"

	"github.com/otelaudit/otelaudit-go/middleware/internal/genai"
)

// TestLazyTextsHoldTheCapture: a pooled capture goes back to the pool only
// once the exchange is done with it and every text handed over from it was
// made, whatever the order, and never while a text may still read it
// (the tests poison what goes back: a text made after that would read
// '#'). A text with no part is not handed and holds nothing.
func TestLazyTextsHoldTheCapture(t *testing.T) {
	body := `{"system":"be terse","user":"hello there"}`
	for _, order := range []string{"exchange first", "texts first", "mixed"} {
		t.Run(order, func(t *testing.T) {
			pooled := acquireCapture(len(body))
			buf := append(*pooled, body...)
			sys, user := string2(buf, "be terse"), string2(buf, "hello there")
			var h heldCapture
			h.hold(pooled, buf)
			var in, system, empty lazyText
			in.messages([]genai.Message{{Role: "user", Parts: []genai.Part{{Type: "text", Content: user}}}}, &h)
			system.parts([]genai.Part{{Type: "text", Content: sys}}, &h)
			empty.messages([]genai.Message{{Role: "user"}}, &h)
			assert.True(t, in.hand())
			assert.True(t, system.hand())
			assert.False(t, empty.hand(), "a text with no part")
			released := func() bool { return buf[0] == '#' }
			switch order {
			case "exchange first":
				h.done()
				assert.False(t, released())
				assert.Equal(t, "hello there", in.Text())
				assert.False(t, released())
				assert.Equal(t, "be terse", system.Text())
			case "texts first":
				assert.Equal(t, "hello there", in.Text())
				assert.Equal(t, "be terse", system.Text())
				assert.False(t, released(), "the exchange still reads it")
				h.done()
			case "mixed":
				var wg sync.WaitGroup
				wg.Go(func() { assert.Equal(t, "be terse", system.Text()) })
				assert.Equal(t, "hello there", in.Text())
				h.done()
				wg.Wait()
			}
			assert.True(t, released(), "given back once all are done")
			// Made again: the same text, not read from the capture.
			assert.Equal(t, "hello there", in.Text())
			assert.Equal(t, "be terse", system.Text())
		})
	}
	t.Run("a text never made keeps it out of the pool", func(t *testing.T) {
		pooled := acquireCapture(len(body))
		buf := append(*pooled, body...)
		var h heldCapture
		h.hold(pooled, buf)
		var in lazyText
		in.messages([]genai.Message{{Role: "user", Parts: []genai.Part{{Type: "text", Content: string2(buf, "hello there")}}}}, &h)
		assert.True(t, in.hand())
		h.done()
		assert.Equal(t, byte('{'), buf[0])
	})
	t.Run("nothing held", func(t *testing.T) {
		var h heldCapture
		var in lazyText
		in.messages([]genai.Message{{Role: "user", Parts: []genai.Part{{Type: "text", Content: "hi"}}}}, &h)
		assert.True(t, in.hand())
		h.done()
		assert.Equal(t, "hi", in.Text())
	})
}

// string2 returns the occurrence of s in buf as a string sharing buf's
// memory, as parsed strings share the capture.
func string2(buf []byte, s string) string {
	i := strings.Index(string(buf), s)
	b := buf[i : i+len(s)]
	return unsafe.String(unsafe.SliceData(b), len(b))
}
