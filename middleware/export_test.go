package middleware

// The drain's bounds, for the external tests to check Close against
// rather than repeat the numbers.
const (
	ErrorDrainBudget = errorDrainBudget
	MaxErrorDrain    = maxErrorDrain
)
