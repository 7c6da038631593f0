package middleware_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/fakellm"
)

// chatRequestBody is a Chat Completions request whose prompt the error
// tests look for where it must not be.
const chatRequestBody = `{"model":"gpt-4o","messages":[{"role":"user","content":"secret prompt"}]}`

// postChat sends chatRequestBody to url's Chat Completions path through c,
// with Accept-Encoding: gzip when gz is set (so that the transport leaves
// a gzip reply encoded).
func postChat(t *testing.T, c *http.Client, url string, gz bool) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/v1/chat/completions", strings.NewReader(chatRequestBody))
	require.NoError(t, err)
	if gz {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	return resp
}

// TestGzipErrorReplyGivesProviderCode: a gzip error reply gives the
// provider's error code whether the transport decoded it or passed it on
// encoded (the caller asked for gzip), also when closed unread (its small
// body is drained, decoded or still encoded), and the caller still gets
// the gzip bytes.
func TestGzipErrorReplyGivesProviderCode(t *testing.T) {
	errBody := fakellm.ErrorBody("openai", http.StatusTooManyRequests, "slow down")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(errBody)
		_ = zw.Close()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write(b.Bytes())
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name     string
		gz, read bool
	}{
		{"decoded by the transport, read", false, true},
		// net/http's decoding makes the length unknown (-1), whatever
		// Content-Length the server sent.
		{"decoded by the transport, closed unread", false, false},
		{"passed on encoded, read", true, true},
		{"passed on encoded, closed unread", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			resp := postChat(t, r.client(drainBudgetFor(false)), srv.URL, tc.gz)
			if tc.read {
				raw, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				if tc.gz {
					zr, err := gzip.NewReader(bytes.NewReader(raw))
					require.NoError(t, err, "the caller gets the gzip bytes")
					raw, err = io.ReadAll(zr)
					require.NoError(t, err)
				}
				assert.Equal(t, errBody, raw)
			}
			require.NoError(t, resp.Body.Close())
			es := r.entries(t)
			require.Len(t, es, 1)
			assert.Equal(t, "rate_limit_exceeded", es[0].Metadata["error.type"])
		})
	}
}

// TestErrorTypeNeverQuotesThePrompt: an error code, type or
// X-Amzn-ErrorType header that is free text (here quoting the prompt, as
// a gateway might) is not recorded: error.type is the HTTP status, and the
// prompt is nowhere on the span or in the entry's metadata.
func TestErrorTypeNeverQuotesThePrompt(t *testing.T) {
	for _, tc := range []struct {
		name, path, header, body, want string
	}{
		{"OpenAI code", "/v1/chat/completions", "",
			`{"error":{"message":"blocked","code":"policy: 'secret prompt' is not allowed"}}`, "400"},
		{"OpenAI code too long for an identifier", "/v1/chat/completions", "",
			`{"error":{"code":"` + strings.Repeat("secret_prompt_", 5) + `"}}`, "400"},
		{"Bedrock header", "/model/amazon.nova-lite-v1:0/converse", "secret prompt was rejected:http://gateway/",
			`{"message":"blocked"}`, "400"},
		{"Bedrock header, an identifier", "/model/amazon.nova-lite-v1:0/converse", "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/",
			`{"message":"blocked"}`, "ValidationException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				if tc.header != "" {
					w.Header().Set("X-Amzn-ErrorType", tc.header)
				}
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			r := newRig(t)
			resp, err := r.client().Post(srv.URL+tc.path, "application/json", strings.NewReader(chatRequestBody))
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			require.NoError(t, resp.Body.Close())

			es := r.entries(t)
			require.Len(t, es, 1)
			assert.Equal(t, tc.want, es[0].Metadata["error.type"])
			for k, v := range es[0].Metadata {
				assert.NotContains(t, fmt.Sprint(v), "secret", "metadata %s", k)
			}
			for _, s := range r.spans.Ended() {
				assert.Equal(t, tc.want, s.Status().Description)
				for _, kv := range s.Attributes() {
					assert.NotContains(t, kv.Value.String(), "secret", "span attribute %s", kv.Key)
				}
			}
		})
	}
}
