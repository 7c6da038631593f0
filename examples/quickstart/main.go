// Command quickstart is `make demo`: one audited GenAI call and one blocked
// request, end to end, on local files with no configuration.
//
//  1. A TracerProvider from exporter.NewTracerProvider: the audit processor
//     writes every GenAI span to a FileStorage in ./audit-data, encrypted
//     with a key generated into ./audit-data/.key (0600) on first run; an
//     ordinary stdout trace exporter gets the same spans through
//     exporter.Redact, without content.
//  2. A fake LLM call recorded with otelaudit.StartCall, and a request
//     blocked by a (fake) PII check before any model call.
//  3. After tp.Shutdown (everything durable), the entries are read back by
//     trace id and one is decrypted.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

const (
	dataDir = "audit-data"
	prompt  = "What is the capital of France?"
	answer  = "Paris."
	secret  = "My SSN is 078-05-1120, what is my credit score?"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	key, created, err := loadOrCreateKey(filepath.Join(dataDir, ".key"))
	if err != nil {
		return err
	}
	ring, err := otelaudit.NewEncryptionManager(key)
	if err != nil {
		return err
	}
	st, err := storage.NewFileStorage(dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	logger, err := otelaudit.NewLogger(st, otelaudit.WithEncryption(ring))
	if err != nil {
		return err
	}
	var traces bytes.Buffer // the "ordinary" trace backend
	stdout, err := stdouttrace.New(stdouttrace.WithWriter(&traces))
	if err != nil {
		return err
	}
	tp, exp, err := exporter.NewTracerProvider(logger, exporter.WithExporter(stdout))
	if err != nil {
		return err
	}
	if created {
		fmt.Printf("store %s/ (new encryption key in %s/.key, mode 0600)\n", dataDir, dataDir)
	} else {
		fmt.Printf("store %s/ (encryption key from %s/.key)\n", dataDir, dataDir)
	}

	// The application: one request handled, with two model calls.
	ctx, root := tp.Tracer("quickstart").Start(ctx, "handle request")
	traceID := root.SpanContext().TraceID().String()
	fakeLLMCall(ctx, tp)
	blockedCall(ctx, tp)
	root.End()

	// Shutdown returns once every accepted span is a durable entry.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tp.Shutdown(sctx); err != nil {
		return err
	}
	s := exp.Stats()
	fmt.Printf("audit exporter: %d written, %d retried, %d dropped\n", s.Written, s.Retried, s.Dropped)

	// What the ordinary trace backend saw.
	fmt.Println("\nstdout trace exporter (redacted):")
	leaked := false
	sc := bufio.NewScanner(&traces)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var span struct {
			Name       string
			Attributes []struct{ Key string }
		}
		line := sc.Text()
		if json.Unmarshal([]byte(line), &span) != nil {
			continue
		}
		keys := make([]string, 0, len(span.Attributes))
		for _, a := range span.Attributes {
			keys = append(keys, a.Key)
		}
		fmt.Printf("  %-15s %s\n", span.Name, shorten(strings.Join(keys, " "), 100))
		leaked = leaked || strings.Contains(line, prompt) || strings.Contains(line, answer) || strings.Contains(line, "078-05-1120")
	}
	fmt.Printf("  prompt, answer or SSN in the exported spans: %v\n", leaked)

	// The audit trail, read back by trace id.
	entries, err := st.ListEntries(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Minute))
	if err != nil {
		return err
	}
	fmt.Printf("\naudit entries of trace %s:\n", traceID)
	fmt.Printf("  %-36s %-6s %-7s %-8s %-7s %s\n", "ENTRY ID", "MODEL", "SAFETY", "TOKENS", "LATENCY", "INPUT HASH")
	var first *storage.AuditEntry
	for _, e := range entries {
		if e.TraceID != traceID {
			continue
		}
		if first == nil {
			first = e
		}
		safety := "passed"
		if !e.SafetyPassed {
			safety = "blocked"
		}
		fmt.Printf("  %-36s %-6s %-7s %-8s %-7s %s\n", e.ID, deref(e.Model), safety,
			tokens(e), fmt.Sprintf("%.0fms", e.LatencyMS), e.InputHash[:12]+"...")
	}
	if first == nil {
		return errors.New("no entry found for the trace")
	}
	in, out, err := logger.DecryptContent(first)
	if err != nil {
		return err
	}
	fmt.Printf("\ndecrypted %s:\n  input  %q\n  output %q\n", first.ID, in, out)
	fmt.Printf("stored ciphertext starts %q\n", shorten(*first.InputContent, 32))
	fmt.Printf("\nnext: go run ./cmd/otelaudit show --dir %s --key-file %s/.key %s\n", dataDir, dataDir, first.ID)
	return nil
}

// fakeLLMCall records a successful chat call as otelaudit does for a real
// one (the middleware does this for HTTP clients).
func fakeLLMCall(ctx context.Context, tp trace.TracerProvider) {
	_, call := otelaudit.StartCall(ctx, otelaudit.Request{
		Provider:           "openai",
		Model:              "gpt-4o",
		SystemInstructions: "Answer in one word.",
		Input:              []otelaudit.Message{{Role: "user", Content: prompt}},
		Metadata:           map[string]any{"user": "alice"},
	}, otelaudit.WithTracerProvider(tp))
	defer call.End()
	time.Sleep(15 * time.Millisecond) // the model thinks
	call.SetResponse("chatcmpl-demo", "gpt-4o-2024-08-06")
	call.SetUsage(14, 2)
	call.SetOutput(otelaudit.Message{Content: answer, FinishReason: "stop"})
}

// blockedCall is a request a safety check stopped before the model call.
func blockedCall(ctx context.Context, tp trace.TracerProvider) {
	_, call := otelaudit.StartCall(ctx, otelaudit.Request{
		Provider: "openai",
		Model:    "gpt-4o",
		Input:    []otelaudit.Message{{Role: "user", Content: secret}},
	}, otelaudit.WithTracerProvider(tp))
	call.Block("PII in prompt", "ssn")
	call.End()
}

// loadOrCreateKey reads the Fernet key at path, or generates one there
// (0600) when the file does not exist. The key is never printed.
func loadOrCreateKey(path string) (key string, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	key, err = otelaudit.GenerateKey()
	if err != nil {
		return "", false, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", false, err
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return "", false, err
	}
	return key, true, f.Close()
}

func deref(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

func tokens(e *storage.AuditEntry) string {
	f := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	return f(e.InputTokens) + "/" + f(e.OutputTokens)
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
