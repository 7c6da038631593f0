package exporter_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/lend"
	"github.com/otelaudit/otelaudit-go/internal/lend/lendtest"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// flakyBorrower is a file store whose first batch writes fail without
// writing anything, as an outage would, so that the exporter retries
// them. It borrows entries as the file store does (it keeps nothing of
// them), so the entries it is given stay lent across the retries.
type flakyBorrower struct {
	*filestore.Store
	fails atomic.Int64
}

func (f *flakyBorrower) BorrowEntries(lend.Token) any { return f }

func (f *flakyBorrower) WriteBatch(ctx context.Context, es []*storage.AuditEntry) error {
	if f.fails.Add(-1) >= 0 {
		return errors.New("flaky: backend unavailable")
	}
	return f.Store.WriteBatch(ctx, es)
}

// TestPipelineLendsEntriesOnlyToBorrowers audits encrypted calls through
// the audit processor and through the exporter on a syncer (content on
// the span), while the memory of every loan is scribbled over as soon as
// it ends. On a file store, and on one whose first writes fail so that
// batches wait in the pipeline and are retried, the entries are lent, and
// every entry read back has its own hashes and decrypts to its own
// content; a wrapper that keeps the entries it is given is never lent
// one, and the entries it kept are intact too.
func TestPipelineLendsEntriesOnlyToBorrowers(t *testing.T) {
	ring := lendtest.FernetRing(t)
	for _, tc := range []struct {
		name    string
		backend func(st *filestore.Store) (storage.Backend, func() []*storage.AuditEntry)
		lent    bool
	}{
		{"file store", func(st *filestore.Store) (storage.Backend, func() []*storage.AuditEntry) { return st, nil }, true},
		{"failing first", func(st *filestore.Store) (storage.Backend, func() []*storage.AuditEntry) {
			f := &flakyBorrower{Store: st}
			f.fails.Store(3)
			return f, nil
		}, true},
		{"wrapper that keeps entries", func(st *filestore.Store) (storage.Backend, func() []*storage.AuditEntry) {
			k := &lendtest.Keeping{Store: st}
			return k, k.Kept
		}, false},
	} {
		for _, path := range []string{"processor", "syncer"} {
			t.Run(tc.name+"/"+path, func(t *testing.T) {
				loans := lendtest.Scribble(t)
				st, err := filestore.New(t.TempDir())
				require.NoError(t, err)
				defer st.Close()
				b, kept := tc.backend(st)
				logger, err := otelaudit.NewLogger(b, otelaudit.WithEncryption(ring))
				require.NoError(t, err)
				retry := exporter.WithRetryBackoff(time.Millisecond, 5*time.Millisecond)
				var tp *sdktrace.TracerProvider
				var opts []otelaudit.CallOption
				if path == "processor" {
					tp, _, err = exporter.NewTracerProvider(logger, exporter.WithExporterOptions(retry))
					require.NoError(t, err)
				} else {
					exp, err := exporter.New(logger, retry)
					require.NoError(t, err)
					tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
					opts = append(opts, otelaudit.WithContentOnSpan(true))
				}
				opts = append(opts, otelaudit.WithTracerProvider(tp))
				var (
					want lendtest.Want
					wg   sync.WaitGroup
					// each entry's own response id: its metadata map is
					// lent with it and reused too
					respMu sync.Mutex
					respID = map[string]string{}
				)
				for g := range 4 {
					wg.Go(func() {
						for i := range 40 {
							in, out := lendtest.Content(g, i)
							_, call := otelaudit.StartCall(context.Background(), otelaudit.Request{
								Provider: "openai", Model: "gpt-4o", Input: []otelaudit.Message{{Role: "user", Content: in}},
							}, opts...)
							resp := fmt.Sprintf("resp-%d-%d", g, i)
							call.SetResponse(resp, "gpt-4o-2024-08-06")
							call.SetOutput(otelaudit.Message{Role: "assistant", Content: out, FinishReason: "stop"})
							call.End()
							want.Add(call.EntryID(), in, out)
							respMu.Lock()
							respID[call.EntryID()] = resp
							respMu.Unlock()
						}
					})
				}
				wg.Wait()
				// A bounded Shutdown: an entry broken by an early end of its
				// loan would be retried for ever.
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				require.NoError(t, tp.Shutdown(ctx))
				if tc.lent {
					require.Positive(t, loans(), "the store was never lent an entry")
				} else {
					require.Zero(t, loans(), "a backend that may keep entries was lent one")
				}
				require.Equal(t, 160, want.Len())
				want.CheckAll(t, func(id string) (*storage.AuditEntry, error) { return st.Read(context.Background(), id) }, logger.DecryptContent)
				checkResp := func(e *storage.AuditEntry) {
					t.Helper()
					require.Equal(t, respID[e.ID], e.Metadata["gen_ai.response.id"], "entry %s: metadata of another entry", e.ID)
					require.Equal(t, []any{"stop"}, e.Metadata["gen_ai.response.finish_reasons"])
				}
				for id := range respID {
					e, err := st.Read(context.Background(), id)
					require.NoError(t, err)
					checkResp(e)
				}
				if kept != nil {
					es := kept()
					require.Len(t, es, want.Len())
					for _, e := range es {
						want.Check(t, e, logger.DecryptContent)
						checkResp(e)
					}
				}
			})
		}
	}
}
