package exporter_test

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/audittest"
	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// The prompt and answer of the calls below; no report may quote them.
const (
	secretPrompt = "the confidential question"
	secretAnswer = "the confidential answer"
)

// captureReports collects what otel.Handle receives until the test ends.
func captureReports(t *testing.T) func() []string {
	var mu sync.Mutex
	var got []string
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		got = append(got, err.Error())
		mu.Unlock()
	}))
	t.Cleanup(func() { otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Print(err) })) })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// postChat sends an OpenAI chat request with prompt through c to url and
// reads the reply to its end.
func postChat(t *testing.T, c *http.Client, url, prompt string) {
	t.Helper()
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"` + prompt + `"}]}`
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader([]byte(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	require.NoError(t, res.Body.Close())
}

// ownCall makes one call of this module's instrumentation on tp.
type ownCall func(t *testing.T, tp *sdktrace.TracerProvider)

// ownCalls are this module's instrumentations, each making one call with
// secretPrompt as input and secretAnswer as output.
func ownCalls(srv *fakellm.Server) []struct {
	name string
	call ownCall
} {
	return []struct {
		name string
		call ownCall
	}{
		{"StartCall", func(t *testing.T, tp *sdktrace.TracerProvider) {
			_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Provider: "openai", Model: "gpt-4o",
				Input: []otelaudit.Message{{Role: "user", Content: secretPrompt}}}, otelaudit.WithTracerProvider(tp))
			call.SetOutput(otelaudit.Message{Content: secretAnswer})
			call.SetUsage(7, 3)
			call.End()
		}},
		{"middleware.Transport", func(t *testing.T, tp *sdktrace.TracerProvider) {
			c := &http.Client{Transport: middleware.Transport(nil, middleware.WithTracerProvider(tp))}
			postChat(t, c, srv.OpenAIBaseURL()+"chat/completions", secretPrompt)
		}},
		{"middleware.Handler", func(t *testing.T, tp *sdktrace.TracerProvider) {
			h := httptest.NewServer(middleware.Handler(fakellm.NewHandler(fakellm.WithReply(secretAnswer)),
				middleware.WithTracerProvider(tp)))
			defer h.Close()
			postChat(t, h.Client(), h.URL+"/v1/chat/completions", secretPrompt)
		}},
	}
}

// TestContentUnavailableBehindOtherProcessor: the Exporter behind the
// SDK's own span processors receives this module's spans without the
// content handed over beside them. Each entry is still written (the call
// happened: ids, model, tokens are true), but marked content_unavailable,
// counted in Stats and reported once with what to do, never with the
// hash of an empty prompt passing for the call's.
func TestContentUnavailableBehindOtherProcessor(t *testing.T) {
	srv := fakellm.Start(fakellm.WithReply(secretAnswer))
	defer srv.Close()
	wirings := []struct {
		name string
		opt  func(*exporter.Exporter) sdktrace.TracerProviderOption
	}{
		{"WithBatcher", func(e *exporter.Exporter) sdktrace.TracerProviderOption { return sdktrace.WithBatcher(e) }},
		{"WithSyncer", func(e *exporter.Exporter) sdktrace.TracerProviderOption { return sdktrace.WithSyncer(e) }},
	}
	for _, w := range wirings {
		for _, c := range ownCalls(srv) {
			t.Run(w.name+"/"+c.name, func(t *testing.T) {
				reports := captureReports(t)
				mem := storage.NewMemoryStorage(0)
				l, err := otelaudit.NewLogger(mem)
				require.NoError(t, err)
				exp, err := exporter.New(l)
				require.NoError(t, err)
				tp := sdktrace.NewTracerProvider(w.opt(exp))
				for range 2 {
					c.call(t, tp)
				}
				require.NoError(t, tp.Shutdown(t.Context()))

				es, err := mem.ListEntries(t.Context(), time.Time{}, time.Now().Add(time.Hour))
				require.NoError(t, err)
				require.Len(t, es, 2, "the calls happened: each has its entry")
				for _, e := range es {
					assert.Equal(t, true, e.Metadata[exporter.MetadataContentUnavailable], "metadata %v", e.Metadata)
					assert.NotEqual(t, otelaudit.HashContent(secretPrompt), e.InputHash)
					require.NotNil(t, e.Model)
					assert.Equal(t, "gpt-4o", *e.Model)
					assert.NotEmpty(t, e.TraceID)
				}
				assert.Equal(t, int64(2), exp.Stats().ContentUnavailable)

				var ours []string
				for _, r := range reports() {
					assert.NotContains(t, r, "confidential", "a report quotes content")
					if strings.HasPrefix(r, "exporter:") && strings.Contains(r, exporter.MetadataContentUnavailable) {
						ours = append(ours, r)
					}
				}
				require.Len(t, ours, 1, "reported once per exporter: %q", reports())
				assert.Contains(t, ours[0], "exporter.NewProcessor")
			})
		}
	}
}

// TestContentClaimedNotMarked: through the audit processor the same calls
// hand their content over; nothing is marked, counted or put on the span.
func TestContentClaimedNotMarked(t *testing.T) {
	srv := fakellm.Start(fakellm.WithReply(secretAnswer))
	defer srv.Close()
	for _, c := range ownCalls(srv) {
		t.Run(c.name, func(t *testing.T) {
			mem, tp, exp, rec := audittest.Provider(t)
			c.call(t, tp)
			require.NoError(t, tp.Shutdown(t.Context()))
			es, err := mem.ListEntries(t.Context(), time.Time{}, time.Now().Add(time.Hour))
			require.NoError(t, err)
			require.Len(t, es, 1)
			assert.Equal(t, otelaudit.HashContent(secretPrompt), es[0].InputHash)
			assert.NotContains(t, es[0].Metadata, exporter.MetadataContentUnavailable)
			assert.Zero(t, exp.Stats().ContentUnavailable)
			for _, s := range rec.Ended() {
				for _, kv := range s.Attributes() {
					assert.NotEqual(t, otelaudit.AuditContentUnavailableKey, kv.Key, "span %q", s.Name())
				}
			}
		})
	}
}
