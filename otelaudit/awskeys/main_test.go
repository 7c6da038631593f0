package awskeys_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/otelaudit/otelaudit-go/internal/awstest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	awstest.Report("otelaudit/awskeys", code)
	os.Exit(code)
}
