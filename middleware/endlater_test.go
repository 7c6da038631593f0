package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/internal/handletest"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// postChat makes one chat call through c, reads the reply to its end and
// closes it; it returns when the read of the reply's end returned.
func postChatRead(t *testing.T, c *http.Client, s *fakellm.Server, stream bool) time.Time {
	t.Helper()
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	if stream {
		body = `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	}
	res, err := c.Post(s.OpenAIBaseURL()+"chat/completions", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	_, err = io.ReadAll(res.Body)
	require.NoError(t, err)
	read := time.Now()
	require.NoError(t, res.Body.Close())
	return read
}

// On an audit provider the Transport ends a call's span after the caller
// read the reply, on another goroutine. A flush right after the call
// still finds its entry, and the other processors of the provider its
// span; the span ends when the reply's last byte was read.
func TestSpanEndsAfterTheReplyYetFlushFindsIt(t *testing.T) {
	s := fakellm.Start()
	defer s.Close()
	for _, stream := range []bool{false, true} {
		mem := storage.NewMemoryStorage(0)
		l, err := otelaudit.NewLogger(mem)
		require.NoError(t, err)
		tp, _, err := exporter.NewTracerProvider(l)
		require.NoError(t, err)
		rec := tracetest.NewSpanRecorder()
		tp.RegisterSpanProcessor(rec)
		c := &http.Client{Transport: middleware.Transport(nil, middleware.WithTracerProvider(tp))}
		const calls = 100
		for i := range calls {
			read := postChatRead(t, c, s, stream)
			require.NoError(t, tp.ForceFlush(t.Context()))
			n, err := mem.Count(t.Context())
			require.NoError(t, err)
			require.Equal(t, i+1, n, "call %d (stream %v): its entry after the flush", i, stream)
			ended := rec.Ended()
			require.Len(t, ended, i+1, "call %d: its span reached the other processor", i)
			assert.False(t, ended[i].EndTime().After(read), "the span ends when the reply was read")
		}
		// Shutdown right after a call: its entry is stored too.
		postChatRead(t, c, s, stream)
		require.NoError(t, tp.Shutdown(context.Background()))
		n, err := mem.Count(t.Context())
		require.NoError(t, err)
		assert.Equal(t, calls+1, n)
	}
}

// On a provider without the audit processor nothing waits for a span
// ending later, so the Transport ends it before the read of the reply's
// end returns, as every instrumentation does.
func TestSpanEndsWithTheReplyWithoutAudit(t *testing.T) {
	s := fakellm.Start()
	defer s.Close()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	c := &http.Client{Transport: middleware.Transport(nil, middleware.WithTracerProvider(tp))}
	for i := range 50 {
		postChatRead(t, c, s, i%2 == 1)
		require.Len(t, rec.Ended(), i+1, "call %d: span ended when the reply was read", i)
	}
}

// A caller that decodes a reply of known length without reading on to
// EOF, then closes it, closed a complete reply: its entry has the whole
// output and no error.
func TestDecodedReplyClosedIsComplete(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start()
	defer s.Close()
	c := r.client()
	for range 20 {
		res, err := c.Post(s.OpenAIBaseURL()+"chat/completions", "application/json",
			strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
		require.NoError(t, err)
		require.Positive(t, res.ContentLength, "a reply of known length")
		var reply map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&reply))
		require.NoError(t, res.Body.Close())
	}
	es := r.entries(t)
	require.Len(t, es, 20)
	for _, e := range es {
		assert.Equal(t, fakellm.DefaultReply, str(e.OutputContent))
		assert.Nil(t, e.Metadata["error.type"])
	}
}

// A Handler on an audit provider: a flush once the client has the reply
// finds the request's entry, and the other processors its span.
func TestHandlerEntryAndSpanAfterEachRequest(t *testing.T) {
	mem := storage.NewMemoryStorage(0)
	l, err := otelaudit.NewLogger(mem)
	require.NoError(t, err)
	tp, _, err := exporter.NewTracerProvider(l)
	require.NoError(t, err)
	defer func() { _ = tp.Shutdown(context.Background()) }()
	rec := tracetest.NewSpanRecorder()
	tp.RegisterSpanProcessor(rec)
	srv := httptest.NewServer(middleware.Handler(http.HandlerFunc(benchServer), middleware.WithTracerProvider(tp)))
	defer srv.Close()
	for i := range 100 {
		res, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", bytes.NewReader(benchRequest))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		require.NoError(t, res.Body.Close())
		require.NoError(t, tp.ForceFlush(t.Context()))
		n, err := mem.Count(t.Context())
		require.NoError(t, err)
		require.Equal(t, i+1, n, "request %d: its entry after the flush", i)
		require.Len(t, rec.Ended(), i+1, "request %d: its span reached the other processor", i)
	}
	es, err := mem.ListEntries(t.Context(), time.Unix(0, 0), time.Now().Add(time.Hour))
	require.NoError(t, err)
	for _, e := range es {
		assert.Equal(t, "gpt-4o-mini", *e.Model)
		assert.Equal(t, int64(140), *e.OutputTokens)
	}
}

// respPanicExtractor describes every request and panics on every reply.
type respPanicExtractor struct{}

func (respPanicExtractor) ExtractRequest(*http.Request, []byte) (middleware.Request, bool) {
	return middleware.Request{Operation: "chat", Provider: "acme", Model: "m"}, true
}

func (respPanicExtractor) ExtractResponse(int, http.Header, []byte) (middleware.Response, bool) {
	panic("extractor bug")
}

// An Extractor that panics on a reply read to its end, while the span
// ends off the caller's goroutine, does not bring the process down: it is
// reported (without the reply), and a flush does not wait for it forever.
func TestReplyPanicOffTheCallerReported(t *testing.T) {
	reports := handletest.Capture(t)
	r := newRig(t)
	s := fakellm.Start()
	defer s.Close()
	c := r.client(middleware.WithExtractor(respPanicExtractor{}))
	postChatRead(t, c, s, false)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	require.NoError(t, r.tp.ForceFlush(ctx), "the flush is not held by the span that panicked")
	var found bool
	for _, r := range reports() {
		if strings.Contains(r, "panicked") {
			found = true
			assert.NotContains(t, r, fakellm.DefaultReply)
			assert.NotContains(t, r, "extractor bug", "the panic's value is not reported")
		}
	}
	assert.True(t, found, "the panic is reported: %v", reports())
}
