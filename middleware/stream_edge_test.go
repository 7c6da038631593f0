package middleware_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/middleware"
)

func sseServer(t *testing.T, events ...string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		for _, e := range events {
			_, _ = fmt.Fprintf(w, "data: %s\n\n", e)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func chunk(text string) string {
	return fmt.Sprintf(`{"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"content":%q}}]}`, text)
}

func streamCall(t *testing.T, r *rig, url string, opts ...middleware.Option) {
	t.Helper()
	res, err := r.client(opts...).Post(url+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	require.NoError(t, res.Body.Close())
}

// TestSSEEventOverCapIsRecordedTruncated: an event larger than the capture
// cap cannot be parsed; the entry says the reply is truncated instead of
// the event vanishing from the output without a word.
func TestSSEEventOverCapIsRecordedTruncated(t *testing.T) {
	r := newRig(t)
	big := strings.Repeat("x", 4096)
	srv := sseServer(t, chunk("Hello "), chunk(big), chunk("world"), "[DONE]")
	streamCall(t, r, srv.URL, middleware.WithMaxBodySize(1024))
	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, true, es[0].Metadata[middleware.MetadataResponseTruncated], "metadata: %v", es[0].Metadata)
	require.NotNil(t, es[0].OutputContent)
	assert.Equal(t, "Hello world", *es[0].OutputContent)
}

// TestChunksAfterDONEIgnored: what a server sends after [DONE] is not part
// of the reply.
func TestChunksAfterDONEIgnored(t *testing.T) {
	r := newRig(t)
	srv := sseServer(t, chunk("Hello"), "[DONE]", chunk(" injected"))
	streamCall(t, r, srv.URL)
	es := r.entries(t)
	require.Len(t, es, 1)
	require.NotNil(t, es[0].OutputContent)
	assert.Equal(t, "Hello", *es[0].OutputContent)
	assert.NotContains(t, es[0].Metadata, "error.type")
}

// TestManyChoicesStreamMatchesNonStream: a reply of 80 choices (OpenAI
// accepts n up to 128) gives the same entry streamed as not: every
// choice, the same output hash and finish reasons, nothing truncated.
func TestManyChoicesStreamMatchesNonStream(t *testing.T) {
	const n = 80
	var whole, events []string
	for i := range n {
		whole = append(whole, fmt.Sprintf(`{"index":%d,"message":{"role":"assistant","content":"c%d"},"finish_reason":"stop"}`, i, i))
		events = append(events, fmt.Sprintf(`{"id":"x","model":"gpt-4o","choices":[{"index":%d,"delta":{"role":"assistant","content":"c%d"},"finish_reason":"stop"}]}`, i, i))
	}
	events = append(events, "[DONE]")
	stream := sseServer(t, events...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"x","model":"gpt-4o","choices":[`+strings.Join(whole, ",")+`]}`)
	}))
	defer srv.Close()

	r := newRig(t)
	streamCall(t, r, srv.URL)
	streamCall(t, r, stream.URL)
	es := r.entries(t)
	require.Len(t, es, 2)
	assert.Equal(t, n, strings.Count(str(es[0].OutputContent), "\n")+1, "every choice, not streamed")
	assert.Equal(t, str(es[0].OutputContent), str(es[1].OutputContent))
	assert.Equal(t, es[0].OutputHash, es[1].OutputHash)
	assert.Equal(t, es[0].Metadata["gen_ai.response.finish_reasons"], es[1].Metadata["gen_ai.response.finish_reasons"])
	assert.NotContains(t, es[1].Metadata, middleware.MetadataResponseTruncated)
}
