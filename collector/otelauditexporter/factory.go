package otelauditexporter

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelaudit/otelaudit-go/collector/otelauditexporter/internal/metadata"
)

// NewFactory returns the factory of the otelaudit exporter (component type
// "otelaudit"). Its default config has content: hash, exporterhelper's
// default retry and in-memory sending queue, and [DefaultTimeout]; it has
// no store, so a config must name one.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithTraces(createTraces, metadata.TracesStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Content:       ContentHash,
		TimeoutConfig: exporterhelper.TimeoutConfig{Timeout: DefaultTimeout},
		QueueConfig:   configoptional.Some(exporterhelper.NewDefaultQueueConfig()),
		RetryConfig:   configretry.NewDefaultBackOffConfig(),
	}
}

func createTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	c := cfg.(*Config)
	ae := newAuditExporter(c, set)
	return exporterhelper.NewTraces(ctx, set, cfg, ae.pushTraces,
		exporterhelper.WithStart(ae.start),
		exporterhelper.WithShutdown(ae.shutdown),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithTimeout(c.TimeoutConfig),
		exporterhelper.WithRetry(c.RetryConfig),
		exporterhelper.WithQueue(c.QueueConfig),
	)
}
