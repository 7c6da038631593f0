// Package s3test is what the project's S3 tests share: the environment
// `make test` sets for them (scripts/with-versitygw.sh starts versitygw on
// 127.0.0.1 and exports it), the rule for a missing server (skip, or fail
// when OTELAUDIT_S3_REQUIRED=1), and the one-line summary each test binary
// reports so that `make test` shows the S3 tests ran (go test hides the
// output of passing packages).
package s3test

import (
	"os"
	"testing"

	"github.com/otelaudit/otelaudit-go/internal/emulatortest"
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

var emulator = &emulatortest.Emulator{
	What: "the S3 server", EnvEndpoint: EnvEndpoint, EnvRequired: EnvRequired, EnvReport: EnvReport,
}

// FromEnv returns the server the environment names, counting it for
// [Report]; ok is false when the environment names none.
func FromEnv() (srv Server, ok bool) {
	srv = Server{os.Getenv(EnvEndpoint), os.Getenv(EnvAccessKey), os.Getenv(EnvSecretKey)}
	if srv.Endpoint == "" || srv.AccessKey == "" || srv.SecretKey == "" {
		return Server{}, false
	}
	emulator.MarkUsed()
	return srv, true
}

// MarkUsed counts, for [Report], a test that got a server another way (one
// it started itself).
func MarkUsed() { emulator.MarkUsed() }

// Missing ends tb for want of a server: it skips it with msg, or fails it
// when OTELAUDIT_S3_REQUIRED=1, because under `make test` a missing server
// is a failure, not a skip.
func Missing(tb testing.TB, msg string) {
	tb.Helper()
	emulator.Missing(tb, msg)
}

// Report appends "pkg: PASS|FAIL, N tests ran against the S3 server URL" to
// the file OTELAUDIT_S3_REPORT names, if it names one. Call it from TestMain
// with the code m.Run returned.
func Report(pkg string, code int) { emulator.Report(pkg, code) }
