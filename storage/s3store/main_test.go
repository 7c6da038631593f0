package s3store_test

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
)

// envReport names a file to which the test binary appends one line saying
// how many tests and benchmarks ran against the S3 server, so that `make
// test` can show that the S3 suite ran (go test hides the output of passing
// packages). scripts/with-versitygw.sh sets it and prints the file.
const envReport = "OTELAUDIT_S3_REPORT"

// usedServer counts the tests and benchmarks that got a server from
// testServer or startGateway (rather than skipping).
var usedServer atomic.Int64

func TestMain(m *testing.M) {
	code := m.Run()
	if path := os.Getenv(envReport); path != "" {
		status := "PASS"
		if code != 0 {
			status = "FAIL"
		}
		line := fmt.Sprintf("storage/s3store: %s, %d tests/benchmarks ran against the S3 server %s\n",
			status, usedServer.Load(), os.Getenv(envEndpoint))
		if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			_, _ = f.WriteString(line)
			_ = f.Close()
		}
	}
	os.Exit(code)
}
