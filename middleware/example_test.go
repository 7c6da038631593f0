package middleware_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// An OpenAI SDK client whose calls are audited: the only change is the
// http.Client given to the SDK.
func ExampleTransport() {
	fake := fakeOpenAI() // stands in for api.openai.com
	defer fake.Close()

	store := storage.NewMemoryStorage(0)
	logger, _ := otelaudit.NewLogger(store)
	tp, _, _ := exporter.NewTracerProvider(logger)

	client := openai.NewClient(
		option.WithBaseURL(fake.URL+"/v1/"), option.WithAPIKey("key"),
		option.WithHTTPClient(&http.Client{Transport: middleware.Transport(nil, middleware.WithTracerProvider(tp))}),
	)
	_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = tp.Shutdown(context.Background()) // every entry durable

	entries, _ := store.ListEntries(context.Background(), time.Unix(0, 0), time.Now().Add(time.Hour))
	for _, e := range entries {
		fmt.Println(*e.Provider, e.Operation, *e.Model, *e.InputTokens, *e.OutputTokens)
		fmt.Println(e.InputHash == otelaudit.HashContent("hi"), e.InputContent == nil)
	}
	// Output:
	// openai chat gpt-4o-mini 11 8
	// true true
}

// fakeOpenAI is a local server that answers every chat completion with the
// same reply, in the OpenAI wire format.
func fakeOpenAI() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1767225600,"model":"gpt-4o-mini",`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":11,"completion_tokens":8,"total_tokens":19}}`)
	}))
}
