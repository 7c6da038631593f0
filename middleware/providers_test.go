package middleware_test

import (
	"encoding/json"
	"errors"
	"iter"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	smithy "github.com/aws/smithy-go"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genai"

	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware"
)

// geminiClient is the official Google Gen AI client (Gemini API backend)
// talking to the fake through the audited transport.
func geminiClient(t *testing.T, r *rig, s *fakellm.Server) *genai.Client {
	t.Helper()
	c, err := genai.NewClient(t.Context(), &genai.ClientConfig{APIKey: "test", Backend: genai.BackendGeminiAPI,
		HTTPClient: r.client(), HTTPOptions: genai.HTTPOptions{BaseURL: s.URL + "/"}})
	require.NoError(t, err)
	return c
}

// bedrockClient is the official aws-sdk-go-v2 Bedrock Runtime client
// talking to the fake through the audited transport, without retries.
func bedrockClient(r *rig, s *fakellm.Server) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.URL), HTTPClient: r.client(),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDFAKE", "secretfake", ""),
		Retryer:     aws.NopRetryer{},
	})
}

var geminiConfig = &genai.GenerateContentConfig{SystemInstruction: genai.NewContentFromText("Answer briefly.", genai.RoleUser)}

const geminiModel = "gemini-2.5-flash"

// firstWhileGated asserts that next, which reads the stream up to its
// first text, returns "Hello!" while the fake holds the second chunk
// behind gate; then it opens the gate.
func firstWhileGated(t *testing.T, gate chan struct{}, what string, next func() string) {
	t.Helper()
	first := make(chan string, 1)
	go func() { first <- next() }()
	select {
	case text := <-first:
		assert.Equal(t, "Hello!", text)
	case <-time.After(10 * time.Second):
		close(gate)
		t.Fatalf("first chunk did not reach the SDK before the second was sent: %s buffers", what)
	}
	close(gate)
}

func TestGeminiGenerateContent(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start(fakellm.WithUsage(17, -1))
	defer s.Close()
	c := geminiClient(t, r, s)

	got, err := c.Models.GenerateContent(t.Context(), geminiModel, genai.Text("What is an audit trail?"), geminiConfig)
	require.NoError(t, err)
	assert.Equal(t, fakellm.DefaultReply, got.Text())

	es := r.entries(t)
	require.Len(t, es, 1)
	checkEntry(t, r, es[0], "gcp.gemini", "generate_content", geminiModel, chatInput, fakellm.DefaultReply, 17, 8)
	assert.Equal(t, false, spanAttrs(r, es[0].SpanID)["gen_ai.request.stream"])
	assert.NotContains(t, es[0].Metadata, "stream")
	assert.Equal(t, got.ResponseID, es[0].Metadata["gen_ai.response.id"])
	assert.Equal(t, geminiModel, es[0].Metadata["gen_ai.response.model"])
	assert.Equal(t, []any{"STOP"}, es[0].Metadata["gen_ai.response.finish_reasons"])
}

func TestGeminiStreamFirstChunkUnbuffered(t *testing.T) {
	r := newRig(t)
	gate := make(chan struct{})
	s := fakellm.Start(fakellm.WithGate(gate))
	defer s.Close()
	c := geminiClient(t, r, s)

	next, stop := iterPull(c.Models.GenerateContentStream(t.Context(), geminiModel, genai.Text("What is an audit trail?"), geminiConfig))
	defer stop()
	firstWhileGated(t, gate, "the transport", func() string {
		resp, err, _ := next()
		if err != nil {
			return err.Error()
		}
		return resp.Text()
	})
	for {
		_, err, ok := next()
		if !ok {
			break
		}
		require.NoError(t, err)
	}

	es := r.entries(t)
	require.Len(t, es, 1)
	checkEntry(t, r, es[0], "gcp.gemini", "generate_content", geminiModel, chatInput, fakellm.DefaultReply, fakellm.DefaultInputTokens, 8)
	assert.Equal(t, true, es[0].Metadata["stream"])
	// On the span the semconv attribute says it, not an audit.metadata one.
	attrs := spanAttrs(r, es[0].SpanID)
	assert.Equal(t, true, attrs["gen_ai.request.stream"])
	assert.NotContains(t, attrs, "audit.metadata.stream")
	assert.Equal(t, []any{"STOP"}, es[0].Metadata["gen_ai.response.finish_reasons"])
}

func TestGeminiAbandonedStreamRecordedOnce(t *testing.T) {
	r := newRig(t)
	gate := make(chan struct{})
	defer close(gate)
	s := fakellm.Start(fakellm.WithGate(gate))
	defer s.Close()
	c := geminiClient(t, r, s)
	for resp, err := range c.Models.GenerateContentStream(t.Context(), geminiModel, genai.Text("hi"), nil) {
		require.NoError(t, err)
		require.Equal(t, "Hello!", resp.Text())
		break // the caller walks away mid-stream: the SDK closes the body
	}
	es := r.entries(t)
	require.Len(t, es, 1, "exactly one entry")
	assert.Equal(t, "Hello!", str(es[0].OutputContent), "partial output")
	assert.Equal(t, middleware.ErrorTypeStreamAbandoned, es[0].Metadata["error.type"])
}

func TestGeminiToolCall(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start(fakellm.WithToolCall("get_weather", `{"city":"Paris"}`))
	defer s.Close()
	c := geminiClient(t, r, s)
	contents := []*genai.Content{
		genai.NewContentFromText("Weather in Paris?", genai.RoleUser),
		genai.NewContentFromParts([]*genai.Part{genai.NewPartFromFunctionCall("get_weather", map[string]any{"city": "Paris"})}, genai.RoleModel),
		genai.NewContentFromParts([]*genai.Part{genai.NewPartFromFunctionResponse("get_weather", map[string]any{"temp_c": 21})}, genai.RoleUser),
	}
	got, err := c.Models.GenerateContent(t.Context(), geminiModel, contents, nil)
	require.NoError(t, err)
	require.Len(t, got.FunctionCalls(), 1)

	es := r.entries(t)
	require.Len(t, es, 1)
	// Parts other than text enter the audited content as their semconv
	// JSON, one line each.
	in := contentLines(t, es[0].InputContent)
	require.Len(t, in, 3)
	assert.Equal(t, "Weather in Paris?", in[0])
	assert.Equal(t, map[string]any{"type": "tool_call", "name": "get_weather", "arguments": map[string]any{"city": "Paris"}}, in[1])
	assert.Equal(t, map[string]any{"type": "tool_call_response", "name": "get_weather", "response": map[string]any{"temp_c": 21.0}}, in[2])
	out := contentLines(t, es[0].OutputContent)
	require.Len(t, out, 1)
	assert.Equal(t, map[string]any{"type": "tool_call", "id": fakellm.ToolCallID, "name": "get_weather", "arguments": map[string]any{"city": "Paris"}}, out[0])
	assert.Equal(t, []any{"STOP"}, es[0].Metadata["gen_ai.response.finish_reasons"])
}

// spanAttrs returns the attributes of the recorded span with the given id.
func spanAttrs(r *rig, spanID string) map[string]any {
	got := map[string]any{}
	for _, s := range r.spans.Ended() {
		if s.SpanContext().SpanID().String() == spanID {
			for _, kv := range s.Attributes() {
				got[string(kv.Key)] = kv.Value.AsInterface()
			}
		}
	}
	return got
}

// contentLines splits audited content into its lines, each decoded as
// JSON when it is a JSON object (a non-text part) and kept as text
// otherwise.
func contentLines(t *testing.T, content *string) []any {
	t.Helper()
	require.NotNil(t, content)
	var out []any
	for _, l := range strings.Split(*content, "\n") {
		var v map[string]any
		if json.Unmarshal([]byte(l), &v) == nil {
			out = append(out, v)
		} else {
			out = append(out, l)
		}
	}
	return out
}

func TestGeminiError(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start(fakellm.WithError(http.StatusTooManyRequests))
	defer s.Close()
	c := geminiClient(t, r, s)
	_, err := c.Models.GenerateContent(t.Context(), geminiModel, genai.Text("hi"), nil)
	require.Error(t, err)
	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, "RESOURCE_EXHAUSTED", es[0].Metadata["error.type"])
	assert.Equal(t, "hi", str(es[0].InputContent))
}

var bedrockModel = "anthropic.claude-3-5-haiku-20241022-v1:0"

var converseInput = func() *bedrockruntime.ConverseInput {
	return &bedrockruntime.ConverseInput{
		ModelId:         aws.String(bedrockModel),
		System:          []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "Answer briefly."}},
		Messages:        []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "What is an audit trail?"}}}},
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(64), Temperature: aws.Float32(0.5)},
	}
}

func TestBedrockConverse(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start(fakellm.WithUsage(17, -1))
	defer s.Close()
	c := bedrockClient(r, s)
	got, err := c.Converse(t.Context(), converseInput())
	require.NoError(t, err)
	msg := got.Output.(*types.ConverseOutputMemberMessage).Value
	assert.Equal(t, fakellm.DefaultReply, msg.Content[0].(*types.ContentBlockMemberText).Value)

	es := r.entries(t)
	require.Len(t, es, 1)
	checkEntry(t, r, es[0], "aws.bedrock", "chat", bedrockModel, chatInput, fakellm.DefaultReply, 17, 8)
	assert.Equal(t, []any{"end_turn"}, es[0].Metadata["gen_ai.response.finish_reasons"])
	// The server got the whole body the SDK sent.
	assert.Contains(t, string(s.Requests()[0].Body), "What is an audit trail?")
}

// converseText reads a ConverseStream up to its first text delta.
func converseText(ev <-chan types.ConverseStreamOutput) string {
	for e := range ev {
		if d, ok := e.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
			if txt, ok := d.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
				return txt.Value
			}
		}
	}
	return ""
}

func TestBedrockConverseStreamFirstChunkUnbuffered(t *testing.T) {
	r := newRig(t)
	gate := make(chan struct{})
	s := fakellm.Start(fakellm.WithGate(gate))
	defer s.Close()
	c := bedrockClient(r, s)
	out, err := c.ConverseStream(t.Context(), &bedrockruntime.ConverseStreamInput{ModelId: converseInput().ModelId,
		System: converseInput().System, Messages: converseInput().Messages})
	require.NoError(t, err)
	st := out.GetStream()
	firstWhileGated(t, gate, "the transport", func() string { return converseText(st.Events()) })
	var stop types.StopReason
	for e := range st.Events() {
		if m, ok := e.(*types.ConverseStreamOutputMemberMessageStop); ok {
			stop = m.Value.StopReason
		}
	}
	require.NoError(t, st.Err())
	require.NoError(t, st.Close())
	assert.Equal(t, types.StopReasonEndTurn, stop)

	es := r.entries(t)
	require.Len(t, es, 1)
	checkEntry(t, r, es[0], "aws.bedrock", "chat", bedrockModel, chatInput, fakellm.DefaultReply, fakellm.DefaultInputTokens, 8)
	assert.Equal(t, true, es[0].Metadata["stream"])
	assert.Equal(t, []any{"end_turn"}, es[0].Metadata["gen_ai.response.finish_reasons"])
}

func TestBedrockConverseStreamAbandoned(t *testing.T) {
	r := newRig(t)
	gate := make(chan struct{})
	defer close(gate)
	s := fakellm.Start(fakellm.WithGate(gate))
	defer s.Close()
	c := bedrockClient(r, s)
	out, err := c.ConverseStream(t.Context(), &bedrockruntime.ConverseStreamInput{ModelId: converseInput().ModelId, Messages: converseInput().Messages})
	require.NoError(t, err)
	st := out.GetStream()
	require.Equal(t, "Hello!", converseText(st.Events()))
	require.NoError(t, st.Close()) // the caller walks away mid-stream

	es := r.entries(t)
	require.Len(t, es, 1, "exactly one entry")
	assert.Equal(t, "Hello!", str(es[0].OutputContent), "partial output")
	assert.Equal(t, middleware.ErrorTypeStreamAbandoned, es[0].Metadata["error.type"])
}

func TestBedrockConverseStreamCutMidFrame(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start(fakellm.WithCutAfter(3))
	defer s.Close()
	c := bedrockClient(r, s)
	out, err := c.ConverseStream(t.Context(), &bedrockruntime.ConverseStreamInput{ModelId: converseInput().ModelId, Messages: converseInput().Messages})
	require.NoError(t, err)
	st := out.GetStream()
	for range st.Events() {
	}
	// The SDK ends the event channel at the cut without an error of
	// its own; the entry records what happened.
	_ = st.Close()

	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, "Hello! This is", str(es[0].OutputContent), "the three chunks before the cut")
	assert.Equal(t, middleware.ErrorTypeStreamInterrupted, es[0].Metadata["error.type"])
	assert.Equal(t, true, es[0].Metadata["stream_cut_mid_event"])
}

func TestBedrockToolCall(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start(fakellm.WithToolCall("get_weather", `{"city":"Paris"}`))
	defer s.Close()
	c := bedrockClient(r, s)
	in := converseInput()
	in.Messages = append(in.Messages,
		types.Message{Role: types.ConversationRoleAssistant, Content: []types.ContentBlock{&types.ContentBlockMemberToolUse{Value: types.ToolUseBlock{
			ToolUseId: aws.String("tu_0"), Name: aws.String("get_weather"), Input: document.NewLazyDocument(map[string]any{"city": "Paris"})}}}},
		types.Message{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberToolResult{Value: types.ToolResultBlock{
			ToolUseId: aws.String("tu_0"), Content: []types.ToolResultContentBlock{&types.ToolResultContentBlockMemberText{Value: "21 C"}}}}}})
	_, err := c.Converse(t.Context(), in)
	require.NoError(t, err)
	out, err := c.ConverseStream(t.Context(), &bedrockruntime.ConverseStreamInput{ModelId: in.ModelId, System: in.System, Messages: in.Messages})
	require.NoError(t, err)
	for range out.GetStream().Events() {
	}
	require.NoError(t, out.GetStream().Close())

	es := r.entries(t)
	require.Len(t, es, 2)
	for _, e := range es {
		in := contentLines(t, e.InputContent)
		require.Len(t, in, 4, "system, user, tool call, tool result")
		assert.Equal(t, map[string]any{"type": "tool_call_response", "id": "tu_0", "response": "21 C"}, in[3])
		out := contentLines(t, e.OutputContent)
		require.Len(t, out, 1)
		assert.Equal(t, map[string]any{"type": "tool_call", "id": fakellm.ToolCallID, "name": "get_weather", "arguments": map[string]any{"city": "Paris"}},
			out[0], "streamed: %v", e.Metadata["stream"])
		assert.Equal(t, []any{"tool_use"}, e.Metadata["gen_ai.response.finish_reasons"])
	}
}

func TestBedrockError(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start(fakellm.WithError(http.StatusTooManyRequests))
	defer s.Close()
	c := bedrockClient(r, s)
	_, err := c.Converse(t.Context(), converseInput())
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "%v", err)
	assert.Equal(t, "ThrottlingException", ae.ErrorCode())
	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, "ThrottlingException", es[0].Metadata["error.type"])
}

const claudeBody = `{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"system":"Answer briefly.",` +
	`"messages":[{"role":"user","content":[{"type":"text","text":"What is an audit trail?"}]}]}`

func TestBedrockInvokeModel(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start()
	defer s.Close()
	c := bedrockClient(r, s)

	// Anthropic's own body, and Amazon Titan's, whose token counts are
	// only in the reply's headers.
	_, err := c.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(bedrockModel),
		ContentType: aws.String("application/json"), Body: []byte(claudeBody)})
	require.NoError(t, err)
	_, err = c.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: aws.String("amazon.titan-text-express-v1"),
		ContentType: aws.String("application/json"), Body: []byte(`{"inputText":"What is an audit trail?","textGenerationConfig":{"maxTokenCount":64}}`)})
	require.NoError(t, err)

	es := r.entries(t)
	require.Len(t, es, 2)
	checkEntry(t, r, es[0], "aws.bedrock", "chat", bedrockModel, chatInput, fakellm.DefaultReply, fakellm.DefaultInputTokens, 8)
	assert.Equal(t, []any{"end_turn"}, es[0].Metadata["gen_ai.response.finish_reasons"])
	checkEntry(t, r, es[1], "aws.bedrock", "chat", "amazon.titan-text-express-v1", "What is an audit trail?", fakellm.DefaultReply, fakellm.DefaultInputTokens, 8)
	assert.Equal(t, []any{"FINISH"}, es[1].Metadata["gen_ai.response.finish_reasons"])
}

func TestBedrockInvokeModelStream(t *testing.T) {
	r := newRig(t)
	gate := make(chan struct{})
	s := fakellm.Start(fakellm.WithGate(gate))
	defer s.Close()
	c := bedrockClient(r, s)
	out, err := c.InvokeModelWithResponseStream(t.Context(), &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId: aws.String(bedrockModel), ContentType: aws.String("application/json"), Body: []byte(claudeBody)})
	require.NoError(t, err)
	st := out.GetStream()
	firstWhileGated(t, gate, "the transport", func() string {
		for e := range st.Events() {
			var ev struct {
				Delta struct{ Text string } `json:"delta"`
			}
			if ch, ok := e.(*types.ResponseStreamMemberChunk); ok && json.Unmarshal(ch.Value.Bytes, &ev) == nil && ev.Delta.Text != "" {
				return ev.Delta.Text
			}
		}
		return ""
	})
	for range st.Events() {
	}
	require.NoError(t, st.Err())
	require.NoError(t, st.Close())

	es := r.entries(t)
	require.Len(t, es, 1)
	checkEntry(t, r, es[0], "aws.bedrock", "chat", bedrockModel, chatInput, fakellm.DefaultReply, fakellm.DefaultInputTokens, 8)
	assert.Equal(t, []any{"end_turn"}, es[0].Metadata["gen_ai.response.finish_reasons"])
}

// iterPull is iter.Pull2.
func iterPull[K, V any](seq iter.Seq2[K, V]) (func() (K, V, bool), func()) {
	return iter.Pull2(seq)
}

func TestClientMiddlewareWithOpenAISDK(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start(fakellm.WithUsage(17, -1))
	defer s.Close()
	c := openai.NewClient(option.WithBaseURL(s.OpenAIBaseURL()), option.WithAPIKey("test"), option.WithMaxRetries(0),
		option.WithHTTPClient(&http.Client{Transport: r.base}),
		option.WithMiddleware(middleware.ClientMiddleware(middleware.WithTracerProvider(r.tp))))
	got, err := c.Chat.Completions.New(t.Context(), chatParams)
	require.NoError(t, err)

	st := c.Chat.Completions.NewStreaming(t.Context(), chatParams)
	for st.Next() {
	}
	require.NoError(t, st.Err())
	require.NoError(t, st.Close())

	es := r.entries(t)
	require.Len(t, es, 2)
	checkEntry(t, r, es[0], "openai", "chat", "gpt-4o-mini", chatInput, fakellm.DefaultReply, 17, 8)
	assert.Equal(t, got.ID, es[0].Metadata["gen_ai.response.id"])
	assert.Equal(t, fakellm.DefaultReply, str(es[1].OutputContent))
	assert.Equal(t, true, es[1].Metadata["stream"])
}

func TestRequestParametersAndUsageDetailsOnTheSpan(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start()
	defer s.Close()
	p := chatParams
	p.Seed = openai.Int(42)
	p.N = openai.Int(2)
	p.FrequencyPenalty = openai.Float(0.25)
	p.Stop = openai.ChatCompletionNewParamsStopUnion{OfStringArray: []string{"END"}}
	c := openaiClient(r, s)
	_, err := c.Chat.Completions.New(t.Context(), p)
	require.NoError(t, err)
	require.Len(t, r.entries(t), 1)
	spans := r.spans.Ended()
	require.Len(t, spans, 1)
	got := map[string]any{}
	for _, kv := range spans[0].Attributes() {
		got[string(kv.Key)] = kv.Value.AsInterface()
	}
	assert.Equal(t, int64(42), got["gen_ai.request.seed"])
	assert.Equal(t, int64(2), got["gen_ai.request.choice.count"])
	assert.Equal(t, 0.25, got["gen_ai.request.frequency_penalty"])
	assert.Equal(t, []string{"END"}, got["gen_ai.request.stop_sequences"])
	// The fake reports cached_tokens and reasoning_tokens, both 0: given,
	// so recorded.
	assert.Equal(t, int64(0), got["gen_ai.usage.cache_read.input_tokens"])
	assert.Equal(t, int64(0), got["gen_ai.usage.reasoning.output_tokens"])
	assert.NotContains(t, got, "gen_ai.usage.cache_creation.input_tokens", "not given")
}
