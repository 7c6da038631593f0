package lend_test

import (
	"testing"

	"github.com/otelaudit/otelaudit-go/internal/lend"
)

// borrower has a size, so that two of them are never the same pointer.
type borrower struct{ _ int }

func (b *borrower) BorrowEntries(lend.Token) any { return b }

// wrapper embeds a borrower, as a user's queueing wrapper of a store
// might: it has the promoted method but must not be lent entries.
type wrapper struct{ *borrower }

func TestBorrows(t *testing.T) {
	b := &borrower{}
	for _, tc := range []struct {
		name string
		b    any
		want bool
	}{
		{"borrower", b, true},
		{"wrapper of a borrower", wrapper{b}, false},
		{"pointer to a wrapper", &wrapper{b}, false},
		{"other type", struct{}{}, false},
		{"nil", nil, false},
	} {
		if got := lend.Borrows(tc.b); got != tc.want {
			t.Errorf("%s: Borrows = %v, want %v", tc.name, got, tc.want)
		}
	}
}
