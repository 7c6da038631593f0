package s3store_test

import (
	"os"
	"testing"

	"github.com/otelaudit/otelaudit-go/internal/s3test"
)

func TestMain(m *testing.M) {
	code := m.Run()
	s3test.Report("storage/s3store", code)
	os.Exit(code)
}
