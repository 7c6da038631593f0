package s3store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/otelaudit/otelaudit-go/internal/s3test"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
	"github.com/stretchr/testify/require"
)

// server is how the tests reach an S3-compatible server.
type server struct {
	endpoint, access, secret string
}

// testServer returns the server named by the environment; without one it
// skips t, or fails it when OTELAUDIT_S3_REQUIRED=1.
func testServer(tb testing.TB) server {
	tb.Helper()
	env, ok := s3test.FromEnv()
	if !ok {
		s3test.Missing(tb, fmt.Sprintf("no S3 server: set %s, %s and %s (make test starts versitygw and sets them)",
			s3test.EnvEndpoint, s3test.EnvAccessKey, s3test.EnvSecretKey))
	}
	return server{env.Endpoint, env.AccessKey, env.SecretKey}
}

// counter counts the HTTP requests a client sends, by method.
type counter struct {
	base                     http.RoundTripper
	get, put, list, del, all atomic.Int64
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.all.Add(1)
	switch {
	case r.Method == http.MethodPut:
		c.put.Add(1)
	case r.Method == http.MethodGet && r.URL.Query().Has("list-type"):
		c.list.Add(1)
	case r.Method == http.MethodGet:
		c.get.Add(1)
	case r.Method == http.MethodDelete || r.Method == http.MethodPost && r.URL.Query().Has("delete"):
		c.del.Add(1)
	}
	return c.base.RoundTrip(r)
}

func (c *counter) reset() {
	c.get.Store(0)
	c.put.Store(0)
	c.list.Store(0)
	c.del.Store(0)
	c.all.Store(0)
}

// client returns a path-style client for srv whose requests c counts (c
// may be nil).
func (srv server) client(c *counter, secret string) *s3.Client {
	var rt http.RoundTripper = http.DefaultTransport.(*http.Transport).Clone()
	if c != nil {
		c.base = rt
		rt = c
	}
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(srv.access, secret, ""),
		HTTPClient:   &http.Client{Transport: rt},
	})
}

// newCountedStore opens a Store with opts on a new bucket of the test
// server, through a client whose requests the returned counter counts. The
// Store is closed when tb ends, before the bucket is removed.
func newCountedStore(tb testing.TB, opts ...s3store.Option) (st *s3store.Store, c *counter, client *s3.Client, bucket string) {
	tb.Helper()
	srv := testServer(tb)
	c = new(counter)
	client = srv.client(c, srv.secret)
	bucket = newBucket(tb, client)
	st, err := s3store.New(tb.Context(), client, bucket, opts...)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = st.Close() })
	return st, c, client, bucket
}

// newBucket creates a bucket with a unique name and removes it, with its
// objects, when tb ends.
func newBucket(tb testing.TB, client *s3.Client) string {
	tb.Helper()
	var r [6]byte
	_, _ = rand.Read(r[:])
	name := "otelaudit-test-" + hex.EncodeToString(r[:])
	_, err := client.CreateBucket(tb.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)})
	require.NoError(tb, err, "create bucket")
	tb.Cleanup(func() { removeBucket(client, name) })
	return name
}

func removeBucket(client *s3.Client, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(name)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return
		}
		var ids []types.ObjectIdentifier
		for _, o := range out.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		if len(ids) > 0 {
			_, _ = client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(name), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		}
	}
	_, _ = client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
}

// gateway is a versitygw process the test controls, for fault tests.
type gateway struct {
	bin, root, addr, access, secret string
	cmd                             *exec.Cmd
}

// startGateway starts a private versitygw on a free port with a fresh
// posix root. Without a binary it skips (or fails under
// OTELAUDIT_S3_REQUIRED=1).
func startGateway(tb testing.TB) *gateway {
	tb.Helper()
	bin := os.Getenv(s3test.EnvVersityGW)
	if bin == "" {
		if p, err := filepath.Abs("../../bin/versitygw"); err == nil {
			bin = p
		}
	}
	if _, err := os.Stat(bin); err != nil {
		s3test.Missing(tb, fmt.Sprintf("no versitygw binary (set %s or run make test, which installs it into ./bin)", s3test.EnvVersityGW))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	addr := l.Addr().String()
	require.NoError(tb, l.Close())
	g := &gateway{bin: bin, root: tb.TempDir(), addr: addr, access: "faultaccess", secret: "faultsecret0123456789"}
	g.start(tb)
	tb.Cleanup(g.stop)
	s3test.MarkUsed()
	return g
}

func (g *gateway) start(tb testing.TB) {
	tb.Helper()
	g.cmd = exec.Command(g.bin, "--port", g.addr, "--access", g.access, "--secret", g.secret, "--quiet", "posix", g.root)
	g.cmd.Stdout, g.cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(tb, g.cmd.Start(), "start versitygw")
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", g.addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			g.stop()
			tb.Fatalf("versitygw did not listen on %s: %v", g.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop kills the server (no graceful shutdown, as in a crash).
func (g *gateway) stop() {
	if g.cmd == nil || g.cmd.Process == nil {
		return
	}
	_ = g.cmd.Process.Kill()
	_ = g.cmd.Wait()
	g.cmd = nil
}

func (g *gateway) server() server {
	return server{endpoint: "http://" + g.addr, access: g.access, secret: g.secret}
}
