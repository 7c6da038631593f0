// Package lend marks the storage backends of this module that may be lent
// an entry: their Write and WriteBatch copy what they keep of each entry
// (its encoded line, its id) before they return and hold no reference to
// the entry or to its strings afterwards. otelaudit.Logger lends such a
// backend entries that live, with their hashes and encrypted content, in
// memory it reuses for the next entry once the write returned, so that
// Log allocates neither the entry nor its ciphertexts (about four fifths
// of what an encrypted Log allocated).
//
// Only backends of this module can be borrowers: Borrower's method names
// Token, which no package outside the module can import. A type that
// embeds a borrower (a wrapper that may keep entries, such as a queue in
// front of the store) gets the promoted method but is still not a
// borrower, because the method returns the embedded backend, not the
// wrapper: see [Borrows].
package lend

import "sync/atomic"

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

// Loan is the memory a lender made one entry in, for a borrower to write:
// End it once nothing uses the entry any more (the borrower's write
// returned, or the entry was given up); the lender then reuses the memory.
// End on a nil Loan is not allowed: a lender hands out nil (an untyped
// nil interface) when it did not lend.
type Loan interface{ End() }

// Ended is called by a lender when a loan ends, with the memory it lent
// (the buffers the lent entries pointed into), before it reuses that
// memory. With [Scribble] set (tests) it overwrites every byte of bufs
// with 'X', as the memory's next borrower would, and counts the loan in
// [Loans]; otherwise it does nothing.
func Ended(bufs ...[]byte) {
	if !Scribble.Load() {
		return
	}
	Loans.Add(1)
	for _, b := range bufs {
		for i := range b {
			b[i] = 'X'
		}
	}
}

// Scribble and Loans are for tests: with Scribble set, a backend that kept
// anything of a lent entry past its write reads 'X' there (or the zero
// values the lender resets the rest to), and Loans counts the loans that
// ended.
var (
	Scribble atomic.Bool
	Loans    atomic.Int64
)
