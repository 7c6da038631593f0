package middleware_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// TestHandlerServingOpenAI puts the Handler in front of an OpenAI-style
// server (the fake) and drives it with the SDK, streaming through the
// handler: the first chunk must still arrive before the second is sent.
func TestHandlerServingOpenAI(t *testing.T) {
	r := newRig(t)
	gate := make(chan struct{})
	fake := fakellm.NewHandler(fakellm.WithGate(gate))
	defer fake.Release()
	srv := httptest.NewServer(middleware.Handler(fake, middleware.WithTracerProvider(r.tp)))
	defer srv.Close()
	c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0),
		option.WithHTTPClient(&http.Client{Transport: r.base}))

	p := chatParams
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	st := c.Chat.Completions.NewStreaming(t.Context(), p)
	assertFirstChunkWhileGated(t, st, gate, "the handler")
	for st.Next() {
	}
	require.NoError(t, st.Err())
	_ = st.Close()

	// The server span ends when ServeHTTP returns, which can be just after
	// the client saw the last byte: wait for the handlers before reading.
	srv.Close()
	es := r.entries(t)
	require.Len(t, es, 1)
	e := es[0]
	assert.Equal(t, "chat", e.Operation)
	assert.Equal(t, "gpt-4o-mini", str(e.Model))
	assert.Equal(t, otelaudit.HashContent(chatInput), e.InputHash)
	assert.Equal(t, otelaudit.HashContent(fakellm.DefaultReply), e.OutputHash)
	assert.Equal(t, int64(fakellm.DefaultInputTokens), i64(e.InputTokens))
	assert.Equal(t, int64(8), i64(e.OutputTokens))
	spans := r.spans.Ended()
	require.Len(t, spans, 1)
	assert.Equal(t, oteltrace.SpanKindServer, spans[0].SpanKind())
	assert.Equal(t, spans[0].SpanContext().TraceID().String(), e.TraceID)
}

// TestHandlerAndTransportShareTrace: a service whose handler calls an
// upstream model through the Transport; both entries share one trace and
// the client span is the child of the server span.
func TestHandlerAndTransportShareTrace(t *testing.T) {
	r := newRig(t)
	upstream := fakellm.Start(fakellm.WithReply("upstream says hi"))
	defer upstream.Close()
	oc := openaiClient(r, upstream)
	app := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var in struct{ Question string }
		if err := json.NewDecoder(req.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got, err := oc.Chat.Completions.New(req.Context(), openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(in.Question)}})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"answer": got.Choices[0].Message.Content})
	})
	h := middleware.Handler(app, middleware.WithTracerProvider(r.tp), middleware.WithExtractor(middleware.JSONFields{
		Paths: []string{"/ask"}, Operation: "chat", Input: "question", Output: "answer",
	}))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/ask", strings.NewReader(`{"question":"ping?"}`))
	req.Header.Set("X-Conversation-ID", "c-7")
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	es := r.entries(t)
	require.Len(t, es, 2)
	assert.Equal(t, es[0].TraceID, es[1].TraceID, "one trace")
	var server, client *oteltrace.SpanContext
	for _, s := range r.spans.Ended() {
		sc := s.SpanContext()
		if s.SpanKind() == oteltrace.SpanKindServer {
			server = &sc
		} else {
			client = &sc
			assert.Equal(t, s.Parent().SpanID(), findServer(t, r).SpanID(), "client span is the server span's child")
		}
	}
	require.NotNil(t, server)
	require.NotNil(t, client)
	for _, e := range es {
		switch e.SpanID {
		case server.SpanID().String():
			assert.Equal(t, "ping?", str(e.InputContent))
			assert.Equal(t, "upstream says hi", str(e.OutputContent))
			assert.Equal(t, "c-7", str(e.ConversationID))
		case client.SpanID().String():
			assert.Equal(t, "ping?", str(e.InputContent))
			assert.Equal(t, "upstream says hi", str(e.OutputContent))
			assert.Equal(t, "gpt-4o-mini", str(e.Model))
			assert.Equal(t, "c-7", str(e.ConversationID), "the upstream call joins the conversation")
		default:
			t.Errorf("entry %s matches no span", e.ID)
		}
	}
}

func findServer(t *testing.T, r *rig) oteltrace.SpanContext {
	for _, s := range r.spans.Ended() {
		if s.SpanKind() == oteltrace.SpanKindServer {
			return s.SpanContext()
		}
	}
	t.Fatal("no server span")
	return oteltrace.SpanContext{}
}

func TestHandlerKeepsInterfacesAndBody(t *testing.T) {
	r := newRig(t)
	var sawFlusher, sawHijacker, flushed bool
	var gotBody string
	next := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, sawFlusher = w.(http.Flusher)
		_, sawHijacker = w.(http.Hijacker)
		b, _ := io.ReadAll(req.Body)
		gotBody = string(b)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"x","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`)
		flushed = http.NewResponseController(w).Flush() == nil
	})
	srv := httptest.NewServer(middleware.Handler(next, middleware.WithTracerProvider(r.tp), middleware.WithMaxBodySize(16)))
	defer srv.Close()
	body := `{"model":"m","messages":[{"role":"user","content":"a long enough prompt"}]}`
	resp, err := (&http.Client{Transport: r.base}).Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()

	assert.True(t, sawFlusher)
	assert.True(t, sawHijacker)
	assert.True(t, flushed, "ResponseController reaches the Flusher through Unwrap")
	assert.Equal(t, body, gotBody, "next gets the whole body")
	// The server span ends when ServeHTTP returns, which can be just after
	// the client saw the last byte: wait for the handlers before reading.
	srv.Close()
	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, true, es[0].Metadata["request_truncated"])
	// The cap holds on the reply too: its first 16 bytes, raw.
	assert.Equal(t, true, es[0].Metadata["response_truncated"])
	assert.Equal(t, `{"id":"x","model`, str(es[0].OutputContent))
}

func TestHandlerLeavesRequestAsItWas(t *testing.T) {
	r := newRig(t)
	h := middleware.Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.ReadAll(req.Body)
	}), middleware.WithTracerProvider(r.tp))
	req := httptest.NewRequest(http.MethodPost, "/v1/messages", strings.NewReader(`{"model":"claude","messages":[]}`))
	orig := req.Body
	h.ServeHTTP(httptest.NewRecorder(), req)
	assert.Equal(t, orig, req.Body)

	// nil and NoBody stay what they are too.
	req = httptest.NewRequest(http.MethodGet, "/v1/models", nil)
	req.Body = http.NoBody
	var seen io.ReadCloser
	middleware.Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { seen = req.Body }),
		middleware.WithTracerProvider(r.tp)).ServeHTTP(httptest.NewRecorder(), req)
	assert.Equal(t, http.NoBody, seen)
	assert.Len(t, r.entries(t), 2)
}

func TestHandlerPanicRecordedOnce(t *testing.T) {
	r := newRig(t)
	h := middleware.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), middleware.WithTracerProvider(r.tp))
	assert.PanicsWithValue(t, "boom", func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(`{}`)))
	})
	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, middleware.ErrorTypePanic, es[0].Metadata["error.type"])
}

// TestHandlerPanicKeepsReplyWritten: what next wrote before it panicked
// went to the client, so the entry records it. A panic is the outcome,
// except for http.ErrAbortHandler, net/http's way to end a reply early:
// httputil.ReverseProxy aborts with it when the client hangs up (after the
// last event, before the upstream's reply ended, the whole stream went
// out: no error) or the upstream's body breaks mid-stream.
func TestHandlerPanicKeepsReplyWritten(t *testing.T) {
	usage := `{"id":"c1","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`
	for _, tc := range []struct {
		name       string
		events     []string
		panic      any
		clientGone bool
		output     string
		tokens     any
		errorType  any
	}{
		{"abort after the whole stream, client gone", []string{chunk("Hel"), chunk("lo!"), usage, "[DONE]"}, http.ErrAbortHandler, true, "Hello!", int64(2), nil},
		{"abort mid-stream, client gone", []string{chunk("Hel")}, http.ErrAbortHandler, true, "Hel", nil, middleware.ErrorTypeCanceled},
		{"abort mid-stream, upstream broke", []string{chunk("Hel")}, http.ErrAbortHandler, false, "Hel", nil, middleware.ErrorTypeStreamInterrupted},
		{"panic after the whole stream", []string{chunk("Hel"), chunk("lo!"), usage, "[DONE]"}, "boom", false, "Hello!", int64(2), middleware.ErrorTypePanic},
		{"panic mid-stream", []string{chunk("Hel")}, "boom", false, "Hel", nil, middleware.ErrorTypePanic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			ctx, hangUp := context.WithCancel(t.Context())
			defer hangUp()
			h := middleware.Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				for _, e := range tc.events {
					_, _ = io.WriteString(w, "data: "+e+"\n\n")
					_ = http.NewResponseController(w).Flush()
				}
				if tc.clientGone {
					hangUp() // as net/http does when the connection closes
				}
				panic(tc.panic)
			}), middleware.WithTracerProvider(r.tp))
			rec := httptest.NewRecorder()
			assert.PanicsWithValue(t, tc.panic, func() {
				h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/chat/completions",
					strings.NewReader(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`)))
			})
			es := r.entries(t)
			require.Len(t, es, 1)
			if tc.errorType == nil {
				assert.NotContains(t, es[0].Metadata, "error.type")
			} else {
				assert.Equal(t, tc.errorType, es[0].Metadata["error.type"])
			}
			assert.Equal(t, tc.output, str(es[0].OutputContent))
			assert.Equal(t, otelaudit.HashContent(tc.output), es[0].OutputHash)
			assert.Equal(t, tc.tokens, i64(es[0].OutputTokens))
		})
	}
}

// TestHandlerBodyEndsAtEOFAfterReplyStarted: once the read-ahead has seen
// the body's end, the body next gets keeps answering EOF, even after the
// reply's header went out and net/http closed the original body (a read
// of it would then fail with http.ErrBodyReadAfterClose). A reverse
// proxy's http.Transport reads once past Content-Length while the reply
// may already stream; on that error it closes the upstream connection and
// cuts the reply.
func TestHandlerBodyEndsAtEOFAfterReplyStarted(t *testing.T) {
	r := newRig(t)
	const body = `{"model":"m"}`
	var (
		got      = make([]byte, len(body))
		firstErr error
		n        int
		afterErr error
	)
	h := middleware.Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// Content-Length bytes, then one more read, as http.Transport
		// reads a request body it sends on.
		_, firstErr = io.ReadFull(req.Body, got)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		// The header goes out with the flush: net/http closes the
		// request body, whose end it has seen, there.
		_ = http.NewResponseController(w).Flush()
		n, afterErr = req.Body.Read(make([]byte, 8))
	}), middleware.WithTracerProvider(r.tp))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := (&http.Client{Transport: r.base}).Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	srv.Close()
	require.NoError(t, firstErr)
	assert.Equal(t, body, string(got))
	assert.Equal(t, 0, n)
	assert.Equal(t, io.EOF, afterErr)
	assert.Len(t, r.entries(t), 1)
}

func TestHandlerExtractsIncomingTraceContext(t *testing.T) {
	r := newRig(t)
	h := middleware.Handler(http.NotFoundHandler(), middleware.WithTracerProvider(r.tp),
		middleware.WithPropagators(propagation.TraceContext{}))
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(`{"model":"m"}`))
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", es[0].TraceID)
	assert.Equal(t, "404", es[0].Metadata["error.type"])
}

func TestHandlerFilter(t *testing.T) {
	r := newRig(t)
	h := middleware.Handler(http.NotFoundHandler(), middleware.WithTracerProvider(r.tp),
		middleware.WithFilter(func(req *http.Request) bool { return req.URL.Path != "/healthz" }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Empty(t, r.entries(t))
}

func TestHandlerHijack(t *testing.T) {
	r := newRig(t)
	next := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		_ = rw.Flush()
	})
	// httptest.Server.Close does not wait for handlers of hijacked
	// connections, so the test learns itself when ServeHTTP (and with it the
	// server span) has ended.
	served := make(chan struct{})
	h := middleware.Handler(next, middleware.WithTracerProvider(r.tp))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		defer close(served)
		h.ServeHTTP(w, req)
	}))
	defer srv.Close()
	resp, err := (&http.Client{Transport: r.base}).Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m"}`))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, "ok", string(b))
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not return")
	}
	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, true, es[0].Metadata["hijacked"])
	assert.NotContains(t, es[0].Metadata, "error.type")
}

// panicExtractor is an Extractor with a bug: it panics on every request.
type panicExtractor struct{}

func (panicExtractor) ExtractRequest(*http.Request, []byte) (middleware.Request, bool) {
	panic("extractor bug")
}

func (panicExtractor) ExtractResponse(int, http.Header, []byte) (middleware.Response, bool) {
	return middleware.Response{}, false
}

// TestHandlerExtractorPanicsLate: an Extractor that panics while a body
// sent with Expect: 100-continue is described after next started still
// leaves one ended span and one entry, whether next returns or panics
// itself (then its panic is the one that goes on).
func TestHandlerExtractorPanicsLate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		next      func(w http.ResponseWriter, req *http.Request)
		wantPanic any
	}{
		{"next returns", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{}`) }, "extractor bug"},
		{"next panics", func(http.ResponseWriter, *http.Request) { panic("boom") }, "boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			h := middleware.Handler(http.HandlerFunc(tc.next), middleware.WithTracerProvider(r.tp), middleware.WithExtractor(panicExtractor{}))
			req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v1/chat/completions",
				strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
			req.Header.Set("Expect", "100-continue")
			assert.PanicsWithValue(t, tc.wantPanic, func() { h.ServeHTTP(httptest.NewRecorder(), req) })
			es := r.entries(t)
			require.Len(t, es, 1, "the span ended and was audited")
			assert.Equal(t, middleware.ErrorTypePanic, es[0].Metadata["error.type"])
		})
	}
}
