package middleware

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// Request is the audit description of a request, as an [Extractor] gives
// it. Zero fields are not recorded, except Operation (default "chat").
type Request struct {
	Operation          string
	Provider           string
	Model              string
	ConversationID     string
	SystemInstructions string
	Input              []otelaudit.Message
}

// Response is the audit description of a reply, as an [Extractor] gives
// it. Nil token counts stay unknown (null in the entry).
type Response struct {
	ID           string
	Model        string
	Output       []otelaudit.Message
	InputTokens  *int64
	OutputTokens *int64
	// ErrorType, when set, marks the call failed (error.type).
	ErrorType string
}

// Extractor turns the bodies of a custom API into audit data, for services
// whose endpoints do not speak a provider's wire format. Methods get the
// captured body (at most the configured cap; for a stream, its raw bytes)
// and report ok=false to leave the body to the next extractor or to the
// built-in parsers. They are called concurrently and must not keep body.
// [Handler] calls ExtractRequest before its handler runs, except for a
// request sent with "Expect: 100-continue": then once the handler has
// read the body (or what of it the handler read), before the reply is
// recorded.
type Extractor interface {
	ExtractRequest(r *http.Request, body []byte) (req Request, ok bool)
	ExtractResponse(status int, header http.Header, body []byte) (resp Response, ok bool)
}

// JSONFields is an [Extractor] for JSON APIs of a custom shape: each field
// names a value by a dotted path ("question", "usage.prompt_tokens",
// "choices.0.text"). An empty path is not extracted. A request matches when
// its path is one of Paths (all paths when Paths is empty) and its body is a
// JSON object; its reply is then read with the same JSONFields.
//
//	middleware.Handler(mux, middleware.WithExtractor(middleware.JSONFields{
//		Paths: []string{"/ask"}, Model: "model", Input: "question",
//		Output: "answer", Conversation: "session",
//	}))
type JSONFields struct {
	Paths []string
	// Operation is gen_ai.operation.name; "" means "chat".
	Operation string
	// Provider is gen_ai.provider.name; "" records none.
	Provider string

	Model        string // in the request; the reply's value, when present, is the response model
	Input        string // request text: a string, or an array of strings or of {"role","content"} objects
	System       string // request system instructions
	Conversation string // request conversation id
	Output       string // reply text, same forms as Input
	ResponseID   string // reply id
	InputTokens  string // reply usage
	OutputTokens string // reply usage
}

// ExtractRequest implements [Extractor].
func (f JSONFields) ExtractRequest(r *http.Request, body []byte) (Request, bool) {
	if len(f.Paths) > 0 && !contains(f.Paths, r.URL.Path) {
		return Request{}, false
	}
	doc, ok := decodeObject(body)
	if !ok {
		return Request{}, false
	}
	return Request{
		Operation:          f.Operation,
		Provider:           f.Provider,
		Model:              lookupString(doc, f.Model),
		ConversationID:     lookupString(doc, f.Conversation),
		SystemInstructions: lookupString(doc, f.System),
		Input:              lookupMessages(doc, f.Input, "user"),
	}, true
}

// ExtractResponse implements [Extractor].
func (f JSONFields) ExtractResponse(status int, _ http.Header, body []byte) (Response, bool) {
	doc, ok := decodeObject(body)
	if !ok {
		if status >= 400 {
			return Response{ErrorType: strconv.Itoa(status)}, true
		}
		return Response{}, false
	}
	resp := Response{
		ID:           lookupString(doc, f.ResponseID),
		Model:        lookupString(doc, f.Model),
		Output:       lookupMessages(doc, f.Output, "assistant"),
		InputTokens:  lookupInt(doc, f.InputTokens),
		OutputTokens: lookupInt(doc, f.OutputTokens),
	}
	if status >= 400 {
		resp.ErrorType = strconv.Itoa(status)
	}
	return resp, true
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func decodeObject(body []byte) (map[string]any, bool) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if dec.Decode(&doc) != nil {
		return nil, false
	}
	return doc, true
}

func lookup(doc any, path string) (any, bool) {
	if path == "" {
		return nil, false
	}
	cur := doc
	for _, k := range strings.Split(path, ".") {
		switch x := cur.(type) {
		case map[string]any:
			v, ok := x[k]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			cur = x[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func lookupString(doc any, path string) string {
	v, ok := lookup(doc, path)
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

func lookupInt(doc any, path string) *int64 {
	v, ok := lookup(doc, path)
	if !ok {
		return nil
	}
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil && i >= 0 {
			return &i
		}
	}
	return nil
}

func lookupMessages(doc any, path, role string) []otelaudit.Message {
	v, ok := lookup(doc, path)
	if !ok || v == nil {
		return nil
	}
	switch x := v.(type) {
	case string:
		return []otelaudit.Message{{Role: role, Content: x}}
	case []any:
		var out []otelaudit.Message
		for _, it := range x {
			switch m := it.(type) {
			case string:
				out = append(out, otelaudit.Message{Role: role, Content: m})
			case map[string]any:
				r, _ := m["role"].(string)
				if r == "" {
					r = role
				}
				c, ok := m["content"].(string)
				if !ok {
					b, _ := json.Marshal(m["content"])
					c = string(b)
				}
				out = append(out, otelaudit.Message{Role: r, Content: c})
			}
		}
		return out
	}
	b, _ := json.Marshal(v)
	return []otelaudit.Message{{Role: role, Content: string(b)}}
}
