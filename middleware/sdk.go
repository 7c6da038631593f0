package middleware

import "net/http"

// ClientMiddleware returns the audit of [Transport] as a client middleware,
// the integration point the official OpenAI and Anthropic Go SDKs
// recommend: the result has the type of their option.Middleware, so it is
// passed as it is, with no adapter:
//
//	client := openai.NewClient(option.WithMiddleware(middleware.ClientMiddleware()))
//
// Each call the SDK makes (each retry attempt too) becomes one audited call
// with the guarantees listed on [Transport]: next is the rest of the SDK's
// chain, in the role of Transport's base. The options are those of
// [Transport]. The returned function is safe for concurrent use.
func ClientMiddleware(opts ...Option) func(r *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	cfg := newConfig(opts)
	return func(r *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
		t := transport{base: roundTripFunc(next), cfg: cfg}
		return t.RoundTrip(r)
	}
}

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
