package exporter_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/audittest"
	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/internal/handletest"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// The prompt and answer of the calls below; no report may quote them.
const (
	secretPrompt = "the confidential question"
	secretAnswer = "the confidential answer"
)

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
				reports := handletest.Capture(t)
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

// TestContentOffNotMarked: a call made with WithContent(false) hands no
// content over, so its span on a provider without the audit is not marked
// (nothing was lost), and costs no attribute more than before.
func TestContentOffNotMarked(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Provider: "openai", Model: "gpt-4o",
		Input: []otelaudit.Message{{Content: secretPrompt}}}, otelaudit.WithTracerProvider(tp), otelaudit.WithContent(false))
	call.End()
	_, marked := otelaudit.StartCall(t.Context(), otelaudit.Request{Provider: "openai", Model: "gpt-4o",
		Input: []otelaudit.Message{{Content: secretPrompt}}}, otelaudit.WithTracerProvider(tp))
	marked.End()
	ended := rec.Ended()
	require.Len(t, ended, 2)
	has := func(s sdktrace.ReadOnlySpan) bool {
		for _, kv := range s.Attributes() {
			if kv.Key == otelaudit.AuditContentUnavailableKey {
				return true
			}
		}
		return false
	}
	assert.False(t, has(ended[0]), "content off: nothing to mark")
	assert.True(t, has(ended[1]), "content on, nobody took it: marked")
}

// TestContentOnSpanUnderValueLengthLimit: with content on the span by the
// user's choice and a span attribute value length limit from the
// environment, the span's copy is cut but the entry hashes the whole
// content, handed over beside the span as well, and is not marked.
func TestContentOnSpanUnderValueLengthLimit(t *testing.T) {
	const limit = 64
	long := func(s string) string { return s + ": " + strings.Repeat("long confidential text ", 20) }
	prompt, answer, system := long("please summarise"), long("summary"), long("be brief")
	srv := fakellm.Start(fakellm.WithReply(answer))
	defer srv.Close()
	for _, env := range []string{"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT"} {
		tests := []struct {
			name     string
			call     ownCall
			inputSys bool // the entry's input starts with the system instructions
		}{
			{"StartCall", func(t *testing.T, tp *sdktrace.TracerProvider) {
				_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Provider: "openai", Model: "gpt-4o",
					SystemInstructions: system, Input: []otelaudit.Message{{Role: "user", Content: prompt}}},
					otelaudit.WithTracerProvider(tp), otelaudit.WithContentOnSpan(true))
				call.SetOutput(otelaudit.Message{Content: answer})
				call.End()
			}, true},
			{"StartCall/SetInput", func(t *testing.T, tp *sdktrace.TracerProvider) {
				_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Provider: "openai", Model: "gpt-4o"},
					otelaudit.WithTracerProvider(tp), otelaudit.WithContentOnSpan(true))
				call.SetInput(otelaudit.Message{Role: "user", Content: prompt})
				call.SetOutput(otelaudit.Message{Content: answer})
				call.End()
			}, false},
			{"middleware.Transport", func(t *testing.T, tp *sdktrace.TracerProvider) {
				c := &http.Client{Transport: middleware.Transport(nil, middleware.WithTracerProvider(tp),
					middleware.WithContentOnSpan(true))}
				postChat(t, c, srv.OpenAIBaseURL()+"chat/completions", prompt)
			}, false},
		}
		for _, tc := range tests {
			t.Run(env+"/"+tc.name, func(t *testing.T) {
				t.Setenv(env, "64")
				mem := storage.NewMemoryStorage(0)
				l, err := otelaudit.NewLogger(mem)
				require.NoError(t, err)
				exp, err := exporter.New(l)
				require.NoError(t, err)
				spans := &spanRecorder{}
				tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(exporter.NewProcessor(exp)),
					sdktrace.WithSpanProcessor(spans))
				tc.call(t, tp)
				require.NoError(t, tp.Shutdown(t.Context()))

				// The limit applies: the span's copy of the prompt is cut.
				require.Len(t, spans.ended, 1)
				in, ok := attrOf(spans.ended[0], semconv.GenAIInputMessagesKey)
				require.True(t, ok, "content on the span")
				assert.Len(t, []rune(in.AsString()), limit)

				es, err := mem.ListEntries(t.Context(), time.Time{}, time.Now().Add(time.Hour))
				require.NoError(t, err)
				require.Len(t, es, 1)
				wantIn := prompt
				if tc.inputSys {
					wantIn = system + "\n" + prompt
				}
				assert.Equal(t, otelaudit.HashContent(wantIn), es[0].InputHash, "the whole input's hash")
				assert.Equal(t, otelaudit.HashContent(answer), es[0].OutputHash, "the whole output's hash")
				assert.NotContains(t, es[0].Metadata, exporter.MetadataContentTruncated)
				assert.Zero(t, exp.Stats().ContentTruncated)
			})
		}
	}
}

// TestContentCutOnThirdPartySpan: a span of another instrumentation holds
// its content only on the span; a content value as long as the
// environment's span attribute value length limit was most likely cut by
// the SDK, so its entry is marked content_truncated, counted and reported
// once by key, never by value.
func TestContentCutOnThirdPartySpan(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		attr    attribute.KeyValue
		wantCut bool
	}{
		{"over the limit", map[string]string{"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "64"},
			semconv.GenAIInputMessagesKey.String(strings.Repeat("confidential ", 20)), true},
		{"the span limit wins", map[string]string{"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "1000", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "64"},
			semconv.GenAIInputMessagesKey.String(strings.Repeat("confidential ", 20)), true},
		{"characters, not bytes", map[string]string{"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "64"},
			attribute.String("traceloop.entity.input", strings.Repeat("é confidentiel ", 20)), true},
		{"a string slice element", map[string]string{"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "64"},
			semconv.GenAIOutputMessagesKey.StringSlice([]string{"short", strings.Repeat("confidential ", 20)}), true},
		{"under the limit", map[string]string{"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "64"},
			semconv.GenAIInputMessagesKey.String("confidential"), false},
		{"not content", map[string]string{"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "64"},
			attribute.String("http.url", "https://example.com/"+strings.Repeat("x", 100)), false},
		{"no limit", nil, semconv.GenAIInputMessagesKey.String(strings.Repeat("confidential ", 20)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			reports := handletest.Capture(t)
			mem := storage.NewMemoryStorage(0)
			l, err := otelaudit.NewLogger(mem)
			require.NoError(t, err)
			opts, exp, err := exporter.ProviderOptions(l)
			require.NoError(t, err)
			tp := sdktrace.NewTracerProvider(opts...)
			for range 2 {
				_, s := tp.Tracer("third.party/genai").Start(context.Background(), "chat gpt-4o")
				s.SetAttributes(semconv.GenAIOperationNameKey.String("chat"), semconv.GenAIProviderNameKey.String("openai"),
					semconv.GenAIRequestModelKey.String("gpt-4o"), tc.attr)
				s.End()
			}
			require.NoError(t, tp.Shutdown(t.Context()))

			es, err := mem.ListEntries(t.Context(), time.Time{}, time.Now().Add(time.Hour))
			require.NoError(t, err)
			require.Len(t, es, 2)
			var ours []string
			for _, r := range reports() {
				assert.NotContains(t, r, "confiden", "a report quotes content")
				if strings.Contains(r, exporter.MetadataContentTruncated) {
					ours = append(ours, r)
				}
			}
			if !tc.wantCut {
				assert.NotContains(t, es[0].Metadata, exporter.MetadataContentTruncated)
				assert.Zero(t, exp.Stats().ContentTruncated)
				assert.Empty(t, ours)
				return
			}
			for _, e := range es {
				assert.Equal(t, true, e.Metadata[exporter.MetadataContentTruncated], "metadata %v", e.Metadata)
			}
			assert.Equal(t, int64(2), exp.Stats().ContentTruncated)
			require.Len(t, ours, 1, "reported once: %q", reports())
			assert.Contains(t, ours[0], string(tc.attr.Key))
		})
	}
}

// spanRecorder keeps the ended spans as the SDK hands them to processors.
type spanRecorder struct {
	mu    sync.Mutex
	ended []sdktrace.ReadOnlySpan
}

func (r *spanRecorder) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (r *spanRecorder) OnEnd(s sdktrace.ReadOnlySpan) {
	r.mu.Lock()
	r.ended = append(r.ended, s)
	r.mu.Unlock()
}
func (r *spanRecorder) Shutdown(context.Context) error   { return nil }
func (r *spanRecorder) ForceFlush(context.Context) error { return nil }

// attrOf returns the last value of key among s's attributes.
func attrOf(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	attrs := s.Attributes()
	for i := len(attrs) - 1; i >= 0; i-- {
		if attrs[i].Key == key {
			return attrs[i].Value, true
		}
	}
	return attribute.Value{}, false
}
