package otelauditexporter_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"

	"github.com/otelaudit/otelaudit-go/collector/internal/coltest"
	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// benchSpansPerRequest is the number of spans per OTLP request of the
// pre-built sender (a Collector agent's batch).
const benchSpansPerRequest = 1000

// benchSenders is the number of concurrent OTLP/gRPC streams of the
// pre-built sender, and of writers of the direct baseline.
const benchSenders = 4

// BenchmarkCollectorThroughput measures spans/s through one in-process
// Collector (otlp receiver -> otelaudit exporter, hash-only) until every
// entry is durable in the store, for a file store and an S3 store
// (versitygw under make bench), with three senders in the same run:
//
//   - prebuilt: OTLP/gRPC requests of 1,000 GenAI spans (512 bytes of
//     prompt and of answer each), marshalled before the clock starts and
//     sent on 4 streams: the Collector's own cost, the figure the 30,000
//     spans/s target is about;
//   - sdk: the Go SDK (otelaudit.StartCall with content on the span,
//     BatchSpanProcessor, otlptracegrpc) in the same process, so the
//     sender's work shares the CPUs;
//   - direct: the baseline, the same spans written by exporter.New into
//     the same kind of store from 4 goroutines, no Collector.
//
// Each reports spans/s and cpu-µs/span (user+system CPU of the process per
// span, which does not depend on what else runs on the machine), and
// checks the store holds b.N entries.
func BenchmarkCollectorThroughput(b *testing.B) {
	for _, store := range []string{"file", "s3"} {
		for _, sender := range []string{"prebuilt", "sdk", "direct"} {
			b.Run("store="+store+"/sender="+sender, func(b *testing.B) {
				yaml, open := benchStore(b, store)
				var run func(b *testing.B)
				switch sender {
				case "direct":
					run = func(b *testing.B) { writeDirect(b, open()) }
				default:
					port := coltest.FreePort(b)
					col := coltest.Start(b, fmt.Sprintf(`
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:%d", max_recv_msg_size_mib: 64}
exporters:
  otelaudit:
%s
    sending_queue: {queue_size: 100000, sizer: items, block_on_overflow: true, num_consumers: 4}
service:
  telemetry:
    logs: {level: warn}
    metrics: {level: none}
  pipelines:
    traces: {receivers: [otlp], exporters: [otelaudit]}
`, port, yaml))
					send := sendPrebuilt
					if sender == "sdk" {
						send = sendSDK
					}
					run = func(b *testing.B) {
						send(b, port)
						if err := col.Stop(); err != nil { // every entry durable
							b.Fatal(err)
						}
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				cpu0, start := cpuTime(), time.Now()
				run(b)
				elapsed, cpu := time.Since(start), cpuTime()-cpu0
				b.StopTimer()
				st := open()
				defer st.Close()
				if n, err := st.Count(b.Context()); err != nil || n != b.N {
					b.Fatalf("count %d (%v), want %d", n, err, b.N)
				}
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "spans/s")
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/span")
			})
		}
	}
}

// benchStore returns the otelaudit exporter's store config and a func
// opening the same store.
func benchStore(b *testing.B, store string) (string, func() storage.Backend) {
	if store == "file" {
		dir := b.TempDir() + "/audit"
		return "    directory: " + dir, func() storage.Backend {
			st, err := filestore.New(dir)
			if err != nil {
				b.Fatal(err)
			}
			return st
		}
	}
	bucket, srv, client := newS3Bucket(b)
	return fmt.Sprintf("    s3: {bucket: %s, prefix: bench, endpoint: %q, region: us-east-1}", bucket, srv.Endpoint),
		func() storage.Backend {
			st, err := s3store.New(b.Context(), client, bucket, s3store.WithPrefix("bench"))
			if err != nil {
				b.Fatal(err)
			}
			return st
		}
}

var (
	benchIn  = `[{"role":"user","parts":[{"type":"text","content":"` + strings.Repeat("q", 512) + `"}]}]`
	benchOut = `[{"role":"assistant","parts":[{"type":"text","content":"` + strings.Repeat("a", 512) + `"}],"finish_reason":"stop"}]`
)

// benchAttrs are the attributes of every benchmark span: what
// otelaudit.StartCall records with content on the span.
var benchAttrs = []attribute.KeyValue{
	attribute.String("gen_ai.operation.name", "chat"),
	attribute.String("gen_ai.provider.name", "openai"),
	attribute.String("gen_ai.request.model", "gpt-4o"),
	attribute.String("gen_ai.response.model", "gpt-4o-2024-08-06"),
	attribute.String("gen_ai.conversation.id", "conv-1"),
	attribute.Int("gen_ai.usage.input_tokens", 100),
	attribute.Int("gen_ai.usage.output_tokens", 20),
	attribute.StringSlice("gen_ai.response.finish_reasons", []string{"stop"}),
	attribute.String("gen_ai.input.messages", benchIn),
	attribute.String("gen_ai.output.messages", benchOut),
}

// benchIDs returns span i's trace and span id: distinct for every span,
// so that every span is its own entry.
func benchIDs(i int) (trace.TraceID, trace.SpanID) {
	var tid trace.TraceID
	var sid trace.SpanID
	binary.BigEndian.PutUint64(tid[:8], uint64(time.Now().UnixNano()))
	binary.BigEndian.PutUint64(tid[8:], uint64(i)+1)
	binary.BigEndian.PutUint64(sid[:], uint64(i)+1)
	return tid, sid
}

// sendPrebuilt marshals b.N spans into OTLP requests of
// benchSpansPerRequest spans before the clock runs (it stops it while
// marshalling), then sends them on benchSenders gRPC streams, each request
// as the bytes marshalled, and returns when the receiver acknowledged all.
func sendPrebuilt(b *testing.B, port int) {
	b.StopTimer()
	start := time.Now()
	var reqs [][]byte
	for lo := 0; lo < b.N; lo += benchSpansPerRequest {
		reqs = append(reqs, otlpRequest(b, lo, min(benchSpansPerRequest, b.N-lo), start, benchAttrs))
	}
	conn := rawConn(b, port)
	b.StartTimer()
	var wg sync.WaitGroup
	errs := make(chan error, benchSenders)
	for w := range benchSenders {
		wg.Go(func() {
			for i := w; i < len(reqs); i += benchSenders {
				if err := exportRaw(b.Context(), conn, reqs[i]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// otlpRequest returns a marshalled OTLP trace export request of n GenAI
// spans with attrs (string, int and string slice values), the ids of spans
// first to first+n-1 ([benchIDs]), started at start.
func otlpRequest(tb testing.TB, first, n int, start time.Time, attrs []attribute.KeyValue) []byte {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "bench")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i := first; i < first+n; i++ {
		tid, sid := benchIDs(i)
		s := spans.AppendEmpty()
		s.SetTraceID(pcommon.TraceID(tid))
		s.SetSpanID(pcommon.SpanID(sid))
		s.SetName("chat gpt-4o")
		s.SetKind(ptrace.SpanKindClient)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Millisecond)))
		for _, kv := range attrs {
			switch kv.Value.Type() {
			case attribute.STRING:
				s.Attributes().PutStr(string(kv.Key), kv.Value.AsString())
			case attribute.INT64:
				s.Attributes().PutInt(string(kv.Key), kv.Value.AsInt64())
			case attribute.STRINGSLICE:
				sl := s.Attributes().PutEmptySlice(string(kv.Key))
				for _, v := range kv.Value.AsStringSlice() {
					sl.AppendEmpty().SetStr(v)
				}
			}
		}
	}
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// rawConn is a gRPC client of the OTLP receiver on port that sends
// pre-marshalled requests ([exportRaw]); it is closed when tb ends.
func rawConn(tb testing.TB, port int) *grpc.ClientConn {
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{}), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	return conn
}

// exportRaw sends one marshalled OTLP trace export request.
func exportRaw(ctx context.Context, conn *grpc.ClientConn, body []byte) error {
	var reply []byte
	return conn.Invoke(ctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", body, &reply)
}

// rawCodec sends a pre-marshalled protobuf message as it is and keeps the
// reply's bytes, so that the sender does no marshalling while the clock
// runs.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// sendSDK sends b.N spans made by otelaudit.StartCall (content on the
// span, 512 bytes of prompt and answer) through the Go SDK's batch
// processor and OTLP/gRPC exporter, and returns when the SDK exported all.
func sendSDK(b *testing.B, port int) {
	exp, err := otlptracegrpc.New(b.Context(), otlptracegrpc.WithEndpoint(fmt.Sprintf("127.0.0.1:%d", port)), otlptracegrpc.WithInsecure())
	if err != nil {
		b.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp,
		sdktrace.WithMaxQueueSize(1<<16), sdktrace.WithMaxExportBatchSize(2048), sdktrace.WithBlocking()))
	in := []otelaudit.Message{{Content: strings.Repeat("q", 512)}}
	out := otelaudit.Message{Content: strings.Repeat("a", 512), FinishReason: "stop"}
	for range b.N {
		_, call := otelaudit.StartCall(b.Context(), otelaudit.Request{Provider: "openai", Model: "gpt-4o", ConversationID: "conv-1", Input: in},
			otelaudit.WithTracerProvider(tp), otelaudit.WithContentOnSpan(true))
		call.SetResponse("", "gpt-4o-2024-08-06")
		call.SetOutput(out)
		call.SetUsage(100, 20)
		call.End()
	}
	if err := tp.Shutdown(b.Context()); err != nil {
		b.Fatal(err)
	}
}

// writeDirect writes b.N spans with the benchmark's attributes through
// exporter.New into st, benchSpansPerRequest per export from benchSenders
// goroutines, and shuts the exporter down (every entry durable). The
// spans are built before the clock runs.
func writeDirect(b *testing.B, st storage.Backend) {
	b.StopTimer()
	start := time.Now()
	var batches [][]sdktrace.ReadOnlySpan
	for lo := 0; lo < b.N; lo += benchSpansPerRequest {
		var batch []sdktrace.ReadOnlySpan
		for i := lo; i < min(lo+benchSpansPerRequest, b.N); i++ {
			tid, sid := benchIDs(i)
			batch = append(batch, tracetest.SpanStub{
				Name:        "chat gpt-4o",
				SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}),
				SpanKind:    trace.SpanKindClient, StartTime: start, EndTime: start.Add(time.Millisecond), Attributes: benchAttrs,
			}.Snapshot())
		}
		batches = append(batches, batch)
	}
	l, err := otelaudit.NewLogger(st)
	if err != nil {
		b.Fatal(err)
	}
	e, err := exporter.New(l, exporter.WithCloseBackend(true))
	if err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	var wg sync.WaitGroup
	for w := range benchSenders {
		wg.Go(func() {
			for i := w; i < len(batches); i += benchSenders {
				if err := e.ExportSpans(context.Background(), batches[i]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := e.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
