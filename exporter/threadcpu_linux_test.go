package exporter_test

import (
	"syscall"
	"time"
	"unsafe"
)

// clockThreadCPUTime is CLOCK_THREAD_CPUTIME_ID (linux/time.h).
const clockThreadCPUTime = 3

// threadCPUTime is the CPU time of the calling OS thread so far; ok is
// false when the clock cannot be read. It means the calling goroutine's
// CPU only while the goroutine is locked to its thread
// (runtime.LockOSThread).
func threadCPUTime() (_ time.Duration, ok bool) {
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
