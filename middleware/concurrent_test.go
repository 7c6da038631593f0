package middleware_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/middleware"
)

// echoChat is a chat completions server whose answer and response model are
// derived from the request, so that an entry holding another call's data
// shows.
func echoChat(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model    string `json:"model"`
		Messages []struct {
			Content string `json:"content"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	reply, _ := json.Marshal(map[string]any{
		"id": "r-" + req.Model, "object": "chat.completion", "model": req.Model,
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": "echo:" + req.Messages[0].Content}}},
		"usage": map[string]any{"prompt_tokens": 1, "completion_tokens": 1},
	})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(reply)
}

// Concurrent calls through the transport and the handler at once, with
// bodies of many sizes: recycled capture buffers (poisoned when given back,
// see poison_test.go) must never leak one call's data into another's entry,
// on either side.
func TestConcurrentCallsKeepTheirOwnContent(t *testing.T) {
	r := newRig(t)
	srv := httptest.NewServer(middleware.Handler(http.HandlerFunc(echoChat), middleware.WithTracerProvider(r.tp)))
	defer srv.Close()
	client := r.client()

	const goroutines, calls = 8, 60
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				model := fmt.Sprintf("m-%d-%d", g, i)
				content := model + ":" + strings.Repeat("abcdefgh", (g*calls+i)%300)
				body, _ := json.Marshal(map[string]any{"model": model,
					"messages": []any{map[string]any{"role": "user", "content": content}}})
				resp, err := client.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(string(body)))
				if !assert.NoError(t, err) {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				assert.Equal(t, http.StatusOK, resp.StatusCode)
			}
		})
	}
	wg.Wait()

	es := r.entries(t)
	require.Len(t, es, 2*goroutines*calls, "one client and one server entry a call")
	seen := map[string]int{}
	for _, e := range es {
		model := str(e.Model)
		in, out := str(e.InputContent), str(e.OutputContent)
		assert.True(t, strings.HasPrefix(in, model+":"), "entry of %s holds input %.40q", model, in)
		assert.Equal(t, "echo:"+in, out, "entry of %s", model)
		seen[model]++
	}
	assert.Len(t, seen, goroutines*calls)
	for m, n := range seen {
		assert.Equal(t, 2, n, m)
	}
}
