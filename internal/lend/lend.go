// Package lend marks the storage backends of this module that may be lent
// an entry: their Write and WriteBatch copy what they keep of each entry
// (its encoded line, its id) before they return and hold no reference to
// the entry or to its strings afterwards. otelaudit.Logger lends such a
// backend entries whose encrypted content lives in a buffer that it
// reuses for the next entry once the write returned, so that no
// ciphertext is allocated on its own (about two thirds of what an
// encrypted Log allocates).
//
// Only backends of this module can be borrowers: Borrower's method names
// Token, which no package outside the module can import. A type that
// embeds a borrower (a wrapper that may keep entries, such as a queue in
// front of the store) gets the promoted method but is still not a
// borrower, because the method returns the embedded backend, not the
// wrapper: see [Borrows].
package lend

import (
	"sync"
	"sync/atomic"
)

// Borrower is implemented by a backend that may be lent entries.
type Borrower interface {
	// BorrowEntries returns the backend itself (the receiver, as the
	// value a caller holds it by). It does nothing else.
	BorrowEntries(Token) any
}

// Token is the argument of [Borrower.BorrowEntries].
type Token struct{}

// Borrows reports whether b may be lent entries: whether b is a Borrower
// and its BorrowEntries returns b itself, which a type that merely
// embeds a borrower does not.
func Borrows(b any) bool {
	br, ok := b.(Borrower)
	return ok && br.BorrowEntries(Token{}) == b
}

// buffers holds the buffers lent from; buffers grown past maxBuffer by a
// large entry go back to the garbage collector instead.
var buffers = sync.Pool{New: func() any { return new([]byte) }}

const maxBuffer = 64 << 10

// Buffer returns an empty buffer to lend an entry's content from. Give it
// back with [Return] once the backend's write returned.
func Buffer() *[]byte { return buffers.Get().(*[]byte) }

// Return ends the loan of b (nil: no loan); nothing may use the entries
// whose content points into b afterwards. With [Scribble] set it first
// overwrites all of b's capacity with 'X', as the buffer's next borrower
// would overwrite it, and counts the loan in [Loans].
func Return(b *[]byte) {
	if b == nil {
		return
	}
	if Scribble.Load() {
		Loans.Add(1)
		full := (*b)[:cap(*b)]
		for i := range full {
			full[i] = 'X'
		}
	}
	if cap(*b) > maxBuffer {
		return
	}
	*b = (*b)[:0]
	buffers.Put(b)
}

// Scribble and Loans are for tests: with Scribble set, a backend that kept
// anything of a lent entry past its write reads 'X' there, and Loans
// counts the loans that ended.
var (
	Scribble atomic.Bool
	Loans    atomic.Int64
)
