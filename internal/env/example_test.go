package env_test

import (
	"fmt"
	"os"
	"time"

	"github.com/otelaudit/otelaudit-go/internal/env"
)

// Days reads a whole number of days; an unset variable, or one that does
// not parse, keeps the default (the latter with a warning on slog).
func ExampleDays() {
	const name = "OTELAUDIT_EXAMPLE_DAYS"
	def := 30 * 24 * time.Hour

	os.Unsetenv(name)
	fmt.Println(env.Days(name, def))
	os.Setenv(name, "7")
	fmt.Println(env.Days(name, def))
	os.Setenv(name, "0")
	fmt.Println(env.Days(name, def))
	os.Setenv(name, "-3") // not >= 0: the default stays
	fmt.Println(env.Days(name, def))
	os.Unsetenv(name)
	// Output:
	// 720h0m0s
	// 168h0m0s
	// 0s
	// 720h0m0s
}
