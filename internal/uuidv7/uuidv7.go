// Package uuidv7 makes UUIDv7 identifiers (RFC 9562) whose text sorts by
// creation time, for audit entry ids.
package uuidv7

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// New returns a new UUIDv7 in its 36-byte text form. Ids made by one
// process never repeat and sort in the order they were made, even within
// one clock tick or when the clock steps back. Safe for concurrent use.
func New() string {
	// The 48-bit millisecond timestamp and the 12-bit sub-millisecond
	// fraction after it (rand_a, as google/uuid's NewV7 fills it) strictly
	// increase from one call to the next (lock-free, see nextTime); the
	// 62 bits of rand_b are random.
	var u [16]byte
	t := nextTime()
	binary.BigEndian.PutUint64(u[0:8], uint64(t>>12)<<16) // 48-bit ms
	u[6] = 0x70 | byte(t>>8)&0x0f                         // version 7, seq high bits
	u[7] = byte(t)
	binary.BigEndian.PutUint64(u[8:16], rand.Uint64())
	u[8] = 0x80 | u[8]&0x3f // RFC 9562 variant
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
	return string(b[:])
}

// lastTime is the (milliseconds << 12 | sub-millisecond fraction) value
// of the last id New made.
var lastTime atomic.Int64

// nextTime returns milliseconds since the epoch << 12 plus the 12-bit
// fraction of the millisecond (nanoseconds >> 8, 0..3906), strictly
// greater than any value it returned before.
func nextTime() int64 {
	for {
		last := lastTime.Load()
		nano := time.Now().UnixNano()
		milli := nano / 1_000_000
		now := milli<<12 + (nano-milli*1_000_000)>>8
		if now <= last {
			now = last + 1
		}
		if lastTime.CompareAndSwap(last, now) {
			return now
		}
	}
}
