package env

import (
	"testing"
	"time"
)

func TestDays(t *testing.T) {
	const name = "OTELAUDIT_TEST_DAYS"
	def := 3 * time.Hour
	for _, tc := range []struct {
		val  string
		want time.Duration
	}{
		{"", def},
		{"7", 7 * 24 * time.Hour},
		{"0", 0},
		{"-1", def},
		{"seven", def},
	} {
		t.Setenv(name, tc.val)
		if got := Days(name, def); got != tc.want {
			t.Errorf("Days(%q) = %v, want %v", tc.val, got, tc.want)
		}
	}
}
