package middleware

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/semconv/v1.41.0/genaiconv"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/internal/callstart"
	"github.com/otelaudit/otelaudit-go/internal/handoff"
	"github.com/otelaudit/otelaudit-go/internal/jsontape"
	"github.com/otelaudit/otelaudit-go/middleware/internal/eventstream"
	"github.com/otelaudit/otelaudit-go/middleware/internal/genai"
	"github.com/otelaudit/otelaudit-go/middleware/internal/sse"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// Error types the middleware records (error.type) for failures that are not
// the provider's own error replies.
const (
	// ErrorTypeStreamAbandoned: the caller closed a stream before its end.
	ErrorTypeStreamAbandoned = "stream_abandoned"
	// ErrorTypeStreamInterrupted: the stream broke (read error, connection
	// cut) before its terminal event.
	ErrorTypeStreamInterrupted = "stream_interrupted"
	// ErrorTypeResponseIncomplete: a non-streaming body ended or was closed
	// before it could be read whole.
	ErrorTypeResponseIncomplete = "response_incomplete"
	// ErrorTypeCanceled and ErrorTypeTimeout: the call's context ended,
	// before the reply or while its body was read: timeout when its
	// deadline passed (http.Client's Timeout included) or it was canceled
	// with a timeout as its cause (context.Cause), canceled otherwise;
	// whatever error net/http returned for it. A timeout of the
	// connection itself (a net.Error) is a timeout too, except mid-stream
	// (ErrorTypeStreamInterrupted).
	ErrorTypeCanceled = "canceled"
	ErrorTypeTimeout  = "timeout"
	// ErrorTypePanic: the wrapped handler panicked.
	ErrorTypePanic = "panic"
)

// Metadata keys (audit.metadata.<key>) the middleware records when they
// apply.
const (
	MetadataRequestTruncated  = "request_truncated"    // bool: the captured request body hit the cap
	MetadataRequestIncomplete = "request_incomplete"   // bool: the entry's input is the part of the request body the handler read, not all of it (Expect: 100-continue; see Handler)
	MetadataResponseTruncated = "response_truncated"   // bool: the captured reply (or reassembled output) hit the cap
	MetadataRequestUnparsed   = "request_unparsed"     // bool: a known API's request body was not valid JSON; raw text recorded
	MetadataResponseUnparsed  = "response_unparsed"    // bool: a known API's reply was not valid JSON, raw text recorded; or an event of its stream was not, left out of the output
	MetadataNotDecoded        = "response_not_decoded" // string: Content-Encoding the audit could not decode
	MetadataCutMidEvent       = "stream_cut_mid_event" // bool: a stream ended inside an event
	MetadataStream            = "stream"               // bool: the request asked for a stream (the span's gen_ai.request.stream)
	MetadataStreamCorrupt     = "stream_corrupt"       // bool: an AWS event stream failed its checksums; what followed was not read
	MetadataHijacked          = "hijacked"             // bool: the handler hijacked the connection
)

type respMode int

const (
	modeBuffer      respMode = iota // keep the body (up to the cap) and parse it at the end
	modeSSE                         // parse events as they pass
	modeNDJSON                      // Ollama: one JSON object a line
	modeEventStream                 // AWS event stream (Bedrock): binary frames decoded as they pass
	modeSkip                        // cannot decode (unknown Content-Encoding): record no output
)

// exchange is the audit record of one call in progress. Fields above mu are
// fixed after begin; the rest are guarded by mu. finish runs once.
type exchange struct {
	cfg    *config
	span   trace.Span
	api    genai.API
	ext    Extractor
	limit  int
	server bool
	// wantContent says whether content handed to setContent and setText
	// goes anywhere.
	wantContent bool
	// call is the client call (Transport), nil for a server span, whose
	// content goes to sink; start is when the exchange began.
	call  *otelaudit.Call
	sink  handoff.Sink
	start time.Time
	// callState and slot are the client call and its content slot (call
	// points at callState), slot also the server span's: kept here, as
	// they live as long as x does, rather than in allocations of their
	// own.
	callState otelaudit.Call
	slot      handoff.Slot
	// body is the response body the client gets (Transport), kept here so
	// that it is not an allocation of its own.
	body wrappedBody
	// reqCtx is the client request's own context (Transport), nil for a
	// server span (set only when next aborts, see Handler): whether it
	// ended tells a timeout or a cancellation from other failures (see
	// endedType).
	reqCtx context.Context
	// attrBuf backs the attributes begin gives the span at its start, then
	// those finish sets: both are copied by the span, and each is done
	// with its slice when it returns.
	attrBuf [8]attribute.KeyValue
	// texts are the content texts handed to the audit processor, made on
	// its worker (input, system instructions, output; see appendContent);
	// reqHeld and respHeld are the pooled captures of the request and the
	// reply while those texts may still read them.
	texts             [3]lazyText
	reqHeld, respHeld heldCapture
	// reqBody and respBody hold the head parses of the request and the
	// reply (when content is not put on the span), and their bodies when
	// those left content lists out for the texts to parse.
	reqBody  lazyRequest
	respBody lazyReply
	// op, provider and srvAttrs (the server span's start attributes, read
	// only) give the attributes of a server span's streaming metrics.
	op, provider string
	srvAttrs     []attribute.KeyValue

	ended atomic.Bool

	mu        sync.Mutex
	responded bool
	status    int
	header    http.Header
	mode      respMode
	gzip      bool
	buf       []byte
	// pooled is where buf came from (acquireCapture), nil when it was not
	// pooled; it goes back at finish.
	pooled    *[]byte
	truncated bool
	// lineCut: the NDJSON line being read went past the cap.
	lineCut  bool
	parser   *sse.Parser
	frames   *eventstream.Decoder
	stream   *genai.Stream
	hijacked bool
	// contentLength is the reply's Content-Length, -1 when unknown.
	contentLength int64
	// firstChunk is when the first chunk of a streamed reply passed.
	firstChunk time.Time
}

// readPrefix reads at most limit+1 bytes of rc, returning the bytes (at
// most limit) and whether there was more.
func readPrefix(rc io.Reader, limit int) ([]byte, bool, error) {
	return readPrefixInto(make([]byte, 0, captureCap(limit, -1)), rc, limit)
}

// captureCap is the buffer to start with for at most limit+1 bytes of a
// body of the given size (-1: unknown), so that a body of known length is
// read into one allocation.
func captureCap(limit int, size int64) int {
	c := 512
	if size >= 0 {
		c = int(min(size+1, int64(limit)+1))
	}
	return max(c, 1)
}

// readPrefixInto is readPrefix appending to buf.
func readPrefixInto(buf []byte, rc io.Reader, limit int) ([]byte, bool, error) {
	buf, err := readUpTo(buf, rc, limit+1)
	if len(buf) > limit {
		return buf[:limit], true, err
	}
	return buf, false, err
}

// readUpTo appends to buf what it reads of r until buf holds n bytes.
func readUpTo(buf []byte, r io.Reader, n int) ([]byte, error) {
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := r.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

func rawMessage(role string, body []byte) []genai.Message {
	if len(body) == 0 {
		return nil
	}
	p := genai.Part{Type: "text", Content: string(body)}
	if !utf8.Valid(body) {
		p = genai.Part{Type: "blob", Content: base64.StdEncoding.EncodeToString(body)}
	}
	return []genai.Message{{Role: role, Parts: []genai.Part{p}}}
}

func fromAuditMessages(ms []otelaudit.Message, role string) []genai.Message {
	out := make([]genai.Message, 0, len(ms))
	for _, m := range ms {
		r := m.Role
		if r == "" {
			r = role
		}
		out = append(out, genai.Message{Role: r, Parts: []genai.Part{{Type: "text", Content: m.Content}}, FinishReason: m.FinishReason})
	}
	return out
}

// reqDesc is what a request says of its call (describe): the span's
// attributes and what goes beside the span (handOver).
type reqDesc struct {
	target                    genai.Target
	path                      string
	op, provider, model, conv string
	input                     []genai.Message
	system                    []genai.Part
	// extra holds the span's start attributes beyond StartCall's own, in
	// the exchange's attrBuf.
	extra []attribute.KeyValue
	// content holds what goes beside the span, not on it: content and
	// audit.metadata.* (otelaudit.IsContentKey), kept apart as they are
	// made rather than sorted out of extra afterwards.
	content []attribute.KeyValue
	// claimed says an Extractor described the request; body is the
	// captured request body.
	claimed bool
	body    []byte
}

// newReqDesc is the description of a request to path (at target) before
// its body is read.
func (x *exchange) newReqDesc(target genai.Target, path string) reqDesc {
	return reqDesc{target: target, path: path, op: target.Operation, provider: target.Provider, extra: x.attrBuf[:0]}
}

// requestPath is r's URL path, "" without a URL.
func requestPath(r *http.Request) string {
	if r.URL != nil {
		return r.URL.Path
	}
	return ""
}

// begin works out what the request is and starts its span. host is the
// target host (client) or the Host header (server).
//
// body is the captured request body; pooled, when not nil, is the pooled
// buffer it lies in (acquireCapture), which begin gives back once nothing
// reads it any more (unless an Extractor claimed the request: it may keep
// the body).
func (c *config) begin(ctx context.Context, r *http.Request, host string, body []byte, pooled *[]byte, reqTrunc, server bool, start time.Time) (context.Context, *exchange) {
	path := requestPath(r)
	target := genai.Detect(host, path)
	x := &exchange{cfg: c, api: target.API, limit: c.maxBody, server: server, start: start}
	if !server {
		x.reqCtx = ctx
	}
	d := x.newReqDesc(target, path)
	x.describe(&d, r, host, body, pooled, reqTrunc)
	if d.conv == "" {
		d.conv = ConversationIDFromContext(ctx)
	} else if server {
		ctx = ContextWithConversationID(ctx, d.conv)
	}
	// The content goes over once the span started.
	defer x.handOver(&d)
	if !server {
		// otelaudit.StartCall, with the Call and the content slot in x's
		// allocation (x lives until the audit worker read the content
		// anyway) and the span name shared by the calls of one model.
		if d.op == "" {
			d.op = otelaudit.DefaultOperation
		}
		x.call = &x.callState
		x.slot.Instrumented = true
		ctx = startCall(ctx, x.call, &x.slot, otelaudit.Request{Operation: d.op, Provider: d.provider, Model: d.model, ConversationID: d.conv},
			c.spanName(d.op, d.model), start, d.extra, c.callOpts)
		x.span, x.wantContent = x.call.Span(), x.call.ContentWanted()
		return ctx, x
	}
	return x.startServer(ctx, r, &d)
}

// beginLate starts the server span of a request whose body is read only
// as the handler reads it (see Handler), with what its path and headers
// say; describeLate completes the span once the body is known. The
// request's content and the conversation id its body may give are then
// not in the context the handler gets.
func (c *config) beginLate(ctx context.Context, r *http.Request, start time.Time) (context.Context, *exchange) {
	path := requestPath(r)
	target := genai.Detect(r.Host, path)
	x := &exchange{cfg: c, api: target.API, limit: c.maxBody, server: true, start: start}
	d := x.newReqDesc(target, path)
	x.describeHead(&d, r, r.Host)
	if d.conv == "" {
		d.conv = ConversationIDFromContext(ctx)
	} else {
		ctx = ContextWithConversationID(ctx, d.conv)
	}
	return x.startServer(ctx, r, &d)
}

// describeLate completes a span beginLate started, once its request body
// is known (ctx is the context the handler got): its name, the attributes
// the body gives, and the content beside the span, as begin gives them at
// the start. body, pooled and reqTrunc are as for begin; incomplete says
// the handler stopped reading before the body's end (body is what it read).
// It runs before the reply is recorded (respond), as the body chooses how
// the reply is parsed, and at most once.
func (x *exchange) describeLate(ctx context.Context, r *http.Request, body []byte, pooled *[]byte, reqTrunc, incomplete bool) {
	path := requestPath(r)
	d := x.newReqDesc(genai.Detect(r.Host, path), path)
	x.describe(&d, r, r.Host, body, pooled, reqTrunc)
	if incomplete {
		d.content = append(d.content, otelaudit.AuditMetadataKey(MetadataRequestIncomplete).Bool(true))
	}
	if d.conv == "" {
		d.conv = ConversationIDFromContext(ctx)
	}
	attrs := make([]attribute.KeyValue, 0, 4+len(d.extra))
	attrs = appendGenAIAttrs(append(attrs, semconv.GenAIOperationNameKey.String(d.op)), &d)
	x.op, x.provider, x.srvAttrs = d.op, d.provider, attrs
	x.span.SetName(x.cfg.spanName(d.op, d.model))
	x.span.SetAttributes(attrs...)
	x.handOver(&d)
}

// startServer starts the server span of d: the same GenAI attributes as
// StartCall gives, with kind SERVER, so that client calls made by the
// handler are its children.
func (x *exchange) startServer(ctx context.Context, r *http.Request, d *reqDesc) (context.Context, *exchange) {
	c := x.cfg
	attrs := make([]attribute.KeyValue, 0, 8+len(d.extra))
	attrs = append(attrs, semconv.GenAIOperationNameKey.String(d.op), otelaudit.AuditEntryIDKey.String(storage.NewEntryID()),
		semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPath(d.path))
	attrs = appendGenAIAttrs(attrs, d)
	x.op, x.provider, x.srvAttrs = d.op, d.provider, attrs
	name := c.spanName(d.op, d.model)
	ctx = handoff.BeginIn(ctx, &x.slot)
	ctx, x.span = c.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(x.start), trace.WithAttributes(attrs...))
	x.sink = handoff.NewSink(x.span, &x.slot, c.onSpan)
	x.sink.MarkUnavailable()
	x.wantContent = x.sink.Wants()
	return ctx, x
}

// appendGenAIAttrs appends the provider, model and conversation id of d
// that are set, and its extra attributes.
func appendGenAIAttrs(attrs []attribute.KeyValue, d *reqDesc) []attribute.KeyValue {
	if d.provider != "" {
		attrs = append(attrs, semconv.GenAIProviderNameKey.String(d.provider))
	}
	if d.model != "" {
		attrs = append(attrs, semconv.GenAIRequestModelKey.String(d.model))
	}
	if d.conv != "" {
		attrs = append(attrs, semconv.GenAIConversationIDKey.String(d.conv))
	}
	return append(attrs, d.extra...)
}

// describe fills d (from newReqDesc) with what r and its captured body
// say; body, pooled and reqTrunc are as for begin. The conversation id
// is left "" when neither the body nor the header gives one.
func (x *exchange) describe(d *reqDesc, r *http.Request, host string, body []byte, pooled *[]byte, reqTrunc bool) {
	c, target := x.cfg, d.target
	d.body = body
	for _, e := range c.extractors {
		if req, ok := e.ExtractRequest(r, body); ok {
			x.ext, d.claimed = e, true
			d.op, d.model, d.conv = req.Operation, req.Model, req.ConversationID
			if d.op == "" {
				d.op = genai.OpChat
			}
			if req.Provider != "" {
				d.provider = req.Provider
			}
			d.input = fromAuditMessages(req.Input, "user")
			if req.SystemInstructions != "" {
				d.system = []genai.Part{{Type: "text", Content: req.SystemInstructions}}
			}
			break
		}
	}
	if pooled != nil && x.ext == nil {
		x.reqHeld.hold(pooled, body)
	}
	if !d.claimed {
		var (
			pr  *genai.Request
			err error
		)
		if !c.onSpan && target.API != genai.APIUnknown {
			// Only the texts need the messages, and the audit worker
			// makes those: leave them out here where the parse can.
			pr = &x.reqBody.head
			err = genai.ParseRequestInto(pr, target.API, body, true)
		} else {
			pr, err = genai.ParseRequest(target.API, body)
		}
		switch {
		case err == nil && target.API != genai.APIUnknown:
			d.input, d.system = pr.Messages, pr.System
			x.api = pr.API
			// A list the head parse made lives in its storage.
			x.reqBody.shared = d.input != nil || d.system != nil
			if pr.InputContent == genai.ContentSome {
				x.texts[0].deferRequest(&x.reqBody, false)
			}
			if pr.SystemContent == genai.ContentSome {
				x.texts[1].deferRequest(&x.reqBody, true)
			}
		case err == nil && len(pr.Messages) > 0:
			// Unknown path, chat-shaped JSON: treat it as a chat call.
			d.op, d.input = genai.OpChat, pr.Messages
		default:
			d.input = rawMessage("user", body)
			if err != nil && target.API != genai.APIUnknown && len(body) > 0 {
				d.content = append(d.content, otelaudit.AuditMetadataKey(MetadataRequestUnparsed).Bool(true))
			}
		}
		// Copies: the body may be a recycled capture buffer.
		d.model, d.conv = c.models.get(pr.Model), strings.Clone(pr.ConversationID)
		extra := d.extra
		if pr.MaxTokens != nil {
			extra = append(extra, semconv.GenAIRequestMaxTokensKey.Int64(*pr.MaxTokens))
		}
		if pr.Temperature != nil {
			extra = append(extra, semconv.GenAIRequestTemperatureKey.Float64(*pr.Temperature))
		}
		if pr.TopP != nil {
			extra = append(extra, semconv.GenAIRequestTopPKey.Float64(*pr.TopP))
		}
		extra = appendParams(extra, pr)
		if target.API != genai.APIUnknown {
			extra = append(extra, semconv.GenAIRequestStreamKey.Bool(pr.Stream || target.Stream))
		}
		d.extra = extra
	}
	if reqTrunc {
		d.content = append(d.content, otelaudit.AuditMetadataKey(MetadataRequestTruncated).Bool(true))
	}
	x.describeHead(d, r, host)
}

// describeHead fills d with what the request line and headers say, over
// or besides what the body said: the model the path names when the body
// named none, the configured provider, the conversation header, the
// server address.
func (x *exchange) describeHead(d *reqDesc, r *http.Request, host string) {
	c := x.cfg
	if d.model == "" {
		d.model = d.target.Model
	}
	if c.provider != "" {
		d.provider = c.provider
	}
	if h := headerValue(r.Header, c.convHeader); h != "" {
		d.conv = h
	}
	if h, p, err := net.SplitHostPort(host); err == nil {
		d.extra = append(d.extra, semconv.ServerAddress(h))
		if n, err := strconv.Atoi(p); err == nil {
			d.extra = append(d.extra, semconv.ServerPort(n))
		}
	} else if host != "" {
		d.extra = append(d.extra, semconv.ServerAddress(host))
	}
}

// handOver hands the request's content in d over beside the span (or puts
// it on the span, with WithContentOnSpan), once the span started, and
// drops the exchange's hold on the request's capture: the texts handed
// over hold it until the audit made them.
func (x *exchange) handOver(d *reqDesc) {
	defer x.reqHeld.done()
	if !x.wantContent {
		x.reqBody.head.Discard()
		return
	}
	input, system, content := d.input, d.system, d.content
	x.texts[0].messages(input, &x.reqHeld)
	content = x.appendContent(content, semconv.GenAIInputMessagesKey,
		func() string { return genai.MessagesJSON(input) }, &x.texts[0])
	x.texts[1].parts(system, &x.reqHeld)
	content = x.appendContent(content, semconv.GenAISystemInstructionsKey,
		func() string { return genai.PartsJSON(system) }, &x.texts[1])
	if x.cfg.toolDefs && !d.claimed {
		if s := genai.ToolDefinitions(d.target.API, d.body); s != "" {
			content = append(content, semconv.GenAIToolDefinitionsKey.String(s))
		}
	}
	x.setContent(content...)
}

// spanName is the GenAI span name "{operation} {model}" (the operation
// alone without a model), shared by the calls of one model.
func (c *config) spanName(op, model string) string {
	if model == "" {
		return op
	}
	return c.names.join(op, model)
}

// setContent hands content attributes (otelaudit.IsContentKey) to the
// audit processor, or puts them on the span with WithContentOnSpan: the
// client call's way, or the server span's sink.
func (x *exchange) setContent(kv ...attribute.KeyValue) {
	if x.call != nil {
		x.call.SetContentAttributes(kv...)
		return
	}
	x.sink.Set(kv...)
}

// setLazy hands content over by its audit text, made when the audit
// reads it (see appendContent), as setContent does.
func (x *exchange) setLazy(key attribute.Key, l handoff.Lazy) {
	if x.call != nil {
		x.call.SetLazyContentText(key, l)
		return
	}
	x.sink.SetLazy(key, l)
}

// headerValue is h.Get(key) for a key in canonical form (see
// http.CanonicalHeaderKey): the map is read directly, without
// canonicalizing key again on every call.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// respond records the status and headers of the reply and chooses how to
// capture its body. Only the first call counts.
func (x *exchange) respond(status int, h http.Header, uncompressed bool, contentLength int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.responded {
		return
	}
	x.responded = true
	x.status = status
	x.header = h
	x.contentLength = contentLength
	// mt matters only when it is text/event-stream, application/x-ndjson
	// or application/vnd.amazon.eventstream; the first two contain '-', the
	// last a '.', so other types (application/json, the common case) skip
	// the parse and its allocations.
	mt := ""
	if ct := headerValue(h, "Content-Type"); strings.ContainsAny(ct, "-.") {
		mt, _, _ = mime.ParseMediaType(ct)
	}
	ce := headerValue(h, "Content-Encoding")
	if ce != "" {
		ce = strings.ToLower(strings.TrimSpace(ce))
	}
	if uncompressed {
		ce = ""
	}
	switch {
	case ce != "" && ce != "identity" && (ce != "gzip" || mt == "text/event-stream" || mt == "application/x-ndjson"):
		// Streams are never decoded (that would need buffering); other
		// encodings are not supported.
		x.mode = modeSkip
		x.setContent(otelaudit.AuditMetadataKey(MetadataNotDecoded).String(ce))
	case x.ext != nil || status >= 400:
		x.mode = modeBuffer
		// An error reply is decoded as a success reply is: its error
		// code is in the body. (An Extractor gets the bytes as they came.)
		x.gzip = x.ext == nil && ce == "gzip"
	case mt == "text/event-stream":
		x.mode = modeSSE
		x.stream = genai.NewStream(x.api, x.limit)
		x.parser = sse.New(x.limit, func(e sse.Event) {
			if e.Truncated {
				// Cut at the cap: not valid JSON any more, so the
				// stream cannot use it; say so in the entry.
				x.stream.Truncated()
				return
			}
			x.stream.Event(e.Type, e.Data)
			if isChunk(e.Type, e.Data) {
				x.chunk()
			}
		})
	case mt == "application/vnd.amazon.eventstream":
		x.mode = modeEventStream
		x.stream = genai.NewStream(x.api, x.limit)
		x.frames = eventstream.New(x.limit, func(m eventstream.Message) {
			if x.frames.Skipped() > 0 {
				// A message over the cap was dropped unread: its
				// content is missing, and the reply says so.
				x.stream.Truncated()
			}
			t := m.ExceptionType
			if m.MessageType == "error" {
				t = m.ErrorCode
			}
			x.stream.EventStreamMessage(m.MessageType, m.EventType, t, m.Payload)
			if m.MessageType == "event" {
				x.chunk()
			}
		})
	case mt == "application/x-ndjson" && (x.api == genai.APIOllamaChat || x.api == genai.APIOllamaGenerate):
		x.mode = modeNDJSON
		x.stream = genai.NewStream(x.api, x.limit)
	default:
		x.mode = modeBuffer
		x.gzip = ce == "gzip"
	}
	if x.mode == modeBuffer && x.ext == nil {
		x.pooled = acquireCapture(captureCap(x.limit, contentLength))
		x.buf = *x.pooled
	}
}

// Write tees reply bytes into the capture. It never fails.
func (x *exchange) Write(p []byte) (int, error) {
	if x.ended.Load() {
		return len(p), nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ended.Load() {
		return len(p), nil // finish has run or waits for the lock: buf may be gone
	}
	switch x.mode {
	case modeSSE:
		_, _ = x.parser.Write(p)
	case modeEventStream:
		_, _ = x.frames.Write(p)
	case modeNDJSON:
		for len(p) > 0 {
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				x.lineCut = x.appendCapped(p) || x.lineCut
				break
			}
			x.lineCut = x.appendCapped(p[:i]) || x.lineCut
			if x.lineCut {
				// Cut at the cap: not valid JSON any more, so the
				// stream cannot use it; say so in the entry.
				x.stream.Truncated()
			} else {
				x.stream.Event("", x.buf)
			}
			if x.lineCut || len(bytes.TrimSpace(x.buf)) > 0 {
				x.chunk()
			}
			x.buf, x.lineCut = x.buf[:0], false
			p = p[i+1:]
		}
	case modeBuffer:
		x.truncated = x.appendCapped(p) || x.truncated
	}
	return len(p), nil
}

// isChunk reports whether an SSE event is a chunk of the reply for the
// streaming metrics: one with data other than OpenAI's [DONE] sentinel,
// and not an Anthropic ping or an error event (the events the official
// SDKs hand to their callers as chunks).
func isChunk(typ string, data []byte) bool {
	if typ == "ping" || typ == "error" {
		return false
	}
	d := bytes.TrimSpace(data)
	return len(d) > 0 && !bytes.Equal(d, []byte("[DONE]"))
}

// chunk notes that a chunk of a streamed reply passed now: the client call
// records its chunk metrics; a server exchange keeps the time of the first
// for finish. x.mu is held.
func (x *exchange) chunk() {
	if x.call != nil {
		if x.firstChunk.IsZero() {
			x.firstChunk = time.Now()
			// The response model is an attribute of the chunk metrics:
			// give the call the one the first event named, if any.
			if m := x.stream.Model(); m != "" {
				x.call.SetResponse("", m) // a copy of the event's bytes, see genai.Stream.Event
			}
		}
		x.call.RecordChunk()
		return
	}
	if x.firstChunk.IsZero() {
		x.firstChunk = time.Now()
	}
}

// wantsDrain reports whether an early Close should read the rest of the
// body: an error reply that has not ended yet, unless it says it is longer
// than maxErrorDrain. One of unknown length (-1: chunked, or gzip that
// net/http decoded) is drained too: error replies are small, and the
// drain stops at maxErrorDrain and errorDrainBudget whatever the server
// sends. Only error replies are buffered whole (modeBuffer, status >= 400),
// so a stream is never read here.
func (x *exchange) wantsDrain() bool {
	if x.ended.Load() {
		return false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.mode == modeBuffer && x.status >= 400 && x.contentLength <= maxErrorDrain
}

// appendCapped appends p to x.buf up to the cap and reports whether it
// had to cut p.
func (x *exchange) appendCapped(p []byte) (cut bool) {
	if room := x.limit - len(x.buf); len(p) > room {
		x.buf = append(x.buf, p[:max(room, 0)]...)
		return true
	}
	x.buf = append(x.buf, p...)
	return false
}

func errorTypeOf(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return ErrorTypeCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ErrorTypeTimeout
	}
	return semconv.ErrorType(err).Value.AsString()
}

// endedType returns ErrorTypeTimeout or ErrorTypeCanceled when the client
// request's context ended (or its deadline passed), else "". A call that
// failed then failed because of it, whatever error net/http returned: on
// http.Client's Timeout it may give the bare "net/http: request canceled"
// (it cancels through Request.Cancel as well as through the deadline it
// puts on the context, and either may win), or a closed connection's
// error mid-body. The deadline is looked at, not only Err: the context's
// own timer may not have fired yet when the error comes.
func (x *exchange) endedType() string {
	if x.reqCtx == nil {
		return ""
	}
	err := x.reqCtx.Err()
	if err == nil {
		if d, ok := x.reqCtx.Deadline(); ok && !time.Now().Before(d) {
			return ErrorTypeTimeout
		}
		return ""
	}
	// Canceled with a cause that is a timeout (context.WithCancelCause)
	// is a timeout too.
	if errors.Is(err, context.DeadlineExceeded) || errorTypeOf(context.Cause(x.reqCtx)) == ErrorTypeTimeout {
		return ErrorTypeTimeout
	}
	return ErrorTypeCanceled
}

// failType is the error type of a call that err ended: endedType when the
// context ended, else errorTypeOf(err).
func (x *exchange) failType(err error) string {
	if t := x.endedType(); t != "" {
		return t
	}
	return errorTypeOf(err)
}

// fail ends the call at once for a transport error (no response).
func (x *exchange) fail(err error) {
	if !x.ended.CompareAndSwap(false, true) {
		return
	}
	x.setError(x.failType(err))
	x.span.End()
}

// setError marks the call failed with error.type t.
func (x *exchange) setError(t string) {
	x.span.SetAttributes(x.appendError(nil, t)...)
}

// appendError is setError for finish, which sets all its attributes at
// once: the error.type attribute goes to attrs, the status is set now. t
// is copied: it may come from a recycled capture buffer.
func (x *exchange) appendError(attrs []attribute.KeyValue, t string) []attribute.KeyValue {
	t = strings.Clone(t)
	x.span.SetStatus(codes.Error, t)
	return append(attrs, semconv.ErrorTypeKey.String(t))
}

// finish records the reply and ends the span, exactly once. readErr is the
// error that ended reading (nil at EOF or for a handler); early says the
// body was closed before its end.
func (x *exchange) finish(readErr error, early bool) { x.finishAs(readErr, early, "") }

// finishAs is finish with the call's error.type decided by the caller when
// errAs is not "", whatever the reply says. The Handler uses it when next
// panics: the reply next wrote before the panic has gone to the client
// (all of it when http.ErrAbortHandler comes after the last event, as
// httputil.ReverseProxy's does when the client hangs up before the
// upstream's end), so the entry must still record it; only the outcome is
// the panic's.
func (x *exchange) finishAs(readErr error, early bool, errAs string) {
	// A client call that read its whole reply has what its span records:
	// the span ends on another goroutine, at this instant, so that the
	// caller does not wait for the reply's parse, the last attributes and
	// End (about a sixth of a 1 KiB call on loopback). Only when an audit
	// processor claimed the span: its ForceFlush and Shutdown wait for
	// the span (EndLater, called before the race to finish is decided, so
	// that a Close losing it to this EOF returns to a caller whose next
	// flush waits for the span). Failed and abandoned calls, whose outcome
	// reads the request's context, end here. So do server spans: ending
	// them later saved a handler about 1.3 µs of 11 and cost 7
	// allocations (the reply's header map is net/http's, so it must be
	// copied first).
	later := !x.server && readErr == nil && !early && errAs == "" && !x.ended.Load() && x.slot.EndLater()
	if !x.ended.CompareAndSwap(false, true) {
		return
	}
	if later {
		go x.finishLater(time.Now())
		return
	}
	x.finishAt(readErr, early, errAs, time.Time{})
}

// finishLater is finishAt on a goroutine of its own: a panic there (an
// Extractor's bug) would end the process, so it is reported instead,
// without its value (which may quote the reply), and the flushes waiting
// for the span are released.
func (x *exchange) finishLater(end time.Time) {
	defer func() {
		if p := recover(); p != nil {
			x.slot.Settled()
			otel.Handle(fmt.Errorf("middleware: recording the reply of a %s call panicked (%T); its span may not have ended", x.op, p))
		}
	}()
	x.finishAt(nil, false, "", end)
}

// finishAt is the rest of finishAs: it records the reply and ends the span,
// at end unless end is zero (now).
func (x *exchange) finishAt(readErr error, early bool, errAs string, end time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	// Everything the reply tells goes onto the span in one SetAttributes:
	// each call takes the span's lock and may regrow its attribute slice.
	// begin is done with attrBuf.
	attrs := x.attrBuf[:0]
	var (
		// content goes beside the span (see begin).
		content []attribute.KeyValue
		errType string
		out     []genai.Message // the reply's messages, when content is wanted
	)
	if x.pooled != nil {
		// The reply's capture goes back to the pool once the span ended
		// and the output text, if any, was made from it.
		x.respHeld.hold(x.pooled, x.buf)
	}
	defer func() {
		// The error type is recorded here, once, so that errAs wins on
		// every path.
		if errAs != "" {
			errType = errAs
		}
		if errType != "" {
			attrs = x.appendError(attrs, errType)
		}
		if len(out) > 0 || x.texts[2].reply != nil {
			// jsonOf runs with WithContentOnSpan only, which never
			// defers the messages: out holds them.
			x.texts[2].messages(out, &x.respHeld)
			content = x.appendContent(content, semconv.GenAIOutputMessagesKey,
				func() string { return genai.OutputMessagesJSON(out, finishFallback(errType)) }, &x.texts[2])
		}
		x.span.SetAttributes(attrs...)
		x.setContent(content...)
		if end.IsZero() {
			x.span.End()
		} else {
			x.span.End(trace.WithTimestamp(end))
		}
		// Every processor has the span: flushes waiting for it go on
		// (also when this call ended here after a reader had asked to
		// end it later).
		x.slot.Settled()
		x.buf, x.pooled = nil, nil
		x.respHeld.done()
	}()

	if x.responded {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(x.status))
	}
	if x.hijacked {
		content = append(content, otelaudit.AuditMetadataKey(MetadataHijacked).Bool(true))
	}
	if x.ext != nil {
		if resp, ok := x.ext.ExtractResponse(x.status, x.header, x.buf); ok {
			attrs, out = x.appendReply(attrs, &genai.Response{ID: resp.ID, Model: resp.Model, Messages: fromAuditMessages(resp.Output, "assistant"),
				InputTokens: resp.InputTokens, OutputTokens: resp.OutputTokens})
			errType = resp.ErrorType
		} else if x.status >= 400 {
			errType = strconv.Itoa(x.status)
		}
		if errType == "" && readErr != nil {
			errType = x.failType(readErr)
		}
		if x.truncated {
			content = append(content, otelaudit.AuditMetadataKey(MetadataResponseTruncated).Bool(true))
		}
		return
	}

	switch x.mode {
	case modeSSE, modeNDJSON, modeEventStream:
		cut := false // the stream ended inside an event
		if x.mode == modeNDJSON && len(bytes.TrimSpace(x.buf)) > 0 {
			// A last line without newline: a whole line, or one the
			// stream ended inside of.
			if x.lineCut {
				x.stream.Truncated()
			} else if jsontape.Valid(x.buf) {
				x.stream.Event("", x.buf)
			} else {
				cut = true
			}
		}
		if x.frames != nil && x.frames.Skipped() > 0 {
			x.stream.Truncated() // the last message was over the cap
		}
		res := x.stream.Result()
		attrs, out = x.appendReply(attrs, res)
		if res.Truncated {
			content = append(content, otelaudit.AuditMetadataKey(MetadataResponseTruncated).Bool(true))
		}
		errType = res.ErrorType
		if errType == "" && !x.stream.Done() {
			ended := ""
			if readErr != nil {
				ended = x.endedType()
			}
			switch {
			case ended != "":
				errType = ended
			case readErr != nil && (errors.Is(readErr, context.Canceled) || errors.Is(readErr, context.DeadlineExceeded)):
				errType = errorTypeOf(readErr)
			case readErr != nil:
				errType = ErrorTypeStreamInterrupted
			case early:
				errType = ErrorTypeStreamAbandoned
			default:
				// EOF without the terminal event: the server cut it.
				errType = ErrorTypeStreamInterrupted
			}
		}
		if x.stream.Unparsed() {
			content = append(content, otelaudit.AuditMetadataKey(MetadataResponseUnparsed).Bool(true))
		}
		if cut || !x.stream.Done() && (x.parser != nil && x.parser.Pending() || x.frames != nil && x.frames.Pending()) {
			content = append(content, otelaudit.AuditMetadataKey(MetadataCutMidEvent).Bool(true))
		}
		if x.frames != nil && x.frames.Err() != nil {
			content = append(content, otelaudit.AuditMetadataKey(MetadataStreamCorrupt).Bool(true))
		}
		if x.server && errType == "" && errAs == "" {
			x.recordServerStream(res)
		}
	case modeBuffer:
		body := x.buf
		truncated := x.truncated
		if x.gzip {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err == nil {
				var t bool
				body, t, _ = readPrefix(zr, x.limit)
				truncated = truncated || t
			}
		}
		if truncated {
			content = append(content, otelaudit.AuditMetadataKey(MetadataResponseTruncated).Bool(true))
		}
		if x.status >= 400 {
			errType = genai.ErrorType(x.status, body)
			if t := awsErrorType(x.header); t != "" {
				errType = t
			}
			break
		}
		var (
			res *genai.Response
			err error
		)
		if !x.cfg.onSpan && x.api != genai.APIUnknown {
			// As in begin: the output text is made on the worker.
			res = &x.respBody.res
			err = genai.ParseResponseInto(res, x.api, body, true)
		} else {
			res, err = genai.ParseResponse(x.api, body)
		}
		switch {
		case err == nil && (x.api != genai.APIUnknown || len(res.Messages) > 0):
			bedrockTokenHeaders(res, x.header)
			attrs, out = x.appendReply(attrs, res)
			errType = res.ErrorType
			if res.OutputContent == genai.ContentSome && x.wantContent {
				x.texts[2].deferReply(&x.respBody)
			} else {
				res.Discard()
			}
		default:
			if err != nil && x.api != genai.APIUnknown && len(body) > 0 {
				content = append(content, otelaudit.AuditMetadataKey(MetadataResponseUnparsed).Bool(true))
			}
			attrs, out = x.appendReply(attrs, &genai.Response{Messages: rawMessage("assistant", body)})
		}
		if errType == "" && readErr != nil {
			errType = x.failType(readErr)
			if errType != ErrorTypeCanceled && errType != ErrorTypeTimeout {
				errType = ErrorTypeResponseIncomplete
			}
		}
		if errType == "" && early && err != nil && !truncated {
			errType = ErrorTypeResponseIncomplete
		}
	}
	if errType == "" && x.responded && x.status >= 400 {
		errType = strconv.Itoa(x.status)
	}
}

// recordServerStream records the model server's streaming metrics of a
// successful streamed reply: gen_ai.server.time_to_first_token (from the
// request's start to the first chunk the handler wrote) and, when the
// reply says how many tokens it generated, gen_ai.server.time_per_output_token
// ((duration - time to first token) / (output tokens - 1), as the
// conventions define it).
func (x *exchange) recordServerStream(res *genai.Response) {
	if x.cfg.srv == nil || x.firstChunk.IsZero() {
		return
	}
	now := time.Now()
	op, prov := genaiconv.OperationNameAttr(x.op), genaiconv.ProviderNameAttr(x.provider)
	attrs := make([]attribute.KeyValue, 0, 4)
	for _, kv := range x.srvAttrs {
		switch kv.Key {
		case semconv.GenAIRequestModelKey, semconv.ServerAddressKey, semconv.ServerPortKey:
			attrs = append(attrs, kv)
		}
	}
	if res.Model != "" {
		attrs = append(attrs, semconv.GenAIResponseModelKey.String(strings.Clone(res.Model)))
	}
	ctx := context.Background()
	ttft := x.firstChunk.Sub(x.start)
	x.cfg.srv.FirstToken.Record(ctx, ttft.Seconds(), op, prov, attrs...)
	if out := res.OutputTokens; out != nil && *out > 1 {
		x.cfg.srv.PerToken.Record(ctx, (now.Sub(x.start)-ttft).Seconds()/float64(*out-1), op, prov, attrs...)
	}
}

// appendParams appends the request parameters semconv lists beyond
// max_tokens, temperature and top_p, for those the body set.
func appendParams(attrs []attribute.KeyValue, pr *genai.Request) []attribute.KeyValue {
	if pr.TopK != nil {
		attrs = append(attrs, semconv.GenAIRequestTopKKey.Float64(*pr.TopK))
	}
	if pr.Seed != nil {
		attrs = append(attrs, semconv.GenAIRequestSeedKey.Int64(*pr.Seed))
	}
	if pr.FrequencyPenalty != nil {
		attrs = append(attrs, semconv.GenAIRequestFrequencyPenaltyKey.Float64(*pr.FrequencyPenalty))
	}
	if pr.PresencePenalty != nil {
		attrs = append(attrs, semconv.GenAIRequestPresencePenaltyKey.Float64(*pr.PresencePenalty))
	}
	if pr.ChoiceCount != nil && *pr.ChoiceCount != 1 {
		attrs = append(attrs, semconv.GenAIRequestChoiceCountKey.Int64(*pr.ChoiceCount))
	}
	if len(pr.StopSequences) > 0 {
		stops := make([]string, len(pr.StopSequences))
		for i, st := range pr.StopSequences {
			stops[i] = strings.Clone(st) // the body may be a recycled buffer
		}
		attrs = append(attrs, semconv.GenAIRequestStopSequencesKey.StringSlice(stops))
	}
	if pr.OutputType != "" {
		attrs = append(attrs, semconv.GenAIOutputTypeKey.String(pr.OutputType))
	}
	return attrs
}

// awsErrorType returns the error type AWS services name in the
// X-Amzn-ErrorType header ("ValidationException:http://..." gives
// "ValidationException"), or "" when there is none or it is not a
// genai.ValidErrorType (free text a gateway put there).
func awsErrorType(h http.Header) string {
	t, _, _ := strings.Cut(h.Get("X-Amzn-ErrorType"), ":")
	if t = strings.TrimSpace(t); !genai.ValidErrorType(t) {
		return ""
	}
	return t
}

// bedrockTokenHeaders fills the token counts a Bedrock InvokeModel reply
// gives in its headers when the body did not give them (most model
// families' bodies do not).
func bedrockTokenHeaders(r *genai.Response, h http.Header) {
	for _, c := range []struct {
		dst  **int64
		name string
	}{{&r.InputTokens, "X-Amzn-Bedrock-Input-Token-Count"}, {&r.OutputTokens, "X-Amzn-Bedrock-Output-Token-Count"}} {
		if *c.dst != nil {
			continue
		}
		if v := h.Get(c.name); v != "" {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				*c.dst = &n
			}
		}
	}
}

// finishFallback is the finish_reason of output messages whose reply gave
// none (the output message schema requires one): "error" when the call
// failed (an abandoned or cut stream included), else "unknown".
func finishFallback(errType string) string {
	if errType != "" {
		return "error"
	}
	return "unknown"
}

// appendReply appends the attributes of a reply's data to attrs and
// returns its messages when content is wanted, for finish to encode once
// the call's outcome is known. Strings are copied: they may share a
// recycled capture buffer.
func (x *exchange) appendReply(attrs []attribute.KeyValue, r *genai.Response) ([]attribute.KeyValue, []genai.Message) {
	if r.ID != "" {
		attrs = append(attrs, semconv.GenAIResponseIDKey.String(strings.Clone(r.ID)))
	}
	if r.Model != "" {
		attrs = append(attrs, semconv.GenAIResponseModelKey.String(x.cfg.models.get(r.Model)))
	}
	if r.InputTokens != nil {
		attrs = append(attrs, semconv.GenAIUsageInputTokensKey.Int64(*r.InputTokens))
	}
	if r.OutputTokens != nil {
		attrs = append(attrs, semconv.GenAIUsageOutputTokensKey.Int64(*r.OutputTokens))
	}
	if d := r.Details.CacheRead; d != nil {
		attrs = append(attrs, semconv.GenAIUsageCacheReadInputTokensKey.Int64(*d))
	}
	if d := r.Details.CacheCreation; d != nil {
		attrs = append(attrs, semconv.GenAIUsageCacheCreationInputTokensKey.Int64(*d))
	}
	if d := r.Details.Reasoning; d != nil {
		attrs = append(attrs, semconv.GenAIUsageReasoningOutputTokensKey.Int64(*d))
	}
	if len(r.FinishReasons) > 0 {
		attrs = append(attrs, finishReasonsAttr(r.FinishReasons))
	}
	if !x.wantContent {
		return attrs, nil
	}
	return attrs, r.Messages
}

// appendContent records the content attribute key of some messages. On
// the span (WithContentOnSpan) it is their semconv JSON (jsonOf), for the
// trace backend, and is appended to attrs. Beside the span it is only what
// the audit reads of it, the content text (text: genai.ContentText),
// which the audit worker makes when it reads it: the same hash, without
// building the JSON here and parsing it back on the worker, and without
// copying the text out of the capture on the caller's goroutine. Both are
// copies (the messages may share a recycled capture buffer). Nothing is
// recorded when jsonOf gives "" or text has no part.
func (x *exchange) appendContent(attrs []attribute.KeyValue, key attribute.Key, jsonOf func() string, text *lazyText) []attribute.KeyValue {
	if x.cfg.onSpan {
		if s := jsonOf(); s != "" {
			attrs = append(attrs, key.String(s))
		}
		return attrs
	}
	if text.hand() {
		x.setLazy(key, text)
	}
	return attrs
}

// lazyText is a content text the audit worker makes ([handoff.Lazy]): the
// genai.ContentText of messages, or the genai.PartsContentText of parts,
// parsed out of a capture that held keeps out of the pool until then.
// The messages or parts are given (messages, parts) or, when the head
// parse of their body left them out, parsed out of it with the text
// (deferTo).
type lazyText struct {
	once sync.Once
	text string
	msgs []genai.Message
	ps   []genai.Part
	isPS bool
	// req or reply is the request or reply the list is parsed out of,
	// when its head parse left it out (both nil otherwise): of a request,
	// the system instructions when system is set, else the input.
	req    *lazyRequest
	reply  *lazyReply
	system bool
	held   *heldCapture
}

// deferRequest makes t the text of b's input messages (system: its
// system instructions), which its head parse left out knowing they have
// a part. messages (parts), called after with nil, gives t its capture.
func (t *lazyText) deferRequest(b *lazyRequest, system bool) {
	t.req, t.system = b, system
}

// deferReply is deferRequest for b's output messages.
func (t *lazyText) deferReply(b *lazyReply) { t.reply = b }

// messages makes t the text of msgs, whose strings may lie in held's
// capture (or of its deferred list, then msgs is nil).
func (t *lazyText) messages(msgs []genai.Message, held *heldCapture) {
	t.msgs, t.held = msgs, held
}

// parts makes t the text of ps, whose strings may lie in held's capture
// (or of its deferred list, then ps is nil).
func (t *lazyText) parts(ps []genai.Part, held *heldCapture) {
	t.ps, t.isPS, t.held = ps, true, held
}

// hand reports whether t has a part to record, and if so makes held wait
// for it: the caller then hands t over (Text must run once for the
// capture to go back to the pool). A deferred list has one: the head
// parse saw it.
func (t *lazyText) hand() bool {
	n := len(t.ps)
	if !t.isPS {
		for i := range t.msgs {
			n += len(t.msgs[i].Parts)
		}
	}
	if t.req != nil || t.reply != nil {
		n = 1
	}
	if n == 0 {
		return false
	}
	t.held.refs.Add(1)
	return true
}

// Text implements handoff.Lazy: the text, made on the first call, after
// which t lets go of its capture.
func (t *lazyText) Text() string {
	t.once.Do(func() {
		switch {
		case t.reply != nil:
			t.msgs = t.reply.parse().Messages
		case t.req != nil && t.system:
			t.ps = t.req.parse().System
		case t.req != nil:
			t.msgs = t.req.parse().Messages
		}
		t.req, t.reply = nil, nil
		if t.isPS {
			t.text, _ = genai.PartsContentText(t.ps)
		} else {
			t.text, _ = genai.ContentText(t.msgs)
		}
		t.msgs, t.ps = nil, nil
		t.held.done()
	})
	return t.text
}

// lazyRequest is the head parse of a request (genai.ParseRequestInto),
// whose lists left out for the audit worker the first of its texts to be
// made parses, for both (genai.Request.Rest, which reads the document the
// head parse kept). The body must not change until they are made (a
// pooled capture stays held until then).
type lazyRequest struct {
	head genai.Request // the head parse
	once sync.Once
	// shared says that a list the head parse made is in use: the full
	// parse then gets storage of its own instead of head's.
	shared bool
	req    *genai.Request // the full parse, once made
}

// parse makes the full parse of b, once, and returns it.
func (b *lazyRequest) parse() *genai.Request {
	b.once.Do(func() {
		b.req = &b.head
		if b.shared {
			b.req = new(genai.Request)
		}
		b.head.Rest(b.req)
	})
	return b.req
}

// lazyReply is lazyRequest for a reply, whose one list, the output
// messages, is either made by the head parse or left out: the full parse
// reuses the head's storage.
type lazyReply struct {
	res  genai.Response // the head parse, then the full parse
	once sync.Once
}

// parse makes the full parse of b, once, and returns it.
func (b *lazyReply) parse() *genai.Response {
	b.once.Do(func() { b.res.Rest(&b.res) })
	return &b.res
}

// heldCapture is a pooled capture buffer (acquireCapture) that lazy texts
// may read after the exchange is done with it: hold takes the exchange's
// reference, each text handed over one more (lazyText.hand), and the last
// done gives the buffer back. When a handed text is never made (its span
// was not audited), the buffer is left to the garbage collector.
type heldCapture struct {
	pooled *[]byte
	buf    []byte
	refs   atomic.Int32
}

// hold makes h the holder of pooled (with buf, what was appended to it),
// with the exchange's own reference. It runs before any text is handed.
func (h *heldCapture) hold(pooled *[]byte, buf []byte) {
	h.pooled, h.buf = pooled, buf
	h.refs.Store(1)
}

// done drops one reference; the last gives the buffer back. It does
// nothing on an h that holds no buffer.
func (h *heldCapture) done() {
	if h.refs.Add(-1) == 0 && h.pooled != nil {
		releaseCapture(h.pooled, h.buf)
	}
}

// tracerOptions are otelaudit's scope options, taken once: Handler spans
// start per request.
var tracerOptions = otelaudit.TracerOptions()

// startCall is otelaudit's start of a client call into x's memory (see
// internal/callstart).
var startCall = callstart.Start.(func(ctx context.Context, c *otelaudit.Call, sl *handoff.Slot, req otelaudit.Request,
	name string, start time.Time, extra []attribute.KeyValue, opts []otelaudit.CallOption) context.Context)
