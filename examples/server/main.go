// Command server shows automatic capture on the server side: a small
// service whose /ask endpoint answers with a model it calls through the
// openai-go SDK. middleware.Handler audits each request to /ask (a custom
// JSON shape, read with middleware.JSONFields), middleware.Transport audits
// the upstream model call, and both entries share one trace: the client
// span is the child of the server span.
//
// It runs with no keys against the fake LLM server (internal/fakellm) it
// starts on 127.0.0.1. By default it sends itself two requests, prints the
// answers and the audit entries, and exits; with -addr it keeps serving:
//
//	go run ./examples/server
//	go run ./examples/server -addr 127.0.0.1:8080 &
//	curl -s -H 'X-Conversation-ID: c1' -d '{"question":"hi"}' 127.0.0.1:8080/ask
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

func main() {
	addr := flag.String("addr", "", "listen address; empty: serve on a free loopback port, send two requests and exit")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	upstream := fakellm.Start(fakellm.WithReply("An audit trail records who asked what, and what the model answered."))
	defer upstream.Close()

	mem := storage.NewMemoryStorage(0)
	logger, err := otelaudit.NewLogger(mem, otelaudit.WithStoreContent(true)) // plaintext only for the demo
	if err != nil {
		return err
	}
	tp, _, err := exporter.NewTracerProvider(logger, exporter.WithGlobal())
	if err != nil {
		return err
	}

	llm := openai.NewClient(option.WithBaseURL(upstream.OpenAIBaseURL()), option.WithAPIKey("fake-key"),
		option.WithHTTPClient(&http.Client{Transport: middleware.Transport(nil)}))

	mux := http.NewServeMux()
	mux.HandleFunc("POST /ask", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Question string `json:"question"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Question == "" {
			http.Error(w, `{"error":"want {\"question\": \"...\"}"}`, http.StatusBadRequest)
			return
		}
		// r.Context() carries the server span: the upstream call is its child.
		resp, err := llm.Chat.Completions.New(r.Context(), openai.ChatCompletionNewParams{
			Model:    "gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(in.Question)},
		})
		if err != nil {
			http.Error(w, `{"error":"upstream failed"}`, http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"answer": resp.Choices[0].Message.Content, "model": resp.Model})
	})
	handler := middleware.Handler(mux, middleware.WithExtractor(middleware.JSONFields{
		Paths: []string{"/ask"}, Operation: "chat", Provider: "example-service",
		Input: "question", Output: "answer", Model: "model",
	}))

	serve := addr != ""
	if !serve {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("serving on http://%s/ask\n", ln.Addr())

	if serve {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, os.Interrupt)
		<-stop
	} else {
		for i, q := range []string{"What is an audit trail?", "Why hash prompts?"} {
			req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/ask", strings.NewReader(`{"question":"`+q+`"}`))
			req.Header.Set("X-Conversation-ID", fmt.Sprintf("demo-%d", i+1))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			fmt.Printf("POST /ask %q -> %d %s", q, resp.StatusCode, body)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if err := tp.Shutdown(ctx); err != nil {
		return err
	}
	entries, err := logger.GetEntries(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		return err
	}
	fmt.Printf("\n%d audit entries (handler + upstream per request, one trace each):\n", len(entries))
	for _, e := range entries {
		fmt.Printf("  trace=%s span=%s  %-16s %-12s conv=%-7s in=%q\n", e.TraceID, e.SpanID,
			deref(e.Provider), deref(e.Model), deref(e.ConversationID), deref(e.InputContent))
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}
