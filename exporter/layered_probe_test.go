package exporter_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/fakellm"
	"github.com/otelaudit/otelaudit-go/internal/handletest"
	"github.com/otelaudit/otelaudit-go/middleware"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

const probeSecret = "ZQXSECRET"

// probeRetryOnce answers 429 to the first attempt of every request whose
// body asks for a retry, as a rate-limited API does, and hands the others
// to the fake.
type probeRetryOnce struct {
	mu   sync.Mutex
	seen map[string]bool
	next http.Handler
}

func (h *probeRetryOnce) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if bytes.Contains(body, []byte("RETRY")) {
		h.mu.Lock()
		first := !h.seen[string(body)]
		h.seen[string(body)] = true
		h.mu.Unlock()
		if first {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write(fakellm.ErrorBody("openai", http.StatusTooManyRequests, ""))
			return
		}
	}
	h.next.ServeHTTP(w, r)
}

// probeRetrier retries a 429 once, above the audit Transport, as an SDK's
// retry loop does: each attempt is a request of its own.
type probeRetrier struct{ inner http.RoundTripper }

func (p probeRetrier) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := p.inner.RoundTrip(r)
	if err != nil || res.StatusCode != http.StatusTooManyRequests {
		return res, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	r2 := r.Clone(r.Context())
	r2.Body, _ = r.GetBody()
	return p.inner.RoundTrip(r2)
}

type probeCall struct {
	prompt   string
	entryID  string // "" for the Transport alone
	respID   string // what the client read
	attempts int
	traceID  trace.TraceID // the outermost span's trace; zero for the Transport alone
}

// TestLayeredConcurrentOneEntryNoLeak wires the audit as a demanding
// service would (its own provider with a redacted exporter, a raw
// exporter registered beside, metrics, a sampler that drops half) and
// runs many concurrent calls of every layering, retries and streams
// included, over a file store (which borrows entries) and a memory store.
func TestLayeredConcurrentOneEntryNoLeak(t *testing.T) {
	for _, backend := range []string{"filestore", "memory"} {
		for _, enc := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/encrypted=%v", backend, enc), func(t *testing.T) { probeLayered(t, backend, enc) })
		}
	}
}

func probeLayered(t *testing.T, backend string, enc bool) {
	reports := handletest.Capture(t)
	const reply = "the " + probeSecret + " REPLY words here"
	fake := fakellm.NewHandler(fakellm.WithReply(reply))
	hs := httptest.NewServer(&probeRetryOnce{seen: map[string]bool{}, next: fake})
	defer hs.Close()

	var st storage.Backend
	if backend == "filestore" {
		fs, err := filestore.New(t.TempDir())
		require.NoError(t, err)
		defer fs.Close()
		st = fs
	} else {
		st = storage.NewMemoryStorage(0)
	}
	var lopts []otelaudit.Option
	var ring *otelaudit.EncryptionManager
	if enc {
		key, err := otelaudit.GenerateKey()
		require.NoError(t, err)
		ring, err = otelaudit.NewEncryptionManager(key)
		require.NoError(t, err)
		lopts = append(lopts, otelaudit.WithEncryption(ring))
	}
	l, err := otelaudit.NewLogger(st, lopts...)
	require.NoError(t, err)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	redacted := tracetest.NewInMemoryExporter()
	raw := tracetest.NewInMemoryExporter()
	opts, auditExp, err := exporter.ProviderOptions(l,
		exporter.WithExporter(redacted),
		exporter.WithSampler(sdktrace.TraceIDRatioBased(0.5)),
		exporter.WithExporterOptions(exporter.WithMeterProvider(mp)),
		exporter.WithProcessorOptions(exporter.WithMaxQueueSize(64), exporter.WithMaxBatchSize(7)),
	)
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(opts...)
	tp.RegisterSpanProcessor(sdktrace.NewSimpleSpanProcessor(raw))
	base := &http.Transport{MaxIdleConnsPerHost: 64}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: probeRetrier{middleware.Transport(base,
		middleware.WithTracerProvider(tp), middleware.WithMeterProvider(mp))}}
	sdkTracer := tp.Tracer("sdk-instrumentation")

	post := func(ctx context.Context, prompt string, stream bool, beforeRead func()) string {
		body := fmt.Sprintf(`{"model":"gpt-4o","stream":%v,"messages":[{"role":"user","content":%q}]}`, stream, prompt)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, hs.URL+"/v1/chat/completions", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		if beforeRead != nil {
			beforeRead()
		}
		var id string
		if !stream {
			var v struct{ ID string }
			require.NoError(t, json.NewDecoder(res.Body).Decode(&v))
			return v.ID
		}
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			line, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok || line == "[DONE]" {
				continue
			}
			var v struct{ ID string }
			require.NoError(t, json.Unmarshal([]byte(line), &v))
			id = v.ID
		}
		require.NoError(t, sc.Err())
		return id
	}
	startCall := func(ctx context.Context, prompt string) (context.Context, *otelaudit.Call) {
		ctx, call := otelaudit.StartCall(ctx, otelaudit.Request{Provider: "openai", Model: "gpt-4o",
			Input: []otelaudit.Message{{Role: "user", Content: prompt}}}, otelaudit.WithTracerProvider(tp))
		call.SetMetadata("tag", "md-"+prompt)
		return ctx, call
	}
	sdkSpan := func(ctx context.Context) (context.Context, trace.Span) {
		return sdkTracer.Start(ctx, "chat gpt-4o", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(semconv.GenAIOperationNameKey.String("chat"),
				semconv.GenAIProviderNameKey.String("openai"), semconv.GenAIRequestModelKey.String("gpt-4o")))
	}

	const n = 240
	calls := make([]probeCall, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := &calls[i]
			c.attempts = 1
			kind := i % 9
			c.prompt = fmt.Sprintf("%s-PROMPT-%04d-k%d", probeSecret, i, kind)
			if kind == 3 || kind == 4 || kind == 6 || kind == 7 {
				c.prompt += "-RETRY"
				c.attempts = 2
			}
			ctx := context.Background()
			switch kind {
			case 0: // the Transport alone
				c.respID = post(ctx, c.prompt, i%2 == 0, nil)
			case 1, 2: // StartCall around the Transport, JSON and stream
				cctx, call := startCall(ctx, c.prompt)
				c.traceID = call.Span().SpanContext().TraceID()
				c.respID = post(cctx, c.prompt, kind == 2, nil)
				call.SetOutput(otelaudit.Message{Role: "assistant", Content: reply})
				call.End()
				c.entryID = call.EntryID()
			case 3: // an SDK's span around StartCall around the Transport, retried
				sctx, sp := sdkSpan(ctx)
				c.traceID = sp.SpanContext().TraceID()
				cctx, call := startCall(sctx, c.prompt)
				c.respID = post(cctx, c.prompt, i%2 == 0, nil)
				call.End()
				sp.End()
				c.entryID = call.EntryID()
			case 4: // StartCall around an SDK's span around the Transport, retried
				cctx, call := startCall(ctx, c.prompt)
				c.traceID = call.Span().SpanContext().TraceID()
				sctx, sp := sdkSpan(cctx)
				c.respID = post(sctx, c.prompt, i%2 == 0, nil)
				sp.End()
				call.End()
				c.entryID = call.EntryID()
			case 5: // StartCall ended before the streamed reply is read
				cctx, call := startCall(ctx, c.prompt)
				c.traceID = call.Span().SpanContext().TraceID()
				c.respID = post(cctx, c.prompt, true, func() { call.End() })
				c.entryID = call.EntryID()
			case 6: // SDK span ends after StartCall, StartCall ends before the stream is read
				sctx, sp := sdkSpan(ctx)
				c.traceID = sp.SpanContext().TraceID()
				cctx, call := startCall(sctx, c.prompt)
				c.respID = post(cctx, c.prompt, true, func() { call.End() })
				sp.End()
				c.entryID = call.EntryID()
			case 7: // both ended before the stream is read, the SDK's first
				sctx, sp := sdkSpan(ctx)
				c.traceID = sp.SpanContext().TraceID()
				cctx, call := startCall(sctx, c.prompt)
				c.respID = post(cctx, c.prompt, true, func() { sp.End(); call.End() })
				c.entryID = call.EntryID()
			case 8: // StartCall around the SDK span, both ended before the stream is read, StartCall first
				cctx, call := startCall(ctx, c.prompt)
				c.traceID = call.Span().SpanContext().TraceID()
				sctx, sp := sdkSpan(cctx)
				c.respID = post(sctx, c.prompt, true, func() { call.End(); sp.End() })
				c.entryID = call.EntryID()
			}
			if i%40 == 0 {
				_ = tp.ForceFlush(ctx)
			}
		})
	}
	wg.Wait()
	require.NoError(t, tp.Shutdown(context.Background()))

	es, err := st.ListEntries(context.Background(), time.Time{}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	byHash := map[string][]*storage.AuditEntry{}
	byID := map[string]*storage.AuditEntry{}
	for _, e := range es {
		byHash[e.InputHash] = append(byHash[e.InputHash], e)
		byID[e.ID] = e
	}
	wantEntries := 0
	for i := range calls {
		c := &calls[i]
		wantEntries += c.attempts
		got := byHash[otelaudit.HashContent(c.prompt)]
		if !assert.Len(t, got, c.attempts, "call %d (kind %d): entries with its input hash", i, i%9) {
			continue
		}
		var ok *storage.AuditEntry
		for _, e := range got {
			if e.Metadata["gen_ai.response.id"] != nil {
				assert.Nil(t, ok, "call %d: two entries with a response id", i)
				ok = e
			}
		}
		if !assert.NotNil(t, ok, "call %d (kind %d): no entry with a response id", i, i%9) {
			continue
		}
		assert.Equal(t, c.respID, ok.Metadata["gen_ai.response.id"], "call %d (kind %d): response id of another call", i, i%9)
		assert.Equal(t, otelaudit.HashContent(reply), ok.OutputHash, "call %d (kind %d)", i, i%9)
		if c.traceID.IsValid() {
			for _, e := range got {
				assert.Equal(t, c.traceID.String(), e.TraceID, "call %d (kind %d): entry in another trace", i, i%9)
			}
		}
		if enc {
			for _, e := range got {
				require.NotNil(t, e.InputContent)
				in, err := ring.Decrypt(*e.InputContent)
				require.NoError(t, err)
				assert.Equal(t, c.prompt, in, "call %d: decrypted input", i)
			}
			out, err := ring.Decrypt(*ok.OutputContent)
			require.NoError(t, err)
			assert.Equal(t, reply, out, "call %d: decrypted output", i)
		}
		if c.entryID != "" {
			assert.Equal(t, "md-"+c.prompt, ok.Metadata["tag"], "call %d (kind %d): metadata of another call", i, i%9)
			assert.Equal(t, c.entryID, ok.ID, "call %d (kind %d): entry not under Call.EntryID()", i, i%9)
		}
	}
	assert.Len(t, es, wantEntries)
	assert.Len(t, byID, len(es), "ids unique")

	// Nothing of the content anywhere else.
	for name, exp := range map[string]*tracetest.InMemoryExporter{"redacted": redacted, "raw": raw} {
		for _, s := range exp.GetSpans() {
			assert.NotContains(t, fmt.Sprintf("%+v", s), probeSecret, "%s exporter span %q", name, s.Name)
		}
	}
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	assert.NotContains(t, fmt.Sprintf("%+v", rm), probeSecret, "metrics")
	for _, r := range reports() {
		assert.NotContains(t, r, probeSecret, "otel.Handle report")
	}
	st2 := auditExp.Stats()
	assert.Zero(t, st2.Dropped, "dropped")
}

// TestLayeredShutdownMidFlight shuts the provider down while many
// goroutines are making layered calls: every call that ended before
// Shutdown began is stored exactly once per attempt, under its id with its
// own metadata; none is stored twice; no report quotes content.
func TestLayeredShutdownMidFlight(t *testing.T) {
	reports := handletest.Capture(t)
	const reply = "the " + probeSecret + " REPLY"
	hs := httptest.NewServer(&probeRetryOnce{seen: map[string]bool{}, next: fakellm.NewHandler(fakellm.WithReply(reply))})
	defer hs.Close()
	fs, err := filestore.New(t.TempDir())
	require.NoError(t, err)
	defer fs.Close()
	l, err := otelaudit.NewLogger(fs)
	require.NoError(t, err)
	raw := tracetest.NewInMemoryExporter()
	opts, auditExp, err := exporter.ProviderOptions(l,
		exporter.WithProcessorOptions(exporter.WithMaxQueueSize(8), exporter.WithMaxBatchSize(3), exporter.WithSpool(t.TempDir())))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(opts...)
	tp.RegisterSpanProcessor(sdktrace.NewSimpleSpanProcessor(raw))
	base := &http.Transport{MaxIdleConnsPerHost: 64}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: probeRetrier{middleware.Transport(base, middleware.WithTracerProvider(tp))}}
	sdkTracer := tp.Tracer("sdk-instrumentation")

	type rec struct {
		prompt, entryID string
		attempts        int
		before          bool
	}
	var (
		mu       sync.Mutex
		recs     []rec
		stopping = make(chan struct{})
		started  atomic.Bool
		wg       sync.WaitGroup
	)
	for g := range 48 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stopping:
					return
				default:
				}
				kind := (g + i) % 4
				r := rec{prompt: fmt.Sprintf("%s-P-%02d-%04d-k%d", probeSecret, g, i, kind), attempts: 1}
				if kind >= 2 {
					r.prompt += "-RETRY"
					r.attempts = 2
				}
				ctx := context.Background()
				var sp trace.Span
				if kind == 3 {
					ctx, sp = sdkTracer.Start(ctx, "chat gpt-4o", trace.WithSpanKind(trace.SpanKindClient),
						trace.WithAttributes(semconv.GenAIOperationNameKey.String("chat")))
				}
				var call *otelaudit.Call
				if kind >= 1 {
					ctx, call = otelaudit.StartCall(ctx, otelaudit.Request{Provider: "openai", Model: "gpt-4o",
						Input: []otelaudit.Message{{Role: "user", Content: r.prompt}}}, otelaudit.WithTracerProvider(tp))
					call.SetMetadata("tag", "md-"+r.prompt)
					r.entryID = call.EntryID()
				}
				body := fmt.Sprintf(`{"model":"gpt-4o","stream":%v,"messages":[{"role":"user","content":%q}]}`, i%2 == 0, r.prompt)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, hs.URL+"/v1/chat/completions", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					_ = res.Body.Close()
				}
				call.End()
				if sp != nil {
					sp.End()
				}
				r.before = !started.Load()
				mu.Lock()
				recs = append(recs, r)
				mu.Unlock()
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	started.Store(true)
	require.NoError(t, tp.Shutdown(ctx))
	time.Sleep(50 * time.Millisecond)
	close(stopping)
	wg.Wait()

	es, err := fs.ListEntries(context.Background(), time.Time{}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	byHash := map[string][]*storage.AuditEntry{}
	for _, e := range es {
		byHash[e.InputHash] = append(byHash[e.InputHash], e)
	}
	checked := 0
	for _, r := range recs {
		got := byHash[otelaudit.HashContent(r.prompt)]
		assert.LessOrEqual(t, len(got), r.attempts, "%s stored twice", r.prompt)
		if !r.before {
			continue
		}
		checked++
		if !assert.Len(t, got, r.attempts, "%s", r.prompt) {
			continue
		}
		if r.entryID != "" {
			found := false
			for _, e := range got {
				if e.ID == r.entryID {
					found = true
					assert.Equal(t, "md-"+r.prompt, e.Metadata["tag"])
				}
			}
			assert.True(t, found, "%s: no entry under its EntryID", r.prompt)
		}
	}
	for _, s := range raw.GetSpans() {
		assert.NotContains(t, fmt.Sprintf("%+v", s), probeSecret, "raw exporter span %q", s.Name)
	}
	for _, r := range reports() {
		assert.NotContains(t, r, probeSecret, "otel.Handle report")
	}
	assert.Positive(t, checked)
	assert.Zero(t, auditExp.Stats().Invalid)
}

// TestLayeredSpansNeverEnded: spans an application never ends still give
// one entry per call.
func TestLayeredSpansNeverEnded(t *testing.T) {
	hs := httptest.NewServer(fakellm.NewHandler(fakellm.WithReply("r")))
	defer hs.Close()
	setup := func(t *testing.T) (*storage.MemoryStorage, *sdktrace.TracerProvider, *http.Client) {
		st := storage.NewMemoryStorage(0)
		l, err := otelaudit.NewLogger(st)
		require.NoError(t, err)
		tp, _, err := exporter.NewTracerProvider(l)
		require.NoError(t, err)
		base := &http.Transport{}
		t.Cleanup(base.CloseIdleConnections)
		return st, tp, &http.Client{Transport: middleware.Transport(base, middleware.WithTracerProvider(tp))}
	}
	post := func(t *testing.T, c *http.Client, ctx context.Context, prompt string) {
		body := fmt.Sprintf(`{"model":"gpt-4o","messages":[{"role":"user","content":%q}]}`, prompt)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, hs.URL+"/v1/chat/completions", strings.NewReader(body))
		res, err := c.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		require.NoError(t, res.Body.Close())
	}
	list := func(t *testing.T, st *storage.MemoryStorage) []*storage.AuditEntry {
		es, err := st.ListEntries(context.Background(), time.Time{}, time.Now().Add(time.Hour))
		require.NoError(t, err)
		return es
	}
	t.Run("StartCall never ended", func(t *testing.T) {
		st, tp, c := setup(t)
		ctx, call := otelaudit.StartCall(context.Background(), otelaudit.Request{Model: "gpt-4o",
			Input: []otelaudit.Message{{Content: "q"}}}, otelaudit.WithTracerProvider(tp))
		post(t, c, ctx, "q")
		require.NoError(t, tp.ForceFlush(context.Background()))
		assert.Empty(t, list(t, st), "the Transport's span is held for the call's, which ForceFlush does not wait for")
		require.NoError(t, tp.Shutdown(context.Background()))
		// Written at Shutdown from the Transport's span: one entry, with
		// the prompt, under call.EntryID(), which the call's span that
		// never ended carries (see TestLayeredStartCallUnendedAtShutdown).
		es := list(t, st)
		require.Len(t, es, 1)
		assert.Equal(t, otelaudit.HashContent("q"), es[0].InputHash)
		assert.Equal(t, call.EntryID(), es[0].ID)
	})
	t.Run("SDK span around StartCall never ended", func(t *testing.T) {
		st, tp, c := setup(t)
		sctx, _ := tp.Tracer("sdk").Start(context.Background(), "chat gpt-4o", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(semconv.GenAIOperationNameKey.String("chat")))
		ctx, call := otelaudit.StartCall(sctx, otelaudit.Request{Model: "gpt-4o",
			Input: []otelaudit.Message{{Content: "q"}}}, otelaudit.WithTracerProvider(tp))
		post(t, c, ctx, "q")
		call.End()
		require.NoError(t, tp.ForceFlush(context.Background()))
		es := list(t, st)
		require.Len(t, es, 1, "written without the SDK's span")
		assert.Equal(t, call.EntryID(), es[0].ID)
		require.NoError(t, tp.Shutdown(context.Background()))
		assert.Len(t, list(t, st), 1)
	})
}

// TestAuditFilesNotWorldReadable: nothing the audit writes (store, spool) is readable
// by group or others.
func TestAuditFilesNotWorldReadable(t *testing.T) {
	dir, spoolDir := t.TempDir(), t.TempDir()+"/spool"
	fs, err := filestore.New(dir)
	require.NoError(t, err)
	key, _ := otelaudit.GenerateKey()
	ring, _ := otelaudit.NewEncryptionManager(key)
	l, err := otelaudit.NewLogger(fs, otelaudit.WithEncryption(ring))
	require.NoError(t, err)
	tp, _, err := exporter.NewTracerProvider(l, exporter.WithProcessorOptions(exporter.WithSpool(spoolDir), exporter.WithMaxQueueSize(1)))
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			_, call := otelaudit.StartCall(context.Background(), otelaudit.Request{Model: "m",
				Input: []otelaudit.Message{{Content: fmt.Sprint(probeSecret, i)}}}, otelaudit.WithTracerProvider(tp))
			call.End()
		})
	}
	wg.Wait()
	require.NoError(t, tp.Shutdown(context.Background()))
	require.NoError(t, fs.Close())
	for _, root := range []string{dir, spoolDir} {
		require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			require.NoError(t, err)
			fi, err := d.Info()
			require.NoError(t, err)
			if p != root {
				assert.Zero(t, fi.Mode().Perm()&0o077, "%s is %v", p, fi.Mode())
			}
			return nil
		}))
	}
}

// TestLayeredForceFlushReadYourWrites: once a call's spans have ended, a
// ForceFlush returns only when its entry is in the store, under the
// call's id, whatever the layering, with streams and retries, while other
// goroutines keep calling.
func TestLayeredForceFlushReadYourWrites(t *testing.T) {
	const reply = "the " + probeSecret + " REPLY"
	hs := httptest.NewServer(&probeRetryOnce{seen: map[string]bool{}, next: fakellm.NewHandler(fakellm.WithReply(reply))})
	defer hs.Close()
	fs, err := filestore.New(t.TempDir())
	require.NoError(t, err)
	defer fs.Close()
	l, err := otelaudit.NewLogger(fs)
	require.NoError(t, err)
	tp, _, err := exporter.NewTracerProvider(l)
	require.NoError(t, err)
	defer tp.Shutdown(context.Background())
	base := &http.Transport{MaxIdleConnsPerHost: 64}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: probeRetrier{middleware.Transport(base, middleware.WithTracerProvider(tp))}}
	sdkTracer := tp.Tracer("sdk-instrumentation")
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 10 {
				kind := (g + i) % 4
				prompt := fmt.Sprintf("%s-F-%02d-%02d-k%d", probeSecret, g, i, kind)
				if i%3 == 0 {
					prompt += "-RETRY"
				}
				ctx := context.Background()
				var sp trace.Span
				if kind == 2 {
					ctx, sp = sdkTracer.Start(ctx, "chat gpt-4o", trace.WithSpanKind(trace.SpanKindClient),
						trace.WithAttributes(semconv.GenAIOperationNameKey.String("chat")))
				}
				ctx, call := otelaudit.StartCall(ctx, otelaudit.Request{Provider: "openai", Model: "gpt-4o",
					Input: []otelaudit.Message{{Role: "user", Content: prompt}}}, otelaudit.WithTracerProvider(tp))
				if kind == 3 {
					ctx, sp = sdkTracer.Start(ctx, "chat gpt-4o", trace.WithSpanKind(trace.SpanKindClient),
						trace.WithAttributes(semconv.GenAIOperationNameKey.String("chat")))
				}
				body := fmt.Sprintf(`{"model":"gpt-4o","stream":%v,"messages":[{"role":"user","content":%q}]}`, kind%2 == 1, prompt)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, hs.URL+"/v1/chat/completions", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if !assert.NoError(t, err) {
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				if kind == 3 {
					sp.End()
				}
				call.End()
				if kind == 2 {
					sp.End()
				}
				assert.NoError(t, tp.ForceFlush(context.Background()))
				e, err := fs.Read(context.Background(), call.EntryID())
				if assert.NoError(t, err, "%s: not in the store after ForceFlush", prompt) {
					assert.Equal(t, otelaudit.HashContent(prompt), e.InputHash)
					assert.Equal(t, otelaudit.HashContent(reply), e.OutputHash)
				}
			}
		})
	}
	wg.Wait()
}

// TestInvalidMetadataReportQuotesNothing: metadata the store refuses is reported
// without its value.
func TestInvalidMetadataReportQuotesNothing(t *testing.T) {
	reports := handletest.Capture(t)
	fs, err := filestore.New(t.TempDir())
	require.NoError(t, err)
	defer fs.Close()
	l, err := otelaudit.NewLogger(fs)
	require.NoError(t, err)
	tp, exp, err := exporter.NewTracerProvider(l)
	require.NoError(t, err)
	for i, v := range []any{probeSecret + "-\xff\xfe", map[string]any{probeSecret + "-key\xff": 1},
		strings.Repeat(probeSecret, 1<<20), probeDeep(80)} {
		_, call := otelaudit.StartCall(context.Background(), otelaudit.Request{Model: "m",
			Input: []otelaudit.Message{{Content: "q"}}}, otelaudit.WithTracerProvider(tp))
		call.SetMetadata(fmt.Sprint("k", i), v)
		call.SetMetadata(probeSecret+"\xff", "x")
		call.End()
	}
	require.NoError(t, tp.Shutdown(context.Background()))
	assert.EqualValues(t, 4, exp.Stats().Invalid, "refused, counted")
	// A span's own data refused is reported every time, by the span's
	// ids, however many come in a minute: the operator needs each.
	require.GreaterOrEqual(t, len(reports()), 4)
	for _, r := range reports() {
		assert.NotContains(t, r, probeSecret)
	}
}

func probeDeep(n int) any {
	var v any = probeSecret
	for range n {
		v = []any{v}
	}
	return v
}
