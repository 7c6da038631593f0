package middleware_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// An OpenAI-compatible endpoint served by this process (a model gateway,
// or a local model behind an OpenAI-style API) whose calls are audited
// where they are served: the handler is wrapped, nothing else changes.
func ExampleHandler() {
	store := storage.NewMemoryStorage(0)
	logger, _ := otelaudit.NewLogger(store)
	tp, _, _ := exporter.NewTracerProvider(logger)

	chat := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","model":"local-7b",`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":"4"},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}`)
	})
	srv := httptest.NewServer(middleware.Handler(chat, middleware.WithTracerProvider(tp)))
	defer srv.Close()

	res, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"local-7b","messages":[{"role":"user","content":"2+2?"}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	_ = tp.Shutdown(context.Background()) // every entry durable

	entries, _ := store.ListEntries(context.Background(), time.Unix(0, 0), time.Now().Add(time.Hour))
	for _, e := range entries {
		fmt.Println(e.Operation, *e.Model, *e.InputTokens, *e.OutputTokens, e.InputContent == nil)
	}
	// Output:
	// chat local-7b 9 1 true
}
