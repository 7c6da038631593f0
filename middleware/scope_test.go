package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

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

// countingProvider counts the Tracer lookups made on it.
type countingProvider struct {
	trace.TracerProvider
	n atomic.Int32
}

func (p *countingProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	p.n.Add(1)
	return p.TracerProvider.Tracer(name, opts...)
}

// TestTracerTakenOnce: Transport and Handler take their tracers from the
// provider when they are built, as otelhttp does, not per request (a
// lookup builds the scope and takes the SDK provider's lock); the spans of
// later calls still come from that provider, with the right scopes.
func TestTracerTakenOnce(t *testing.T) {
	r := newRig(t)
	tp := &countingProvider{TracerProvider: r.tp}
	fake := fakellm.NewHandler()
	srv := httptest.NewServer(middleware.Handler(fake, middleware.WithTracerProvider(tp)))
	defer srv.Close()
	client := &http.Client{Transport: middleware.Transport(nil, middleware.WithTracerProvider(tp))}
	built := tp.n.Load()
	require.NotZero(t, built)
	c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0),
		option.WithHTTPClient(client))
	for range 3 {
		_, err := c.Chat.Completions.New(t.Context(), chatParams)
		require.NoError(t, err)
	}
	srv.Close()
	assert.Equal(t, built, tp.n.Load(), "tracer lookups after the middleware was built")
	r.entries(t)
	scopes := map[string]int{}
	for _, s := range r.spans.Ended() {
		scopes[s.InstrumentationScope().Name]++
	}
	assert.Equal(t, map[string]int{otelaudit.ScopeName: 3, middleware.ScopeName: 3}, scopes)
}
