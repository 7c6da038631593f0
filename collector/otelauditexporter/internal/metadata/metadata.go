// Package metadata holds the component type and stability of the otelaudit
// exporter, as declared in ../../metadata.yaml (written by hand, in the
// shape mdatagen generates).
package metadata

import (
	"go.opentelemetry.io/collector/component"
)

var (
	// Type is the component type, "otelaudit".
	Type = component.MustNewType("otelaudit")
	// ScopeName is the instrumentation scope of the exporter's telemetry.
	ScopeName = "github.com/otelaudit/otelaudit-go/collector/otelauditexporter"
)

const (
	// TracesStability is the stability of the traces exporter.
	TracesStability = component.StabilityLevelAlpha
	// LogsStability is the stability of the logs exporter (GenAI events
	// joined to their spans).
	LogsStability = component.StabilityLevelAlpha
)
