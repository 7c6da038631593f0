package otelaudit

import (
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// TestTracerOptionsAreACopy: a caller that changes the returned slice does
// not change the scope of this module's own tracers.
func TestTracerOptionsAreACopy(t *testing.T) {
	opts := TracerOptions()
	cfg := trace.NewTracerConfig(opts...)
	if cfg.InstrumentationVersion() != Version || cfg.SchemaURL() == "" {
		t.Fatalf("scope = %q %q, want version %q and a schema URL", cfg.InstrumentationVersion(), cfg.SchemaURL(), Version)
	}
	opts[0] = trace.WithInstrumentationVersion("changed")
	again := trace.NewTracerConfig(TracerOptions()...)
	if got := again.InstrumentationVersion(); got != Version {
		t.Errorf("after changing a returned slice, version = %q", got)
	}
}
