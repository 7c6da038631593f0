package exporter

import (
	"sync"

	"github.com/otelaudit/otelaudit-go/internal/lend"
)

// mdLoan lends an entry made in a Logger's loan (see internal/lend) its
// metadata map too, so that the worker's entries reuse their maps as they
// reuse the rest of their memory: the map and the group of slots it grows
// on its first key were most of what converting a span allocated once the
// entry itself was lent. End ends the Logger's loan, then empties the map
// (a borrower that kept it past its write finds it empty, as with the
// rest of a lent entry under lend.Scribble) and keeps both for the next
// entry.
type mdLoan struct {
	md   map[string]any
	loan lend.Loan
}

// maxLentMetadata is the most keys a reused map may have held: a map that
// grew past it for one large entry goes to the garbage collector instead
// of being cleared (clear keeps a map's size) for every small one after.
const maxLentMetadata = 16

var mdLoans = sync.Pool{New: func() any { return new(mdLoan) }}

// getMDLoan returns a loan whose map is empty and ready for use.
func getMDLoan() *mdLoan {
	ml := mdLoans.Get().(*mdLoan)
	if ml.md == nil {
		ml.md = make(map[string]any, 8)
	}
	return ml
}

// attach returns the loan to end for an entry made with ml.md in the
// Logger's loan ln: ml, which ends ln too. When the Logger did not lend
// (ln nil), the entry keeps the map, ml keeps nothing of it and goes back
// for another entry, and attach returns nil.
func (ml *mdLoan) attach(ln lend.Loan, kept bool) lend.Loan {
	if ln == nil {
		if kept {
			ml.md = nil
		}
		ml.release()
		return nil
	}
	ml.loan = ln
	return ml
}

// End ends the Logger's loan and the map's; see mdLoan.
func (ml *mdLoan) End() {
	ml.loan.End()
	ml.loan = nil
	ml.release()
}

// release empties ml's map (or lets it go when it grew large) and puts ml
// back for another entry.
func (ml *mdLoan) release() {
	if len(ml.md) > maxLentMetadata {
		ml.md = nil
	} else {
		clear(ml.md)
	}
	mdLoans.Put(ml)
}
