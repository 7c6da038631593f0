package main

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
)

// envS3Report names a file to which the test binary appends one line
// saying how many tests ran against the S3 server, so that `make test`
// shows that the S3 tests ran (go test hides the output of passing
// packages); scripts/with-versitygw.sh sets it and prints the file.
const envS3Report = "OTELAUDIT_S3_REPORT"

// usedS3Server counts the tests that got a server from s3Server (rather
// than skipping).
var usedS3Server atomic.Int64

func TestMain(m *testing.M) {
	code := m.Run()
	if path := os.Getenv(envS3Report); path != "" {
		status := "PASS"
		if code != 0 {
			status = "FAIL"
		}
		line := fmt.Sprintf("cmd/otelaudit: %s, %d tests ran against the S3 server %s\n",
			status, usedS3Server.Load(), os.Getenv(envS3Endpoint))
		if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			_, _ = f.WriteString(line)
			_ = f.Close()
		}
	}
	os.Exit(code)
}
