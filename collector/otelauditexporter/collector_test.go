package otelauditexporter_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/collector/internal/coltest"
	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/s3test"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
	"github.com/otelaudit/otelaudit-go/storage/verify"
)

const spansPerSource = 1000

// marker is in every content string the tests send, and nowhere else.
const marker = "SECRETPROMPT"

// sink is the ordinary backend: an OTLP/HTTP server that keeps every body.
type sink struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, b)
	s.mu.Unlock()
	w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
	w.WriteHeader(http.StatusOK)
}

// newSink serves s until the test ends and returns its URL.
func newSink(t *testing.T, s *sink) string {
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

func (s *sink) all() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Join(s.bodies, nil)
}

// TestCollectorEntriesEqualSDK sends 1,000 GenAI spans over OTLP/gRPC from
// the Go SDK and 1,000 over OTLP/HTTP JSON (as a Python service sends them)
// through an in-process Collector built from the real factories, into a
// file store and into S3. Every entry equals, field by field, the entry
// exporter.New writes for the same span; the ordinary pipeline
// (otelauditredact -> otlphttp) gets the spans without any content.
func TestCollectorEntriesEqualSDK(t *testing.T) {
	for _, store := range []string{"file", "s3"} {
		t.Run(store, func(t *testing.T) {
			content := contentFor(store)
			storeYAML, open := storeConfig(t, store)
			grpcPort, httpPort := coltest.FreePort(t), coltest.FreePort(t)
			ordinary := &sink{}
			srv := httptest.NewServer(ordinary)
			defer srv.Close()
			col := coltest.Start(t, fmt.Sprintf(`
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:%d"}
      http: {endpoint: "127.0.0.1:%d"}
processors:
  otelauditredact: {}
exporters:
  otelaudit:
%s
    content: %s
  otlp_http:
    endpoint: %s
    compression: none
    encoding: json
service:
  telemetry:
    logs: {level: warn}
    metrics: {level: none}
  pipelines:
    traces/audit: {receivers: [otlp], exporters: [otelaudit]}
    traces/ordinary: {receivers: [otlp], processors: [otelauditredact], exporters: [otlp_http]}
`, grpcPort, httpPort, storeYAML, content, srv.URL))

			var ref []sdktrace.ReadOnlySpan
			ref = append(ref, sendGRPC(t, grpcPort)...)
			ref = append(ref, postJSON(t, httpPort)...)
			require.NoError(t, col.Stop())

			got := readAll(t, open())
			want := referenceEntries(t, content, ref)
			require.Len(t, want, 2*spansPerSource)
			require.Len(t, got, 2*spansPerSource, "one entry per GenAI span, none for the plain spans")
			for id, w := range want {
				g, ok := got[id]
				if !assert.True(t, ok, "entry %s missing", id) {
					continue
				}
				assert.Equal(t, w, g, "entry %s", id)
				// The content really went through: not the hashes of "".
				assert.NotEqual(t, otelaudit.HashContent(""), g.InputHash, "entry %s", id)
				assert.NotEqual(t, otelaudit.HashContent(""), g.OutputHash, "entry %s", id)
				if content == "plaintext" {
					assert.Contains(t, *g.InputContent, marker)
					assert.Contains(t, *g.OutputContent, marker)
				}
			}

			bodies := ordinary.all()
			assert.Equal(t, 2*spansPerSource+spansPerSource/10*2, bytes.Count(bodies, []byte(`"spanId"`)),
				"the ordinary pipeline gets every span")
			assert.NotContains(t, string(bodies), marker, "content reached the ordinary pipeline")
			assert.Contains(t, string(bodies), "gen_ai.request.model", "metadata stays")
		})
	}
}

func contentFor(store string) string {
	if store == "file" {
		return "plaintext"
	}
	return "hash"
}

// storeConfig returns the store part of the otelaudit config and a func
// that opens the same store for reading.
func storeConfig(t *testing.T, store string) (string, func() storage.Backend) {
	const keyHex = "00112233445566778899aabbccddeeff"
	keyFile := t.TempDir() + "/ckpt.key"
	require.NoError(t, os.WriteFile(keyFile, []byte("fleet1:"+keyHex+"\n"), 0o600))
	key, _ := hex.DecodeString(keyHex)
	// The Collector's store is tamper-evident: it verifies with the
	// checkpoint key from checkpoint_key_file, every entry chained.
	checkIntact := func(rep *verify.Report, err error) {
		require.NoError(t, err)
		assert.True(t, rep.OK(), "%+v", rep.Problems)
		assert.Equal(t, int64(2*spansPerSource), rep.Chained)
		assert.Positive(t, rep.Checkpoints)
	}
	if store == "file" {
		dir := t.TempDir() + "/audit"
		t.Cleanup(func() {
			if !t.Failed() {
				checkIntact(filestore.Verify(context.Background(), dir, filestore.WithVerifyKey("fleet1", key)))
			}
		})
		return "    directory: " + dir + "\n    checkpoint_key_file: " + keyFile, func() storage.Backend {
			st, err := filestore.New(dir, filestore.WithReadOnly())
			require.NoError(t, err)
			return st
		}
	}
	bucket, srv, client := newS3Bucket(t)
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		// The S3 store signs digests with the same key: every object is
		// listed by a digest.
		st, err := s3store.New(context.Background(), client, bucket, s3store.WithPrefix("fleet"), s3store.WithReadOnly())
		require.NoError(t, err)
		defer st.Close()
		rep, err := st.Verify(context.Background(), s3store.WithVerifyKey("fleet1", key))
		checkIntact(rep, err)
		assert.Zero(t, rep.Unconfirmed, "the final digest lists everything")
	})
	yaml := fmt.Sprintf("    s3: {bucket: %s, prefix: fleet, endpoint: %q, region: us-east-1}\n    checkpoint_key_file: %s", bucket, srv.Endpoint, keyFile)
	return yaml, func() storage.Backend {
		st, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix("fleet"), s3store.WithReadOnly())
		require.NoError(t, err)
		return st
	}
}

// newS3Bucket creates a bucket with a random name on the S3 server of the
// environment, exports its credentials for the AWS default chain (which
// the exporter, the built Collector and the CLI read) and returns it with
// the server and a client of it. No server is a skip, or a failure under
// make test.
func newS3Bucket(t testing.TB) (string, s3test.Server, *s3.Client) {
	t.Helper()
	srv, ok := s3test.FromEnv()
	if !ok {
		s3test.Missing(t, "no S3 server: run under make test (scripts/with-versitygw.sh)")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
	})
	var r [6]byte
	_, _ = rand.Read(r[:])
	bucket := "otelaudit-col-" + hex.EncodeToString(r[:])
	_, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	return bucket, srv, client
}

// readAll reads every entry of b by id, with the chain fields (which
// depend on the store and writer) removed, and closes b.
func readAll(t *testing.T, b storage.Backend) map[string]*storage.AuditEntry {
	t.Helper()
	defer b.Close()
	es, err := b.ListEntries(t.Context(), time.Time{}, time.Now().Add(24*time.Hour))
	require.NoError(t, err)
	out := make(map[string]*storage.AuditEntry, len(es))
	for _, e := range es {
		_, dup := out[e.ID]
		require.False(t, dup, "entry %s twice", e.ID)
		e.Chain = nil
		out[e.ID] = e
	}
	return out
}

// referenceEntries writes spans through exporter.New into a file store
// with the same content mode and reads them back.
func referenceEntries(t *testing.T, content string, spans []sdktrace.ReadOnlySpan) map[string]*storage.AuditEntry {
	t.Helper()
	st, err := filestore.New(t.TempDir())
	require.NoError(t, err)
	l, err := otelaudit.NewLogger(st, otelaudit.WithStoreContent(content == "plaintext"))
	require.NoError(t, err)
	e, err := exporter.New(l)
	require.NoError(t, err)
	require.NoError(t, e.ExportSpans(t.Context(), spans))
	require.NoError(t, e.Shutdown(t.Context()))
	return readAll(t, st)
}

// sendGRPC sends spansPerSource GenAI spans made by otelaudit.StartCall
// (content on the span, WithContentOnSpan, as a Go service without the
// in-process audit sends it) and spansPerSource/10 plain spans through the Go
// SDK's OTLP/gRPC exporter, and returns the spans as the SDK ended them.
func sendGRPC(t *testing.T, port int) []sdktrace.ReadOnlySpan {
	t.Helper()
	exp, err := otlptracegrpc.New(t.Context(), otlptracegrpc.WithEndpoint(fmt.Sprintf("127.0.0.1:%d", port)), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithMaxQueueSize(4*spansPerSource)), sdktrace.WithSpanProcessor(rec))
	ctx := t.Context()
	for i := range spansPerSource {
		_, call := otelaudit.StartCall(ctx, otelaudit.Request{
			Provider: []string{"openai", "anthropic", "aws.bedrock"}[i%3],
			Model:    fmt.Sprintf("model-%d", i%7),
			Input: []otelaudit.Message{
				{Role: "system", Content: marker + " be brief"},
				{Content: fmt.Sprintf("%s question %d: é ✓ \"quoted\"\n", marker, i)},
			},
			ConversationID: fmt.Sprintf("conv-%d", i%11),
			Metadata:       map[string]any{"tenant": fmt.Sprintf("t%d", i%5), "n": i},
		}, otelaudit.WithTracerProvider(tp), otelaudit.WithContentOnSpan(true))
		call.SetOutput(otelaudit.Message{Content: fmt.Sprintf("%s answer %d", marker, i), FinishReason: "stop"})
		call.SetUsage(int64(10+i), int64(i%13))
		call.End()
		if i%10 == 0 {
			_, s := tp.Tracer("plain").Start(ctx, "GET /health", trace.WithAttributes(attribute.String("http.request.method", "GET")))
			s.End()
		}
	}
	require.NoError(t, tp.Shutdown(ctx))
	return rec.Ended()
}

// postJSON posts spansPerSource GenAI spans as OTLP/HTTP JSON the way a
// Python service's exporter sends them (legacy gen_ai.system, ints as
// strings, content as JSON strings), plus some plain spans, and returns
// the same spans as SDK snapshots for the reference.
func postJSON(t *testing.T, port int) []sdktrace.ReadOnlySpan {
	t.Helper()
	base := time.Date(2026, 11, 30, 10, 0, 0, 123456789, time.UTC)
	var ref []sdktrace.ReadOnlySpan
	const perRequest = 100
	for b := 0; b < spansPerSource/perRequest; b++ {
		var spans []string
		for i := b * perRequest; i < (b+1)*perRequest; i++ {
			var tid trace.TraceID
			var sid trace.SpanID
			_, _ = rand.Read(tid[:])
			_, _ = rand.Read(sid[:])
			start := base.Add(time.Duration(i) * time.Millisecond)
			end := start.Add(time.Duration(100+i) * time.Microsecond)
			in := fmt.Sprintf(`[{"role":"user","parts":[{"type":"text","content":"%s py %d"}]}]`, marker, i)
			out := fmt.Sprintf(`[{"role":"assistant","parts":[{"type":"text","content":"%s reply %d"}],"finish_reason":"stop"}]`, marker, i)
			attrs := []attribute.KeyValue{
				attribute.String("gen_ai.operation.name", "chat"),
				attribute.String("gen_ai.system", "openai"),
				attribute.String("gen_ai.request.model", "gpt-4o-mini"),
				attribute.String("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
				attribute.String("gen_ai.response.id", fmt.Sprintf("chatcmpl-%d", i)),
				attribute.StringSlice("gen_ai.response.finish_reasons", []string{"stop"}),
				attribute.Int64("gen_ai.usage.input_tokens", int64(i)),
				attribute.Int64("gen_ai.usage.output_tokens", 7),
				attribute.String("gen_ai.input.messages", in),
				attribute.String("gen_ai.output.messages", out),
				attribute.String("server.address", "api.openai.com"),
			}
			ref = append(ref, tracetest.SpanStub{
				Name:        "chat gpt-4o-mini",
				SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}),
				SpanKind:    trace.SpanKindClient, StartTime: start, EndTime: end, Attributes: attrs,
			}.Snapshot())
			spans = append(spans, jsonSpan(tid.String(), sid.String(), "chat gpt-4o-mini", start, end, attrs))
			if i%10 == 0 {
				_, _ = rand.Read(sid[:])
				spans = append(spans, jsonSpan(tid.String(), sid.String(), "POST /v1/chat", start, end,
					[]attribute.KeyValue{attribute.String("http.request.method", "POST")}))
			}
		}
		body := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"py-svc"}}]},` +
			`"scopeSpans":[{"scope":{"name":"opentelemetry.instrumentation.openai_v2","version":"2.1b0"},"spans":[` +
			strings.Join(spans, ",") + `]}]}]}`
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/v1/traces", port), strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		msg, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode, string(msg))
	}
	return ref
}

// jsonSpan writes one span in OTLP JSON as the Python exporter does: hex
// ids, nanosecond times and ints as strings.
func jsonSpan(tid, sid, name string, start, end time.Time, attrs []attribute.KeyValue) string {
	var as []string
	for _, kv := range attrs {
		var v string
		switch kv.Value.Type() {
		case attribute.STRING:
			v = fmt.Sprintf(`{"stringValue":%s}`, jsonString(kv.Value.AsString()))
		case attribute.INT64:
			v = fmt.Sprintf(`{"intValue":"%d"}`, kv.Value.AsInt64())
		case attribute.STRINGSLICE:
			var vs []string
			for _, s := range kv.Value.AsStringSlice() {
				vs = append(vs, fmt.Sprintf(`{"stringValue":%s}`, jsonString(s)))
			}
			v = `{"arrayValue":{"values":[` + strings.Join(vs, ",") + `]}}`
		}
		as = append(as, fmt.Sprintf(`{"key":%q,"value":%s}`, kv.Key, v))
	}
	return fmt.Sprintf(`{"traceId":%q,"spanId":%q,"name":%q,"kind":3,"startTimeUnixNano":"%d","endTimeUnixNano":"%d","attributes":[%s],"status":{}}`,
		tid, sid, name, start.UnixNano(), end.UnixNano(), strings.Join(as, ","))
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestCollectorEvaluations: the evaluations a Go service records on its
// calls (gen_ai.evaluation.result span events) reach the entry from OTLP
// as from the SDK exporter: metadata["gen_ai.evaluation.results"] and the
// evaluation alerts, with the Collector exporter in a logs pipeline too
// (the calls without content on the span go through the join).
func TestCollectorEvaluations(t *testing.T) {
	dir := t.TempDir() + "/audit"
	grpcPort := coltest.FreePort(t)
	col := coltest.Start(t, fmt.Sprintf(`
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:%d"}
exporters:
  otelaudit:
    directory: %s
    content: plaintext
    join_wait: 200ms
service:
  telemetry:
    logs: {level: warn}
    metrics: {level: none}
  pipelines:
    traces/audit: {receivers: [otlp], exporters: [otelaudit]}
    logs/audit: {receivers: [otlp], exporters: [otelaudit]}
`, grpcPort, dir))
	exp, err := otlptracegrpc.New(t.Context(), otlptracegrpc.WithEndpoint(fmt.Sprintf("127.0.0.1:%d", grpcPort)), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithSpanProcessor(rec))
	score := 0.25
	for i := range 10 {
		_, call := otelaudit.StartCall(t.Context(), otelaudit.Request{Provider: "openai", Model: "m", Input: []otelaudit.Message{{Content: fmt.Sprintf("q%d", i)}}},
			otelaudit.WithTracerProvider(tp), otelaudit.WithContentOnSpan(i%2 == 0))
		call.SetOutput(otelaudit.Message{Content: "a"})
		call.RecordEvaluation(otelaudit.Evaluation{Name: "toxicity", Label: "pass"})
		call.RecordEvaluation(otelaudit.Evaluation{Name: "groundedness", Score: &score})
		call.End()
	}
	require.NoError(t, tp.Shutdown(t.Context()))
	require.NoError(t, col.Stop())

	st, err := filestore.New(dir, filestore.WithReadOnly())
	require.NoError(t, err)
	got := readAll(t, st)
	want := referenceEntries(t, "plaintext", rec.Ended())
	require.Len(t, got, 10)
	for id, w := range want {
		g := got[id]
		require.NotNil(t, g, "entry %s", id)
		require.NotNil(t, w.Metadata["gen_ai.evaluation.results"], "the SDK exporter's entry has the evaluations")
		assert.Equal(t, w.Metadata["gen_ai.evaluation.results"], g.Metadata["gen_ai.evaluation.results"])
		assert.Equal(t, w.Alerts, g.Alerts)
		assert.Equal(t, []string{"evaluation:toxicity=pass", "evaluation:groundedness=0.25"}, g.Alerts)
	}
}
