// Package env names the environment variables otelaudit reads, in one place,
// and reads them with the project's rule: a value that does not parse is
// reported and the default is kept; start-up never fails on it.
package env

import (
	"log/slog"
	"os"
	"strconv"
	"time"
)

const (
	// Key holds one or more Fernet keys, comma separated; the first
	// encrypts, all decrypt.
	Key = "OTELAUDIT_KEY"
	// KeyFile names a file holding keys, one per line.
	KeyFile = "OTELAUDIT_KEY_FILE"
	// KeySecret names an AWS Secrets Manager secret (name or ARN) holding
	// the key ring, for the CLI and awskeys.
	KeySecret = "OTELAUDIT_KEY_SECRET"
	// KMSKeyID names the AWS KMS key for envelope encryption (awskeys).
	KMSKeyID = "OTELAUDIT_KMS_KEY_ID"
	// RetentionDays is the Logger's retention in days when no option sets it.
	RetentionDays = "OTELAUDIT_RETENTION_DAYS"
)

// Days reads name as a whole number of days and returns it as a duration,
// or def when the variable is unset or not a number >= 0 (with a warning).
func Days(name string, def time.Duration) time.Duration {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		slog.Warn("otelaudit: ignoring invalid environment variable", "name", name, "want", "a whole number of days >= 0")
		return def
	}
	return time.Duration(n) * 24 * time.Hour
}
