package middleware_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"

	"github.com/otelaudit/otelaudit-go/internal/audittest"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/storage"
)

// TestMain checks for leaked goroutines. The opencensus worker is started
// by package init in a dependency of the Google Gen AI client and lives for
// the whole process.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

// rig is an audit pipeline: a TracerProvider wired by
// exporter.NewTracerProvider into a Logger over a MemoryStorage that keeps
// plaintext content, plus a span recorder.
type rig struct {
	mem   *storage.MemoryStorage
	tp    *trace.TracerProvider
	spans *tracetest.SpanRecorder
	base  *http.Transport
}

func newRig(t testing.TB) *rig {
	t.Helper()
	mem, tp, _, rec := audittest.Provider(t)
	r := &rig{mem: mem, tp: tp, spans: rec, base: &http.Transport{}}
	t.Cleanup(func() {
		r.base.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, tp.Shutdown(ctx))
		_ = mem.Close()
	})
	return r
}

// client returns an http.Client whose transport is the middleware over the
// rig's own base transport.
func (r *rig) client(opts ...middleware.Option) *http.Client {
	return &http.Client{Transport: middleware.Transport(r.base, append([]middleware.Option{middleware.WithTracerProvider(r.tp)}, opts...)...)}
}

// entries flushes the pipeline and returns every stored entry, oldest
// first.
func (r *rig) entries(t testing.TB) []*storage.AuditEntry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, r.tp.ForceFlush(ctx))
	es, err := r.mem.ListEntries(ctx, time.Unix(0, 0), time.Now().Add(time.Hour))
	require.NoError(t, err)
	return es
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func i64(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}
