package exporter_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// TestShutdownWithBackendThatIgnoresCtx: a backend that blocks forever and
// ignores ctx must not hold Shutdown past its deadline; the error says how
// many entries are not durable.
func TestShutdownWithBackendThatIgnoresCtx(t *testing.T) {
	for _, spool := range []bool{false, true} {
		name := "block"
		if spool {
			name = "spool"
		}
		t.Run(name, func(t *testing.T) {
			b := newFakeBackend()
			b.hang, b.hangHard = make(chan struct{}), true
			defer close(b.hang) // let the stuck write return, for goleak
			var popts []exporter.ProcessorOption
			if spool {
				// Not t.TempDir: the stuck write, released at the end,
				// spills to the spool while the test returns.
				dir, err := os.MkdirTemp("", "otelaudit-spool-")
				require.NoError(t, err)
				t.Cleanup(func() {
					for range 100 {
						if os.RemoveAll(dir) == nil {
							return
						}
						time.Sleep(20 * time.Millisecond)
					}
				})
				popts = append(popts, exporter.WithSpool(dir), exporter.WithMaxQueueSize(16))
			}
			p := newPipeline(t, b, nil, popts...)
			// In block mode some OnEnd callers stay blocked on the full
			// queue until Shutdown salvages it: end the calls in the
			// background.
			var wg sync.WaitGroup
			wg.Go(func() { p.endCalls(2, 100) })
			time.Sleep(50 * time.Millisecond)
			const deadline = 200 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			err := p.tp.Shutdown(ctx)
			took := time.Since(start)
			require.Error(t, err)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.LessOrEqual(t, took, deadline+100*time.Millisecond, "Shutdown returned %v after a %v deadline", took, deadline)
			assert.Contains(t, err.Error(), "not durable")
			t.Logf("Shutdown returned %v after a %v deadline: %v", took, deadline, err)
			wg.Wait()
			st := p.exp.Stats()
			if spool {
				// Everything but the batch the backend holds is in the spool.
				assert.Positive(t, st.Spooled)
				assert.Zero(t, st.Dropped)
			}
		})
	}
}

// orderBackend records the order entries reach it.
type orderBackend struct {
	*storage.MemoryStorage
	mu    sync.Mutex
	order []string
	delay time.Duration
}

func (b *orderBackend) WriteBatch(ctx context.Context, es []*storage.AuditEntry) error {
	time.Sleep(b.delay)
	b.mu.Lock()
	for _, e := range es {
		b.order = append(b.order, e.ID)
	}
	b.mu.Unlock()
	return b.MemoryStorage.WriteBatch(ctx, es)
}

// TestSpoolKeepsAcceptanceOrder: with a small queue and a slow backend
// most entries go through the spool; they must still reach the backend in
// the order they were accepted.
func TestSpoolKeepsAcceptanceOrder(t *testing.T) {
	b := &orderBackend{MemoryStorage: storage.NewMemoryStorage(0), delay: 2 * time.Millisecond}
	logger, err := otelaudit.NewLogger(b)
	require.NoError(t, err)
	exp, err := exporter.New(logger)
	require.NoError(t, err)
	proc := exporter.NewProcessor(exp, exporter.WithSpool(t.TempDir()), exporter.WithMaxQueueSize(8), exporter.WithMaxBatchSize(4))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(proc))
	ids := make([]string, 600)
	for i := range ids {
		_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Model: "m", Input: []otelaudit.Message{{Content: "q"}}},
			otelaudit.WithTracerProvider(tp))
		ids[i] = call.EntryID()
		call.End()
	}
	require.NoError(t, tp.ForceFlush(t.Context()))
	require.NoError(t, tp.Shutdown(t.Context()))
	assert.Positive(t, exp.Stats().Spooled, "the test must go through the spool")
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Len(t, b.order, len(ids))
	assert.Equal(t, ids, b.order, "entries reach the backend in the order they were accepted")
}
