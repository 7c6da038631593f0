package exporter_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/handletest"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

type pipeline struct {
	backend *fakeBackend
	exp     *exporter.Exporter
	proc    sdktrace.SpanProcessor
	tp      *sdktrace.TracerProvider
}

func newPipeline(t *testing.T, b *fakeBackend, eopts []exporter.Option, popts ...exporter.ProcessorOption) *pipeline {
	t.Helper()
	logger, err := otelaudit.NewLogger(b)
	require.NoError(t, err)
	eopts = append([]exporter.Option{exporter.WithRetryBackoff(time.Millisecond, 20*time.Millisecond)}, eopts...)
	exp, err := exporter.New(logger, eopts...)
	require.NoError(t, err)
	proc := exporter.NewProcessor(exp, popts...)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(proc))
	return &pipeline{backend: b, exp: exp, proc: proc, tp: tp}
}

// endCalls ends n audited calls from g goroutines and returns their entry ids.
func (p *pipeline) endCalls(g, n int) []string {
	ids := make([]string, n)
	var wg sync.WaitGroup
	per := n / g
	for w := range g {
		wg.Go(func() {
			hi := (w + 1) * per
			if w == g-1 {
				hi = n
			}
			for i := w * per; i < hi; i++ {
				_, call := otelaudit.StartCall(context.Background(), otelaudit.Request{
					Provider: "openai", Model: "gpt-4o", Input: []otelaudit.Message{{Content: "q"}},
				}, otelaudit.WithTracerProvider(p.tp))
				call.SetOutput(otelaudit.Message{Content: "a"})
				ids[i] = call.EntryID()
				call.End()
			}
		})
	}
	wg.Wait()
	return ids
}

func (p *pipeline) assertExactly(t *testing.T, ids []string) {
	t.Helper()
	count, err := p.backend.Count(context.Background())
	require.NoError(t, err)
	assert.Equal(t, len(ids), count, "entries in the store")
	assert.Equal(t, len(ids), p.backend.distinct(), "distinct ids written")
	assert.Zero(t, p.backend.duplicates(), "ids written twice")
	for _, i := range []int{0, len(ids) / 2, len(ids) - 1} {
		_, err := p.backend.Read(context.Background(), ids[i])
		assert.NoError(t, err)
	}
}

func TestLossless100kFlakySlowBackend(t *testing.T) {
	b := newFakeBackend()
	b.delay = time.Millisecond
	b.failRate = 0.10
	b.partial = true // a failed write may have stored half its batch
	p := newPipeline(t, b, nil)
	const n = 100_000
	start := time.Now()
	ids := p.endCalls(8, n)
	require.NoError(t, p.tp.Shutdown(t.Context()))
	t.Logf("%d spans in %v; backend calls %d, failed %d", n, time.Since(start), b.calls, b.failures)
	p.assertExactly(t, ids)
	s := p.exp.Stats()
	assert.Zero(t, s.Dropped, "drop counter")
	assert.Equal(t, int64(n), s.Written)
	assert.Positive(t, s.Failed)
	assert.Positive(t, s.Retried)
	assert.Positive(t, b.failures)
}

func TestBackendOutageThenRecovery(t *testing.T) {
	for _, mode := range []string{"block", "spool"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			b := newFakeBackend()
			b.downUntil = time.Now().Add(5 * time.Second)
			popts := []exporter.ProcessorOption{exporter.WithMaxQueueSize(256), exporter.WithMaxBatchSize(64)}
			spoolDir := filepath.Join(t.TempDir(), "spool")
			if mode == "spool" {
				popts = append(popts, exporter.WithSpool(spoolDir))
			}
			p := newPipeline(t, b, []exporter.Option{exporter.WithRetryBackoff(5*time.Millisecond, 200*time.Millisecond)}, popts...)
			const n = 5000
			ids := p.endCalls(8, n)
			if mode == "spool" {
				// The queue overflowed while the backend was down.
				assert.Positive(t, p.exp.Stats().Spooled)
				fi, err := os.Stat(spoolDir)
				require.NoError(t, err)
				assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
				segs, _ := filepath.Glob(filepath.Join(spoolDir, "spool-*.jsonl"))
				require.NotEmpty(t, segs)
				fi, err = os.Stat(segs[0])
				require.NoError(t, err)
				assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
			}
			require.NoError(t, p.tp.ForceFlush(t.Context()))
			assert.False(t, time.Now().Before(b.downUntil), "flush returned before the backend recovered")
			p.assertExactly(t, ids)
			require.NoError(t, p.tp.Shutdown(t.Context()))
			s := p.exp.Stats()
			assert.Zero(t, s.Dropped)
			assert.Equal(t, s.Spooled, s.Replayed)
			assert.Positive(t, s.Failed)
			if mode == "spool" {
				segs, _ := filepath.Glob(filepath.Join(spoolDir, "spool-*.jsonl"))
				assert.Empty(t, segs, "replayed segments are removed")
			}
		})
	}
}

// TestExportSpansRetryNoDuplicates drives the Exporter directly (as an SDK
// processor would) against a backend that stores half a batch and then
// fails.
func TestExportSpansRetryNoDuplicates(t *testing.T) {
	b := newFakeBackend()
	b.failRate = 0.5
	b.partial = true
	logger, err := otelaudit.NewLogger(b)
	require.NoError(t, err)
	exp, err := exporter.New(logger, exporter.WithRetryBackoff(time.Millisecond, 2*time.Millisecond))
	require.NoError(t, err)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	for round := range 10 {
		rec.Reset()
		for i := range 40 {
			_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Model: fmt.Sprint("m", round, i)}, otelaudit.WithTracerProvider(tp))
			call.End()
		}
		require.NoError(t, exp.ExportSpans(t.Context(), rec.Ended()))
	}
	assert.Equal(t, 400, b.distinct())
	assert.Positive(t, exp.Stats().Retried)
	assert.Zero(t, b.duplicates())
	require.NoError(t, tp.Shutdown(t.Context()))
	require.NoError(t, exp.Shutdown(t.Context()))
	assert.ErrorIs(t, exp.ExportSpans(t.Context(), rec.Ended()), exporter.ErrShutdown)
}

func TestShutdownTimeout(t *testing.T) {
	t.Run("block: lost entries are counted and reported", func(t *testing.T) {
		b := newFakeBackend()
		b.hang = make(chan struct{})
		p := newPipeline(t, b, nil)
		p.endCalls(1, 100)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		err := p.tp.Shutdown(ctx)
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "100 accepted audit entries not written to the backend and dropped")
		assert.Equal(t, int64(100), p.exp.Stats().Dropped)
	})
	t.Run("spool: entries kept and replayed by the next run", func(t *testing.T) {
		dir := t.TempDir()
		b := newFakeBackend()
		b.hang = make(chan struct{})
		p := newPipeline(t, b, nil, exporter.WithSpool(dir))
		ids := p.endCalls(2, 100)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		err := p.tp.Shutdown(ctx)
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "100 accepted audit entries not written to the backend (100 kept in the spool")
		assert.Zero(t, p.exp.Stats().Dropped)

		// Next run: a working backend; the spool is replayed.
		b2 := newFakeBackend()
		p2 := newPipeline(t, b2, nil, exporter.WithSpool(dir))
		require.NoError(t, p2.tp.ForceFlush(t.Context()))
		p2.assertExactly(t, ids)
		require.NoError(t, p2.tp.Shutdown(t.Context()))
		assert.Equal(t, int64(100), p2.exp.Stats().Replayed)
		segs, _ := filepath.Glob(filepath.Join(dir, "spool-*.jsonl"))
		assert.Empty(t, segs)
	})
}

func TestForceFlush(t *testing.T) {
	t.Run("durable on return", func(t *testing.T) {
		b := newFakeBackend()
		b.delay = 2 * time.Millisecond
		p := newPipeline(t, b, nil)
		ids := p.endCalls(4, 2000)
		require.NoError(t, p.tp.ForceFlush(t.Context()))
		p.assertExactly(t, ids)
		b.mu.Lock()
		assert.Positive(t, b.flushes, "backend Flush called")
		b.mu.Unlock()
		require.NoError(t, p.tp.Shutdown(t.Context()))
	})
	t.Run("times out with a count", func(t *testing.T) {
		b := newFakeBackend()
		b.downUntil = time.Now().Add(time.Hour)
		p := newPipeline(t, b, nil)
		p.endCalls(1, 10)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		err := p.tp.ForceFlush(ctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "10 accepted audit entries not yet in the backend")
		ctx2, cancel2 := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel2()
		assert.Error(t, p.tp.Shutdown(ctx2))
		assert.Equal(t, int64(10), p.exp.Stats().Dropped)
	})
	t.Run("done ctx", func(t *testing.T) {
		p := newPipeline(t, newFakeBackend(), nil)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		assert.ErrorIs(t, p.proc.ForceFlush(ctx), context.Canceled)
		require.NoError(t, p.tp.Shutdown(t.Context()))
	})
}

func TestAfterShutdown(t *testing.T) {
	p := newPipeline(t, newFakeBackend(), nil)
	p.endCalls(1, 10)
	require.NoError(t, p.proc.Shutdown(t.Context()))
	require.NoError(t, p.proc.Shutdown(t.Context()), "second Shutdown returns the first result")
	assert.NoError(t, p.proc.ForceFlush(t.Context()))
	p.endCalls(1, 3) // ended after Shutdown: counted as dropped
	assert.Equal(t, int64(3), p.exp.Stats().Dropped)
	assert.Equal(t, int64(10), p.exp.Stats().Written)
	require.NoError(t, p.tp.Shutdown(t.Context()))
}

// TestAfterShutdownReportedOnce: a service shutting down under load ends
// many GenAI spans after the processor's Shutdown. Each is counted in
// Stats().Dropped, exactly, but otel.Handle hears of the loss once, with
// where to find the total, not once per span (which flooded the error
// handler and its log while the service stopped).
func TestAfterShutdownReportedOnce(t *testing.T) {
	reported := handletest.Capture(t)
	p := newPipeline(t, newFakeBackend(), nil)
	require.NoError(t, p.proc.Shutdown(t.Context()))
	const n = 500
	p.endCalls(8, n)
	assert.Equal(t, int64(n), p.exp.Stats().Dropped, "every span ended after Shutdown is counted")
	var lost []string
	for _, r := range reported() {
		if strings.Contains(r, "after Shutdown") {
			lost = append(lost, r)
		}
	}
	require.Equal(t, 1, len(lost), "reported once per processor, not per span")
	assert.Contains(t, lost[0], "Stats().Dropped", "the report says where the total is")
	require.NoError(t, p.tp.Shutdown(t.Context()))
}

// TestSpoolFailureReportedOncePerOutage: while the spool cannot be
// written (its directory gone, a full disk), every span that overflows
// the queue falls back to blocking on it; that is reported once, not once
// per span, and no entry is lost.
func TestSpoolFailureReportedOncePerOutage(t *testing.T) {
	reported := handletest.Capture(t)
	dir := filepath.Join(t.TempDir(), "spool")
	b := newFakeBackend()
	b.delay = time.Millisecond
	p := newPipeline(t, b, nil, exporter.WithSpool(dir), exporter.WithMaxQueueSize(1), exporter.WithMaxBatchSize(1))
	require.NoError(t, os.RemoveAll(dir)) // every spool write fails from now on
	const n = 200
	ids := p.endCalls(8, n)
	require.NoError(t, p.tp.Shutdown(t.Context()))
	p.assertExactly(t, ids)
	failed := 0
	for _, r := range reported() {
		if strings.Contains(r, "spool write failed") {
			failed++
		}
	}
	assert.Equal(t, 1, failed, "reported once per outage, not per span")
}

func TestNilAndInvalid(t *testing.T) {
	_, err := exporter.New(nil)
	assert.Error(t, err)
	proc := exporter.NewProcessor(nil)
	proc.OnEnd(nil)
	assert.NoError(t, proc.ForceFlush(t.Context()))
	assert.NoError(t, proc.Shutdown(t.Context()))
	assert.NoError(t, exporter.Redact(nil).ExportSpans(t.Context(), nil))
}

// TestConcurrentOnEndFlushShutdown runs OnEnd, ForceFlush and Shutdown at
// once (run with -race): every ended GenAI span is either written or
// counted as dropped (ended after Shutdown), never silently lost.
func TestConcurrentOnEndFlushShutdown(t *testing.T) {
	b := newFakeBackend()
	b.failRate = 0.2
	p := newPipeline(t, b, nil, exporter.WithMaxQueueSize(64), exporter.WithMaxBatchSize(16))
	var ended sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 4 {
		ended.Go(func() {
			for range 300 {
				_, call := otelaudit.StartCall(context.Background(), otelaudit.Request{Model: "m"}, otelaudit.WithTracerProvider(p.tp))
				call.End()
				mu.Lock()
				total++
				mu.Unlock()
			}
		})
	}
	var others sync.WaitGroup
	for range 3 {
		others.Go(func() { _ = p.proc.ForceFlush(t.Context()) })
	}
	time.Sleep(5 * time.Millisecond)
	others.Go(func() { assert.NoError(t, p.proc.Shutdown(t.Context())) })
	ended.Wait()
	others.Wait()
	s := p.exp.Stats()
	assert.Equal(t, int64(total), s.Written+s.Dropped)
	assert.Zero(t, b.duplicates())
	require.NoError(t, p.tp.Shutdown(t.Context()))
}

func TestMetrics(t *testing.T) {
	b := newFakeBackend()
	p, reader := newMetricsPipeline(t, b)
	for range 5 {
		_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Provider: "openai", Model: "gpt-4o"}, otelaudit.WithTracerProvider(p.tp))
		call.SetUsage(10, 4)
		call.End()
	}
	require.NoError(t, p.tp.ForceFlush(t.Context()))
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(t.Context(), &rm))
	got := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			got[m.Name] = m.Data
		}
	}
	written := got[exporter.MetricEntriesWritten].(metricdata.Sum[int64])
	assert.Equal(t, int64(5), written.DataPoints[0].Value)
	assert.Contains(t, got, exporter.MetricQueueDepth)
	assert.Contains(t, got, exporter.MetricEntriesDropped)
	wd := got[exporter.MetricWriteDuration].(metricdata.Histogram[float64])
	assert.NotEmpty(t, wd.DataPoints)
	dur := got["gen_ai.client.operation.duration"].(metricdata.Histogram[float64])
	require.Len(t, dur.DataPoints, 1)
	assert.Equal(t, uint64(5), dur.DataPoints[0].Count)
	op, _ := dur.DataPoints[0].Attributes.Value(semconv.GenAIOperationNameKey)
	assert.Equal(t, "chat", op.AsString())
	usage := got["gen_ai.client.token.usage"].(metricdata.Histogram[int64])
	require.Len(t, usage.DataPoints, 2)
	for _, dp := range usage.DataPoints {
		tt, _ := dp.Attributes.Value(attribute.Key("gen_ai.token.type"))
		want := map[string]int64{"input": 50, "output": 20}[tt.AsString()]
		assert.Equal(t, want, dp.Sum, tt.AsString())
	}
	require.NoError(t, p.tp.Shutdown(t.Context()))
}

var _ = errors.New
var _ = strings.Contains
