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

// acquireCapture returns a buffer with room for n bytes, empty, by the
// pointer it is pooled under: the caller appends to *p's slice, keeps the
// result, and gives both back with releaseCapture. The pointer is what
// the pool holds, so that taking and giving back costs no allocation.
func acquireCapture(n int) *[]byte {
	n = max(n, 1)
	if n <= maxPooledCapture {
		if p, ok := capturePool.Get().(*[]byte); ok {
			if cap(*p) >= n {
				*p = (*p)[:0]
				return p
			}
			*p = make([]byte, 0, n)
			return p
		}
	}
	b := make([]byte, 0, n)
	return &b
}

// releaseCapture gives back p, with b, what the caller's appends to *p's
// slice made of it (the same memory, or a larger copy). Nothing may use b,
// or a string sharing its memory, afterwards.
func releaseCapture(p *[]byte, b []byte) {
	if p == nil || cap(b) == 0 || cap(b) > maxPooledCapture {
		return
	}
	if poisonReleased != nil && poisonReleased() {
		b = b[:cap(b)]
		for i := range b {
			b[i] = '#'
		}
	}
	*p = b[:0]
	capturePool.Put(p)
}
