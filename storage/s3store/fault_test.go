package s3store_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// flaky injects faults into the PUTs of batch objects: some get a 503
// SlowDown without reaching the server, some reach the server and then
// lose their response (the object is stored but the client sees an
// error), the worst case for duplicates.
type flaky struct {
	base              http.RoundTripper
	n                 atomic.Int64
	throttled, landed atomic.Int64
}

func (f *flaky) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, ".jsonl") {
		return f.base.RoundTrip(r)
	}
	switch f.n.Add(1) % 4 {
	case 1:
		f.throttled.Add(1)
		if r.Body != nil {
			_ = r.Body.Close()
		}
		body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`
		return &http.Response{
			StatusCode: http.StatusServiceUnavailable, Status: "503 Slow Down", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/xml"}}, Body: io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)), Request: r,
		}, nil
	case 2:
		resp, err := f.base.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			f.landed.Add(1)
		}
		return nil, errors.New("injected: connection reset after the request was served")
	}
	return f.base.RoundTrip(r)
}

// TestThrottlingAndLostResponses: throttled uploads are retried, and
// uploads whose response was lost are not stored twice.
func TestThrottlingAndLostResponses(t *testing.T) {
	srv := testServer(t)
	f := &flaky{base: http.DefaultTransport.(*http.Transport).Clone()}
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(srv.access, srv.secret, ""),
		HTTPClient:   &http.Client{Transport: f},
	})
	bucket := newBucket(t, srv.client(nil, srv.secret))
	st, err := s3store.New(t.Context(), client, bucket, s3store.WithMaxBatchEntries(100), s3store.WithMaxRetryBackoff(50*time.Millisecond))
	require.NoError(t, err)
	defer st.Close()

	base := time.Date(2025, 10, 31, 23, 30, 0, 0, time.UTC)
	var es []*storage.AuditEntry
	for i := range 2000 {
		e := entryAt(base.Add(time.Duration(i) * time.Second))
		es = append(es, e)
		require.NoError(t, st.Write(t.Context(), e))
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	require.NoError(t, st.Flush(ctx))
	assert.NotZero(t, f.throttled.Load(), "throttled PUTs")
	assert.NotZero(t, f.landed.Load(), "PUTs that landed but lost their response")

	n, err := st.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, len(es), n)
	got, err := st.ListEntries(ctx, base, base.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, got, len(es))
	for i := range es {
		if !assert.Equal(t, es[i].ID, got[i].ID) {
			break
		}
	}
}

// TestBackpressure: with the server down and the pending limit reached,
// Write blocks until its ctx ends and does not accept the entry; the
// entries accepted before are delivered once the server is back.
func TestBackpressure(t *testing.T) {
	g := startGateway(t)
	srv := g.server()
	client := srv.client(nil, srv.secret)
	bucket := newBucket(t, client)
	st, err := s3store.New(t.Context(), client, bucket,
		s3store.WithMaxPendingBytes(20_000), s3store.WithMaxBatchEntries(10),
		s3store.WithMaxRetryBackoff(100*time.Millisecond))
	require.NoError(t, err)
	defer st.Close()
	g.stop()

	base := time.Date(2025, 4, 30, 12, 0, 0, 0, time.UTC)
	var accepted []*storage.AuditEntry
	var blocked error
	for i := range 1000 {
		e := entryAt(base.Add(time.Duration(i) * time.Second))
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		err := st.Write(ctx, e)
		cancel()
		if err != nil {
			blocked = err
			break
		}
		accepted = append(accepted, e)
	}
	require.ErrorIs(t, blocked, context.DeadlineExceeded, "Write must block on the pending limit")
	assert.Less(t, len(accepted), 1000)
	assert.Equal(t, len(accepted), st.Stats().Pending)

	g.start(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	require.NoError(t, st.Flush(ctx))
	n, err := st.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, len(accepted), n, "accepted entries, and only those")
}
