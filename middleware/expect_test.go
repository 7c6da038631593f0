package middleware_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// expectChatBody is the Chat Completions request of the Expect tests; its
// input text is chatInput.
const expectChatBody = `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Answer briefly."},` +
	`{"role":"user","content":"What is an audit trail?"}]}`

// expectServer serves h on loopback behind a handler that counts the bytes
// read of each request's own body (countingBody, close_test.go) (what the connection delivered to the
// handler chain, the middleware's reads included), into read.
func expectServer(t *testing.T, h http.Handler, read *atomic.Int64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// A shallow copy: net/http looks at the request's own Body after
		// the handler (whether an Expect: 100-continue body was read to
		// its end decides whether the connection closes).
		req = req.WithContext(req.Context())
		req.Body = &countingBody{rc: req.Body, n: read}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// expectResult is what the client of an Expect test saw.
type expectResult struct {
	status   int
	body     string
	got100   bool  // the server sent 100 Continue
	uploaded int64 // bytes of the body the client's transport read to send
	err      error
}

// postExpect posts body to url with a real client transport, sending
// "Expect: 100-continue" when expect is set. The transport waits up to a
// minute for 100 Continue, so a body it sends was asked for.
func postExpect(ctx context.Context, url, body string, expect bool) expectResult {
	var res expectResult
	var got100 atomic.Bool
	var uploaded atomic.Int64
	tr := &http.Transport{ExpectContinueTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{Got100Continue: func() { got100.Store(true) }})
	// A reader of no type net/http knows: it cannot look into it, only
	// read it when it sends the body.
	rc := &countingBody{rc: io.NopCloser(strings.NewReader(body)), n: &uploaded}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, rc)
	if err != nil {
		res.err = err
		return res
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	if expect {
		req.Header.Set("Expect", "100-continue")
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		res.err = err
		return res
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	res.status, res.body, res.err = resp.StatusCode, string(b), err
	res.got100, res.uploaded = got100.Load(), uploaded.Load()
	return res
}

// TestHandlerExpectContinueRejectedUnread: a handler that rejects a
// request sent with Expect: 100-continue without reading its body (an
// auth check) answers before the client uploads anything, as it does
// without the middleware: no 100 Continue, no byte of the body read on
// either side. The call is still audited, with no input and the mark
// that the body was not read.
func TestHandlerExpectContinueRejectedUnread(t *testing.T) {
	r := newRig(t)
	next := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http.Error(w, `{"error":{"code":"invalid_api_key"}}`, http.StatusUnauthorized)
	})
	var read atomic.Int64
	srv := expectServer(t, middleware.Handler(next, middleware.WithTracerProvider(r.tp)), &read)

	res := postExpect(t.Context(), srv.URL+"/v1/chat/completions", expectChatBody, true)
	require.NoError(t, res.err)
	assert.Equal(t, http.StatusUnauthorized, res.status)
	assert.False(t, res.got100, "the server asked for the body")
	assert.Zero(t, res.uploaded, "bytes of the body the client sent")
	srv.Close() // the server span ends when ServeHTTP returns
	assert.Zero(t, read.Load(), "bytes of the body read on the server")

	es := r.entries(t)
	require.Len(t, es, 1)
	e := es[0]
	assert.Equal(t, "chat", e.Operation)
	assert.Equal(t, "invalid_api_key", e.Metadata["error.type"])
	assert.Equal(t, true, e.Metadata[middleware.MetadataRequestIncomplete])
	// Nothing was read: the input is empty, as for a request without a
	// body.
	assert.Empty(t, str(e.InputContent))
	assert.Equal(t, otelaudit.HashContent(""), e.InputHash)
	spans := r.spans.Ended()
	require.Len(t, spans, 1)
	assert.Equal(t, oteltrace.SpanKindServer, spans[0].SpanKind())
	assert.Equal(t, "chat", spans[0].Name(), "no model is known")
}

// TestHandlerExpectContinueReadByNext: with Expect: 100-continue the body
// is first read when next reads it (the client has sent nothing while next
// has not started reading), and the entry is the one an ordinary request
// gets: model, input, output, hashes, and the span named "{operation}
// {model}".
func TestHandlerExpectContinueReadByNext(t *testing.T) {
	r := newRig(t)
	fake := fakellm.NewHandler()
	entered, release := make(chan struct{}), make(chan struct{})
	next := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		close(entered)
		<-release
		fake.ServeHTTP(w, req)
	})
	var read atomic.Int64
	srv := expectServer(t, middleware.Handler(next, middleware.WithTracerProvider(r.tp)), &read)

	done := make(chan expectResult, 1)
	go func() { done <- postExpect(t.Context(), srv.URL+"/v1/chat/completions", expectChatBody, true) }()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("next was not called")
	}
	assert.Zero(t, read.Load(), "bytes of the body read on the server before next read")
	close(release)
	res := <-done
	require.NoError(t, res.err)
	require.Equal(t, http.StatusOK, res.status, res.body)
	assert.True(t, res.got100, "the server asked for the body when next read it")
	assert.Equal(t, int64(len(expectChatBody)), res.uploaded)
	srv.Close()
	reqs := fake.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, expectChatBody, string(reqs[0].Body), "next gets the whole body")

	es := r.entries(t)
	require.Len(t, es, 1)
	e := es[0]
	checkEntry(t, r, e, "openai", "chat", "gpt-4o-mini", chatInput, fakellm.DefaultReply, fakellm.DefaultInputTokens, 8)
	assert.NotContains(t, e.Metadata, middleware.MetadataRequestIncomplete)
	assert.NotContains(t, e.Metadata, middleware.MetadataRequestTruncated)
	spans := r.spans.Ended()
	require.Len(t, spans, 1)
	assert.Equal(t, "chat gpt-4o-mini", spans[0].Name())
}

// TestHandlerOrdinaryRequestReadAhead: a request without Expect is read
// ahead as before: the body is read before next runs, and next's context
// already holds the span with its model ("{operation} {model}" and
// gen_ai.request.model), which client calls next makes start under.
func TestHandlerOrdinaryRequestReadAhead(t *testing.T) {
	r := newRig(t)
	fake := fakellm.NewHandler()
	var read, readBeforeNext atomic.Int64
	var nameInNext atomic.Value
	next := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		readBeforeNext.Store(read.Load())
		if s, ok := oteltrace.SpanFromContext(req.Context()).(sdktrace.ReadOnlySpan); ok {
			nameInNext.Store(s.Name())
		}
		fake.ServeHTTP(w, req)
	})
	srv := expectServer(t, middleware.Handler(next, middleware.WithTracerProvider(r.tp)), &read)

	res := postExpect(t.Context(), srv.URL+"/v1/chat/completions", expectChatBody, false)
	require.NoError(t, res.err)
	require.Equal(t, http.StatusOK, res.status, res.body)
	srv.Close()
	assert.Equal(t, int64(len(expectChatBody)), readBeforeNext.Load(), "the body is read before next runs")
	assert.Equal(t, "chat gpt-4o-mini", nameInNext.Load(), "the span's name when next runs")
	reqs := fake.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, expectChatBody, string(reqs[0].Body), "next gets the whole body")

	es := r.entries(t)
	require.Len(t, es, 1)
	checkEntry(t, r, es[0], "openai", "chat", "gpt-4o-mini", chatInput, fakellm.DefaultReply, fakellm.DefaultInputTokens, 8)
	assert.NotContains(t, es[0].Metadata, middleware.MetadataRequestIncomplete)
}

// TestHandlerExpectContinuePartialRead: next reads part of the body, then
// rejects it (a size check). The entry holds what next read, marked as
// not the whole body.
func TestHandlerExpectContinuePartialRead(t *testing.T) {
	r := newRig(t)
	next := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var head [10]byte
		_, _ = io.ReadFull(req.Body, head[:])
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
	})
	var read atomic.Int64
	srv := expectServer(t, middleware.Handler(next, middleware.WithTracerProvider(r.tp)), &read)

	res := postExpect(t.Context(), srv.URL+"/v1/chat/completions", expectChatBody, true)
	require.NoError(t, res.err)
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.status)
	assert.True(t, res.got100)
	srv.Close()

	es := r.entries(t)
	require.Len(t, es, 1)
	e := es[0]
	assert.Equal(t, "413", e.Metadata["error.type"])
	assert.Equal(t, true, e.Metadata[middleware.MetadataRequestIncomplete])
	assert.Equal(t, expectChatBody[:10], str(e.InputContent), "what next read, raw: it is not valid JSON")
	assert.Equal(t, otelaudit.HashContent(expectChatBody[:10]), e.InputHash)
}

// TestHandlerExpectContinueCapped: the body is not read before next
// reads it, and its capture as next reads it stops at the cap, as the
// read-ahead does; next still gets the whole body.
func TestHandlerExpectContinueCapped(t *testing.T) {
	r := newRig(t)
	var got []byte
	var read, readBeforeNext atomic.Int64
	next := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		readBeforeNext.Store(read.Load())
		got, _ = io.ReadAll(req.Body)
		w.WriteHeader(http.StatusNoContent)
	})
	srv := expectServer(t, middleware.Handler(next, middleware.WithTracerProvider(r.tp), middleware.WithMaxBodySize(16)), &read)

	res := postExpect(t.Context(), srv.URL+"/v1/chat/completions", expectChatBody, true)
	require.NoError(t, res.err)
	assert.Equal(t, http.StatusNoContent, res.status)
	srv.Close()
	assert.Zero(t, readBeforeNext.Load(), "bytes read before next read")
	assert.Equal(t, expectChatBody, string(got))

	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, true, es[0].Metadata[middleware.MetadataRequestTruncated])
	assert.NotContains(t, es[0].Metadata, middleware.MetadataRequestIncomplete)
	assert.Equal(t, expectChatBody[:16], str(es[0].InputContent))
}

// TestHandlerExpectContinueExtractor: the body is not read before next
// reads it; an Extractor gets it once next has read it, and the reply is
// read with the Extractor too.
func TestHandlerExpectContinueExtractor(t *testing.T) {
	r := newRig(t)
	var read, readBeforeNext atomic.Int64
	next := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		readBeforeNext.Store(read.Load())
		_, _ = io.Copy(io.Discard, req.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"answer":"pong"}`)
	})
	h := middleware.Handler(next, middleware.WithTracerProvider(r.tp), middleware.WithExtractor(middleware.JSONFields{
		Paths: []string{"/ask"}, Model: "model", Input: "question", Output: "answer", Conversation: "session",
	}))
	srv := expectServer(t, h, &read)

	res := postExpect(t.Context(), srv.URL+"/ask", `{"model":"m1","question":"ping?","session":"s-9"}`, true)
	require.NoError(t, res.err)
	require.Equal(t, http.StatusOK, res.status)
	srv.Close()
	assert.Zero(t, readBeforeNext.Load(), "bytes read before next read")

	es := r.entries(t)
	require.Len(t, es, 1)
	e := es[0]
	assert.Equal(t, "m1", str(e.Model))
	assert.Equal(t, "ping?", str(e.InputContent))
	assert.Equal(t, "pong", str(e.OutputContent))
	assert.Equal(t, "s-9", str(e.ConversationID))
	spans := r.spans.Ended()
	require.Len(t, spans, 1)
	assert.Equal(t, "chat m1", spans[0].Name())
}

// TestHandlerExpectContinueStream: a streamed reply to a request read as
// next reads it is reassembled as usual: the span knows what the request
// is before the reply starts.
func TestHandlerExpectContinueStream(t *testing.T) {
	r := newRig(t)
	fake := fakellm.NewHandler()
	var read, readBeforeNext atomic.Int64
	next := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		readBeforeNext.Store(read.Load())
		fake.ServeHTTP(w, req)
	})
	srv := expectServer(t, middleware.Handler(next, middleware.WithTracerProvider(r.tp)), &read)

	body := strings.Replace(expectChatBody, `{"model"`, `{"stream":true,"stream_options":{"include_usage":true},"model"`, 1)
	res := postExpect(t.Context(), srv.URL+"/v1/chat/completions", body, true)
	require.NoError(t, res.err)
	require.Equal(t, http.StatusOK, res.status, res.body)
	assert.Contains(t, res.body, "data: [DONE]")
	srv.Close()
	assert.Zero(t, readBeforeNext.Load(), "bytes read before next read")

	es := r.entries(t)
	require.Len(t, es, 1)
	checkEntry(t, r, es[0], "openai", "chat", "gpt-4o-mini", chatInput, fakellm.DefaultReply, fakellm.DefaultInputTokens, 8)
	assert.Equal(t, true, es[0].Metadata[middleware.MetadataStream])
}

// TestHandlerExpectContinueConcurrentRead: the body is not read before
// next reads it, and when next reads it on another goroutine while it
// writes the reply (full duplex), the span is described once, by whichever
// comes first, without a data race (run with -race).
func TestHandlerExpectContinueConcurrentRead(t *testing.T) {
	r := newRig(t)
	var read, readBeforeNext atomic.Int64
	h := middleware.Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		readBeforeNext.Add(read.Load())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = io.Copy(io.Discard, req.Body)
		}()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"x","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`)
		<-done
	}), middleware.WithTracerProvider(r.tp))
	for range 20 {
		read.Store(0)
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(expectChatBody))
		req.Body = &countingBody{rc: req.Body, n: &read}
		req.Header.Set("Expect", "100-continue")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	assert.Zero(t, readBeforeNext.Load(), "bytes read before next read")
	es := r.entries(t)
	require.Len(t, es, 20)
	for _, e := range es {
		assert.Equal(t, "ok", str(e.OutputContent))
	}
}
