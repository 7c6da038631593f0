package otelauditexporter_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/otelaudit/otelaudit-go/collector/internal/coltest"
	"github.com/otelaudit/otelaudit-go/collector/otelauditexporter"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// fileStorageID names a storage extension, which makes a sending queue
// persistent.
var fileStorageID = component.MustNewID("file_storage")

func defaultConfig() *otelauditexporter.Config {
	return otelauditexporter.NewFactory().CreateDefaultConfig().(*otelauditexporter.Config)
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *otelauditexporter.Config)
		want string // "" = valid
	}{
		{"directory, hash", func(c *otelauditexporter.Config) { c.Directory = "/d" }, ""},
		{"s3, plaintext", func(c *otelauditexporter.Config) {
			c.S3 = &otelauditexporter.S3Config{Bucket: "b"}
			c.Content = "plaintext"
		}, ""},
		{"encrypt with key_env", func(c *otelauditexporter.Config) { c.Directory, c.Content, c.KeyEnv = "/d", "encrypt", "K" }, ""},
		{"no store", func(*otelauditexporter.Config) {}, "set directory"},
		{"two stores", func(c *otelauditexporter.Config) {
			c.Directory, c.S3 = "/d", &otelauditexporter.S3Config{Bucket: "b"}
		}, "not both"},
		{"s3 without bucket", func(c *otelauditexporter.Config) { c.S3 = &otelauditexporter.S3Config{Prefix: "p"} }, "s3.bucket is required"},
		{"unknown content", func(c *otelauditexporter.Config) { c.Directory, c.Content = "/d", "clear" }, `got "clear"`},
		{"empty content", func(c *otelauditexporter.Config) { c.Directory, c.Content = "/d", "" }, `got ""`},
		{"encrypt without key", func(c *otelauditexporter.Config) { c.Directory, c.Content = "/d", "encrypt" }, "exactly one of key_file and key_env"},
		{"encrypt with two keys", func(c *otelauditexporter.Config) {
			c.Directory, c.Content, c.KeyEnv, c.KeyFile = "/d", "encrypt", "K", "/k"
		}, "exactly one of key_file and key_env"},
		{"key for hash", func(c *otelauditexporter.Config) { c.Directory, c.KeyFile = "/d", "/k" }, "are for content: encrypt"},
		{"persistent queue with retries", func(c *otelauditexporter.Config) {
			c.Directory = "/d"
			c.QueueConfig.Get().StorageID = &fileStorageID
		}, ""},
		{"persistent queue without retries", func(c *otelauditexporter.Config) {
			c.Directory, c.RetryConfig.Enabled = "/d", false
			c.QueueConfig.Get().StorageID = &fileStorageID
		}, "needs retry_on_failure.enabled"},
		{"persistent queue whose retries end", func(c *otelauditexporter.Config) {
			c.Directory, c.RetryConfig.MaxElapsedTime = "/d", 5*time.Minute
			c.QueueConfig.Get().StorageID = &fileStorageID
		}, "needs retry_on_failure.max_elapsed_time: 0"},
		{"memory queue whose retries end", func(c *otelauditexporter.Config) {
			c.Directory, c.RetryConfig.MaxElapsedTime = "/d", 5*time.Minute
		}, ""},
		{"join_wait half of timeout", func(c *otelauditexporter.Config) {
			c.Directory, c.JoinWait, c.TimeoutConfig.Timeout = "/d", 5*time.Second, 10*time.Second
		}, ""},
		{"join_wait close to timeout", func(c *otelauditexporter.Config) {
			c.Directory, c.JoinWait, c.TimeoutConfig.Timeout = "/d", 580*time.Millisecond, 590*time.Millisecond
		}, "join_wait (580ms) must be at most half of timeout (590ms)"},
		{"join_wait without timeout", func(c *otelauditexporter.Config) {
			c.Directory, c.JoinWait, c.TimeoutConfig.Timeout = "/d", time.Hour, 0
		}, ""},
		{"memory queue without retries", func(c *otelauditexporter.Config) { c.Directory, c.RetryConfig.Enabled = "/d", false }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultConfig()
			tc.edit(c)
			err := c.Validate()
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, otelauditexporter.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestDefaultRetryNeverGivesUp: the default retry_on_failure is enabled
// and has no end (max_elapsed_time 0): exporterhelper's own default stops
// after 5 minutes and drops the batch, whose spans were acknowledged.
func TestDefaultRetryNeverGivesUp(t *testing.T) {
	c := defaultConfig()
	assert.True(t, c.RetryConfig.Enabled)
	assert.Zero(t, c.RetryConfig.MaxElapsedTime)
	assert.Positive(t, c.RetryConfig.InitialInterval)
	c.Directory = "/d"
	c.QueueConfig.Get().StorageID = &fileStorageID
	assert.NoError(t, c.Validate(), "the default retry with a persistent queue")
}

// TestStartErrors: keys that are missing, short or malformed stop the
// exporter at start with an error that names the setting, never the key.
func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	short := write("short", "id:00112233\n")
	notHex := write("nothex", "# comment\nid:zzzz0011223344556677889900112233\n")
	empty := write("empty", "# only a comment\n")
	good := write("good", "\nhk1:00112233445566778899aabbccddeeff\n")
	openHex := write("hex-open", "hk1:00112233445566778899aabbccddeeff\n")
	require.NoError(t, os.Chmod(openHex, 0o644))
	fernet, err := otelaudit.GenerateKey()
	require.NoError(t, err)
	fernetFile := write("fernet", fernet+"\n")
	openFile := write("fernet-open", fernet+"\n")
	require.NoError(t, os.Chmod(openFile, 0o644))
	t.Setenv("COLTEST_BADKEY", "not-a-fernet-key")
	t.Setenv("COLTEST_EMPTY", " , ")
	t.Setenv("COLTEST_GOODKEY", fernet)

	tests := []struct {
		name string
		edit func(c *otelauditexporter.Config)
		want string // "" = starts
	}{
		{"hash key ok", func(c *otelauditexporter.Config) { c.HashKeyFile = good }, ""},
		{"checkpoint key ok", func(c *otelauditexporter.Config) { c.CheckpointKeyFile = good }, ""},
		{"encrypt key env ok", func(c *otelauditexporter.Config) { c.Content, c.KeyEnv = "encrypt", "COLTEST_GOODKEY" }, ""},
		{"short hash key", func(c *otelauditexporter.Config) { c.HashKeyFile = short }, "hash_key_file: key file " + short + ", line 1: otelaudit: invalid key: the key is 4 bytes"},
		{"checkpoint key file readable by others", func(c *otelauditexporter.Config) { c.CheckpointKeyFile = openHex }, "checkpoint_key_file: otelaudit: key file is accessible to group or others: " + openHex + " has mode 0644"},
		{"not hex", func(c *otelauditexporter.Config) { c.CheckpointKeyFile = notHex }, "not hex"},
		{"no key in file", func(c *otelauditexporter.Config) { c.HashKeyFile = empty }, "holds no key"},
		{"missing file", func(c *otelauditexporter.Config) { c.HashKeyFile = filepath.Join(dir, "absent") }, "no such file"},
		{"bad fernet key", func(c *otelauditexporter.Config) { c.Content, c.KeyEnv = "encrypt", "COLTEST_BADKEY" }, "key_env COLTEST_BADKEY"},
		{"empty key env", func(c *otelauditexporter.Config) { c.Content, c.KeyEnv = "encrypt", "COLTEST_EMPTY" }, "no key in environment variable COLTEST_EMPTY"},
		{"encrypt key file ok", func(c *otelauditexporter.Config) { c.Content, c.KeyFile = "encrypt", fernetFile }, ""},
		{"key file readable by others", func(c *otelauditexporter.Config) { c.Content, c.KeyFile = "encrypt", openFile }, "accessible to group or others"},
		{"missing key file", func(c *otelauditexporter.Config) { c.Content, c.KeyFile = "encrypt", filepath.Join(dir, "absent") }, "key_file"},
		{"store not creatable", func(c *otelauditexporter.Config) { c.Directory = filepath.Join(good, "sub") }, "open file store"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultConfig()
			c.Directory = t.TempDir()
			tc.edit(c)
			require.NoError(t, c.Validate())
			f := otelauditexporter.NewFactory()
			exp, err := f.CreateTraces(t.Context(), exportertest.NewNopSettings(f.Type()), c)
			require.NoError(t, err)
			err = exp.Start(t.Context(), componenttest.NewNopHost())
			defer func() { assert.NoError(t, exp.Shutdown(t.Context())) }()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "00112233445566778899aabbccddeeff")
			assert.NotContains(t, err.Error(), fernet)
			assert.False(t, errors.Is(err, otelauditexporter.ErrInvalidConfig))
		})
	}
}

// TestStartErrorsS3: an S3 store that cannot be used stops the exporter at
// start, within seconds, with an error that says why: a missing bucket, an
// endpoint that refuses connections, a wrong secret (never in the error).
func TestStartErrorsS3(t *testing.T) {
	bucket, srv, _ := newS3Bucket(t)
	closed := fmt.Sprintf("http://127.0.0.1:%d", coltest.FreePort(t))
	tests := []struct {
		name   string
		s3     otelauditexporter.S3Config
		secret string // "" = the server's
		want   string // "" = starts
	}{
		{"ok", otelauditexporter.S3Config{Bucket: bucket, Endpoint: srv.Endpoint}, "", ""},
		{"missing bucket", otelauditexporter.S3Config{Bucket: bucket + "-absent", Endpoint: srv.Endpoint}, "", "bucket does not exist"},
		{"closed endpoint", otelauditexporter.S3Config{Bucket: bucket, Endpoint: closed}, "", "connection refused"},
		{"wrong secret", otelauditexporter.S3Config{Bucket: bucket, Endpoint: srv.Endpoint}, "wrong-secret-0123", "access denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.secret != "" {
				t.Setenv("AWS_SECRET_ACCESS_KEY", tc.secret)
			}
			c := defaultConfig()
			s3c := tc.s3
			c.S3 = &s3c
			require.NoError(t, c.Validate())
			f := otelauditexporter.NewFactory()
			exp, err := f.CreateTraces(t.Context(), exportertest.NewNopSettings(f.Type()), c)
			require.NoError(t, err)
			start := time.Now()
			err = exp.Start(t.Context(), componenttest.NewNopHost())
			defer func() { assert.NoError(t, exp.Shutdown(t.Context())) }()
			assert.Less(t, time.Since(start), 30*time.Second)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "open S3 store s3://"+tc.s3.Bucket)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), srv.SecretKey)
			assert.NotContains(t, err.Error(), "wrong-secret-0123")
		})
	}
}

// TestStartTwoExportersOneDirectory: a second otelaudit exporter (or
// replica) on a directory another one holds fails at start, saying the
// store is in use.
func TestStartTwoExportersOneDirectory(t *testing.T) {
	dir := t.TempDir()
	f := otelauditexporter.NewFactory()
	var started []error
	for range 2 {
		c := defaultConfig()
		c.Directory = dir
		exp, err := f.CreateTraces(t.Context(), exportertest.NewNopSettings(f.Type()), c)
		require.NoError(t, err)
		started = append(started, exp.Start(t.Context(), componenttest.NewNopHost()))
		defer func() { assert.NoError(t, exp.Shutdown(t.Context())) }()
	}
	require.NoError(t, started[0])
	require.Error(t, started[1])
	t.Log(started[1])
	assert.Contains(t, started[1].Error(), "open file store "+dir)
}
