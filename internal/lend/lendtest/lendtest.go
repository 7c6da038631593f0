// Package lendtest is what the tests of lending (internal/lend) share.
package lendtest

import (
	"testing"

	"github.com/otelaudit/otelaudit-go/internal/lend"
)

// Scribble makes every lent buffer hold only 'X' once its loan ends (see
// lend.Scribble), for the rest of t, and returns a func that counts the
// loans ended since. Tests that call it must not run in parallel with
// each other.
func Scribble(t testing.TB) (loans func() int64) {
	t.Helper()
	if !lend.Scribble.CompareAndSwap(false, true) {
		t.Fatal("lendtest.Scribble: another test is scribbling")
	}
	t.Cleanup(func() { lend.Scribble.Store(false) })
	start := lend.Loans.Load()
	return func() int64 { return lend.Loans.Load() - start }
}
