package otelauditexporter_test

import (
	"os"
	"testing"

	"github.com/otelaudit/otelaudit-go/internal/s3test"
)

func TestMain(m *testing.M) {
	code := m.Run()
	s3test.Report("collector/otelauditexporter", code)
	os.Exit(code)
}
