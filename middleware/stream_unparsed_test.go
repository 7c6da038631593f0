package middleware_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	aws "github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/middleware"
)

// rawServer replies body with the given content type, in one write per
// piece so that events arrive as a stream.
func rawServer(t *testing.T, contentType string, pieces ...[]byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", contentType)
		for _, p := range pieces {
			_, _ = w.Write(p)
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// callRaw posts a request to url+path through the rig's client and
// returns the reply body the caller got.
func callRaw(t *testing.T, r *rig, url, path, body string, opts ...middleware.Option) []byte {
	t.Helper()
	res, err := r.client(opts...).Post(url+path, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	got, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	return got
}

// TestStreamGarbageEventRecordedUnparsed: an SSE event of a JSON stream
// API whose data is not JSON (garbage, an event cut short) is left out of
// the reassembled output, and the entry says the reply was not all
// parsed; the caller still gets every byte as the server sent it. A clean
// stream is not marked.
func TestStreamGarbageEventRecordedUnparsed(t *testing.T) {
	events := []string{chunk("Hello "), `{"id":"c1","model":"gpt-4o","choi`, "upstream hiccup", chunk("world"), "[DONE]"}
	var sent bytes.Buffer
	var pieces [][]byte
	for _, e := range events {
		p := []byte("data: " + e + "\n\n")
		sent.Write(p)
		pieces = append(pieces, p)
	}
	garbage := rawServer(t, "text/event-stream", pieces...)
	clean := sseServer(t, chunk("Hello "), chunk("world"), "[DONE]")

	r := newRig(t)
	got := callRaw(t, r, garbage.URL, "/v1/chat/completions", `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	assert.Equal(t, sent.String(), string(got), "the caller gets the stream untouched")
	streamCall(t, r, clean.URL)

	es := r.entries(t)
	require.Len(t, es, 2)
	assert.Equal(t, true, es[0].Metadata[middleware.MetadataResponseUnparsed], "metadata: %v", es[0].Metadata)
	assert.Equal(t, "Hello world", str(es[0].OutputContent))
	assert.NotContains(t, es[0].Metadata, middleware.MetadataResponseTruncated)
	assert.NotContains(t, es[1].Metadata, middleware.MetadataResponseUnparsed, "a clean stream")
	assert.Equal(t, "Hello world", str(es[1].OutputContent))
}

// TestNDJSONLineOverCapRecordedTruncated: an Ollama NDJSON line longer
// than the capture cap cannot be parsed; the entry says the reply is
// truncated (not unparsed), keeps the text of the other lines, and the
// stream's end is still seen.
func TestNDJSONLineOverCapRecordedTruncated(t *testing.T) {
	line := func(text string, done bool) []byte {
		d := "false"
		if done {
			d = `true,"done_reason":"stop","prompt_eval_count":3,"eval_count":4`
		}
		return []byte(`{"model":"llama3","message":{"role":"assistant","content":"` + text + `"},"done":` + d + "}\n")
	}
	srv := rawServer(t, "application/x-ndjson", line("Hello ", false), line(strings.Repeat("x", 4096), false), line("world", false), line("", true))
	r := newRig(t)
	callRaw(t, r, srv.URL, "/api/chat", `{"model":"llama3","messages":[{"role":"user","content":"hi"}]}`, middleware.WithMaxBodySize(1024))
	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, true, es[0].Metadata[middleware.MetadataResponseTruncated], "metadata: %v", es[0].Metadata)
	assert.NotContains(t, es[0].Metadata, middleware.MetadataResponseUnparsed)
	assert.NotContains(t, es[0].Metadata, "error.type", "the stream ended with done:true")
	assert.Equal(t, "Hello world", str(es[0].OutputContent), "the other lines' text")
}

// TestNDJSONCutMidLine: an Ollama stream that ends inside a line was cut
// mid-event; the partial line is not garbage from the server.
func TestNDJSONCutMidLine(t *testing.T) {
	srv := rawServer(t, "application/x-ndjson",
		[]byte(`{"model":"llama3","message":{"role":"assistant","content":"Hello"},"done":false}`+"\n"),
		[]byte(`{"model":"llama3","message":{"role":"assis`))
	r := newRig(t)
	callRaw(t, r, srv.URL, "/api/chat", `{"model":"llama3","messages":[{"role":"user","content":"hi"}]}`)
	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, true, es[0].Metadata[middleware.MetadataCutMidEvent], "metadata: %v", es[0].Metadata)
	assert.NotContains(t, es[0].Metadata, middleware.MetadataResponseUnparsed)
	assert.Equal(t, "Hello", str(es[0].OutputContent))
}

// TestEventStreamMessageOverCapRecordedTruncated: a Bedrock event-stream
// message longer than the capture cap is skipped unread; the entry says
// the reply is truncated and keeps the other messages' text.
func TestEventStreamMessageOverCapRecordedTruncated(t *testing.T) {
	frame := func(typ, payload string) []byte {
		var h aws.Headers
		h.Set(":message-type", aws.StringValue("event"))
		h.Set(":event-type", aws.StringValue(typ))
		h.Set(":content-type", aws.StringValue("application/json"))
		var b bytes.Buffer
		require.NoError(t, aws.NewEncoder().Encode(&b, aws.Message{Headers: h, Payload: []byte(payload)}))
		return b.Bytes()
	}
	delta := func(text string) []byte {
		return frame("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"`+text+`"}}`)
	}
	srv := rawServer(t, "application/vnd.amazon.eventstream",
		frame("messageStart", `{"role":"assistant"}`), delta("Hello "), delta(strings.Repeat("x", 4096)), delta("world"),
		frame("messageStop", `{"stopReason":"end_turn"}`), frame("metadata", `{"usage":{"inputTokens":3,"outputTokens":4}}`))
	r := newRig(t)
	callRaw(t, r, srv.URL, "/model/anthropic.claude-3-5-haiku-20241022-v1:0/converse-stream",
		`{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`, middleware.WithMaxBodySize(1024))
	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, true, es[0].Metadata[middleware.MetadataResponseTruncated], "metadata: %v", es[0].Metadata)
	assert.Equal(t, "Hello world", str(es[0].OutputContent))
	assert.NotContains(t, es[0].Metadata, "error.type", "the stream ended with messageStop")
}
