package otelaudit

import (
	"encoding/json"

	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/otelaudit/otelaudit-go/internal/jsontext"
)

// ToolDefinition is one tool offered to the model, recorded in
// gen_ai.tool.definitions (semconv v1.41.0 gen-ai-tool-definitions.json).
type ToolDefinition struct {
	// Type is the tool's type; empty means "function".
	Type string
	// Name is the tool's name.
	Name string
	// Description is what the model is told the tool does; empty is left
	// out.
	Description string
	// Parameters is the JSON Schema of the tool's arguments; nil, or
	// anything that is not valid JSON, is left out.
	Parameters json.RawMessage
}

// ToolDefinitionsJSON returns defs in the semconv shape recorded in
// gen_ai.tool.definitions:
//
//	[{"type":"function","name":"get_weather","description":"...","parameters":{...}}]
//
// Nil or empty gives "".
func ToolDefinitionsJSON(defs []ToolDefinition) string {
	if len(defs) == 0 {
		return ""
	}
	b := []byte{'['}
	for i, d := range defs {
		if i > 0 {
			b = append(b, ',')
		}
		typ := d.Type
		if typ == "" {
			typ = "function"
		}
		b = append(b, `{"type":`...)
		b = jsontext.AppendString(b, typ)
		b = append(b, `,"name":`...)
		b = jsontext.AppendString(b, d.Name)
		if d.Description != "" {
			b = append(b, `,"description":`...)
			b = jsontext.AppendString(b, d.Description)
		}
		if len(d.Parameters) > 0 && json.Valid(d.Parameters) {
			b = append(b, `,"parameters":`...)
			b = append(b, d.Parameters...)
		}
		b = append(b, '}')
	}
	return bytesToString(append(b, ']'))
}

// toolDefinitions hands req.Tools to the call's content route.
func (c *Call) toolDefinitions(tools []ToolDefinition) {
	if len(tools) == 0 || c.noContent || !c.content.Wants() {
		return
	}
	c.content.Set(semconv.GenAIToolDefinitionsKey.String(ToolDefinitionsJSON(tools)))
}
