package middleware_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// TestSpansCarryVersionAndSchemaURL: the Transport's CLIENT spans (through
// otelaudit.StartCall) and the Handler's SERVER spans name the module's
// version and the semconv v1.41.0 schema URL in their instrumentation
// scope.
func TestSpansCarryVersionAndSchemaURL(t *testing.T) {
	r := newRig(t)
	fake := fakellm.NewHandler()
	srv := httptest.NewServer(middleware.Handler(fake, middleware.WithTracerProvider(r.tp)))
	defer srv.Close()
	c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0),
		option.WithHTTPClient(r.client()))
	_, err := c.Chat.Completions.New(t.Context(), chatParams)
	require.NoError(t, err)
	srv.Close()
	r.entries(t)

	scopes := map[string]bool{}
	for _, s := range r.spans.Ended() {
		sc := s.InstrumentationScope()
		scopes[sc.Name] = true
		assert.Equal(t, otelaudit.Version, sc.Version, sc.Name)
		assert.Equal(t, semconv.SchemaURL, sc.SchemaURL, sc.Name)
		assert.True(t, strings.HasSuffix(semconv.SchemaURL, "/1.41.0"))
	}
	assert.Equal(t, map[string]bool{otelaudit.ScopeName: true, middleware.ScopeName: true}, scopes)
}
