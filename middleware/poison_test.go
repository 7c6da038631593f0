package middleware

import (
	"flag"
	"sync"
)

// Tests run with recycled capture buffers overwritten when they are given
// back: an entry that kept a string sharing one would hold '#' runs instead
// of what was sent, and the tests that check content would fail. Benchmark
// runs (-bench) leave it off: it is not a cost of the library.
func init() {
	poisonReleased = sync.OnceValue(func() bool {
		f := flag.Lookup("test.bench")
		return f == nil || f.Value.String() == ""
	})
}
