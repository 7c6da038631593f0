package middleware_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
