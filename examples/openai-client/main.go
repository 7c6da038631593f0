// Command openai-client shows automatic capture on the client side: the
// official openai-go SDK gets an *http.Client whose Transport is
// middleware.Transport, and every call it makes becomes an audit entry, with
// no other change to the code.
//
// It runs with no keys: by default it talks to the fake LLM server
// (internal/fakellm) it starts on 127.0.0.1. With -base-url it talks to any
// OpenAI-compatible endpoint instead (the key comes from OPENAI_API_KEY).
//
//	go run ./examples/openai-client
//	go run ./examples/openai-client -dir ./audit-data
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

func main() {
	dir := flag.String("dir", "", "audit store directory (default: a new temporary directory)")
	baseURL := flag.String("base-url", "", "OpenAI-compatible base URL (default: a fake LLM on 127.0.0.1)")
	model := flag.String("model", "gpt-4o-mini", "model name")
	flag.Parse()
	if err := run(context.Background(), *dir, *baseURL, *model); err != nil {
		fmt.Fprintln(os.Stderr, "openai-client:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir, baseURL, model string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "otelaudit-client-")
		if err != nil {
			return err
		}
		dir = d
	}
	apiKey := os.Getenv("OPENAI_API_KEY")
	if baseURL == "" {
		fake := fakellm.Start()
		defer fake.Close()
		baseURL, apiKey = fake.OpenAIBaseURL(), "fake-key"
	}

	// The audit pipeline: entries in local files, hashes only (the default).
	st, err := filestore.New(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	logger, err := otelaudit.NewLogger(st)
	if err != nil {
		return err
	}
	// WithGlobal makes this the global TracerProvider, which
	// middleware.Transport uses when no option names one.
	tp, _, err := exporter.NewTracerProvider(logger, exporter.WithGlobal())
	if err != nil {
		return err
	}

	// The only line that differs from an unaudited program.
	httpClient := &http.Client{Transport: middleware.Transport(nil)}
	client := openai.NewClient(option.WithBaseURL(baseURL), option.WithAPIKey(apiKey), option.WithHTTPClient(httpClient))

	params := openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What does an audit trail record?")},
	}
	resp, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		return err
	}
	fmt.Printf("chat:      %s\n", resp.Choices[0].Message.Content)

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	fmt.Print("streamed: ")
	for stream.Next() {
		for _, c := range stream.Current().Choices {
			fmt.Print(c.Delta.Content)
		}
	}
	fmt.Println()
	if err := stream.Err(); err != nil {
		return err
	}
	_ = stream.Close()

	// Shutdown returns once every call is a durable entry.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tp.Shutdown(sctx); err != nil {
		return err
	}
	entries, err := logger.GetEntries(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		return err
	}
	fmt.Printf("\n%d audit entries in %s:\n", len(entries), dir)
	for _, e := range entries {
		fmt.Printf("  %s  %s %s  tokens in=%s out=%s  input_hash=%s…  trace=%s\n",
			e.ID, e.Operation, deref(e.Model), count(e.InputTokens), count(e.OutputTokens), e.InputHash[:12], e.TraceID)
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

func count(n *int64) string {
	if n == nil {
		return "null"
	}
	return fmt.Sprint(*n)
}
