// Package s3test is what the project's S3 tests share: the environment
// `make test` sets for them (scripts/with-versitygw.sh starts versitygw on
// 127.0.0.1 and exports it), the rule for a missing server (skip, or fail
// when OTELAUDIT_S3_REQUIRED=1), and the one-line summary each test binary
// reports so that `make test` shows the S3 tests ran (go test hides the
// output of passing packages).
package s3test

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
)

// The variables scripts/with-versitygw.sh exports.
const (
	EnvEndpoint  = "OTELAUDIT_S3_ENDPOINT"   // http://127.0.0.1:PORT of an S3-compatible server
	EnvAccessKey = "OTELAUDIT_S3_ACCESS_KEY" // its access key
	EnvSecretKey = "OTELAUDIT_S3_SECRET_KEY" // its secret key
	EnvRequired  = "OTELAUDIT_S3_REQUIRED"   // "1": a missing server fails the tests instead of skipping them
	EnvReport    = "OTELAUDIT_S3_REPORT"     // a file each test binary appends its summary line to
	EnvVersityGW = "OTELAUDIT_VERSITYGW"     // the versitygw binary, for tests that run their own server
)

// Server is an S3-compatible server to test against.
type Server struct {
	Endpoint, AccessKey, SecretKey string
}

// used counts the tests of this test binary that got a server.
var used atomic.Int64

// FromEnv returns the server the environment names, counting it for
// [Report]; ok is false when the environment names none.
func FromEnv() (srv Server, ok bool) {
	srv = Server{os.Getenv(EnvEndpoint), os.Getenv(EnvAccessKey), os.Getenv(EnvSecretKey)}
	if srv.Endpoint == "" || srv.AccessKey == "" || srv.SecretKey == "" {
		return Server{}, false
	}
	used.Add(1)
	return srv, true
}

// MarkUsed counts, for [Report], a test that got a server another way (one
// it started itself).
func MarkUsed() { used.Add(1) }

// Missing ends tb for want of a server: it skips it with msg, or fails it
// when OTELAUDIT_S3_REQUIRED=1, because under `make test` a missing server
// is a failure, not a skip.
func Missing(tb testing.TB, msg string) {
	tb.Helper()
	if os.Getenv(EnvRequired) == "1" {
		tb.Fatalf("%s=1 but %s", EnvRequired, msg)
	}
	tb.Skip(msg)
}

// Report appends "pkg: PASS|FAIL, N tests ran against the S3 server URL" to
// the file OTELAUDIT_S3_REPORT names, if it names one. Call it from TestMain
// with the code m.Run returned.
func Report(pkg string, code int) {
	path := os.Getenv(EnvReport)
	if path == "" {
		return
	}
	status := "PASS"
	if code != 0 {
		status = "FAIL"
	}
	line := fmt.Sprintf("%s: %s, %d tests and benchmarks ran against the S3 server %s\n",
		pkg, status, used.Load(), os.Getenv(EnvEndpoint))
	if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		_, _ = f.WriteString(line)
		_ = f.Close()
	}
}
