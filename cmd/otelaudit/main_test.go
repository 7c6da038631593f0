package main

import (
	"os"
	"testing"

	"github.com/otelaudit/otelaudit-go/internal/awstest"
	"github.com/otelaudit/otelaudit-go/internal/s3test"
)

func TestMain(m *testing.M) {
	code := m.Run()
	s3test.Report("cmd/otelaudit", code)
	awstest.Report("cmd/otelaudit", code)
	os.Exit(code)
}
