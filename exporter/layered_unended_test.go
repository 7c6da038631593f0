package exporter_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// TestLayeredStartCallUnendedAtShutdown: a caller's otelaudit.StartCall
// span is the parent of the middleware.Transport span of the same model
// call, and the caller never ends it before Shutdown (a bug, or a
// shutdown in the middle of the call). The Transport's span, ended and
// held for its pair, is written at Shutdown under the id the caller holds
// (Call.EntryID), with the Transport's content and what the caller told
// the audit so far (its metadata, conversation id), marked as written
// with a span of the call unended. When the processor alone was shut
// down, the call's span ending afterwards is not a lost entry: it counts
// as layered, not dropped.
func TestLayeredStartCallUnendedAtShutdown(t *testing.T) {
	const prompt, reply = "the unended question", "the reply"
	hs := httptest.NewServer(fakellm.NewHandler(fakellm.WithReply(reply)))
	defer hs.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	// unended makes the layered call on tp and leaves its StartCall span
	// open.
	unended := func(t *testing.T, tp trace.TracerProvider) *otelaudit.Call {
		ctx, call := otelaudit.StartCall(context.Background(), otelaudit.Request{Provider: "openai", Model: "gpt-4o",
			ConversationID: "conv-1", Input: []otelaudit.Message{{Role: "user", Content: prompt}}},
			otelaudit.WithTracerProvider(tp))
		call.SetMetadata("tenant", "t-1")
		client := &http.Client{Transport: middleware.Transport(base, middleware.WithTracerProvider(tp))}
		body := fmt.Sprintf(`{"model":"gpt-4o","messages":[{"role":"user","content":%q}]}`, prompt)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, hs.URL+"/v1/chat/completions", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		require.NoError(t, res.Body.Close())
		return call
	}
	check := func(t *testing.T, st *storage.MemoryStorage, call *otelaudit.Call) {
		t.Helper()
		es, err := st.ListEntries(context.Background(), time.Time{}, time.Now().Add(time.Hour))
		require.NoError(t, err)
		require.Len(t, es, 1, "one entry for the call")
		en := es[0]
		assert.Equal(t, call.EntryID(), en.ID, "under the id the caller holds")
		assert.Equal(t, otelaudit.HashContent(prompt), en.InputHash, "the Transport's content")
		assert.NotEqual(t, otelaudit.HashContent(""), en.OutputHash, "the reply the Transport read")
		assert.Equal(t, "t-1", en.Metadata["tenant"], "what the caller told the audit")
		if assert.NotNil(t, en.ConversationID) {
			assert.Equal(t, "conv-1", *en.ConversationID)
		}
		assert.Equal(t, true, en.Metadata[exporter.MetadataUnendedAtShutdown], "marked: a span of the call had not ended")
	}

	t.Run("provider Shutdown", func(t *testing.T) {
		st := storage.NewMemoryStorage(0)
		l, err := otelaudit.NewLogger(st)
		require.NoError(t, err)
		tp, _, err := exporter.NewTracerProvider(l)
		require.NoError(t, err)
		call := unended(t, tp)
		require.NoError(t, tp.Shutdown(context.Background())) // call.End() never came
		check(t, st, call)
		call.End() // too late: the provider is shut down
	})
	t.Run("processor Shutdown, the call ends later", func(t *testing.T) {
		st := storage.NewMemoryStorage(0)
		l, err := otelaudit.NewLogger(st)
		require.NoError(t, err)
		exp, err := exporter.New(l)
		require.NoError(t, err)
		proc := exporter.NewProcessor(exp)
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(proc))
		defer tp.Shutdown(context.Background())
		call := unended(t, tp)
		require.NoError(t, proc.Shutdown(context.Background()))
		check(t, st, call)
		call.End() // the processor sees it end: its call's entry is written
		s := exp.Stats()
		assert.Zero(t, s.Dropped, "no entry was lost")
		assert.EqualValues(t, 1, s.Layered, "the call's span, ended late, is the other span of its pair")
		n, err := st.Count(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 1, n)
	})
}
