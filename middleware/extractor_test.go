package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

func TestJSONFields(t *testing.T) {
	f := middleware.JSONFields{
		Paths: []string{"/gen"}, Model: "cfg.model", Input: "turns", System: "sys", Conversation: "session",
		Output: "choices.0.text", ResponseID: "id", InputTokens: "usage.in", OutputTokens: "usage.out",
	}
	req := httptest.NewRequest(http.MethodPost, "/gen", nil)
	got, ok := f.ExtractRequest(req, []byte(`{"cfg":{"model":"tiny"},"sys":"be kind","session":"s1",
		"turns":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},"c"]}`))
	assert.True(t, ok)
	assert.Equal(t, middleware.Request{Model: "tiny", ConversationID: "s1", SystemInstructions: "be kind",
		Input: []otelaudit.Message{{Role: "user", Content: "a"}, {Role: "assistant", Content: "b"}, {Role: "user", Content: "c"}}}, got)

	_, ok = f.ExtractRequest(httptest.NewRequest(http.MethodPost, "/other", nil), []byte(`{}`))
	assert.False(t, ok, "path not listed")
	_, ok = f.ExtractRequest(req, []byte(`not json`))
	assert.False(t, ok)

	resp, ok := f.ExtractResponse(200, nil, []byte(`{"id":"r1","choices":[{"text":"out"}],"usage":{"in":3,"out":-1}}`))
	assert.True(t, ok)
	three := int64(3)
	assert.Equal(t, middleware.Response{ID: "r1", Output: []otelaudit.Message{{Role: "assistant", Content: "out"}},
		InputTokens: &three}, resp, "a negative count stays unknown")

	resp, ok = f.ExtractResponse(503, nil, []byte(`<html>`))
	assert.True(t, ok)
	assert.Equal(t, "503", resp.ErrorType)
}
