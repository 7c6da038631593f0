package middleware_test

import (
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
			c := &http.Client{Transport: middleware.Transport(srv.Client().Transport, middleware.WithTracerProvider(r.tp))}
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
