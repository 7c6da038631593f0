package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware"
)

// errRequestCanceled is the bare error net/http returns when it sees
// Request.Cancel (closed by http.Client's Timeout) before the context's
// deadline: neither a context error nor a net.Error.
var errRequestCanceled = errors.New("net/http: request canceled")

// waitEnd blocks until the request's context is done or its deadline has
// passed (whichever net/http would see first), then returns
// errRequestCanceled: the error whose type depended on that race.
func waitEnd(r *http.Request) error {
	ctx := r.Context()
	var passed <-chan time.Time
	if d, ok := ctx.Deadline(); ok {
		t := time.NewTimer(time.Until(d))
		defer t.Stop()
		passed = t.C
	}
	select {
	case <-ctx.Done():
	case <-passed:
	}
	return errRequestCanceled
}

// endingBody yields data, then fails with waitEnd's error.
type endingBody struct {
	data io.Reader
	r    *http.Request
}

func (b *endingBody) Read(p []byte) (int, error) {
	if n, _ := b.data.Read(p); n > 0 {
		return n, nil
	}
	return 0, waitEnd(b.r)
}

func (b *endingBody) Close() error { return nil }

// TestContextEndGivesTimeoutOrCanceled: a call whose context's deadline
// passed (http.Client's Timeout included) is recorded as timeout, one
// whose context was canceled as canceled, whatever error net/http returns
// for it (here always the bare "request canceled" it returns when it sees
// Request.Cancel first), before the reply, mid-stream and mid-body.
func TestContextEndGivesTimeoutOrCanceled(t *testing.T) {
	stages := []struct {
		name   string
		base   rtFunc
		output string
	}{
		{"before the reply", func(r *http.Request) (*http.Response, error) {
			_, _ = io.Copy(io.Discard, r.Body)
			return nil, waitEnd(r)
		}, ""},
		{"mid-stream", func(r *http.Request) (*http.Response, error) {
			_, _ = io.Copy(io.Discard, r.Body)
			body := &endingBody{data: strings.NewReader("data: " + chunk("Hello") + "\n\n"), r: r}
			return replyWith(http.StatusOK, "text/event-stream", body)(r)
		}, "Hello"},
		{"mid-body", func(r *http.Request) (*http.Response, error) {
			_, _ = io.Copy(io.Discard, r.Body)
			body := &endingBody{data: strings.NewReader(`{"id":"x","choices":[`), r: r}
			return replyWith(http.StatusOK, "application/json", body)(r)
		}, ""},
	}
	const after = 30 * time.Millisecond
	ways := []struct {
		name string
		// start gives the call's context and client timeout.
		start func(t *testing.T) (context.Context, time.Duration)
		want  string
	}{
		{"http.Client Timeout", func(t *testing.T) (context.Context, time.Duration) {
			return t.Context(), after
		}, middleware.ErrorTypeTimeout},
		{"context deadline", func(t *testing.T) (context.Context, time.Duration) {
			ctx, cancel := context.WithTimeout(t.Context(), after)
			t.Cleanup(cancel)
			return ctx, 0
		}, middleware.ErrorTypeTimeout},
		{"canceled", func(t *testing.T) (context.Context, time.Duration) {
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(after, cancel)
			t.Cleanup(cancel)
			return ctx, 0
		}, middleware.ErrorTypeCanceled},
		{"canceled for a timeout (cause)", func(t *testing.T) (context.Context, time.Duration) {
			ctx, cancel := context.WithCancelCause(t.Context())
			time.AfterFunc(after, func() { cancel(fmt.Errorf("upstream budget spent: %w", context.DeadlineExceeded)) })
			t.Cleanup(func() { cancel(nil) })
			return ctx, 0
		}, middleware.ErrorTypeTimeout},
	}
	for _, st := range stages {
		for _, w := range ways {
			t.Run(st.name+", "+w.name, func(t *testing.T) {
				r := newRig(t)
				ctx, timeout := w.start(t)
				c := &http.Client{Timeout: timeout, Transport: middleware.Transport(st.base, middleware.WithTracerProvider(r.tp))}
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://llm.test/v1/chat/completions", strings.NewReader(chatRequestBody))
				require.NoError(t, err)
				resp, err := c.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
				require.Error(t, err, "the call fails")

				es := r.entries(t)
				require.Len(t, es, 1)
				assert.Equal(t, w.want, es[0].Metadata["error.type"])
				if st.output != "" {
					assert.Equal(t, st.output, str(es[0].OutputContent))
				}
			})
		}
	}
}

// TestClientTimeoutMidStreamOverNetwork: http.Client's Timeout firing
// mid-stream over a real connection gives timeout every time (net/http
// may report it as a bare "request canceled" or a closed connection).
func TestClientTimeoutMidStreamOverNetwork(t *testing.T) {
	r := newRig(t)
	gate := make(chan struct{})
	s := fakellm.Start(fakellm.WithGate(gate))
	defer s.Close()
	defer close(gate)
	c := r.client()
	c.Timeout = 50 * time.Millisecond
	const n = 5
	for range n {
		resp, err := c.Post(s.URL+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, resp.Body)
		require.Error(t, err)
		_ = resp.Body.Close()
	}
	es := r.entries(t)
	require.Len(t, es, n)
	for _, e := range es {
		assert.Equal(t, middleware.ErrorTypeTimeout, e.Metadata["error.type"])
		assert.Equal(t, "Hello!", str(e.OutputContent))
	}
}
