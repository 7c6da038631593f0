package middleware

import "sync"

// Capture buffers that only the audit reads (a request body read through
// GetBody, a non-streaming reply) are recycled: at 1 KiB a side they are a
// sixth of what an audited call allocates, and allocation is what an
// audited call mostly costs. A buffer goes back only after every string the
// span keeps from it has been copied (the parsers return strings that share
// the buffer); the package's tests poison returned buffers so that a
// string still pointing into one shows up as garbage in the entries.

// maxPooledCapture bounds the buffers kept: a rare huge body must not pin
// its memory in the pool.
const maxPooledCapture = 64 << 10

var capturePool sync.Pool // of *[]byte

// poisonReleased, when set and true, makes releaseCapture overwrite what
// it takes back; set by the package's tests.
var poisonReleased func() bool

// acquireCapture returns an empty buffer with room for n bytes.
func acquireCapture(n int) []byte {
	n = max(n, 1)
	if n <= maxPooledCapture {
		if p, ok := capturePool.Get().(*[]byte); ok {
			if b := *p; cap(b) >= n {
				return b[:0]
			}
		}
	}
	return make([]byte, 0, n)
}

// releaseCapture gives b back. Nothing may use b, or a string sharing its
// memory, afterwards.
func releaseCapture(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledCapture {
		return
	}
	if poisonReleased != nil && poisonReleased() {
		b = b[:cap(b)]
		for i := range b {
			b[i] = '#'
		}
	}
	b = b[:0]
	capturePool.Put(&b)
}
