package middleware_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

func openaiClient(r *rig, s *fakellm.Server, opts ...middleware.Option) openai.Client {
	return openai.NewClient(option.WithBaseURL(s.OpenAIBaseURL()), option.WithAPIKey("test"),
		option.WithMaxRetries(0), option.WithHTTPClient(r.client(opts...)))
}

func anthropicClient(r *rig, s *fakellm.Server) anthropic.Client {
	return anthropic.NewClient(aoption.WithBaseURL(s.AnthropicBaseURL()), aoption.WithAPIKey("test"),
		aoption.WithMaxRetries(0), aoption.WithHTTPClient(r.client()))
}

var chatParams = openai.ChatCompletionNewParams{
	Model: "gpt-4o-mini",
	Messages: []openai.ChatCompletionMessageParamUnion{
		openai.SystemMessage("Answer briefly."),
		openai.UserMessage("What is an audit trail?"),
	},
}

const chatInput = "Answer briefly.\nWhat is an audit trail?"

// checkEntry asserts the fields every successful call must have.
func checkEntry(t *testing.T, r *rig, e *storage.AuditEntry, provider, op, model, input, output string, in, out int64) {
	t.Helper()
	assert.Equal(t, provider, str(e.Provider))
	assert.Equal(t, op, e.Operation)
	assert.Equal(t, model, str(e.Model))
	assert.Equal(t, otelaudit.HashContent(input), e.InputHash)
	assert.Equal(t, otelaudit.HashContent(output), e.OutputHash)
	assert.Equal(t, input, str(e.InputContent))
	assert.Equal(t, output, str(e.OutputContent))
	assert.Equal(t, in, i64(e.InputTokens))
	assert.Equal(t, out, i64(e.OutputTokens))
	assert.NotContains(t, e.Metadata, "error.type")
	// The entry points at the span the transport recorded.
	var found bool
	for _, s := range r.spans.Ended() {
		if s.SpanContext().SpanID().String() == e.SpanID {
			found = true
			assert.Equal(t, s.SpanContext().TraceID().String(), e.TraceID)
			assert.Equal(t, op+" "+model, s.Name())
		}
	}
	assert.True(t, found, "no span %s", e.SpanID)
}

func TestOpenAIChat(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start(fakellm.WithUsage(17, -1))
	defer s.Close()
	c := openaiClient(r, s)

	got, err := c.Chat.Completions.New(t.Context(), chatParams)
	require.NoError(t, err)
	assert.Equal(t, fakellm.DefaultReply, got.Choices[0].Message.Content)

	es := r.entries(t)
	require.Len(t, es, 1)
	checkEntry(t, r, es[0], "openai", "chat", "gpt-4o-mini", chatInput, fakellm.DefaultReply, 17, 8)
	assert.Equal(t, got.ID, es[0].Metadata["gen_ai.response.id"])
	assert.Equal(t, []any{"stop"}, es[0].Metadata["gen_ai.response.finish_reasons"])
	// The server got the whole body the SDK sent.
	assert.Contains(t, string(s.Requests()[0].Body), "What is an audit trail?")
}

func TestOpenAIChatStreamFirstChunkUnbuffered(t *testing.T) {
	r := newRig(t)
	gate := make(chan struct{})
	s := fakellm.Start(fakellm.WithGate(gate))
	defer s.Close()
	c := openaiClient(r, s)
	p := chatParams
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	st := c.Chat.Completions.NewStreaming(t.Context(), p)
	defer st.Close()

	// The fake holds every chunk after the first until the gate opens: the
	// SDK must see the first content chunk while it is shut.
	assertFirstChunkWhileGated(t, st, gate, "the transport")
	acc := openai.ChatCompletionAccumulator{}
	for st.Next() {
		acc.AddChunk(st.Current())
	}
	require.NoError(t, st.Err())

	es := r.entries(t)
	require.Len(t, es, 1)
	checkEntry(t, r, es[0], "openai", "chat", "gpt-4o-mini", chatInput, fakellm.DefaultReply, fakellm.DefaultInputTokens, 8)
	assert.Equal(t, true, es[0].Metadata["stream"])
}

func TestOpenAIChatStreamWithoutUsage(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start()
	defer s.Close()
	c := openaiClient(r, s)
	st := c.Chat.Completions.NewStreaming(t.Context(), chatParams)
	for st.Next() {
	}
	require.NoError(t, st.Err())
	_ = st.Close()
	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Nil(t, es[0].InputTokens, "usage absent stays null")
	assert.Nil(t, es[0].OutputTokens)
	assert.Equal(t, fakellm.DefaultReply, str(es[0].OutputContent))
}

func TestOpenAIResponses(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start(fakellm.WithReply("Responses work."))
	defer s.Close()
	c := openaiClient(r, s)
	params := responses.ResponseNewParams{Model: "gpt-4.1", Instructions: openai.String("Be terse."),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Say so.")}}
	_, err := c.Responses.New(t.Context(), params)
	require.NoError(t, err)
	st := c.Responses.NewStreaming(t.Context(), params)
	for st.Next() {
	}
	require.NoError(t, st.Err())
	_ = st.Close()

	es := r.entries(t)
	require.Len(t, es, 2)
	for _, e := range es {
		checkEntry(t, r, e, "openai", "chat", "gpt-4.1", "Be terse.\nSay so.", "Responses work.", fakellm.DefaultInputTokens, 2)
	}
}

func TestOpenAIEmbeddings(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start(fakellm.WithUsage(4, -1))
	defer s.Close()
	c := openaiClient(r, s)
	_, err := c.Embeddings.New(t.Context(), openai.EmbeddingNewParams{Model: "text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"alpha", "beta"}}})
	require.NoError(t, err)
	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, "embeddings", es[0].Operation)
	assert.Equal(t, otelaudit.HashContent("alpha\nbeta"), es[0].InputHash)
	assert.Equal(t, int64(4), i64(es[0].InputTokens))
	assert.Nil(t, es[0].OutputTokens)
}

func TestAnthropicMessages(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start(fakellm.WithResponseModel("claude-sonnet-4-5-20250929"), fakellm.WithUsage(21, -1))
	defer s.Close()
	c := anthropicClient(r, s)
	params := anthropic.MessageNewParams{Model: anthropic.Model("claude-sonnet-4-5"), MaxTokens: 256,
		System:   []anthropic.TextBlockParam{{Text: "You audit."}},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hello Claude"))}}
	_, err := c.Messages.New(t.Context(), params)
	require.NoError(t, err)

	st := c.Messages.NewStreaming(t.Context(), params)
	var msg anthropic.Message
	for st.Next() {
		require.NoError(t, msg.Accumulate(st.Current()))
	}
	require.NoError(t, st.Err())
	_ = st.Close()
	assert.Equal(t, fakellm.DefaultReply, msg.Content[0].Text)

	es := r.entries(t)
	require.Len(t, es, 2)
	for _, e := range es {
		checkEntry(t, r, e, "anthropic", "chat", "claude-sonnet-4-5", "You audit.\nHello Claude", fakellm.DefaultReply, 21, 8)
		assert.Equal(t, "claude-sonnet-4-5-20250929", e.Metadata["gen_ai.response.model"])
		assert.Equal(t, []any{"end_turn"}, e.Metadata["gen_ai.response.finish_reasons"])
	}
}

func TestAbandonedStreamRecordedOnce(t *testing.T) {
	r := newRig(t)
	gate := make(chan struct{})
	defer close(gate)
	s := fakellm.Start(fakellm.WithGate(gate))
	defer s.Close()
	c := anthropicClient(r, s)
	st := c.Messages.NewStreaming(t.Context(), anthropic.MessageNewParams{Model: "claude-haiku-4-5", MaxTokens: 10,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	var text string
	for text == "" && st.Next() {
		if ev := st.Current(); ev.Type == "content_block_delta" {
			text = ev.Delta.Text
		}
	}
	require.Equal(t, "Hello!", text)
	require.NoError(t, st.Close()) // the client walks away mid-stream
	_ = st.Close()

	es := r.entries(t)
	require.Len(t, es, 1, "exactly one entry")
	assert.Equal(t, "Hello!", str(es[0].OutputContent), "partial output")
	assert.Equal(t, middleware.ErrorTypeStreamAbandoned, es[0].Metadata["error.type"])
	assert.Equal(t, int64(fakellm.DefaultInputTokens), i64(es[0].InputTokens), "usage from message_start")
}

func TestStreamCutMidEvent(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start(fakellm.WithCutAfter(3))
	defer s.Close()
	c := openaiClient(r, s)
	st := c.Chat.Completions.NewStreaming(t.Context(), chatParams)
	for st.Next() {
	}
	require.Error(t, st.Err())
	_ = st.Close()

	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, "Hello! This is", str(es[0].OutputContent), "the three chunks before the cut")
	assert.Equal(t, middleware.ErrorTypeStreamInterrupted, es[0].Metadata["error.type"])
	assert.Equal(t, true, es[0].Metadata["stream_cut_mid_event"])
}

func TestProviderErrors(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start(fakellm.WithError(http.StatusTooManyRequests))
	defer s.Close()
	oc := openaiClient(r, s)
	_, err := oc.Chat.Completions.New(t.Context(), chatParams)
	require.Error(t, err)
	ac := anthropicClient(r, s)
	_, err = ac.Messages.New(t.Context(), anthropic.MessageNewParams{Model: "claude-haiku-4-5", MaxTokens: 1,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	require.Error(t, err)

	es := r.entries(t)
	require.Len(t, es, 2)
	got := map[string]any{str(es[0].Provider): es[0].Metadata["error.type"], str(es[1].Provider): es[1].Metadata["error.type"]}
	assert.Equal(t, map[string]any{"openai": "rate_limit_exceeded", "anthropic": "rate_limit_error"}, got)
	for _, e := range es {
		assert.Nil(t, e.OutputTokens)
		assert.Equal(t, otelaudit.HashContent(""), e.OutputHash)
	}
}

func TestSDKRetryResendsBody(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start(fakellm.WithFailFirst(1, http.StatusInternalServerError))
	defer s.Close()
	c := openai.NewClient(option.WithBaseURL(s.OpenAIBaseURL()), option.WithAPIKey("test"),
		option.WithMaxRetries(2), option.WithHTTPClient(r.client(drainBudgetFor(false))))
	_, err := c.Chat.Completions.New(t.Context(), chatParams)
	require.NoError(t, err)
	reqs := s.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, reqs[0].Body, reqs[1].Body)
	es := r.entries(t)
	require.Len(t, es, 2, "one entry per attempt")
	// The SDK closes the error body unread; the transport drains it (it
	// is small) to record the provider's error code.
	assert.Equal(t, "server_error", es[0].Metadata["error.type"])
	assert.NotContains(t, es[1].Metadata, "error.type")
}

// onlyReader hides every method but Read, so that http.NewRequest sets no
// GetBody.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestLargeBodyWithoutGetBody(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start()
	defer s.Close()
	big := `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("x", 5000) + `"}]}`
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/v1/chat/completions", onlyReader{strings.NewReader(big)})
	require.NoError(t, err)
	require.Nil(t, req.GetBody)
	origBody, origHeader := req.Body, req.Header.Clone()
	resp, err := r.client(middleware.WithMaxBodySize(1024)).Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())

	assert.Equal(t, big, string(s.Requests()[0].Body), "body sent in full")
	assert.Equal(t, origBody, req.Body, "caller's request untouched")
	assert.Equal(t, origHeader, req.Header)
	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, true, es[0].Metadata["request_truncated"])
	assert.Equal(t, true, es[0].Metadata["request_unparsed"])
	assert.Equal(t, big[:1024], str(es[0].InputContent))
	assert.Equal(t, fakellm.DefaultReply, str(es[0].OutputContent))
	requireNoContentOnSpans(t, r)
}

// closedAtEOFBody is a request body without GetBody (so the Transport
// reads it ahead) that fails every read after its EOF, as a server
// request's body does once net/http has closed it: what a reverse proxy
// hands its transport.
type closedAtEOFBody struct {
	r   io.Reader
	eof bool
}

func (b *closedAtEOFBody) Read(p []byte) (int, error) {
	if b.eof {
		return 0, http.ErrBodyReadAfterClose
	}
	n, err := b.r.Read(p)
	b.eof = err == io.EOF
	return n, err
}

func (b *closedAtEOFBody) Close() error { return nil }

// TestRequestBodyEndsAtEOFOnceReadAhead: the body the base transport gets
// ends with EOF every time it is read past its end (http.Transport reads
// once more after Content-Length bytes): the original, already at its
// end, is not read again. Otherwise http.Transport fails the request
// body, closes the connection and cuts the reply it may be streaming.
func TestRequestBodyEndsAtEOFOnceReadAhead(t *testing.T) {
	r := newRig(t)
	const body = `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	var (
		got      = make([]byte, len(body))
		firstErr error
		afterErr error
	)
	base := rtFunc(func(req *http.Request) (*http.Response, error) {
		// Content-Length bytes, then one more read, as http.Transport
		// reads the body it sends.
		_, firstErr = io.ReadFull(req.Body, got)
		_, afterErr = req.Body.Read(make([]byte, 8))
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(`{"choices":[]}`)), Request: req}, nil
	})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://model.test/v1/chat/completions",
		&closedAtEOFBody{r: strings.NewReader(body)})
	require.NoError(t, err)
	require.Nil(t, req.GetBody)
	resp, err := (&http.Client{Transport: middleware.Transport(base, middleware.WithTracerProvider(r.tp))}).Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, firstErr)
	assert.Equal(t, body, string(got))
	assert.Equal(t, io.EOF, afterErr)
	assert.Len(t, r.entries(t), 1)
}

// requireNoContentOnSpans fails unless every span the rig recorded is
// free of content and audit.metadata.* attributes (otelaudit.IsContentKey):
// those go to the audit beside the span.
func requireNoContentOnSpans(t *testing.T, r *rig) {
	t.Helper()
	ended := r.spans.Ended()
	require.NotEmpty(t, ended)
	for _, s := range ended {
		for _, kv := range s.Attributes() {
			assert.False(t, otelaudit.IsContentKey(kv.Key), "%s on span %q", kv.Key, s.Name())
		}
	}
}

func TestResponseTruncated(t *testing.T) {
	r := newRig(t)
	reply := strings.Repeat("word ", 400)
	s := fakellm.Start(fakellm.WithReply(reply))
	defer s.Close()
	c := openaiClient(r, s, middleware.WithMaxBodySize(512))
	got, err := c.Chat.Completions.New(t.Context(), chatParams)
	require.NoError(t, err)
	assert.Equal(t, reply, got.Choices[0].Message.Content, "caller's response untouched")
	st := c.Chat.Completions.NewStreaming(t.Context(), chatParams)
	for st.Next() {
	}
	require.NoError(t, st.Err())
	_ = st.Close()
	es := r.entries(t)
	require.Len(t, es, 2)
	for _, e := range es {
		assert.Equal(t, true, e.Metadata["response_truncated"])
		assert.LessOrEqual(t, len(str(e.OutputContent)), 512)
	}
	assert.Equal(t, reply[:512], str(es[1].OutputContent), "stream output cut at the cap")
	requireNoContentOnSpans(t, r)
}

func TestGzipDecodedForAuditOnly(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start(fakellm.WithGzip())
	defer s.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"zip"}]}`))
	require.NoError(t, err)
	req.Header.Set("Accept-Encoding", "gzip") // so the transport does not decode
	resp, err := r.client().Do(req)
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	require.NoError(t, err, "caller still gets the gzip bytes")
	_, _ = io.Copy(io.Discard, zr)

	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, fakellm.DefaultReply, str(es[0].OutputContent))
	assert.Equal(t, int64(fakellm.DefaultInputTokens), i64(es[0].InputTokens))
}

func TestUnknownPathGenericOrFiltered(t *testing.T) {
	r := newRig(t)
	srv := fakellm.Start()
	defer srv.Close()
	do := func(c *http.Client) {
		resp, err := c.Post(srv.URL+"/internal/rank", "text/plain", strings.NewReader("rank these"))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	do(r.client(middleware.WithFilter(middleware.LLMOnly)))
	assert.Empty(t, r.entries(t), "filtered: no entry")
	do(r.client())
	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, "http", es[0].Operation)
	assert.Equal(t, "rank these", str(es[0].InputContent))
	assert.Equal(t, "not_found", es[0].Metadata["error.type"])
}

func TestConversationHeader(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start()
	defer s.Close()
	c := openaiClient(r, s)
	_, err := c.Chat.Completions.New(t.Context(), chatParams, option.WithHeader("X-Conversation-ID", "conv-42"))
	require.NoError(t, err)
	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, "conv-42", str(es[0].ConversationID))
}

// TestConversationHeaderOption: a header named in any case is found (the
// name is put in canonical form once), and "" turns the header off.
func TestConversationHeaderOption(t *testing.T) {
	for _, tc := range []struct{ name, option, sent, want string }{
		{"lower case name", "x-session-id", "X-Session-Id", "s-l"},
		{"odd case name", "X-SESSION-id", "x-session-ID", "s-o"},
		{"off", "", "X-Conversation-ID", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			s := fakellm.Start()
			defer s.Close()
			c := openaiClient(r, s, middleware.WithConversationHeader(tc.option))
			_, err := c.Chat.Completions.New(t.Context(), chatParams, option.WithHeader(tc.sent, "s-"+tc.name[:1]))
			require.NoError(t, err)
			es := r.entries(t)
			require.Len(t, es, 1)
			if tc.want == "" {
				assert.Nil(t, es[0].ConversationID)
				return
			}
			assert.Equal(t, tc.want, str(es[0].ConversationID))
		})
	}
}

func TestTransportErrorEndsSpan(t *testing.T) {
	r := newRig(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1:1/v1/chat/completions", strings.NewReader(`{"model":"m"}`))
	require.NoError(t, err)
	_, err = r.client().Do(req)
	require.Error(t, err)
	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, middleware.ErrorTypeCanceled, es[0].Metadata["error.type"])
}

func TestBodyReadToEOFThenClosedRecordsOnce(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start()
	defer s.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m","messages":[]}`))
	require.NoError(t, err)
	resp, err := r.client().Do(req)
	require.NoError(t, err)
	_, _ = io.ReadAll(resp.Body)
	_, _ = resp.Body.Read(make([]byte, 1)) // EOF again
	require.NoError(t, resp.Body.Close())
	require.NoError(t, resp.Body.Close())
	assert.Len(t, r.entries(t), 1)
}

func TestNilBaseUsesDefaultTransport(t *testing.T) {
	rt := middleware.Transport(nil)
	require.NotNil(t, rt)
	s := fakellm.Start()
	defer s.Close()
	resp, err := (&http.Client{Transport: rt}).Post(s.URL+"/v1/embeddings", "application/json", strings.NewReader(`{"model":"e","input":"x"}`))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

// assertFirstChunkWhileGated reads st until the first content arrives and
// fails if it does not arrive while gate is still shut (fakellm holds every
// chunk after the first until the gate opens): proof that nothing between
// the fake and the SDK buffers the stream. It opens the gate either way.
func assertFirstChunkWhileGated(t *testing.T, st *ssestream.Stream[openai.ChatCompletionChunk], gate chan struct{}, what string) {
	t.Helper()
	first := make(chan string, 1)
	go func() {
		var text string
		for text == "" && st.Next() {
			for _, ch := range st.Current().Choices {
				text += ch.Delta.Content
			}
		}
		first <- text
	}()
	select {
	case text := <-first:
		assert.Equal(t, "Hello!", text)
	case <-time.After(10 * time.Second):
		close(gate)
		t.Fatalf("first chunk did not reach the SDK before the second was sent: %s buffers", what)
	}
	close(gate)
}
