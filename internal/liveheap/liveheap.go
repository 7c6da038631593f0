// Package liveheap gives a benchmark the live heap of a service, so that
// the garbage collector runs at the pace it runs at in a service.
//
// A test binary's live heap is a megabyte or two, so with the default
// GOGC the collector starts a cycle at its 4 MB minimum goal: every few
// milliseconds while a benchmark allocates. Each cycle has fixed costs
// that fall on the benchmark's goroutine whatever the heap's size: two
// stop-the-world pauses, and a preemption to scan its stack. A service
// with tens of megabytes of live objects pays them once per that many
// megabytes allocated instead. A benchmark of a per-call cost that
// includes garbage-collection work therefore measures it both ways: in
// the bare test binary and with a Heap kept alive beside its loop.
//
//	h := liveheap.New(64 << 20)
//	defer runtime.KeepAlive(h)
//	// ... the timed loop
package liveheap

// Heap is a live heap made of small objects that hold pointers and
// strings, as a service's caches and connection state do, so that the
// collector marks every one of them in every cycle: unlike one large
// pointer-free buffer, it costs marking work in proportion to its size.
type Heap struct {
	records []*record
}

// record is 64 bytes: a string, a pointer to another record and 4 words.
type record struct {
	name  string
	peer  *record
	value [4]int64
}

var names = [...]string{"session", "user", "tenant", "route", "cache-entry", "conn", "token", "config"}

// New allocates a Heap of about size bytes (the records and the slice
// that holds them). Each record points to an earlier one picked by a
// fixed pseudo-random sequence, so the collector's marking follows
// pointers across the heap rather than along one run of memory.
func New(size int) *Heap {
	const perRecord = 64 + 8 // the record and its slot in records
	n := max(size/perRecord, 1)
	h := &Heap{records: make([]*record, n)}
	x := uint32(2463534242)
	for i := range h.records {
		r := &record{name: names[i%len(names)], value: [4]int64{int64(i)}}
		if i > 0 {
			// xorshift32: a cheap, fixed sequence.
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			r.peer = h.records[int(x)%i]
		}
		h.records[i] = r
	}
	return h
}

// Len is the number of objects in the heap.
func (h *Heap) Len() int { return len(h.records) }
