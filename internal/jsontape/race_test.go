//go:build race

package jsontape

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation counts that rely on a pool cannot be asserted.
const raceEnabled = true
