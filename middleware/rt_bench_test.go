package middleware_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

type memRT struct{}

func (memRT) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(benchReply)), ContentLength: int64(len(benchReply)), Request: r}, nil
}

// BenchmarkTransportThroughput runs 1 KiB calls back to back through an
// in-memory base transport (no network) with the real audit pipeline: the
// audited ns/op is bounded by how fast the pipeline turns spans into stored
// entries (the lossless processor applies backpressure), not by the
// transport alone.
func BenchmarkTransportThroughput(b *testing.B) {
	mem := storage.NewMemoryStorage(10000)
	l, err := otelaudit.NewLogger(mem)
	require.NoError(b, err)
	tp, _, err := exporter.NewTracerProvider(l)
	require.NoError(b, err)
	defer func() { _ = tp.Shutdown(context.Background()); _ = mem.Close() }()
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{{"bare", memRT{}}, {"audited", middleware.Transport(memRT{}, middleware.WithTracerProvider(tp))}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/v1/chat/completions", bytes.NewReader(benchRequest))
				resp, err := tc.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
}
