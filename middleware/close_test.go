package middleware_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware"
)

// rtFunc is a RoundTripper made of a function: a base transport whose
// replies a test controls.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// replyWith is a base transport that gives every request a reply of the
// given status and Content-Type with body (after draining the request).
func replyWith(status int, contentType string, body io.ReadCloser) rtFunc {
	return func(r *http.Request) (*http.Response, error) {
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, r.Body)
			_ = r.Body.Close()
		}
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {contentType}},
			Body: body, ContentLength: -1, Request: r}, nil
	}
}

// wakeOnCloseBody yields data, then blocks in Read until Close, as a
// connection does; Close wakes the blocked Read and returns only once the
// caller's Read returned (readDone), so that the woken reader always gets
// there first.
type wakeOnCloseBody struct {
	data     io.Reader
	wake     chan struct{}
	readDone <-chan struct{}
}

func (b *wakeOnCloseBody) Read(p []byte) (int, error) {
	if n, _ := b.data.Read(p); n > 0 {
		return n, nil
	}
	<-b.wake
	return 0, errors.New("read tcp: use of closed network connection")
}

func (b *wakeOnCloseBody) Close() error {
	close(b.wake)
	<-b.readDone
	return nil
}

// TestStreamClosedWhileReadBlockedIsAbandoned: a stream closed by the
// caller while another goroutine's Read is blocked on it is recorded as
// abandoned, even when the woken Read returns before Close does (the
// reader gets the connection's error, not a broken stream).
func TestStreamClosedWhileReadBlockedIsAbandoned(t *testing.T) {
	r := newRig(t)
	readDone := make(chan struct{})
	body := &wakeOnCloseBody{
		data: strings.NewReader("data: " + chunk("Hello") + "\n\n"),
		wake: make(chan struct{}), readDone: readDone,
	}
	c := &http.Client{Transport: middleware.Transport(replyWith(http.StatusOK, "text/event-stream", body), middleware.WithTracerProvider(r.tp))}
	resp, err := c.Post("http://llm.test/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	first := make([]byte, 4096)
	n, err := resp.Body.Read(first)
	require.NoError(t, err)
	require.Contains(t, string(first[:n]), "Hello")

	var readErr error
	go func() {
		defer close(readDone)
		_, readErr = resp.Body.Read(make([]byte, 4096)) // blocks until Close
	}()
	require.NoError(t, resp.Body.Close())
	require.Error(t, readErr)

	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, middleware.ErrorTypeStreamAbandoned, es[0].Metadata["error.type"])
	assert.Equal(t, "Hello", str(es[0].OutputContent))
}

// errorReply serves a 429 with the OpenAI error body and its
// Content-Length; with stall set it sends the first 10 bytes of the body
// and holds the rest until the client goes away (10 s at most).
func errorReply(stall bool) http.HandlerFunc {
	body := fakellm.ErrorBody("openai", http.StatusTooManyRequests, "slow down")
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After-Ms", "10")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusTooManyRequests)
		if !stall {
			_, _ = w.Write(body) // with the headers, in one write
			return
		}
		_, _ = w.Write(body[:10])
		_ = http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}
}

// TestCloseOfUnreadErrorReplyNeverWaitsOnServer: closing an unread error
// reply returns at once whether the server sent its body with the headers
// or stalls it (for 10 s), on HTTP/1.1 and HTTP/2; the span has ended when
// Close returns (a flush then finds the entry), with the provider's code
// when the body came, else the status; and no goroutine of Close's is
// left. (HTTP/2 sends the body in a frame of its own, which may come after
// Close: only its stalled case is deterministic.)
func TestCloseOfUnreadErrorReplyNeverWaitsOnServer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		stall, h2 bool
		want      string
	}{
		{"HTTP/1.1, body sent", false, false, "rate_limit_exceeded"},
		{"HTTP/1.1, body stalled", true, false, "429"},
		{"HTTP/2, body stalled", true, true, "429"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(errorReply(tc.stall))
			if tc.h2 {
				srv.EnableHTTP2 = true
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			r := newRig(t)
			c := &http.Client{Transport: middleware.Transport(srv.Client().Transport, middleware.WithTracerProvider(r.tp), drainBudgetFor(tc.stall))}
			resp := postChat(t, c, srv.URL, false)
			require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
			if tc.h2 {
				require.Equal(t, 2, resp.ProtoMajor)
			}
			before := goleak.IgnoreCurrent()
			start := time.Now()
			require.NoError(t, resp.Body.Close())
			assert.Less(t, time.Since(start), time.Second, "Close waited on the server")
			goleak.VerifyNone(t, before)

			es := r.entries(t)
			require.Len(t, es, 1, "the span ended before Close returned")
			assert.Equal(t, tc.want, es[0].Metadata["error.type"])
		})
	}
}

// TestSDKRetryNotHeldByStalledErrorBody: openai-go closes a 429 unread
// and retries after the 10 ms the server asked for; a server that stalls
// the 429's body for 10 s does not hold the retry up.
func TestSDKRetryNotHeldByStalledErrorBody(t *testing.T) {
	var calls atomic.Int32
	stalled := errorReply(true)
	fake := fakellm.NewHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if calls.Add(1) == 1 {
			stalled.ServeHTTP(w, req)
			return
		}
		fake.ServeHTTP(w, req)
	}))
	defer srv.Close()
	r := newRig(t)
	c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("test"),
		option.WithMaxRetries(1), option.WithHTTPClient(r.client()))
	start := time.Now()
	_, err := c.Chat.Completions.New(t.Context(), chatParams)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 2*time.Second, "the retry waited on the stalled error body")
	es := r.entries(t)
	require.Len(t, es, 2, "one entry per attempt")
	assert.Equal(t, "429", es[0].Metadata["error.type"])
	assert.NotContains(t, es[1].Metadata, "error.type")
}

// errorPlan is how chunkedErrorReply sends the body of its error reply.
type errorPlan int

const (
	sendWhole      errorPlan = iota // the whole body with the headers
	stallAfterHead                  // its first 10 bytes with the headers, then nothing until the client goes away (10 s at most)
	sendForever                     // an error object whose message never ends
)

// chunkedErrorReply serves a 429 with no Content-Length, flushed by hand
// so that net/http sends it chunked (a handler that returns with a small
// body unflushed gets a Content-Length), gzip-encoded when gz is set; the
// body is the OpenAI error body sent as plan says. Retry-After-Ms makes an
// SDK's retry come at once.
func chunkedErrorReply(plan errorPlan, gz bool) http.HandlerFunc {
	body := fakellm.ErrorBody("openai", http.StatusTooManyRequests, "slow down")
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After-Ms", "10")
		rc := http.NewResponseController(w)
		var out io.Writer = w
		zw := gzip.NewWriter(w)
		if gz {
			w.Header().Set("Content-Encoding", "gzip")
			out = zw
		}
		w.WriteHeader(http.StatusTooManyRequests)
		switch plan {
		case sendWhole:
			_, _ = out.Write(body)
			if gz {
				_ = zw.Close()
			}
			_ = rc.Flush() // the headers and the body in one write
		case stallAfterHead:
			_, _ = out.Write(body[:10])
			if gz {
				_ = zw.Flush() // a sync block: the 10 bytes decode without the rest
			}
			_ = rc.Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		case sendForever:
			_, _ = io.WriteString(out, `{"error":{"code":"rate_limit_exceeded","message":"`)
			pad := bytes.Repeat([]byte("x"), 16<<10)
			for r.Context().Err() == nil {
				if _, err := out.Write(pad); err != nil {
					return // the client closed the connection
				}
			}
		}
	}
}

// countingBody counts the bytes read of a reply's body into n.
type countingBody struct {
	rc io.ReadCloser
	n  *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error { return b.rc.Close() }

// counting wraps base so that n counts the bytes read of its replies'
// bodies: what the audit read of a body its caller closed unread.
func counting(base http.RoundTripper, n *atomic.Int64) rtFunc {
	return func(r *http.Request) (*http.Response, error) {
		resp, err := base.RoundTrip(r)
		if resp != nil && resp.Body != nil && resp.Body != http.NoBody {
			resp.Body = &countingBody{rc: resp.Body, n: n}
		}
		return resp, err
	}
}

// TestCloseOfUnreadErrorReplyOfUnknownLength: an error reply whose length
// the caller does not know (chunked, or gzip that net/http decoded) and
// closes unread is read for the provider's error code as one of known
// length is, within the same bounds: Close returns within the drain's
// budget when the server stalls mid-body (then error.type is the status),
// and reads no more than MaxErrorDrain of a body that never ends. The span
// has ended when Close returns, and no goroutine of Close's is left.
func TestCloseOfUnreadErrorReplyOfUnknownLength(t *testing.T) {
	body := fakellm.ErrorBody("openai", http.StatusTooManyRequests, "slow down")
	for _, tc := range []struct {
		name   string
		plan   errorPlan
		gz, h2 bool
		want   string
		// read checks n, the bytes read of the body (decoded).
		read func(t *testing.T, n int64)
	}{
		{"chunked", sendWhole, false, false, "rate_limit_exceeded", func(t *testing.T, n int64) {
			assert.EqualValues(t, len(body), n, "the whole body read")
		}},
		{"gzip, chunked, decoded by the transport", sendWhole, true, false, "rate_limit_exceeded", func(t *testing.T, n int64) {
			assert.EqualValues(t, len(body), n, "the whole body read")
		}},
		{"chunked, stalled after 10 bytes", stallAfterHead, false, false, "429", func(t *testing.T, n int64) {
			assert.EqualValues(t, 10, n, "what came with the headers read")
		}},
		{"gzip, chunked, stalled after 10 bytes", stallAfterHead, true, false, "429", func(t *testing.T, n int64) {
			assert.EqualValues(t, 10, n, "what came with the headers read")
		}},
		// HTTP/2 sends the 10 bytes in a frame of their own, which need
		// not have come within the budget on a loaded machine.
		{"HTTP/2, stalled after 10 bytes", stallAfterHead, false, true, "429", func(t *testing.T, n int64) {
			assert.LessOrEqual(t, n, int64(10))
		}},
		{"chunked, never ending", sendForever, false, false, "429", func(t *testing.T, n int64) {
			assert.Positive(t, n, "the drain read")
			assert.LessOrEqual(t, n, int64(middleware.MaxErrorDrain), "the drain stopped at its cap")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(chunkedErrorReply(tc.plan, tc.gz))
			if tc.h2 {
				srv.EnableHTTP2 = true
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			r := newRig(t)
			var n atomic.Int64
			c := &http.Client{Transport: middleware.Transport(counting(srv.Client().Transport, &n), middleware.WithTracerProvider(r.tp), drainBudgetFor(tc.plan != sendWhole))}
			resp := postChat(t, c, srv.URL, false)
			require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
			require.EqualValues(t, -1, resp.ContentLength, "a reply of unknown length")
			if tc.h2 {
				require.Equal(t, 2, resp.ProtoMajor)
			}
			if tc.gz {
				require.True(t, resp.Uncompressed, "net/http decoded the gzip")
			}
			before := goleak.IgnoreCurrent()
			start := time.Now()
			require.NoError(t, resp.Body.Close())
			// The margin is for a loaded machine; a Close that waited on
			// the server would take the stall's 10 s.
			assert.Less(t, time.Since(start), middleware.ErrorDrainBudget+500*time.Millisecond, "Close waited past the drain's budget")
			goleak.VerifyNone(t, before)

			es := r.entries(t)
			require.Len(t, es, 1, "the span ended before Close returned")
			assert.Equal(t, tc.want, es[0].Metadata["error.type"])
			tc.read(t, n.Load())
		})
	}
}

// TestSDKRetryRecordsCodeOfChunkedErrorReply: openai-go closes a chunked
// 429 unread before its retry; the first attempt's entry still has the
// provider's error code, not only the status.
func TestSDKRetryRecordsCodeOfChunkedErrorReply(t *testing.T) {
	var calls atomic.Int32
	limited := chunkedErrorReply(sendWhole, false)
	fake := fakellm.NewHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if calls.Add(1) == 1 {
			limited.ServeHTTP(w, req)
			return
		}
		fake.ServeHTTP(w, req)
	}))
	defer srv.Close()
	r := newRig(t)
	c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("test"),
		option.WithMaxRetries(1), option.WithHTTPClient(r.client(drainBudgetFor(false))))
	_, err := c.Chat.Completions.New(t.Context(), chatParams)
	require.NoError(t, err)
	require.EqualValues(t, 2, calls.Load(), "one retry")
	es := r.entries(t)
	require.Len(t, es, 2, "one entry per attempt")
	assert.Equal(t, "rate_limit_exceeded", es[0].Metadata["error.type"])
	assert.NotContains(t, es[1].Metadata, "error.type")
}

// drainBudgetFor is the drain's default budget for a test of the budget
// (the server stalls), and a long one where the server sent the error
// body whole and the test checks its code: there the body is already
// read off the wire, and only a loaded machine could keep the drain's
// reading goroutine from running within 20 ms.
func drainBudgetFor(stalls bool) middleware.Option {
	if stalls {
		return middleware.WithErrorDrainBudget(middleware.ErrorDrainBudget)
	}
	return middleware.WithErrorDrainBudget(10 * time.Second)
}
