package middleware

import "time"

// The drain's bounds, for the external tests to check Close against
// rather than repeat the numbers.
const (
	ErrorDrainBudget = errorDrainBudget
	MaxErrorDrain    = maxErrorDrain
)

// WithErrorDrainBudget replaces the drain's 20 ms budget. Tests that
// check the provider's code of an error body the server sent whole use a
// long one: the body is already there, but on a loaded machine (the suite
// under -race on 2 cores) the goroutine that reads it may not run within
// 20 ms, and the entry would then rightly fall back to the status. Tests
// of the budget itself keep the default.
func WithErrorDrainBudget(d time.Duration) Option {
	return optionFunc(func(c *config) { c.drainBudget = d })
}
