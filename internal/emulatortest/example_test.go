package emulatortest_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/otelaudit/otelaudit-go/internal/emulatortest"
)

// Each test binary counts the tests that got the emulator and appends one
// summary line to the report file the start-up script names, so that the
// script can tell the tests really ran against it.
func ExampleEmulator_Report() {
	dir, err := os.MkdirTemp("", "emulatortest-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	report := filepath.Join(dir, "report")
	os.Setenv("EXAMPLE_ENDPOINT", "http://127.0.0.1:7070")
	os.Setenv("EXAMPLE_REPORT", report)
	defer os.Unsetenv("EXAMPLE_ENDPOINT")
	defer os.Unsetenv("EXAMPLE_REPORT")

	e := &emulatortest.Emulator{What: "the example server", EnvEndpoint: "EXAMPLE_ENDPOINT",
		EnvRequired: "EXAMPLE_REQUIRED", EnvReport: "EXAMPLE_REPORT"}
	e.MarkUsed() // two tests got the server
	e.MarkUsed()
	e.Report("example/pkg", 0) // from TestMain, with m.Run's code
	e.Report("example/other", 1)

	b, err := os.ReadFile(report)
	fmt.Print(string(b), err, "\n")
	// Output:
	// example/pkg: PASS, 2 tests and benchmarks ran against the example server http://127.0.0.1:7070
	// example/other: FAIL, 2 tests and benchmarks ran against the example server http://127.0.0.1:7070
	// <nil>
}
