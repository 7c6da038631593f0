package genai

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// toolSchemaRequired reads the required members of the function and the
// generic tool definition from the semconv v1.41.0 schema.
func toolSchemaRequired(t *testing.T) (function, generic []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "semconv", "gen-ai-tool-definitions.json"))
	require.NoError(t, err)
	var doc struct {
		Defs map[string]struct {
			Required []string `json:"required"`
		} `json:"$defs"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	return doc.Defs["FunctionToolDefinition"].Required, doc.Defs["GenericToolDefinition"].Required
}

var weatherSchema = map[string]any{"type": "object", "properties": map[string]any{"location": map[string]any{"type": "string"}}, "required": []any{"location"}}

func weatherFn(desc string) map[string]any {
	return map[string]any{"type": "function", "name": "get_weather", "description": desc, "parameters": weatherSchema}
}

const weatherJSON = `{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}`

// Real-shaped request bodies of the four providers with function and
// built-in tools.
func TestToolDefinitionsFollowTheSchema(t *testing.T) {
	fnReq, genReq := toolSchemaRequired(t)
	tests := []struct {
		name string
		api  API
		body string
		want []map[string]any
	}{
		{"openai chat", APIChatCompletions, `{"model":"gpt-4o","messages":[],"tools":[
			{"type":"function","function":{"name":"get_weather","description":"Weather now","parameters":` + weatherJSON + `,"strict":true}}]}`,
			[]map[string]any{weatherFn("Weather now")}},
		{"openai responses", APIResponses, `{"model":"gpt-4.1","input":"hi","tools":[
			{"type":"function","name":"get_weather","description":"Weather now","parameters":` + weatherJSON + `},
			{"type":"web_search_preview","search_context_size":"low"},
			{"type":"mcp","server_label":"deepwiki","server_url":"https://mcp.deepwiki.com/mcp"}]}`,
			[]map[string]any{weatherFn("Weather now"),
				{"type": "web_search_preview", "name": "web_search_preview", "search_context_size": "low"},
				{"type": "mcp", "name": "deepwiki", "server_label": "deepwiki", "server_url": "https://mcp.deepwiki.com/mcp"}}},
		{"anthropic", APIAnthropic, `{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[],"tools":[
			{"name":"get_weather","description":"Weather now","input_schema":` + weatherJSON + `},
			{"type":"web_search_20250305","name":"web_search","max_uses":5}]}`,
			[]map[string]any{weatherFn("Weather now"), {"type": "web_search_20250305", "name": "web_search", "max_uses": float64(5)}}},
		{"gemini", APIGemini, `{"contents":[],"tools":[
			{"functionDeclarations":[{"name":"get_weather","description":"Weather now","parametersJsonSchema":` + weatherJSON + `}]},
			{"googleSearch":{}},{"codeExecution":{}}]}`,
			[]map[string]any{weatherFn("Weather now"), {"type": "googleSearch", "name": "googleSearch"}, {"type": "codeExecution", "name": "codeExecution"}}},
		{"bedrock converse", APIBedrockConverse, `{"messages":[],"toolConfig":{"tools":[
			{"toolSpec":{"name":"get_weather","description":"Weather now","inputSchema":{"json":` + weatherJSON + `}}}],"toolChoice":{"auto":{}}}}`,
			[]map[string]any{weatherFn("Weather now")}},
		{"bedrock invoke, anthropic body", APIBedrockInvoke, `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[],"tools":[
			{"name":"get_weather","description":"Weather now","input_schema":` + weatherJSON + `}]}`,
			[]map[string]any{weatherFn("Weather now")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js := ToolDefinitions(tt.api, []byte(tt.body))
			var got []map[string]any
			require.NoError(t, json.Unmarshal([]byte(js), &got), js)
			assert.Equal(t, tt.want, got)
			for _, d := range got {
				req := genReq
				if d["type"] == "function" {
					req = fnReq
				}
				for _, k := range req {
					assert.Contains(t, d, k)
				}
			}
		})
	}
}

func TestToolDefinitionsNone(t *testing.T) {
	for _, body := range []string{``, `not json`, `{"model":"m"}`, `{"tools":null}`, `{"tools":{}}`, `{"tools":[1,"x",null]}`, `{"tools":[]}`} {
		assert.Equal(t, "", ToolDefinitions(APIChatCompletions, []byte(body)), body)
	}
}
