package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/s3test"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// s3Server returns an S3-compatible server: the one the environment
// names, else a private versitygw when its binary is available; without
// either the test is skipped (failed under OTELAUDIT_S3_REQUIRED=1).
func s3Server(t *testing.T) (endpoint, access, secret string) {
	t.Helper()
	if srv, ok := s3test.FromEnv(); ok {
		return srv.Endpoint, srv.AccessKey, srv.SecretKey
	}
	bin := os.Getenv(s3test.EnvVersityGW)
	if bin == "" {
		bin, _ = filepath.Abs("../../bin/versitygw")
	}
	if _, err := os.Stat(bin); err != nil {
		s3test.Missing(t, "no S3 server: set "+s3test.EnvEndpoint+" (make test does) or "+s3test.EnvVersityGW)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	access, secret = "cliaccess", "clisecret0123456789"
	cmd := exec.Command(bin, "--port", addr, "--access", access, "--secret", secret, "--quiet", "posix", t.TempDir())
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		require.True(t, time.Now().Before(deadline), "versitygw did not start: %v", err)
		time.Sleep(50 * time.Millisecond)
	}
	s3test.MarkUsed()
	return "http://" + addr, access, secret
}

// s3CLI starts (or finds) an S3 server, creates a fresh bucket, and points
// the CLI's standard AWS credential chain at the server only, isolated from
// any AWS configuration of the machine.
func s3CLI(t *testing.T) (client *s3.Client, endpoint, bucket, secret string) {
	endpoint, access, secret := s3Server(t)
	client = s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(access, secret, ""),
	})
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	bucket = "otelaudit-cli-" + hex.EncodeToString(rnd[:])
	_, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	// The CLI takes credentials from the standard AWS chain; isolate it
	// from any AWS configuration of the machine.
	t.Setenv("AWS_ACCESS_KEY_ID", access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return client, endpoint, bucket, secret
}

func TestS3Store(t *testing.T) {
	client, endpoint, bucket, secret := s3CLI(t)

	// Load the plaintext reference store into the bucket.
	exp := loadExpected(t)
	ds := exp.Datasets["plaintext"]
	var es []*storage.AuditEntry
	for _, name := range []string{"audit_20250531.jsonl", "audit_20250601.jsonl"} {
		f, err := os.Open(filepath.Join(refDir(ds.Dir), name))
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			e, err := storage.ParseEntry(sc.Bytes())
			require.NoError(t, err)
			es = append(es, e)
		}
		f.Close()
	}
	st, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix("cli/"))
	require.NoError(t, err)
	require.NoError(t, st.WriteBatch(t.Context(), es))
	require.NoError(t, st.Close())

	s3args := []string{"--s3-bucket", bucket, "--s3-prefix", "cli/", "--s3-endpoint", endpoint, "--s3-region", "us-east-1"}

	r := runCLI(t, append([]string{"query", "--format", "jsonl"}, s3args...)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, idsWhere(t, ds, func(refEntry) bool { return true }), jsonlIDs(t, r.stdout))

	r = runCLI(t, append([]string{"query", "--format", "jsonl", "--provider", "azure", "--from", "2025-06-01"}, s3args...)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, []string{"461cc448-fa01-4193-9383-235738414d6d"}, jsonlIDs(t, r.stdout))

	r = runCLI(t, append([]string{"count"}, s3args...)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, fmt.Sprintf("%d\n", ds.Count), r.stdout)

	re := ds.Entries[3]
	r = runCLI(t, append([]string{"show", re.ID}, s3args...)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "\n"+re.Input+"\n")

	r = runCLI(t, append([]string{"stats"}, s3args...)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Total entries:      10 in store, 10 in range\n")

	now := time.Date(2025, 6, 11, 12, 0, 0, 0, time.UTC)
	r = runAt(t, now, append([]string{"cleanup", "--retention-days", "10"}, s3args...)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Removed 7 entries in 2 days\n")
	r = runCLI(t, append([]string{"count"}, s3args...)...)
	assert.Equal(t, "3\n", r.stdout)

	// Errors: a missing bucket is an I/O error; S3 flags without a bucket
	// and two stores at once are usage errors.
	r = runCLI(t, "count", "--s3-bucket", bucket+"-missing", "--s3-endpoint", endpoint)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "open S3 store")
	assert.NotContains(t, r.stderr, secret)
	r = runCLI(t, "count", "--s3-endpoint", endpoint)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "need --s3-bucket")
	r = runCLI(t, "count", "--dir", refDir("plaintext"), "--s3-bucket", bucket)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "give one")
}

// TestS3ReadingAnEmptyPrefixWarns: query, count and stats of an S3 prefix
// with no object (a mistyped --s3-prefix) still answer 0 but say on
// stderr that no store is there, and show says so with its not-found; a
// prefix that holds a store, even with no entry in range, gets no such
// warning.
func TestS3ReadingAnEmptyPrefixWarns(t *testing.T) {
	client, endpoint, bucket, _ := s3CLI(t)
	st, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix("real/"))
	require.NoError(t, err)
	e := chainEntry(0)
	require.NoError(t, st.Write(t.Context(), e))
	require.NoError(t, st.Close())
	args := func(prefix string, more ...string) []string {
		return append(more, "--s3-bucket", bucket, "--s3-prefix", prefix, "--s3-endpoint", endpoint, "--s3-region", "us-east-1")
	}
	for _, cmd := range []string{"query", "count", "stats"} {
		r := runCLI(t, args("rael/", cmd)...)
		assert.Equal(t, 0, r.code, "%s: %s", cmd, r.stderr)
		assert.Contains(t, r.stderr, "otelaudit "+cmd+": warning: s3://"+bucket+"/rael/ holds no audit store (no object under the prefix)", cmd)
		r = runCLI(t, args("real/", cmd, "--from", "2000-01-01", "--to", "2000-01-02")...)
		if cmd == "count" {
			r = runCLI(t, args("real/", cmd)...)
			assert.Equal(t, "1\n", r.stdout)
		}
		assert.Equal(t, 0, r.code, "%s: %s", cmd, r.stderr)
		assert.NotContains(t, r.stderr, "holds no audit store", cmd)
	}
	r := runCLI(t, args("rael/", "show", e.ID)...)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "it holds no audit store (no object under the prefix)")
	keys := s3test.Keys(t, client, bucket, "rael/")
	assert.Empty(t, keys, "reading created nothing")
}
