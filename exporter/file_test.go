package exporter_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// flakyFile is a real filestore.Store (which appends and does not dedupe ids)
// whose WriteBatch sometimes stores half the batch and then fails.
type flakyFile struct {
	*filestore.Store
	failures atomic.Int64
}

func (f *flakyFile) WriteBatch(ctx context.Context, es []*storage.AuditEntry) error {
	if len(es) > 1 && rand.Float64() < 0.2 {
		f.failures.Add(1)
		if err := f.Store.WriteBatch(ctx, es[:len(es)/2]); err != nil {
			return err
		}
		return fmt.Errorf("flaky file: %w", errInjected)
	}
	return f.Store.WriteBatch(ctx, es)
}

// TestFileStoreHalfWrittenBatches: with a store that keeps every line it
// is given, retries after half-applied batches still leave each entry
// exactly once, and the store's hash chain verifies.
func TestFileStoreHalfWrittenBatches(t *testing.T) {
	dir := t.TempDir()
	fs, err := filestore.New(dir)
	require.NoError(t, err)
	st := &flakyFile{Store: fs}
	logger, err := otelaudit.NewLogger(st)
	require.NoError(t, err)
	tp, exp, err := exporter.NewTracerProvider(logger,
		exporter.WithExporterOptions(exporter.WithRetryBackoff(time.Millisecond, 5*time.Millisecond)),
		exporter.WithProcessorOptions(exporter.WithMaxBatchSize(32)))
	require.NoError(t, err)
	p := &pipeline{tp: tp}
	ids := p.endCalls(4, 3000)
	require.NoError(t, tp.Shutdown(t.Context()))
	require.Positive(t, st.failures.Load())

	seen := map[string]int{}
	for e, err := range fs.Entries(t.Context(), time.Now().Add(-time.Hour), time.Now().Add(time.Hour)) {
		require.NoError(t, err)
		seen[e.ID]++
	}
	assert.Len(t, seen, len(ids))
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("entry %s stored %d times", id, n)
		}
	}
	for _, id := range ids {
		assert.Contains(t, seen, id)
	}
	assert.Zero(t, exp.Stats().Dropped)
	require.NoError(t, fs.Close())
	rep, err := filestore.Verify(t.Context(), dir)
	require.NoError(t, err)
	assert.True(t, rep.OK())
}

// TestOversizedEntryDropped: an entry longer than the file store's line
// limit fails its whole batch at every attempt. It is dropped, counted as
// invalid, and the other entries of its batch are written; before, the
// batch was retried until Shutdown gave up and every entry of it was lost.
func TestOversizedEntryDropped(t *testing.T) {
	fs, err := filestore.New(t.TempDir())
	require.NoError(t, err)
	defer fs.Close()
	logger, err := otelaudit.NewLogger(fs, otelaudit.WithStoreContent(true))
	require.NoError(t, err)
	tp, exp, err := exporter.NewTracerProvider(logger,
		exporter.WithExporterOptions(exporter.WithRetryBackoff(time.Millisecond, 5*time.Millisecond)),
		exporter.WithProcessorOptions(exporter.WithMaxBatchSize(16)))
	require.NoError(t, err)
	for i := range 6 {
		content := fmt.Sprintf("question %d", i)
		if i == 3 {
			content = string(make([]byte, storage.DefaultMaxLineSize)) // NULs: escaped, far longer still
		}
		_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Model: "m", Input: []otelaudit.Message{{Content: content}}},
			otelaudit.WithTracerProvider(tp))
		call.End()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	require.NoError(t, tp.Shutdown(ctx))
	assert.Equal(t, int64(5), exp.Stats().Written)
	assert.Equal(t, int64(1), exp.Stats().Invalid)
	n := 0
	for _, err := range fs.Entries(t.Context(), time.Now().Add(-time.Hour), time.Now().Add(time.Hour)) {
		require.NoError(t, err)
		n++
	}
	assert.Equal(t, 5, n)
}
