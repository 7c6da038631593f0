package middleware_test

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// TestHandlerReverseProxyGateway: an LLM gateway, the Handler in front of
// an httputil.ReverseProxy (its transport audited or not) to a model that
// streams SSE. The stream reaches the client event by event (the model
// holds the rest until the client has the first), and the Handler's entry
// has the output text and usage. When the client hangs up right after
// [DONE], as the OpenAI SDK does, while the model has not ended its reply,
// the proxy can only abort (panic(http.ErrAbortHandler)): the entry still
// records the whole reply, and no error (the client got all of it). The
// model waits for that
// hang-up, so the test takes the path every time rather than when the race
// goes that way.
func TestHandlerReverseProxyGateway(t *testing.T) {
	const (
		reqBody = `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
		usage   = `{"id":"c1","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`
	)
	for _, tc := range []struct {
		name            string
		auditedUpstream bool
		hangUp          bool
	}{
		{"reply to its end", false, false},
		{"client hangs up after DONE", false, true},
		{"audited upstream, reply to its end", true, false},
		{"audited upstream, client hangs up after DONE", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			firstSeen := make(chan struct{})
			var upBody string
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				b, _ := io.ReadAll(req.Body)
				upBody = string(b)
				w.Header().Set("Content-Type", "text/event-stream")
				rc := http.NewResponseController(w)
				_, _ = io.WriteString(w, "data: "+chunk("Hel")+"\n\n")
				_ = rc.Flush()
				select {
				case <-firstSeen:
				case <-time.After(5 * time.Second):
					t.Error("the first event did not reach the client before the rest was sent: the gateway buffers")
				}
				for _, e := range []string{chunk("lo!"), usage, "[DONE]"} {
					_, _ = io.WriteString(w, "data: "+e+"\n\n")
				}
				_ = rc.Flush()
				if tc.hangUp {
					// Keep the reply open until the proxy gives up on
					// it, which it does when the client hangs up.
					<-req.Context().Done()
				}
			}))
			defer up.Close()

			u, err := url.Parse(up.URL)
			require.NoError(t, err)
			proxy := httputil.NewSingleHostReverseProxy(u)
			upTransport := &http.Transport{}
			t.Cleanup(upTransport.CloseIdleConnections)
			proxy.Transport = upTransport
			if tc.auditedUpstream {
				proxy.Transport = middleware.Transport(upTransport, middleware.WithTracerProvider(r.tp))
			}
			gw := httptest.NewServer(middleware.Handler(proxy, middleware.WithTracerProvider(r.tp)))
			defer gw.Close()

			resp, err := (&http.Client{Transport: r.base}).Post(gw.URL+"/v1/chat/completions", "application/json", strings.NewReader(reqBody))
			require.NoError(t, err)
			assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
			events := readEvents(t, resp.Body, func(n int) {
				if n == 1 {
					close(firstSeen)
				}
			})
			if !tc.hangUp {
				rest, err := io.ReadAll(resp.Body)
				assert.NoError(t, err)
				assert.Empty(t, rest)
			}
			// Closing before EOF closes the connection: the hang-up.
			require.NoError(t, resp.Body.Close())
			// Close waits for the gateway's handler, and with it the span.
			gw.Close()

			assert.Equal(t, []string{chunk("Hel"), chunk("lo!"), usage, "[DONE]"}, events)
			assert.Equal(t, reqBody, upBody, "the model got the request whole")
			es := r.entries(t)
			if tc.auditedUpstream {
				require.Len(t, es, 2)
			} else {
				require.Len(t, es, 1)
			}
			for _, e := range es {
				assert.Equal(t, "Hello!", str(e.OutputContent))
				assert.Equal(t, otelaudit.HashContent("Hello!"), e.OutputHash)
				assert.Equal(t, int64(5), i64(e.InputTokens))
				assert.Equal(t, int64(2), i64(e.OutputTokens))
			}
			srv := serverEntry(t, r, es)
			assert.Equal(t, "hi", str(srv.InputContent))
			assert.NotContains(t, srv.Metadata, "error.type", "the client got the whole stream")
		})
	}
}

// readEvents reads the data of SSE events from body up to and including
// [DONE], calling seen with the count after each.
func readEvents(t *testing.T, body io.Reader, seen func(n int)) []string {
	t.Helper()
	var events []string
	br := bufio.NewReader(body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Errorf("stream ended after %d events: %v", len(events), err)
			return events
		}
		data, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "data: ")
		if !ok {
			continue
		}
		events = append(events, data)
		seen(len(events))
		if data == "[DONE]" {
			return events
		}
	}
}

// serverEntry returns the entry of the rig's one server span.
func serverEntry(t *testing.T, r *rig, es []*storage.AuditEntry) *storage.AuditEntry {
	t.Helper()
	var id string
	for _, s := range r.spans.Ended() {
		if s.SpanKind() == oteltrace.SpanKindServer {
			require.Empty(t, id, "one server span")
			id = s.SpanContext().SpanID().String()
		}
	}
	for _, e := range es {
		if e.SpanID == id {
			return e
		}
	}
	require.FailNow(t, "no entry for the server span")
	return nil
}
