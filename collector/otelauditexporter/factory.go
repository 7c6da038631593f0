package otelauditexporter

import (
	"context"
	"sync"

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
// default in-memory sending queue and retry, the retry without an end
// (max_elapsed_time 0, see [DefaultRetryConfig]), and [DefaultTimeout];
// it has no store, so a config must name one.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithTraces(createTraces, metadata.TracesStability),
		exporter.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Content:       ContentHash,
		JoinWait:      DefaultJoinWait,
		JoinMaxBytes:  DefaultJoinMaxBytes,
		TimeoutConfig: exporterhelper.TimeoutConfig{Timeout: DefaultTimeout},
		QueueConfig:   configoptional.Some(exporterhelper.NewDefaultQueueConfig()),
		RetryConfig:   DefaultRetryConfig(),
	}
}

// DefaultRetryConfig is the default retry_on_failure: exporterhelper's
// default with max_elapsed_time 0, so a failed write is retried until the
// store takes it. exporterhelper's own default gives up after 5 minutes
// and then drops the batch, whose spans the receiver had acknowledged: a
// store down longer than that would lose audit entries.
func DefaultRetryConfig() configretry.BackOffConfig {
	c := configretry.NewDefaultBackOffConfig()
	c.MaxElapsedTime = 0
	return c
}

// shared holds one auditExporter per config, so that the traces and logs
// exporters of one configured component share a store and the join.
var shared = struct {
	sync.Mutex
	m map[*Config]*auditExporter
}{m: map[*Config]*auditExporter{}}

func sharedExporter(c *Config, set exporter.Settings) *auditExporter {
	shared.Lock()
	defer shared.Unlock()
	ae := shared.m[c]
	if ae == nil {
		ae = newAuditExporter(c, set)
		ae.release = func() {
			shared.Lock()
			delete(shared.m, c)
			shared.Unlock()
		}
		shared.m[c] = ae
	}
	return ae
}

func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	c := cfg.(*Config)
	ae := sharedExporter(c, set)
	ae.logs.Store(true)
	return exporterhelper.NewLogs(ctx, set, cfg, ae.pushLogs,
		exporterhelper.WithStart(ae.start),
		exporterhelper.WithShutdown(ae.shutdown),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithTimeout(c.TimeoutConfig),
		exporterhelper.WithRetry(c.RetryConfig),
		exporterhelper.WithQueue(c.QueueConfig),
	)
}

func createTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	c := cfg.(*Config)
	ae := sharedExporter(c, set)
	return exporterhelper.NewTraces(ctx, set, cfg, ae.pushTraces,
		exporterhelper.WithStart(ae.start),
		exporterhelper.WithShutdown(ae.shutdown),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithTimeout(c.TimeoutConfig),
		exporterhelper.WithRetry(c.RetryConfig),
		exporterhelper.WithQueue(c.QueueConfig),
	)
}
