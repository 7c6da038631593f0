// Package audittest is what the tests of the audit pipeline in several
// packages share: a provider wired as exporter.NewTracerProvider wires
// one, over a memory store that keeps content in plaintext so that tests
// can compare it, with a recorder of its spans.
package audittest

import (
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// Provider returns a memory store, the provider exporter.NewTracerProvider
// builds over a Logger that keeps plaintext content in it, the provider's
// exporter, and a span recorder registered on the provider. The caller
// shuts the provider down.
func Provider(t testing.TB) (*storage.MemoryStorage, *sdktrace.TracerProvider, *exporter.Exporter, *tracetest.SpanRecorder) {
	t.Helper()
	mem := storage.NewMemoryStorage(0)
	l, err := otelaudit.NewLogger(mem, otelaudit.WithStoreContent(true))
	require.NoError(t, err)
	tp, exp, err := exporter.NewTracerProvider(l)
	require.NoError(t, err)
	rec := tracetest.NewSpanRecorder()
	tp.RegisterSpanProcessor(rec)
	return mem, tp, exp, rec
}
