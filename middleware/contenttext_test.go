package middleware_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/middleware"
)

// TestContentBesideSpanLikeOnSpan: the content the Transport hands to the
// audit beside the span (its text only) gives the same entry content and
// hashes as the semconv JSON on the span (WithContentOnSpan), for every
// wire format and for tool calls whose raw arguments hold spaces.
func TestContentBesideSpanLikeOnSpan(t *testing.T) {
	cases := append([]benchAPI{}, benchAPIs...)
	cases = append(cases, benchAPI{name: "openai-tools", path: "/v1/chat/completions", request: []byte(`{"model":"gpt-4o","messages":[{"role":"system","content":"sys"},{"role":"user","content":"weather?"},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"w","arguments":"{ \"city\" : \"Paris\" }"}}]},` +
		`{"role":"tool","tool_call_id":"c1","content":"sunny \u00e9"}]}`),
		reply: []byte(`{"id":"r1","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"ok",` +
			`"tool_calls":[{"id":"c2","type":"function","function":{"name":"x","arguments":"{\"a\": [1, 2]}"}}]},"finish_reason":"tool_calls"}],` +
			`"usage":{"prompt_tokens":3,"completion_tokens":4}}`)},
		// The head parse leaves the system instructions out but makes the
		// input (an image block it cannot tell about): the worker's full
		// parse must not reuse the storage the input lies in.
		benchAPI{name: "anthropic-mixed", path: "/v1/messages", request: []byte(`{"model":"claude-sonnet-4-5","max_tokens":64,"system":"be brief",` +
			`"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA=="}}]}]}`),
			reply: []byte(`{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"a dot"}],` +
				`"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":2}}`)},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(c.reply)
			}))
			defer srv.Close()
			var got [2][4]string
			for i, onSpan := range []bool{false, true} {
				r := newRig(t)
				req, err := http.NewRequest(http.MethodPost, srv.URL+c.path, bytes.NewReader(c.request))
				require.NoError(t, err)
				resp, err := r.client(middleware.WithContentOnSpan(onSpan)).Do(req)
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				es := r.entries(t)
				require.Len(t, es, 1)
				e := es[0]
				require.NotNil(t, e.InputContent)
				require.NotNil(t, e.OutputContent)
				got[i] = [4]string{e.InputHash, e.OutputHash, *e.InputContent, *e.OutputContent}
			}
			require.NotEmpty(t, got[0][2])
			require.NotEmpty(t, got[0][3])
			require.Equal(t, got[1], got[0], "beside the span (first) and on it (second)")
		})
	}
}
