// Package metadata holds the component type and stability of the
// otelauditredact processor, as declared in ../../metadata.yaml (written by
// hand, in the shape mdatagen generates).
package metadata

import "go.opentelemetry.io/collector/component"

// Type is the component type, "otelauditredact".
var Type = component.MustNewType("otelauditredact")

const (
	// TracesStability is the stability of the traces processor.
	TracesStability = component.StabilityLevelAlpha
	// LogsStability is the stability of the logs processor.
	LogsStability = component.StabilityLevelAlpha
)
