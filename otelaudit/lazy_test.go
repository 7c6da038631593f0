package otelaudit_test

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// countedText is a LazyText that counts how often it was made.
type countedText struct {
	s string
	n atomic.Int32
}

func (c *countedText) Text() string { c.n.Add(1); return c.s }

// TestSetLazyContentText: a lazy text is made by the audit, after the span
// ended, and hashed and kept as SetContentText would; with
// WithContentOnSpan it is made at once and goes on the span; with
// WithContent(false) it is never made.
func TestSetLazyContentText(t *testing.T) {
	for _, c := range []struct {
		name          string
		opts          []otelaudit.CallOption
		stored, onTap bool
	}{
		{"beside the span", nil, true, false},
		{"on the span", []otelaudit.CallOption{otelaudit.WithContentOnSpan(true)}, true, true},
		{"no content", []otelaudit.CallOption{otelaudit.WithContent(false)}, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			mem := storage.NewMemoryStorage(0)
			l, err := otelaudit.NewLogger(mem, otelaudit.WithStoreContent(true))
			require.NoError(t, err)
			tp, _, err := exporter.NewTracerProvider(l)
			require.NoError(t, err)
			rec := tracetest.NewSpanRecorder()
			tp.RegisterSpanProcessor(rec)
			in, out := &countedText{s: `[not json {"a": 1}]`}, &countedText{s: "answer\nline"}
			_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Model: "m"}, append(c.opts, otelaudit.WithTracerProvider(tp))...)
			call.SetLazyContentText(semconv.GenAIInputMessagesKey, in)
			call.SetLazyContentText(semconv.GenAIOutputMessagesKey, out)
			if c.onTap {
				assert.Equal(t, int32(1), in.n.Load(), "made at once for the span")
			} else {
				assert.Zero(t, in.n.Load(), "made before the span ended")
			}
			call.End()
			require.NoError(t, tp.Shutdown(t.Context()))
			e, err := mem.Read(t.Context(), call.EntryID())
			require.NoError(t, err)
			wantIn, wantOut := "", ""
			if c.stored {
				wantIn, wantOut = in.s, out.s
				assert.NotZero(t, in.n.Load())
			} else {
				assert.Zero(t, in.n.Load()+out.n.Load(), "made although no content is recorded")
			}
			assert.Equal(t, otelaudit.HashContent(wantIn), e.InputHash)
			assert.Equal(t, otelaudit.HashContent(wantOut), e.OutputHash)
			v, ok := attrMap(rec.Ended()[0])[semconv.GenAIInputMessagesKey]
			assert.Equal(t, c.onTap, ok, "input on the span")
			if c.onTap {
				assert.Equal(t, []string{in.s}, v.AsStringSlice())
			}
		})
	}
}
