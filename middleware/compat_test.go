package middleware_test

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// post sends body to url through the rig's audited client and returns the
// reply, read line by line as it arrives.
func post(t *testing.T, r *rig, url, body string) (int, []string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	require.NoError(t, sc.Err())
	return resp.StatusCode, lines
}

func TestOllamaNativeNDJSONStream(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start(fakellm.WithReply("llamas hum"), fakellm.WithUsage(6, -1))
	defer s.Close()
	code, lines := post(t, r, s.URL+"/api/chat", `{"model":"llama3.2","messages":[{"role":"user","content":"sing"}]}`)
	require.Equal(t, http.StatusOK, code)
	assert.Len(t, lines, 3, "two chunks and the final line, passed through")
	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, "ollama", str(es[0].Provider))
	assert.Equal(t, "llama3.2", str(es[0].Model))
	assert.Equal(t, otelaudit.HashContent("sing"), es[0].InputHash)
	assert.Equal(t, "llamas hum", str(es[0].OutputContent))
	assert.Equal(t, int64(6), i64(es[0].InputTokens))
	assert.Equal(t, int64(2), i64(es[0].OutputTokens))
}

func TestAzureDeploymentPath(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start(fakellm.WithResponseModel("gpt-4o-2024-08-06"))
	defer s.Close()
	// Azure bodies may omit the model: the deployment stands in for it.
	code, _ := post(t, r, s.URL+"/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21",
		`{"model":"prod-gpt4o","messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusOK, code)
	es := r.entries(t)
	require.Len(t, es, 1)
	assert.Equal(t, "azure.ai.openai", str(es[0].Provider))
	assert.Equal(t, "prod-gpt4o", str(es[0].Model))
	assert.Equal(t, "gpt-4o-2024-08-06", es[0].Metadata["gen_ai.response.model"])
}

func TestMalformedBodiesNeverBreakTheCall(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start()
	defer s.Close()
	for _, body := range []string{`{"model":`, "\x00\xff\xfe binary", `[1,2,3]`, ``} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/v1/chat/completions", strings.NewReader(body))
		require.NoError(t, err)
		resp, err := r.client().Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "the fake rejects it, the transport passes it through")
	}
	es := r.entries(t)
	require.Len(t, es, 4)
	for _, e := range es {
		assert.Equal(t, "invalid_value", e.Metadata["error.type"])
	}
	assert.Equal(t, true, es[0].Metadata["request_unparsed"])
}

// A 307 redirect makes http.Client send the body again through the
// caller's GetBody: it works through the transport, and a request without
// GetBody gets the 307 back exactly as with the bare transport.
func TestRedirectResendsBody(t *testing.T) {
	r := newRig(t)
	fake := fakellm.NewHandler()
	mux := http.NewServeMux()
	mux.HandleFunc("/old/v1/chat/completions", func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, "/v1/chat/completions", http.StatusTemporaryRedirect)
	})
	mux.Handle("/", fake)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	body := `{"model":"m","messages":[{"role":"user","content":"again"}]}`
	for _, withGetBody := range []bool{true, false} {
		var rd io.Reader = strings.NewReader(body)
		if !withGetBody {
			rd = onlyReader{rd}
		}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/old/v1/chat/completions", rd)
		require.NoError(t, err)
		resp, err := r.client().Do(req)
		require.NoError(t, err, "GetBody=%v", withGetBody)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if withGetBody {
			assert.Equal(t, http.StatusOK, resp.StatusCode)
		} else {
			assert.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode)
		}
	}
	reqs := fake.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, body, string(reqs[0].Body), "the redirected request carried the whole body")
	assert.Len(t, r.entries(t), 3, "one per round trip")
}

func TestConcurrentCalls(t *testing.T) {
	r := newRig(t)
	s := fakellm.Start()
	defer s.Close()
	c := r.client(middleware.WithProviderName("vllm"))
	const n = 24
	errs := make(chan error, n)
	for i := range n {
		go func() {
			path := "/v1/chat/completions"
			body := `{"model":"m","messages":[{"role":"user","content":"q"}]}`
			if i%2 == 1 {
				body = `{"model":"m","stream":true,"messages":[{"role":"user","content":"q"}]}`
			}
			resp, err := c.Post(s.URL+path, "application/json", strings.NewReader(body))
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
			errs <- err
		}()
	}
	for range n {
		require.NoError(t, <-errs)
	}
	es := r.entries(t)
	require.Len(t, es, n)
	for _, e := range es {
		assert.Equal(t, "vllm", str(e.Provider))
		assert.Equal(t, fakellm.DefaultReply, str(e.OutputContent))
	}
}
