package otelaudit_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/otelaudit/otelaudit-go/internal/audittest"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

var weatherTool = otelaudit.ToolDefinition{Name: "get_weather", Description: "Weather now",
	Parameters: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"}}}`)}

const weatherToolJSON = `[{"type":"function","name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"location":{"type":"string"}}}}]`

func TestToolDefinitionsJSON(t *testing.T) {
	assert.Equal(t, weatherToolJSON, otelaudit.ToolDefinitionsJSON([]otelaudit.ToolDefinition{weatherTool}))
	assert.Equal(t, `[{"type":"web_search","name":"search"}]`,
		otelaudit.ToolDefinitionsJSON([]otelaudit.ToolDefinition{{Type: "web_search", Name: "search", Parameters: json.RawMessage(`{bad`)}}))
	assert.Equal(t, "", otelaudit.ToolDefinitionsJSON(nil))
}

// Request.Tools reach the audit entry (the end of its input) through the
// content route: beside the span by default, never on it; on it with
// WithContentOnSpan; nowhere with WithContent(false).
func TestToolDefinitionsAuditedLikeContent(t *testing.T) {
	for _, tt := range []struct {
		name            string
		opts            []otelaudit.CallOption
		onSpan, inEntry bool
	}{
		{"default", nil, false, true},
		{"content on span", []otelaudit.CallOption{otelaudit.WithContentOnSpan(true)}, true, true},
		{"no content", []otelaudit.CallOption{otelaudit.WithContent(false)}, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mem, tp, _, rec := audittest.Provider(t)
			_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Model: "m", Input: []otelaudit.Message{{Content: "Weather in Paris?"}},
				Tools: []otelaudit.ToolDefinition{weatherTool}}, append(tt.opts, otelaudit.WithTracerProvider(tp))...)
			call.End()
			require.NoError(t, tp.Shutdown(t.Context()))

			e, err := mem.Read(t.Context(), call.EntryID())
			require.NoError(t, err)
			if tt.inEntry {
				require.NotNil(t, e.InputContent)
				assert.Equal(t, "Weather in Paris?\n"+weatherToolJSON, *e.InputContent)
				assert.Equal(t, otelaudit.HashContent("Weather in Paris?\n"+weatherToolJSON), e.InputHash)
			} else {
				assert.Equal(t, otelaudit.HashContent(""), e.InputHash, "nothing recorded")
			}
			spans := rec.Ended()
			require.Len(t, spans, 1)
			v, ok := attrMap(spans[0])[semconv.GenAIToolDefinitionsKey]
			assert.Equal(t, tt.onSpan, ok, "gen_ai.tool.definitions on the span")
			if ok {
				assert.Equal(t, weatherToolJSON, v.AsString())
			}
		})
	}
}
