package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// TestRun runs the example against its fake LLM and checks that both calls,
// plain and streamed, became entries with token counts.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	runErr := run(t.Context(), dir, "", "gpt-4o-mini")
	os.Stdout = old
	_ = w.Close()
	out := <-done
	if runErr != nil {
		t.Fatalf("run: %v\n%s", runErr, out)
	}
	if !strings.Contains(out, "2 audit entries") {
		t.Fatalf("want 2 audit entries, got:\n%s", out)
	}
	st, err := filestore.New(dir, filestore.WithReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n, err := st.Count(t.Context())
	if err != nil || n != 2 {
		t.Fatalf("store holds %d entries (%v), want 2", n, err)
	}
	if strings.Contains(out, "tokens in=null") {
		t.Errorf("the fake LLM reports usage, the entries should have it:\n%s", out)
	}
}
