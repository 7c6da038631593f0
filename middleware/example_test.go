package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// An OpenAI SDK client whose calls are audited: the only change is the
// http.Client given to the SDK.
func ExampleTransport() {
	fake := fakellm.Start() // a fake OpenAI API on 127.0.0.1
	defer fake.Close()

	store := storage.NewMemoryStorage(0)
	logger, _ := otelaudit.NewLogger(store)
	tp, _, _ := exporter.NewTracerProvider(logger)

	client := openai.NewClient(
		option.WithBaseURL(fake.OpenAIBaseURL()), option.WithAPIKey("key"),
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
