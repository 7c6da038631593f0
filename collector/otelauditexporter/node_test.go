package otelauditexporter_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/collector/internal/coltest"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// The environment make test sets for TestNodeOpenAIInstrumentation.
const (
	// envNodeModules is the node_modules directory that `npm ci` filled
	// from testdata/node-openai/package-lock.json (make keeps it in the
	// tools cache, keyed by the lock file's hash).
	envNodeModules = "OTELAUDIT_NODE_MODULES"
	// envNodeRequired "1": a missing node, npm or install fails the test
	// instead of skipping it.
	envNodeRequired = "OTELAUDIT_NODE_REQUIRED"
)

// nodeCalls is the number of chat calls the Node service makes.
const nodeCalls = 20

// nodeCall is what the Node service saw of one call.
type nodeCall struct {
	TraceID      string `json:"trace_id"`
	System       string `json:"system"`
	Prompt       string `json:"prompt"`
	Answer       string `json:"answer"`
	Model        string `json:"model"`
	InputTokens  int64  `json:"input_tokens"`
	OutputTokens int64  `json:"output_tokens"`
}

// TestNodeOpenAIInstrumentation runs a real instrumentation no one here
// wrote: a Node service using the official openai client, traced by
// @opentelemetry/instrumentation-openai with captureMessageContent on
// (testdata/node-openai, packages pinned by its package-lock.json), makes
// chat calls to a fake OpenAI server on loopback and sends its spans and
// GenAI log events over OTLP/HTTP protobuf to the built bin/otelcol-audit
// (content: plaintext). The instrumentation puts the content in the log
// events only; every call must be one entry whose input and output
// content hold that call's prompt and answer, with the model, provider,
// token counts and trace id of the call.
func TestNodeOpenAIInstrumentation(t *testing.T) {
	nodeModules := nodeModulesDir(t)
	bin := collectorBinary(t)

	var served atomic.Int64
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		var req struct {
			Model    string `json:"model"`
			Messages []struct {
				Role, Content string
			} `json:"messages"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req); err != nil || len(req.Messages) == 0 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		prompt := req.Messages[len(req.Messages)-1].Content
		answer := "the answer to «" + prompt + "» is yes"
		n := served.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": fmt.Sprintf("chatcmpl-%d", n), "object": "chat.completion", "created": time.Now().Unix(),
			"model": req.Model + "-2024-07-18",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": answer}}},
			"usage": map[string]any{"prompt_tokens": len(prompt), "completion_tokens": 10 + n, "total_tokens": int64(len(prompt)) + 10 + n},
		})
	}))
	defer fake.Close()

	work := t.TempDir()
	dir := filepath.Join(work, "audit")
	port := coltest.FreePort(t)
	cfg := filepath.Join(work, "config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
receivers:
  otlp:
    protocols:
      http: {endpoint: "127.0.0.1:%d"}
exporters:
  otelaudit:
    directory: %s
    content: plaintext
    join_wait: 5s
service:
  telemetry:
    logs: {level: warn}
    metrics: {level: none}
  pipelines:
    traces: {receivers: [otlp], exporters: [otelaudit]}
    logs: {receivers: [otlp], exporters: [otelaudit]}
`, port, dir)), 0o600))
	col := startBinary(t, bin, cfg, port)
	t.Cleanup(func() { _ = col.Process.Kill(); _, _ = col.Process.Wait() })

	app, err := filepath.Abs("testdata/node-openai/app.js")
	require.NoError(t, err)
	node := exec.Command("node", app)
	node.Env = append(os.Environ(),
		"NODE_PATH="+nodeModules,
		fmt.Sprintf("OTLP_ENDPOINT=http://127.0.0.1:%d", port),
		"OPENAI_BASE_URL="+fake.URL+"/v1",
		fmt.Sprintf("CALLS=%d", nodeCalls),
		"OTEL_METRICS_EXPORTER=none",
		"OTEL_SEMCONV_STABILITY_OPT_IN=",
	)
	node.Stderr = os.Stderr
	out, err := node.Output()
	require.NoError(t, err, "node %s", app)
	var calls []nodeCall
	require.NoError(t, json.Unmarshal(out, &calls), "node output: %s", out)
	require.Len(t, calls, nodeCalls)
	stopBinary(t, col, time.Minute) // writes what the join holds

	st, err := filestore.New(dir, filestore.WithReadOnly())
	require.NoError(t, err)
	defer st.Close()
	es, err := st.ListEntries(t.Context(), time.Time{}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, es, nodeCalls, "one entry per call")
	byTrace := map[string]int{}
	for i, e := range es {
		byTrace[e.TraceID] = i
	}
	for _, c := range calls {
		i, ok := byTrace[c.TraceID]
		if !assert.True(t, ok, "no entry for the call with trace id %s", c.TraceID) {
			continue
		}
		e := es[i]
		if assert.NotNil(t, e.InputContent, "call %s: input content", c.TraceID) {
			assert.Contains(t, *e.InputContent, c.Prompt, "call %s: the prompt", c.TraceID)
			assert.Contains(t, *e.InputContent, c.System, "call %s: the system message", c.TraceID)
		}
		if assert.NotNil(t, e.OutputContent, "call %s: output content", c.TraceID) {
			assert.Contains(t, *e.OutputContent, c.Answer, "call %s: the answer", c.TraceID)
		}
		assert.Equal(t, "gpt-4o-mini", derefOr(e.Model), "call %s: the request model", c.TraceID)
		assert.Equal(t, c.Model, e.Metadata["gen_ai.response.model"], "call %s: the response model", c.TraceID)
		assert.Equal(t, "openai", derefOr(e.Provider), "call %s: provider", c.TraceID)
		if assert.NotNil(t, e.InputTokens, "call %s", c.TraceID) {
			assert.Equal(t, c.InputTokens, *e.InputTokens, "call %s: input tokens", c.TraceID)
		}
		if assert.NotNil(t, e.OutputTokens, "call %s", c.TraceID) {
			assert.Equal(t, c.OutputTokens, *e.OutputTokens, "call %s: output tokens", c.TraceID)
		}
		assert.Equal(t, "chat", e.Operation, "call %s: operation", c.TraceID)
		assert.NotEmpty(t, e.SpanID, "call %s: span id", c.TraceID)
	}
}

// nodeModulesDir returns the node_modules of testdata/node-openai: the one
// OTELAUDIT_NODE_MODULES names (make test), else one installed in place.
// Without node, npm or the modules the test is skipped, or fails when
// OTELAUDIT_NODE_REQUIRED=1.
func nodeModulesDir(t *testing.T) string {
	t.Helper()
	missing := func(format string, a ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, a...)
		if os.Getenv(envNodeRequired) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg + " (make test installs the modules; OTELAUDIT_NODE_REQUIRED=1 makes this a failure)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing("node is not installed: %v", err)
	}
	dir := os.Getenv(envNodeModules)
	if dir == "" {
		dir, _ = filepath.Abs("testdata/node-openai/node_modules")
	}
	if _, err := os.Stat(filepath.Join(dir, "@opentelemetry", "instrumentation-openai", "package.json")); err != nil {
		missing("no node_modules with @opentelemetry/instrumentation-openai at %s: %v", dir, err)
	}
	return dir
}

func derefOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
