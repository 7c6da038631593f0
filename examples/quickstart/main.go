// Command quickstart is `make demo`: one audited GenAI call and one blocked
// request, end to end, on local files with no configuration.
//
//  1. A TracerProvider from exporter.NewTracerProvider: the audit processor
//     writes every GenAI span to a filestore.Store in ./audit-data, encrypted
//     with a key generated into ./audit-data.key (0600) on first run, kept
//     outside the store directory so that a copy of the store alone does
//     not hold the key to its content; an
//     ordinary stdout trace exporter gets the same spans through
//     exporter.Redact, without content.
//  2. A chat call made with the official openai-go SDK, whose http.Client
//     has middleware.Transport, to a fake LLM on 127.0.0.1 (no keys); and a
//     request blocked by a (fake) PII check before any model call, recorded
//     with otelaudit.StartCall.
//  3. After tp.Shutdown (everything durable), the entries are read back by
//     trace id and one is decrypted.
//
// With -s3 (make demo S3=1) the entries go to a bucket on the S3 server
// named by OTELAUDIT_S3_ENDPOINT, OTELAUDIT_S3_ACCESS_KEY and
// OTELAUDIT_S3_SECRET_KEY (scripts/with-versitygw.sh sets them) instead.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

const (
	dataDir = "audit-data"
	prompt  = "What is the capital of France?"
	answer  = "Paris."
	secret  = "My SSN is 078-05-1120, what is my credit score?"
)

func main() {
	useS3 := flag.Bool("s3", false, "store entries in S3 (endpoint and keys from OTELAUDIT_S3_*) instead of local files")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, dataDir, *useS3); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// s3Bucket is the bucket the demo creates and uses in S3 mode.
const s3Bucket = "otelaudit-demo"

func run(ctx context.Context, w io.Writer, dataDir string, useS3 bool) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	key, created, err := loadOrCreateKey(keyPath(dataDir))
	if err != nil {
		return err
	}
	ring, err := otelaudit.NewEncryptionManager(key)
	if err != nil {
		return err
	}
	var st storage.Backend
	where := dataDir + "/"
	if useS3 {
		st, err = openS3(ctx)
		where = "s3://" + s3Bucket + "/"
	} else {
		st, err = filestore.New(dataDir)
	}
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
		fmt.Fprintf(w, "store %s (new encryption key in %s, mode 0600)\n", where, keyPath(dataDir))
	} else {
		fmt.Fprintf(w, "store %s (encryption key from %s)\n", where, keyPath(dataDir))
	}
	if !useS3 {
		// The file store signs its checkpoints with a key of its own
		// unless given one (filestore.WithCheckpointKey): it keeps it
		// inside the store, where it detects accidents, not tampering.
		fmt.Fprintf(w, "checkpoint signing key: %s, inside the store (see \"Tamper evidence\" in README.md)\n", checkpointKeyPath(dataDir))
	}

	// The application: one request handled, with two model calls.
	ctx, root := tp.Tracer("quickstart").Start(ctx, "handle request")
	traceID := root.SpanContext().TraceID().String()
	if err := chatCall(ctx, w, tp); err != nil {
		return err
	}
	blockedCall(ctx, tp)
	root.End()

	// Shutdown returns once every accepted span is a durable entry.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tp.Shutdown(sctx); err != nil {
		return err
	}
	s := exp.Stats()
	fmt.Fprintf(w, "audit exporter: %d written, %d retried, %d dropped\n", s.Written, s.Retried, s.Dropped)

	// What the ordinary trace backend saw.
	fmt.Fprintln(w, "\nstdout trace exporter (redacted):")
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
		fmt.Fprintf(w, "  %-20s %s\n", span.Name, shorten(strings.Join(keys, " "), 100))
		leaked = leaked || strings.Contains(line, prompt) || strings.Contains(line, answer) || strings.Contains(line, "078-05-1120")
	}
	fmt.Fprintf(w, "  prompt, answer or SSN in the exported spans: %v\n", leaked)

	// The audit trail, read back by trace id.
	entries, err := st.ListEntries(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Minute))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\naudit entries of trace %s:\n", traceID)
	fmt.Fprintf(w, "  %-36s %-6s %-7s %-8s %-7s %s\n", "ENTRY ID", "MODEL", "SAFETY", "TOKENS", "LATENCY", "INPUT HASH")
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
		fmt.Fprintf(w, "  %-36s %-6s %-7s %-8s %-7s %s\n", e.ID, deref(e.Model), safety,
			tokens(e), fmt.Sprintf("%.0fms", e.LatencyMS), e.InputHash[:12]+"...")
	}
	if first == nil {
		return errors.New("no entry found for the trace")
	}
	in, out, err := logger.DecryptContent(first)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\ndecrypted %s:\n  input  %q\n  output %q\n", first.ID, in, out)
	fmt.Fprintf(w, "stored ciphertext starts %q\n", shorten(*first.InputContent, 32))
	if !useS3 {
		fmt.Fprintf(w, "\nnext: go run ./cmd/otelaudit show --dir %s --key-file %s %s\n", dataDir, keyPath(dataDir), first.ID)
		fmt.Fprintf(w, "      go run ./cmd/otelaudit verify --dir %s\n", dataDir)
	}
	return nil
}

// openS3 opens the demo bucket on the S3 server the OTELAUDIT_S3_*
// variables name, creating the bucket on first use.
func openS3(ctx context.Context) (*s3store.Store, error) {
	endpoint := os.Getenv("OTELAUDIT_S3_ENDPOINT")
	if endpoint == "" {
		return nil, errors.New("-s3 needs OTELAUDIT_S3_ENDPOINT (run it as: make demo S3=1)")
	}
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(
			os.Getenv("OTELAUDIT_S3_ACCESS_KEY"), os.Getenv("OTELAUDIT_S3_SECRET_KEY"), ""),
	})
	st, err := s3store.New(ctx, client, s3Bucket)
	if errors.Is(err, s3store.ErrBucketNotFound) {
		if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s3Bucket)}); err != nil {
			return nil, fmt.Errorf("create bucket %s: %w", s3Bucket, err)
		}
		st, err = s3store.New(ctx, client, s3Bucket)
	}
	return st, err
}

// chatCall makes a chat call with the official openai-go SDK to a fake LLM
// on 127.0.0.1. The only audit-specific line is the Transport: the
// middleware records the call as a GenAI span, which the audit exporter
// turns into an entry.
func chatCall(ctx context.Context, w io.Writer, tp trace.TracerProvider) error {
	fake := fakellm.Start(fakellm.WithReply(answer), fakellm.WithUsage(14, 2))
	defer fake.Close()
	client := openai.NewClient(
		option.WithBaseURL(fake.OpenAIBaseURL()),
		option.WithAPIKey("no-key-needed"),
		option.WithHTTPClient(&http.Client{Transport: middleware.Transport(nil, middleware.WithTracerProvider(tp))}),
	)
	resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("Answer in one word."),
			openai.UserMessage(prompt),
		},
	})
	if err != nil {
		return fmt.Errorf("chat call to the fake LLM: %w", err)
	}
	fmt.Fprintf(w, "model answered %q via %s\n", resp.Choices[0].Message.Content, fake.URL)
	return nil
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

// keyPath is where the demo keeps the encryption key of the store in
// dataDir: beside the directory, not in it ("audit-data.key").
func keyPath(dataDir string) string { return filepath.Clean(dataDir) + ".key" }

// checkpointKeyPath is the checkpoint signing key a file store without
// filestore.WithCheckpointKey generates in its directory on first use.
func checkpointKeyPath(dataDir string) string { return filepath.Join(dataDir, ".checkpoint.key") }

// loadOrCreateKey reads the Fernet key at path (refused when group or
// others can access it, as every key file is), or generates one there
// (0600) when the file does not exist. The key is never printed.
func loadOrCreateKey(path string) (key string, created bool, err error) {
	keys, err := otelaudit.KeyFile{Path: path}.Keys(context.Background())
	if err == nil {
		return keys[0], false, nil
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
