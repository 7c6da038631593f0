//go:build !race

package jsontape

const raceEnabled = false
