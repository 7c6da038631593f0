package fakellm_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otelaudit/otelaudit-go/internal/fakellm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newOpenAI(s *fakellm.Server, opts ...option.RequestOption) openai.Client {
	base := []option.RequestOption{option.WithBaseURL(s.OpenAIBaseURL()), option.WithAPIKey("test"), option.WithMaxRetries(0)}
	return openai.NewClient(append(base, opts...)...)
}

func newAnthropic(s *fakellm.Server) anthropic.Client {
	return anthropic.NewClient(aoption.WithBaseURL(s.AnthropicBaseURL()), aoption.WithAPIKey("test"), aoption.WithMaxRetries(0))
}

func TestOpenAIChat(t *testing.T) {
	s := fakellm.Start(fakellm.WithUsage(5, 9))
	defer s.Close()
	c := newOpenAI(s)
	params := openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}

	got, err := c.Chat.Completions.New(t.Context(), params)
	require.NoError(t, err)
	assert.Equal(t, fakellm.DefaultReply, got.Choices[0].Message.Content)
	assert.Equal(t, "stop", got.Choices[0].FinishReason)
	assert.Equal(t, int64(5), got.Usage.PromptTokens)
	assert.Equal(t, int64(9), got.Usage.CompletionTokens)
	assert.Equal(t, "gpt-4o-mini", got.Model)

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	st := c.Chat.Completions.NewStreaming(t.Context(), params)
	acc := openai.ChatCompletionAccumulator{}
	for st.Next() {
		acc.AddChunk(st.Current())
	}
	require.NoError(t, st.Err())
	assert.Equal(t, fakellm.DefaultReply, acc.Choices[0].Message.Content)
	assert.Equal(t, int64(9), acc.Usage.CompletionTokens)
	assert.Len(t, s.Requests(), 2)
}

func TestOpenAIResponses(t *testing.T) {
	s := fakellm.Start(fakellm.WithReply("one two three"))
	defer s.Close()
	c := newOpenAI(s)
	params := responses.ResponseNewParams{Model: "gpt-4.1", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}}
	got, err := c.Responses.New(t.Context(), params)
	require.NoError(t, err)
	require.Len(t, got.Output, 1)
	assert.Equal(t, "one two three", got.Output[0].Content[0].Text)
	assert.Equal(t, int64(3), got.Usage.OutputTokens)

	st := c.Responses.NewStreaming(t.Context(), params)
	var text strings.Builder
	var completed bool
	for st.Next() {
		ev := st.Current()
		switch ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.Delta)
		case "response.completed":
			completed = true
			assert.Equal(t, int64(fakellm.DefaultInputTokens), ev.Response.Usage.InputTokens)
		}
	}
	require.NoError(t, st.Err())
	assert.True(t, completed)
	assert.Equal(t, "one two three", text.String())
}

func TestOpenAIEmbeddings(t *testing.T) {
	s := fakellm.Start()
	defer s.Close()
	c := newOpenAI(s)
	for _, format := range []openai.EmbeddingNewParamsEncodingFormat{"float", "base64"} {
		got, err := c.Embeddings.New(t.Context(), openai.EmbeddingNewParams{
			Model: "text-embedding-3-small", EncodingFormat: format,
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}},
		})
		require.NoError(t, err, format)
		require.Len(t, got.Data, 2)
		assert.Len(t, got.Data[1].Embedding, 8)
		assert.InDelta(t, 0.5, got.Data[0].Embedding[0], 1e-6) // (i+1)/(j+2)
	}
}

func TestAnthropicMessages(t *testing.T) {
	s := fakellm.Start(fakellm.WithResponseModel("claude-sonnet-4-5-20250929"))
	defer s.Close()
	c := newAnthropic(s)
	params := anthropic.MessageNewParams{Model: anthropic.Model("claude-sonnet-4-5"), MaxTokens: 64,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}
	got, err := c.Messages.New(t.Context(), params)
	require.NoError(t, err)
	assert.Equal(t, fakellm.DefaultReply, got.Content[0].Text)
	assert.Equal(t, anthropic.StopReasonEndTurn, got.StopReason)
	assert.Equal(t, "claude-sonnet-4-5-20250929", string(got.Model))

	st := c.Messages.NewStreaming(t.Context(), params)
	var msg anthropic.Message
	for st.Next() {
		require.NoError(t, msg.Accumulate(st.Current()))
	}
	require.NoError(t, st.Err())
	assert.Equal(t, fakellm.DefaultReply, msg.Content[0].Text)
	assert.Equal(t, int64(fakellm.DefaultInputTokens), msg.Usage.InputTokens)
	assert.Equal(t, int64(8), msg.Usage.OutputTokens)
}

func TestErrors(t *testing.T) {
	s := fakellm.Start(fakellm.WithError(http.StatusTooManyRequests))
	defer s.Close()
	oc := newOpenAI(s)
	_, err := oc.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{Model: "m",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	var oe *openai.Error
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, http.StatusTooManyRequests, oe.StatusCode)
	assert.Equal(t, "rate_limit_exceeded", oe.Code)

	ac := newAnthropic(s)
	_, err = ac.Messages.New(t.Context(), anthropic.MessageNewParams{Model: "claude", MaxTokens: 1,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	var ae *anthropic.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusTooManyRequests, ae.StatusCode)
	assert.Contains(t, ae.Error(), "rate_limit_error")
}

func TestFailFirstThenRetry(t *testing.T) {
	s := fakellm.Start(fakellm.WithFailFirst(1, http.StatusInternalServerError))
	defer s.Close()
	c := newOpenAI(s, option.WithMaxRetries(2))
	got, err := c.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{Model: "m",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	require.NoError(t, err)
	assert.Equal(t, fakellm.DefaultReply, got.Choices[0].Message.Content)
	reqs := s.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, reqs[0].Body, reqs[1].Body)
}

func TestGateHoldsSecondChunk(t *testing.T) {
	gate := make(chan struct{})
	s := fakellm.Start(fakellm.WithGate(gate))
	defer s.Close()
	oc := newOpenAI(s)
	st := oc.Chat.Completions.NewStreaming(t.Context(), openai.ChatCompletionNewParams{Model: "m",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	defer st.Close()
	var text strings.Builder
	// role chunk, then first content chunk arrive while the gate is shut.
	for range 2 {
		require.True(t, st.Next())
		for _, ch := range st.Current().Choices {
			text.WriteString(ch.Delta.Content)
		}
	}
	assert.Equal(t, "Hello!", text.String())
	close(gate)
	for st.Next() {
		for _, ch := range st.Current().Choices {
			text.WriteString(ch.Delta.Content)
		}
	}
	require.NoError(t, st.Err())
	assert.Equal(t, fakellm.DefaultReply, text.String())
}

func TestCutMidEvent(t *testing.T) {
	s := fakellm.Start(fakellm.WithCutAfter(2))
	defer s.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/v1/messages",
		strings.NewReader(`{"model":"claude","stream":true,"max_tokens":5,"messages":[]}`))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var last string
	for sc.Scan() {
		last = sc.Text()
	}
	require.Error(t, sc.Err())
	assert.True(t, errors.Is(sc.Err(), context.Canceled) || strings.Contains(sc.Err().Error(), "unexpected EOF"), sc.Err())
	assert.Equal(t, `data: {"id":"cut-mid-ev`, last)
}

func TestCloseReleasesGate(t *testing.T) {
	gate := make(chan struct{})
	s := fakellm.Start(fakellm.WithGate(gate))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	oc := newOpenAI(s)
	st := oc.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "m",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	require.True(t, st.Next())
	s.Close() // must not hang on the held stream
	for st.Next() {
	}
	_ = st.Close()
}
