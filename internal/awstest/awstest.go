// Package awstest is what the project's AWS key tests share: the local
// AWS emulator `make test` starts (scripts/with-moto.sh runs moto_server on
// 127.0.0.1 and exports its address), the rule for a missing emulator
// (skip, or fail when OTELAUDIT_AWS_REQUIRED=1), clients configured for
// it, and the one-line summary each test binary reports so that
// `make test` shows the tests ran against it.
package awstest

import (
	"context"
	"net/http"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/otelaudit/otelaudit-go/internal/emulatortest"
)

// The variables scripts/with-moto.sh exports.
const (
	EnvEndpoint = "OTELAUDIT_AWS_ENDPOINT" // http://127.0.0.1:PORT of moto_server (Secrets Manager and KMS)
	EnvRequired = "OTELAUDIT_AWS_REQUIRED" // "1": a missing emulator fails the tests instead of skipping them
	EnvReport   = "OTELAUDIT_AWS_REPORT"   // a file each test binary appends its summary line to
)

// Region is the region the emulator is used in.
const Region = "us-east-1"

var emulator = &emulatortest.Emulator{
	What: "the AWS emulator", EnvEndpoint: EnvEndpoint, EnvRequired: EnvRequired, EnvReport: EnvReport,
}

// Endpoint returns the emulator's URL, or ends tb (skip, or fail under
// OTELAUDIT_AWS_REQUIRED=1) when the environment names none.
func Endpoint(tb testing.TB) string {
	tb.Helper()
	ep := os.Getenv(EnvEndpoint)
	if ep == "" {
		emulator.Missing(tb, "no AWS emulator: "+EnvEndpoint+" is not set (make test starts moto_server, see scripts/with-moto.sh)")
	}
	emulator.MarkUsed()
	return ep
}

// Config returns an AWS config for the emulator at endpoint with fixed
// test credentials. Use it in the environment of code under test with
// [Env].
func Config(endpoint string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(endpoint),
	}
}

// Env sets, for the rest of tb, the AWS_* variables that make the SDK's
// default config reach the emulator at endpoint (as the CLI loads it).
func Env(tb testing.TB, endpoint string) {
	tb.Setenv("AWS_ACCESS_KEY_ID", "testing")
	tb.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	tb.Setenv("AWS_SESSION_TOKEN", "")
	tb.Setenv("AWS_REGION", Region)
	tb.Setenv("AWS_ENDPOINT_URL", endpoint)
	tb.Setenv("AWS_CONFIG_FILE", os.DevNull)
	tb.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	tb.Setenv("AWS_PROFILE", "")
	tb.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// KMS returns a KMS client for the emulator.
func KMS(endpoint string) *kms.Client { return kms.NewFromConfig(Config(endpoint)) }

// KMSAsAccount returns a KMS client for the emulator that acts as another
// AWS account: keys of the default account do not exist for it, as for a
// caller whose access to a key was revoked.
func KMSAsAccount(endpoint, account string) *kms.Client {
	cfg := Config(endpoint)
	cfg.HTTPClient = &http.Client{Transport: accountTransport(account)}
	return kms.NewFromConfig(cfg)
}

type accountTransport string

func (a accountTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("x-moto-account-id", string(a)) // moto's per-request account
	return http.DefaultTransport.RoundTrip(r)
}

// SecretsManager returns a Secrets Manager client for the emulator.
func SecretsManager(endpoint string) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(Config(endpoint))
}

// NewKMSKey creates a symmetric KMS key in the emulator and returns its
// ARN.
func NewKMSKey(tb testing.TB, c *kms.Client) string {
	tb.Helper()
	out, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{Description: aws.String("otelaudit test " + tb.Name())})
	if err != nil {
		tb.Fatalf("create KMS key in the emulator: %v", err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

// Report appends "pkg: PASS|FAIL, N tests ran against the AWS emulator
// URL" to the file OTELAUDIT_AWS_REPORT names, if any. Call it from
// TestMain with the code m.Run returned.
func Report(pkg string, code int) { emulator.Report(pkg, code) }
