package awskeys_test

import (
	"syscall"
	"time"
)

// threadCPU returns the user plus system CPU time of the calling thread
// (the caller must hold it with runtime.LockOSThread), or 0 when it cannot
// be read.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
