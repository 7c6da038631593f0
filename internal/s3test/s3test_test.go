package s3test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFromEnvAndReport(t *testing.T) {
	t.Setenv(EnvEndpoint, "")
	if _, ok := FromEnv(); ok {
		t.Fatal("no endpoint set, yet FromEnv found a server")
	}
	t.Setenv(EnvEndpoint, "http://127.0.0.1:1")
	t.Setenv(EnvAccessKey, "a")
	t.Setenv(EnvSecretKey, "s")
	srv, ok := FromEnv()
	if !ok || srv.Endpoint != "http://127.0.0.1:1" {
		t.Fatalf("FromEnv = %+v, %v", srv, ok)
	}
	report := filepath.Join(t.TempDir(), "report")
	t.Setenv(EnvReport, report)
	Report("pkg/a", 0)
	Report("pkg/b", 1)
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] != "pkg/a: PASS, 1 tests and benchmarks ran against the S3 server http://127.0.0.1:1" ||
		!strings.HasPrefix(lines[1], "pkg/b: FAIL, 1 tests") {
		t.Fatalf("report:\n%s", b)
	}
}
