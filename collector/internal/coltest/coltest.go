// Package coltest runs an in-process Collector with the real factories of
// the otelcol-audit distribution, for the collector module's tests.
package coltest

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/otlphttpexporter"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"

	"github.com/otelaudit/otelaudit-go/collector/otelauditexporter"
	"github.com/otelaudit/otelaudit-go/collector/otelauditredactprocessor"
)

// Factories are the components the tests use, built from their real
// factories.
func Factories() (otelcol.Factories, error) {
	f := otelcol.Factories{
		Receivers:  map[component.Type]receiver.Factory{},
		Processors: map[component.Type]processor.Factory{},
		Exporters:  map[component.Type]exporter.Factory{},
		Telemetry:  otelconftelemetry.NewFactory(),
	}
	for _, r := range []receiver.Factory{otlpreceiver.NewFactory()} {
		f.Receivers[r.Type()] = r
	}
	for _, p := range []processor.Factory{otelauditredactprocessor.NewFactory()} {
		f.Processors[p.Type()] = p
	}
	for _, e := range []exporter.Factory{otelauditexporter.NewFactory(), otlphttpexporter.NewFactory()} {
		f.Exporters[e.Type()] = e
	}
	return f, nil
}

// FreePort returns a free TCP port on 127.0.0.1.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Collector is a running in-process Collector.
type Collector struct {
	col  *otelcol.Collector
	done chan error
}

// Start runs a Collector with configYAML until Stop (or the test's end) and
// waits until it is running. A start failure fails tb.
func Start(tb testing.TB, configYAML string) *Collector {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(configYAML), 0o600); err != nil {
		tb.Fatal(err)
	}
	col, err := otelcol.NewCollector(otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{Command: "otelcol-audit-test", Version: "test"},
		Factories: Factories,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{ResolverSettings: confmap.ResolverSettings{
			URIs:              []string{path},
			DefaultScheme:     "file",
			ProviderFactories: []confmap.ProviderFactory{fileprovider.NewFactory()},
		}},
		DisableGracefulShutdown: true,
		// The gRPC logger is process-wide: Collectors started side by side
		// in one test process would race setting it.
		SkipSettingGRPCLogger: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	c := &Collector{col: col, done: make(chan error, 1)}
	go func() { c.done <- col.Run(context.Background()) }()
	deadline := time.Now().Add(60 * time.Second)
	for col.GetState() != otelcol.StateRunning {
		select {
		case err := <-c.done:
			tb.Fatalf("collector stopped while starting: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatal("collector did not start within 60s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Cleanup(func() { _ = c.Stop() })
	return c
}

// Stop shuts the Collector down (its exporters drain their queues) and
// returns Run's error. It may be called more than once.
func (c *Collector) Stop() error {
	if c.col == nil {
		return nil
	}
	c.col.Shutdown()
	select {
	case err := <-c.done:
		c.col = nil
		return err
	case <-time.After(2 * time.Minute):
		return errors.New("collector did not stop within 2 minutes")
	}
}
