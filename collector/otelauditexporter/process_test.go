package otelauditexporter_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// collectorBinary returns the binary OTELAUDIT_COLLECTOR_BIN names, or
// bin/otelcol-audit, building it with `make collector` when it is not
// there. A build failure fails the test.
func collectorBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("OTELAUDIT_COLLECTOR_BIN"); b != "" {
		return b
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	bin := filepath.Join(root, "bin", "otelcol-audit")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	t.Logf("building %s with make collector", bin)
	out, err := exec.Command("make", "-C", root, "collector").CombinedOutput()
	require.NoError(t, err, "make collector:\n%s", out)
	return bin
}

// startBinary runs bin --config cfg and returns once it listens on port
// (within a minute, else the test fails). The process inherits the test's
// environment; its output goes to the test's stderr.
func startBinary(t *testing.T, bin, cfg string, port int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return cmd
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_, _ = cmd.Process.Wait()
			t.Fatalf("%s did not listen on port %d within a minute", bin, port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stopBinary stops cmd gracefully (SIGTERM: the Collector drains its
// queues) and fails the test if it does not exit cleanly within timeout.
func stopBinary(t *testing.T, cmd *exec.Cmd, timeout time.Duration) {
	t.Helper()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	type result struct {
		st  *os.ProcessState
		err error
	}
	done := make(chan result, 1)
	go func() { st, err := cmd.Process.Wait(); done <- result{st, err} }()
	select {
	case r := <-done:
		require.NoError(t, r.err)
		require.True(t, r.st.Success(), "collector exited with %v", r.st)
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		t.Fatalf("collector did not stop within %s", timeout)
	}
}

// TestExampleConfigValid: collector/config.example.yaml, with its
// directories moved into a temporary one, is a valid configuration of the
// built bin/otelcol-audit.
func TestExampleConfigValid(t *testing.T) {
	bin := collectorBinary(t)
	data, err := os.ReadFile("../config.example.yaml")
	require.NoError(t, err)
	dir := t.TempDir()
	cfg := strings.NewReplacer("./audit-queue", filepath.Join(dir, "queue"), "./audit-data", filepath.Join(dir, "data")).Replace(string(data))
	path := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	out, err := exec.Command(bin, "validate", "--config", path).CombinedOutput()
	require.NoError(t, err, "otelcol-audit validate:\n%s", out)
}
