package middleware_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genai"

	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware"
)

var toolParams = map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []any{"city"}}

// wantTools is the gen_ai.tool.definitions every call below records.
var wantTools = []any{map[string]any{"type": "function", "name": "get_weather", "description": "Weather now", "parameters": toolParams}}

// lastLineTools decodes the last line of an entry's input: the tool
// definitions.
func lastLineTools(t *testing.T, in *string) []any {
	t.Helper()
	require.NotNil(t, in)
	lines := strings.Split(*in, "\n")
	var defs []any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &defs), *in)
	return defs
}

// TestToolDefinitionsFromTheFourProviders: with WithToolDefinitions the
// tools each official client sends end the entry's input in the semconv
// shape, and never reach the span; without it the input is the messages
// alone.
func TestToolDefinitionsFromTheFourProviders(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start()
	defer s.Close()
	on := r.client(middleware.WithToolDefinitions(true))

	oc := openai.NewClient(option.WithBaseURL(s.OpenAIBaseURL()), option.WithAPIKey("test"), option.WithMaxRetries(0), option.WithHTTPClient(on))
	p := chatParams
	p.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name: "get_weather", Description: openai.String("Weather now"), Parameters: shared.FunctionParameters(toolParams)})}
	_, err := oc.Chat.Completions.New(t.Context(), p)
	require.NoError(t, err)

	ac := anthropic.NewClient(aoption.WithBaseURL(s.AnthropicBaseURL()), aoption.WithAPIKey("test"), aoption.WithMaxRetries(0), aoption.WithHTTPClient(on))
	_, err = ac.Messages.New(t.Context(), anthropic.MessageNewParams{Model: "claude-haiku-4-5", MaxTokens: 10,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Weather in Paris?"))},
		Tools: []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{Name: "get_weather", Description: anthropic.String("Weather now"),
			InputSchema: anthropic.ToolInputSchemaParam{Properties: toolParams["properties"], Required: []string{"city"}}}}}})
	require.NoError(t, err)

	gc, err := genai.NewClient(t.Context(), &genai.ClientConfig{APIKey: "test", Backend: genai.BackendGeminiAPI,
		HTTPClient: on, HTTPOptions: genai.HTTPOptions{BaseURL: s.URL + "/"}})
	require.NoError(t, err)
	_, err = gc.Models.GenerateContent(t.Context(), geminiModel, genai.Text("Weather in Paris?"), &genai.GenerateContentConfig{
		Tools: []*genai.Tool{{FunctionDeclarations: []*genai.FunctionDeclaration{{Name: "get_weather", Description: "Weather now", ParametersJsonSchema: toolParams}}}}})
	require.NoError(t, err)

	bc := bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.URL), HTTPClient: on,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDFAKE", "secretfake", ""), Retryer: aws.NopRetryer{}})
	in := converseInput()
	in.ToolConfig = &types.ToolConfiguration{Tools: []types.Tool{&types.ToolMemberToolSpec{Value: types.ToolSpecification{
		Name: aws.String("get_weather"), Description: aws.String("Weather now"),
		InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(toolParams)}}}}}
	_, err = bc.Converse(t.Context(), in)
	require.NoError(t, err)

	// The same OpenAI call without the option.
	off := openai.NewClient(option.WithBaseURL(s.OpenAIBaseURL()), option.WithAPIKey("test"), option.WithMaxRetries(0), option.WithHTTPClient(r.client()))
	_, err = off.Chat.Completions.New(t.Context(), p)
	require.NoError(t, err)

	es := r.entries(t)
	require.Len(t, es, 5)
	for _, e := range es[:4] {
		assert.Equal(t, wantTools, lastLineTools(t, e.InputContent), "%s", str(e.Provider))
		assert.NotContains(t, spanAttrs(r, e.SpanID), "gen_ai.tool.definitions", "content stays off the span")
	}
	assert.Equal(t, chatInput, str(es[4].InputContent), "no tool definitions without the option")
}
