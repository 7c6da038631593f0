// Package fakellm is a fake large-language-model server for tests, examples
// and `make demo`. It listens on loopback only and speaks the real wire
// formats of the OpenAI Chat Completions, Responses and Embeddings APIs, the
// Anthropic Messages API, Ollama's native chat API, Google Gemini and AWS
// Bedrock Runtime, streaming (SSE, NDJSON for Ollama, the AWS event stream
// for Bedrock) and not, so the official SDKs work against it unchanged.
//
// Routes (POST; the path prefix is free, so Azure OpenAI style
// /openai/deployments/{d}/chat/completions and vLLM/LiteLLM style /v1/... both
// work):
//
//	.../chat/completions   OpenAI Chat Completions (stream, stream_options.include_usage)
//	.../responses          OpenAI Responses API (stream with its event types)
//	.../embeddings         OpenAI embeddings (encoding_format float or base64)
//	.../messages           Anthropic Messages (message_start ... message_stop)
//	/api/chat              Ollama native chat (NDJSON stream)
//	.../models/{m}:generateContent, :streamGenerateContent
//	                       Google Gemini API and Vertex AI (SSE with alt=sse, else a JSON array)
//	/model/{id}/converse, /converse-stream, /invoke, /invoke-with-response-stream
//	                       AWS Bedrock Runtime (event-stream framing; InvokeModel answers
//	                       Anthropic bodies as Anthropic, others as Amazon Titan text)
//
// Replies are deterministic: the text is [DefaultReply] (or [WithReply]),
// streamed word by word; the usage is [DefaultInputTokens] and the number of
// streamed chunks unless [WithUsage] says otherwise. Test hooks hold a stream
// after its first chunk ([WithGate]), cut it mid-event ([WithCutAfter]),
// answer with the providers' error bodies ([WithError], [WithFailFirst]) and
// compress replies ([WithGzip]).
package fakellm

import (
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// DefaultReply is the assistant text the server answers with unless
// [WithReply] sets another.
const DefaultReply = "Hello! This is a deterministic reply from fakellm."

// DefaultInputTokens is the prompt token count reported unless [WithUsage]
// sets another.
const DefaultInputTokens = 11

// Created is the fixed Unix time stamped on every reply.
const Created = 1767225600 // 2026-01-01T00:00:00Z

// Option configures a [Handler] or [Server].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	reply         string
	inTok, outTok int
	responseModel string
	gate          <-chan struct{}
	cutAfter      int
	toolName      string
	toolArgs      string
	errStatus     int
	failFirst     int
	failStatus    int
	chunkDelay    time.Duration
	gzip          bool
	noUsage       bool
}

// WithReply sets the assistant text. An empty string is a valid (empty)
// reply.
func WithReply(s string) Option { return optionFunc(func(c *config) { c.reply = s }) }

// WithUsage sets the reported input and output token counts; a negative
// value keeps the default.
func WithUsage(input, output int) Option {
	return optionFunc(func(c *config) {
		if input >= 0 {
			c.inTok = input
		}
		if output >= 0 {
			c.outTok = output
		}
	})
}

// WithoutUsage makes every reply omit its usage block (as some
// OpenAI-compatible servers do), so clients see no token counts.
func WithoutUsage() Option { return optionFunc(func(c *config) { c.noUsage = true }) }

// WithResponseModel sets the model name reported in replies; by default the
// requested model is echoed.
func WithResponseModel(m string) Option {
	return optionFunc(func(c *config) { c.responseModel = m })
}

// WithGate holds every stream after its first content chunk has been written
// and flushed until gate yields a value or is closed (or the request or the
// server ends). A test can so prove that the first chunk reached the client
// before the second was sent.
func WithGate(gate <-chan struct{}) Option { return optionFunc(func(c *config) { c.gate = gate }) }

// WithCutAfter makes every stream break after n content chunks: half of the
// next event is written, then the connection is aborted, so the client sees
// an unexpected EOF in the middle of an event. n <= 0 disables it.
func WithCutAfter(n int) Option { return optionFunc(func(c *config) { c.cutAfter = n }) }

// WithError makes every request fail with the given HTTP status and the
// provider's error JSON for it (OpenAI or Anthropic shape, by route).
func WithError(status int) Option { return optionFunc(func(c *config) { c.errStatus = status }) }

// WithFailFirst makes the first n requests fail with status (and the
// provider's error JSON), the later ones succeed; for retry tests.
func WithFailFirst(n, status int) Option {
	return optionFunc(func(c *config) { c.failFirst, c.failStatus = n, status })
}

// WithChunkDelay sleeps d between streamed chunks.
func WithChunkDelay(d time.Duration) Option {
	return optionFunc(func(c *config) { c.chunkDelay = d })
}

// WithGzip compresses non-streaming replies with gzip (Content-Encoding:
// gzip) when the request accepts gzip.
func WithGzip() Option { return optionFunc(func(c *config) { c.gzip = true }) }

// Request is one request the fake received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// Handler is the fake as an [http.Handler], for mounting behind other
// handlers (for example a server-side middleware under test). It is safe for
// concurrent use.
type Handler struct {
	cfg   config
	mu    sync.Mutex
	reqs  []Request
	count atomic.Int64
	done  chan struct{}
	once  sync.Once
}

// NewHandler returns the fake as a handler with the given options.
func NewHandler(opts ...Option) *Handler {
	h := &Handler{cfg: config{reply: DefaultReply, inTok: DefaultInputTokens, outTok: -1}, done: make(chan struct{})}
	for _, o := range opts {
		if o != nil {
			o.apply(&h.cfg)
		}
	}
	return h
}

// Requests returns copies of the requests received so far, oldest first.
func (h *Handler) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Request, len(h.reqs))
	for i, r := range h.reqs {
		out[i] = Request{Method: r.Method, Path: r.Path, Header: r.Header.Clone(), Body: append([]byte(nil), r.Body...)}
	}
	return out
}

// Release ends every wait on a [WithGate] gate; later streams do not wait.
func (h *Handler) Release() { h.once.Do(func() { close(h.done) }) }

// Server is a [Handler] listening on a loopback port.
type Server struct {
	*Handler
	// URL is the base URL, "http://127.0.0.1:PORT", without a trailing slash.
	URL string
	srv *httptest.Server
}

// Start starts a fake server on 127.0.0.1 (an ephemeral port). Close it when
// done.
func Start(opts ...Option) *Server {
	h := NewHandler(opts...)
	srv := httptest.NewServer(h)
	return &Server{Handler: h, URL: srv.URL, srv: srv}
}

// OpenAIBaseURL is the base URL for OpenAI SDKs: URL + "/v1/".
func (s *Server) OpenAIBaseURL() string { return s.URL + "/v1/" }

// AnthropicBaseURL is the base URL for the Anthropic SDK: URL + "/".
func (s *Server) AnthropicBaseURL() string { return s.URL + "/" }

// Close releases held streams, closes client connections and waits for the
// handlers to return. Safe to call more than once.
func (s *Server) Close() {
	s.Release()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

type route int

const (
	routeUnknown route = iota
	routeChat
	routeResponses
	routeEmbeddings
	routeMessages
	routeOllama
	routeGemini
	routeBedrock
)

func routeOf(path string) route {
	path = strings.TrimSuffix(path, "/")
	switch {
	case strings.Contains(path, "/models/") && (strings.HasSuffix(path, ":generateContent") || strings.HasSuffix(path, ":streamGenerateContent")):
		return routeGemini
	case strings.HasPrefix(path, "/model/"):
		return routeBedrock
	case strings.HasSuffix(path, "/chat/completions"):
		return routeChat
	case strings.HasSuffix(path, "/responses"):
		return routeResponses
	case strings.HasSuffix(path, "/embeddings"):
		return routeEmbeddings
	case strings.HasSuffix(path, "/messages"):
		return routeMessages
	case path == "/api/chat":
		return routeOllama
	}
	return routeUnknown
}

// request is the part of every provider's request body the fake uses.
type request struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	EncodingFormat string `json:"encoding_format"`
	Dimensions     int    `json:"dimensions"`
	Input          any    `json:"input"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.reqs = append(h.reqs, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	h.mu.Unlock()
	n := h.count.Add(1)

	rt := routeOf(r.URL.Path)
	if rt == routeUnknown || r.Method != http.MethodPost {
		h.fail(w, rt, http.StatusNotFound, "Unknown route "+r.Method+" "+r.URL.Path)
		return
	}
	if h.cfg.errStatus != 0 {
		h.fail(w, rt, h.cfg.errStatus, "")
		return
	}
	if n <= int64(h.cfg.failFirst) {
		h.fail(w, rt, h.cfg.failStatus, "")
		return
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil && rt != routeBedrock {
		h.fail(w, rt, http.StatusBadRequest, "We could not parse the JSON body of your request.")
		return
	}
	if rt == routeGemini || rt == routeBedrock {
		req.Model = modelOf(r.URL.Path)
	}
	if req.Model == "" && rt != routeOllama {
		h.fail(w, rt, http.StatusBadRequest, "model: field required")
		return
	}
	s := &stream{h: h, w: w, r: r, req: req, body: body, id: fmt.Sprintf("%06d", n)}
	s.model = req.Model
	if h.cfg.responseModel != "" {
		s.model = h.cfg.responseModel
	}
	s.chunks = splitWords(h.cfg.reply)
	s.outTok = len(s.chunks)
	if h.cfg.outTok >= 0 {
		s.outTok = h.cfg.outTok
	}
	switch rt {
	case routeChat:
		s.chat()
	case routeResponses:
		s.responses()
	case routeEmbeddings:
		s.embeddings()
	case routeMessages:
		s.messages()
	case routeOllama:
		s.ollama()
	case routeGemini:
		s.gemini()
	case routeBedrock:
		s.bedrock()
	}
}

// splitWords splits s into chunks that concatenate back to s: each word with
// the spaces before it.
func splitWords(s string) []string {
	var out []string
	start := 0
	for i := 1; i < len(s); i++ {
		if s[i] == ' ' && s[i-1] != ' ' {
			out = append(out, s[start:i])
			start = i
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// ErrorBody returns the JSON error body the fake sends for status on the
// given provider ("openai", "anthropic", "gemini" or "bedrock") with an empty message replaced by
// a standard one; exported for tests that assert error extraction.
func ErrorBody(provider string, status int, msg string) []byte {
	typ, code := "api_error", "server_error"
	switch status {
	case http.StatusBadRequest:
		typ, code = "invalid_request_error", "invalid_value"
	case http.StatusUnauthorized:
		typ, code = "authentication_error", "invalid_api_key"
	case http.StatusForbidden:
		typ, code = "permission_error", "forbidden"
	case http.StatusNotFound:
		typ, code = "not_found_error", "not_found"
	case http.StatusTooManyRequests:
		typ, code = "rate_limit_error", "rate_limit_exceeded"
	case 529:
		typ, code = "overloaded_error", "overloaded"
	}
	if msg == "" {
		msg = fmt.Sprintf("fakellm: simulated %d %s", status, typ)
	}
	var v any
	switch provider {
	case "gemini":
		v = map[string]any{"error": map[string]any{"code": status, "message": msg, "status": googleStatus(status)}}
	case "bedrock":
		v = map[string]any{"message": msg}
	}
	if v != nil {
	} else if provider == "anthropic" {
		v = map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}}
	} else {
		if typ == "rate_limit_error" {
			typ = "requests"
		}
		v = map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}}
	}
	b, _ := json.Marshal(v)
	return b
}

func (h *Handler) fail(w http.ResponseWriter, rt route, status int, msg string) {
	switch rt {
	case routeGemini:
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(status)
		_, _ = w.Write(ErrorBody("gemini", status, msg))
		return
	case routeBedrock:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", bedrockErrorType(status)+":http://internal.amazon.com/coral/com.amazon.bedrock/")
		w.Header().Set("X-Amzn-RequestId", "req_fake")
		w.WriteHeader(status)
		_, _ = w.Write(ErrorBody("bedrock", status, msg))
		return
	}
	provider := "openai"
	if rt == routeMessages {
		provider = "anthropic"
		w.Header().Set("request-id", "req_fake")
	} else {
		w.Header().Set("x-request-id", "req_fake")
	}
	if status == http.StatusTooManyRequests || status == 529 {
		// Tell SDKs to retry at once rather than back off for seconds.
		w.Header().Set("retry-after-ms", "1")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(ErrorBody(provider, status, msg))
}

// stream is one reply being written.
type stream struct {
	h      *Handler
	w      http.ResponseWriter
	r      *http.Request
	req    request
	body   []byte
	id     string
	model  string
	chunks []string
	outTok int
	frames *eventstream.Encoder // Bedrock event streams
}

func (s *stream) writeJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(s.w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.w.Header().Set("Content-Type", "application/json")
	s.w.Header().Set("x-request-id", "req_"+s.id)
	if s.h.cfg.gzip && strings.Contains(s.r.Header.Get("Accept-Encoding"), "gzip") {
		s.w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(s.w)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return
	}
	s.w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	_, _ = s.w.Write(b)
}

func (s *stream) startSSE(contentType string) {
	s.w.Header().Set("Content-Type", contentType)
	s.w.Header().Set("Cache-Control", "no-cache")
	s.w.Header().Set("x-request-id", "req_"+s.id)
	s.w.WriteHeader(http.StatusOK)
	s.flush()
}

func (s *stream) flush() { _ = http.NewResponseController(s.w).Flush() }

// event writes one SSE event (name may be empty) and flushes it.
func (s *stream) event(name string, v any) {
	var b []byte
	switch x := v.(type) {
	case string:
		b = []byte(x)
	default:
		b, _ = json.Marshal(v)
	}
	var sb strings.Builder
	if name != "" {
		sb.WriteString("event: " + name + "\n")
	}
	sb.WriteString("data: ")
	sb.Write(b)
	sb.WriteString("\n\n")
	_, _ = io.WriteString(s.w, sb.String())
	s.flush()
}

// ndjson writes one NDJSON line and flushes it.
func (s *stream) ndjson(v any) {
	b, _ := json.Marshal(v)
	_, _ = s.w.Write(append(b, '\n'))
	s.flush()
}

// beforeChunk runs before the content chunk i is written: it applies the
// chunk delay, the gate (before the second chunk) and the cut; it returns
// false when the stream must stop.
func (s *stream) beforeChunk(i int) bool {
	if i > 0 && s.h.cfg.chunkDelay > 0 {
		select {
		case <-time.After(s.h.cfg.chunkDelay):
		case <-s.r.Context().Done():
			return false
		}
	}
	if i == 1 && s.h.cfg.gate != nil {
		select {
		case <-s.h.cfg.gate:
		case <-s.h.done:
		case <-s.r.Context().Done():
			return false
		}
	}
	if s.h.cfg.cutAfter > 0 && i == s.h.cfg.cutAfter {
		// Half an event, then abort the connection.
		if s.frames != nil {
			b := s.frame("event", "contentBlockDelta", map[string]any{"contentBlockIndex": 0, "delta": map[string]any{"text": "cut"}})
			_, _ = s.w.Write(b[:len(b)/2])
			s.flush()
			panic(http.ErrAbortHandler)
		}
		_, _ = io.WriteString(s.w, "data: {\"id\":\"cut-mid-ev")
		s.flush()
		panic(http.ErrAbortHandler)
	}
	return s.r.Context().Err() == nil
}

func (s *stream) usageOK() bool { return !s.h.cfg.noUsage }

// ---- OpenAI Chat Completions ----

func (s *stream) chat() {
	id := "chatcmpl-fake" + s.id
	usage := map[string]any{"prompt_tokens": s.h.cfg.inTok, "completion_tokens": s.outTok, "total_tokens": s.h.cfg.inTok + s.outTok,
		"prompt_tokens_details": map[string]any{"cached_tokens": 0}, "completion_tokens_details": map[string]any{"reasoning_tokens": 0}}
	if !s.req.Stream {
		resp := map[string]any{
			"id": id, "object": "chat.completion", "created": Created, "model": s.model,
			"system_fingerprint": "fp_fake",
			"choices": []any{map[string]any{
				"index":         0,
				"message":       map[string]any{"role": "assistant", "content": s.h.cfg.reply, "refusal": nil},
				"logprobs":      nil,
				"finish_reason": "stop",
			}},
		}
		if s.usageOK() {
			resp["usage"] = usage
		}
		s.writeJSON(resp)
		return
	}
	includeUsage := s.req.StreamOptions != nil && s.req.StreamOptions.IncludeUsage && s.usageOK()
	chunk := func(delta map[string]any, finish any) map[string]any {
		c := map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": Created, "model": s.model,
			"system_fingerprint": "fp_fake",
			"choices":            []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}},
		}
		if includeUsage {
			c["usage"] = nil
		}
		return c
	}
	s.startSSE("text/event-stream; charset=utf-8")
	s.event("", chunk(map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil))
	for i, c := range s.chunks {
		if !s.beforeChunk(i) {
			return
		}
		s.event("", chunk(map[string]any{"content": c}, nil))
	}
	s.event("", chunk(map[string]any{}, "stop"))
	if includeUsage {
		s.event("", map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": Created, "model": s.model,
			"system_fingerprint": "fp_fake", "choices": []any{}, "usage": usage,
		})
	}
	s.event("", "[DONE]")
}

// ---- OpenAI Responses API ----

func (s *stream) responses() {
	id := "resp_fake" + s.id
	msgID := "msg_fake" + s.id
	usage := map[string]any{
		"input_tokens": s.h.cfg.inTok, "input_tokens_details": map[string]any{"cached_tokens": 0},
		"output_tokens": s.outTok, "output_tokens_details": map[string]any{"reasoning_tokens": 0},
		"total_tokens": s.h.cfg.inTok + s.outTok,
	}
	textPart := func(text string) map[string]any {
		return map[string]any{"type": "output_text", "text": text, "annotations": []any{}, "logprobs": []any{}}
	}
	item := func(status string, content []any) map[string]any {
		return map[string]any{"type": "message", "id": msgID, "status": status, "role": "assistant", "content": content}
	}
	response := func(status string, output []any, withUsage bool) map[string]any {
		r := map[string]any{
			"id": id, "object": "response", "created_at": Created, "status": status, "model": s.model,
			"output": output, "error": nil, "incomplete_details": nil, "instructions": nil,
			"parallel_tool_calls": true, "tool_choice": "auto", "tools": []any{}, "temperature": 1.0, "top_p": 1.0,
			"text": map[string]any{"format": map[string]any{"type": "text"}}, "usage": nil,
		}
		if withUsage && s.usageOK() {
			r["usage"] = usage
		}
		return r
	}
	final := item("completed", []any{textPart(s.h.cfg.reply)})
	if !s.req.Stream {
		s.writeJSON(response("completed", []any{final}, true))
		return
	}
	seq := 0
	ev := func(typ string, fields map[string]any) {
		fields["type"] = typ
		fields["sequence_number"] = seq
		seq++
		s.event(typ, fields)
	}
	s.startSSE("text/event-stream; charset=utf-8")
	ev("response.created", map[string]any{"response": response("in_progress", []any{}, false)})
	ev("response.in_progress", map[string]any{"response": response("in_progress", []any{}, false)})
	ev("response.output_item.added", map[string]any{"output_index": 0, "item": item("in_progress", []any{})})
	ev("response.content_part.added", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "part": textPart("")})
	for i, c := range s.chunks {
		if !s.beforeChunk(i) {
			return
		}
		ev("response.output_text.delta", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "delta": c, "logprobs": []any{}})
	}
	ev("response.output_text.done", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "text": s.h.cfg.reply, "logprobs": []any{}})
	ev("response.content_part.done", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "part": textPart(s.h.cfg.reply)})
	ev("response.output_item.done", map[string]any{"output_index": 0, "item": final})
	ev("response.completed", map[string]any{"response": response("completed", []any{final}, true)})
}

// ---- OpenAI embeddings ----

func (s *stream) embeddings() {
	var inputs int
	switch x := s.req.Input.(type) {
	case []any:
		inputs = len(x)
	default:
		inputs = 1
	}
	dims := s.req.Dimensions
	if dims <= 0 || dims > 4096 {
		dims = 8
	}
	data := make([]any, inputs)
	for i := range data {
		vec := make([]float32, dims)
		for j := range vec {
			vec[j] = float32(i+1) / float32(j+2)
		}
		var emb any = vec
		if s.req.EncodingFormat == "base64" {
			b := make([]byte, 4*len(vec))
			for j, f := range vec {
				binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(f))
			}
			emb = base64.StdEncoding.EncodeToString(b)
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": emb}
	}
	resp := map[string]any{"object": "list", "data": data, "model": s.model}
	if s.usageOK() {
		resp["usage"] = map[string]any{"prompt_tokens": s.h.cfg.inTok, "total_tokens": s.h.cfg.inTok}
	}
	s.writeJSON(resp)
}

// ---- Anthropic Messages ----

func (s *stream) messages() {
	id := "msg_fake" + s.id
	usage := func(out int) map[string]any {
		return map[string]any{"input_tokens": s.h.cfg.inTok, "output_tokens": out,
			"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
	}
	if !s.req.Stream {
		s.w.Header().Set("request-id", "req_"+s.id)
		resp := map[string]any{
			"id": id, "type": "message", "role": "assistant", "model": s.model,
			"content":     []any{map[string]any{"type": "text", "text": s.h.cfg.reply}},
			"stop_reason": "end_turn", "stop_sequence": nil,
		}
		if s.usageOK() {
			resp["usage"] = usage(s.outTok)
		}
		s.writeJSON(resp)
		return
	}
	s.w.Header().Set("request-id", "req_"+s.id)
	s.startSSE("text/event-stream; charset=utf-8")
	start := map[string]any{"id": id, "type": "message", "role": "assistant", "model": s.model,
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil}
	if s.usageOK() {
		start["usage"] = usage(1)
	}
	s.event("message_start", map[string]any{"type": "message_start", "message": start})
	s.event("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
		"content_block": map[string]any{"type": "text", "text": ""}})
	s.event("ping", map[string]any{"type": "ping"})
	for i, c := range s.chunks {
		if !s.beforeChunk(i) {
			return
		}
		s.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": "text_delta", "text": c}})
	}
	s.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	md := map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil}}
	if s.usageOK() {
		md["usage"] = map[string]any{"output_tokens": s.outTok}
	}
	s.event("message_delta", md)
	s.event("message_stop", map[string]any{"type": "message_stop"})
}

// ---- Ollama native chat ----

func (s *stream) ollama() {
	ts := time.Unix(Created, 0).UTC().Format(time.RFC3339Nano)
	final := func(content string) map[string]any {
		m := map[string]any{"model": s.model, "created_at": ts,
			"message": map[string]any{"role": "assistant", "content": content},
			"done":    true, "done_reason": "stop", "total_duration": 1000, "load_duration": 10,
			"prompt_eval_duration": 100, "eval_duration": 800}
		if s.usageOK() {
			m["prompt_eval_count"] = s.h.cfg.inTok
			m["eval_count"] = s.outTok
		}
		return m
	}
	// Ollama streams unless "stream": false is sent explicitly.
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(s.body, &raw)
	streaming := string(raw["stream"]) != "false"
	if !streaming {
		s.writeJSON(final(s.h.cfg.reply))
		return
	}
	s.startSSE("application/x-ndjson")
	for i, c := range s.chunks {
		if !s.beforeChunk(i) {
			return
		}
		s.ndjson(map[string]any{"model": s.model, "created_at": ts,
			"message": map[string]any{"role": "assistant", "content": c}, "done": false})
	}
	s.ndjson(final(""))
}
