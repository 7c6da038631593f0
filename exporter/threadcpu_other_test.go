//go:build !linux

package exporter_test

import "time"

// threadCPUTime is not measured on this system: ok is always false.
func threadCPUTime() (_ time.Duration, ok bool) { return 0, false }
