package exporter

import (
	"fmt"

	"go.opentelemetry.io/otel"

	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// Metadata keys the exporter sets on an entry whose content is not the
// call's whole content. Each holds true; an entry without them holds what
// its span (and the content handed over beside it) held.
const (
	// MetadataContentUnavailable marks an entry whose content was never
	// captured: its span says so (otelaudit.AuditContentUnavailableKey),
	// because its instrumentation (otelaudit.StartCall, StartTool,
	// StartAgent, the middleware) hands content over beside the span and
	// no audit processor took it, as when the Exporter runs behind the
	// SDK's BatchSpanProcessor instead of [NewProcessor]. The entry's
	// input_hash and output_hash are then those of empty content, which
	// the call did not necessarily have; its ids, model, tokens and
	// timing are the call's.
	MetadataContentUnavailable = "content_unavailable"
)

// noteIncomplete counts an entry written without its whole content and
// reports the first one through otel.Handle, by span ids, never content.
func (e *Exporter) noteIncomplete(in *otelaudit.Interaction) {
	e.contentUnavailable.Add(1)
	if e.warnedUnavailable.CompareAndSwap(false, true) {
		otel.Handle(fmt.Errorf("exporter: span %s/%s handed its content to no audit processor, so its audit entry "+
			"is written without content and marked %s (Stats().ContentUnavailable counts them): the Exporter "+
			"runs behind another span processor (sdktrace.WithBatcher, WithSyncer); give it to exporter.NewProcessor, "+
			"or build the provider with exporter.ProviderOptions or exporter.NewTracerProvider; reported once",
			in.TraceID, in.SpanID, MetadataContentUnavailable))
	}
}
