package genai

import (
	"encoding/json"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/jsontext"
)

// contentTextCases are message lists of every shape the parsers produce:
// text, tool calls with raw arguments holding spaces, tool results, blobs,
// empty texts, invalid UTF-8, messages without parts.
var contentTextCases = [][]Message{
	{{Role: "user", Parts: []Part{{Type: "text", Content: "hi"}}}},
	{{Role: "user", Parts: []Part{{Type: "text", Content: "a \"quoted\"\nline \\ x"}}}, {Role: "assistant", Parts: []Part{{Type: "text", Content: "b"}}, FinishReason: "stop"}},
	{{Role: "user", Parts: []Part{{Type: "text", Content: "bad \xff\xfe utf8 \xc3"}}}},
	{{Role: "user", Parts: []Part{{Type: "text", Content: ""}, {Type: "text", Content: "x"}}}},
	{{Role: "user"}, {Role: "assistant", Parts: []Part{{Type: "text", Content: "after an empty message"}}}},
	{{Role: "assistant", Parts: []Part{{Type: "text", Content: "calling"}, {Type: "tool_call", ID: "c1", Name: "f", Arguments: json.RawMessage(`{ "a" : [1, 2],  "b":"x y" }`)}}}},
	{{Role: "tool", Parts: []Part{{Type: "tool_call_response", ID: "c1", Response: json.RawMessage(`"ok \u00e9"`)}}}},
	{{Role: "user", Parts: []Part{{Type: "blob", Modality: "image", MimeType: "image/png", Content: "iVBORw0KGgo="}, {Type: "uri", URI: "https://example.com/a b", Modality: "image"}}}},
	{{Role: "user", Parts: []Part{{Type: "reasoning", Content: "thinking <b>"}}}},
	{{Role: "assistant", Parts: []Part{{Type: "tool_call", ID: "c2", Name: "g", Arguments: json.RawMessage(`{"z": "\u003cb\u003e & \/", "a": "Z\u00fcrich"}`)}}}},
}

// A tool call's content text is its part's canonical JSON: the
// arguments as the provider sent them (escapes, key order, spaces) give
// the text a Go or Python instrumentation's JSON of the same call gives.
func TestToolCallContentTextCanonical(t *testing.T) {
	got, ok := ContentText([]Message{{Role: "assistant", Parts: []Part{{Type: "tool_call", ID: "c2", Name: "g",
		Arguments: stringArgs(`{"z": "\u003cb\u003e & \/", "a": "Z\u00fcrich"}`)}}}})
	if !ok {
		t.Fatal("no content text")
	}
	const want = `{"arguments":{"a":"Zürich","z":"<b> & /"},"id":"c2","name":"g","type":"tool_call"}`
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

// TestContentTextMatchesExporterRule: ContentText gives what the
// exporter's ContentText rule gives for the MessagesJSON of the same
// messages (after the invalid UTF-8 replacement both go through), so a
// call hashes the same whether its content travels as JSON on the span or
// as text beside it.
func TestContentTextMatchesExporterRule(t *testing.T) {
	for i, ms := range contentTextCases {
		want := exporter.ContentText(attribute.StringValue(MessagesJSON(ms)))
		got, ok := ContentText(ms)
		if !ok {
			t.Fatalf("case %d: no content text for %d messages", i, len(ms))
		}
		if jsontext.ValidUTF8(got) != want {
			t.Errorf("case %d:\n got %q\nwant %q", i, got, want)
		}
		for _, m := range ms {
			if len(m.Parts) == 0 {
				continue
			}
			want := exporter.ContentText(attribute.StringValue(PartsJSON(m.Parts)))
			if got, _ := PartsContentText(m.Parts); jsontext.ValidUTF8(got) != want {
				t.Errorf("case %d parts:\n got %q\nwant %q", i, got, want)
			}
		}
	}
	if _, ok := ContentText([]Message{{Role: "user"}}); ok {
		t.Error("messages without parts have a content text")
	}
	if _, ok := PartsContentText(nil); ok {
		t.Error("no parts have a content text")
	}
}
