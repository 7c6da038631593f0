package main

import (
	"io"
	"os"
	"strings"
	"testing"
)

// TestRun runs the example as `go run ./examples/server` does and checks its
// claim: each request yields a handler entry and an upstream entry, sharing
// one trace and the request's conversation id.
func TestRun(t *testing.T) {
	out := captureStdout(t, func() error { return run("") })
	if !strings.Contains(out, "4 audit entries") {
		t.Fatalf("want 4 audit entries, got:\n%s", out)
	}
	traces := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "trace="); i >= 0 {
			traces[line[i+6:i+6+32]]++
			if !strings.Contains(line, "conv=demo-") {
				t.Errorf("entry without the request's conversation id: %s", line)
			}
		}
	}
	if len(traces) != 2 {
		t.Fatalf("want 2 traces of 2 entries each, got %v", traces)
	}
	for tr, n := range traces {
		if n != 2 {
			t.Errorf("trace %s has %d entries, want handler + upstream", tr, n)
		}
	}
}

func captureStdout(t *testing.T, f func() error) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	runErr := f()
	os.Stdout = old
	_ = w.Close()
	out := <-done
	if runErr != nil {
		t.Fatalf("run: %v\n%s", runErr, out)
	}
	return out
}
