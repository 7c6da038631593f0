// Package emulatortest holds the two rules every test against a local
// emulator that `make test` starts follows (versitygw for S3 in
// internal/s3test, moto_server for AWS keys in internal/awstest): a
// missing emulator skips the test, or fails it when the environment says
// the emulator is required; and each test binary appends a one-line
// summary to a report file, so that `make test` shows the tests really ran
// against it (go test hides the output of passing packages).
package emulatortest

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
)

// Emulator is one kind of emulator, named by the variables its start
// script exports. Its methods are safe for concurrent use.
type Emulator struct {
	What        string // how the summary names it: "the S3 server"
	EnvEndpoint string // its URL
	EnvRequired string // "1": a missing emulator fails instead of skipping
	EnvReport   string // the file each test binary appends its summary to

	used atomic.Int64 // tests of this binary that got the emulator
}

// MarkUsed counts, for [Emulator.Report], a test that got the emulator.
func (e *Emulator) MarkUsed() { e.used.Add(1) }

// Missing ends tb for want of the emulator: it skips it with msg, or fails
// it when EnvRequired is "1", because under `make test` a missing emulator
// is a failure, not a skip.
func (e *Emulator) Missing(tb testing.TB, msg string) {
	tb.Helper()
	if os.Getenv(e.EnvRequired) == "1" {
		tb.Fatalf("%s=1 but %s", e.EnvRequired, msg)
	}
	tb.Skip(msg)
}

// Report appends "pkg: PASS|FAIL, N tests and benchmarks ran against
// What URL" to the file EnvReport names, if it names one. Call it from
// TestMain with the code m.Run returned.
func (e *Emulator) Report(pkg string, code int) {
	path := os.Getenv(e.EnvReport)
	if path == "" {
		return
	}
	status := "PASS"
	if code != 0 {
		status = "FAIL"
	}
	line := fmt.Sprintf("%s: %s, %d tests and benchmarks ran against %s %s\n",
		pkg, status, e.used.Load(), e.What, os.Getenv(e.EnvEndpoint))
	if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		_, _ = f.WriteString(line)
		_ = f.Close()
	}
}
