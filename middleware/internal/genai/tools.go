package genai

import (
	"github.com/otelaudit/otelaudit-go/internal/jsontape"
	"github.com/otelaudit/otelaudit-go/internal/jsontext"
)

// ToolDefinitions returns the tool definitions of a request body in the
// given API as the semconv v1.41.0 gen_ai.tool.definitions JSON array
// (docs/gen-ai/gen-ai-tool-definitions.json): a function tool is
// {"type":"function","name":..,"description":..,"parameters":<JSON
// Schema>}, any other tool (a provider's built-in one) {"type":..,
// "name":.., its other settings}. It reads OpenAI Chat Completions and
// Responses "tools", Anthropic "tools" (also in a Bedrock InvokeModel
// body), Gemini "tools" (functionDeclarations and built-in tools) and
// Bedrock Converse "toolConfig.tools". It returns "" when the body names
// no tools or is not a JSON object. The result is a copy: it does not
// share body's memory.
//
// It parses the body again, so it is meant to run only when tool
// definitions are asked for.
func ToolDefinitions(api API, body []byte) string {
	p := getParser()
	defer putParser(p)
	doc, err := parseObject(p, body)
	if err != nil {
		return ""
	}
	var tools jsontape.Value
	switch api {
	case APIGemini:
		tools = doc.Get("tools")
	case APIBedrockConverse:
		tools = path(doc, "toolConfig", "tools")
	case APIBedrockInvoke:
		if tools = path(doc, "toolConfig", "tools"); !tools.Exists() {
			tools = doc.Get("tools")
		}
	default:
		tools = doc.Get("tools")
	}
	if !tools.IsArray() {
		return ""
	}
	b := []byte{'['}
	n := 0
	add := func(def []byte) {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, def...)
		n++
	}
	for t := range tools.Elements() {
		if !t.IsObject() {
			continue
		}
		switch {
		case api == APIGemini:
			geminiTools(t, add)
		case t.Get("toolSpec").IsObject(): // Bedrock Converse
			s := t.Get("toolSpec")
			add(functionDef(s.Get("name"), s.Get("description"), path(s, "inputSchema", "json")))
		case t.Get("function").IsObject(): // Chat Completions
			f := t.Get("function")
			add(functionDef(f.Get("name"), f.Get("description"), f.Get("parameters")))
		case str(t.Get("type")) == "function": // Responses
			add(functionDef(t.Get("name"), t.Get("description"), t.Get("parameters")))
		case t.Get("input_schema").Exists(): // Anthropic custom tool
			add(functionDef(t.Get("name"), t.Get("description"), t.Get("input_schema")))
		default: // a provider's built-in tool: its type names it
			typ := str(t.Get("type"))
			name := str(t.Get("name"))
			if name == "" {
				name = str(t.Get("server_label")) // Responses MCP tool
			}
			if name == "" {
				name = typ
			}
			add(genericDef(typ, name, t))
		}
	}
	if n == 0 {
		return ""
	}
	return bytesToString(append(b, ']'))
}

// geminiTools adds the definitions of one Gemini Tool: each of its
// functionDeclarations, and each built-in tool it enables (googleSearch,
// codeExecution, urlContext, ...) named by its member.
func geminiTools(t jsontape.Value, add func([]byte)) {
	for k, v := range t.Members() {
		switch k {
		case "functionDeclarations", "function_declarations":
			for f := range each(v) {
				params := get1(f, "parametersJsonSchema", "parameters_json_schema")
				if !params.Exists() {
					params = f.Get("parameters")
				}
				add(functionDef(f.Get("name"), f.Get("description"), params))
			}
		default:
			add(genericDef(k, k, v))
		}
	}
}

// functionDef writes a FunctionToolDefinition.
func functionDef(name, description, params jsontape.Value) []byte {
	b := jsontext.AppendString([]byte(`{"type":"function","name":`), str(name))
	if d := str(description); d != "" {
		b = append(b, `,"description":`...)
		b = jsontext.AppendString(b, d)
	}
	if p := rawOrNil(params); p != nil {
		b = append(b, `,"parameters":`...)
		b = append(b, p...)
	}
	return append(b, '}')
}

// genericDef writes a GenericToolDefinition {"type","name"} with the
// other members of settings (an object) after them.
func genericDef(typ, name string, settings jsontape.Value) []byte {
	b := jsontext.AppendString([]byte(`{"type":`), typ)
	b = append(b, `,"name":`...)
	b = jsontext.AppendString(b, name)
	for k, v := range settings.Members() {
		if k == "type" || k == "name" {
			continue
		}
		b = append(b, ',')
		b = jsontext.AppendString(b, k)
		b = append(b, ':')
		b = append(b, v.Raw()...)
	}
	return append(b, '}')
}
