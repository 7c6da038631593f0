//go:build !linux

package awskeys_test

import "time"

// threadCPU is not available here: the caller-cpu figures read 0.
func threadCPU() time.Duration { return 0 }
