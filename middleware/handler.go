package middleware

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/felixge/httpsnoop"
	"go.opentelemetry.io/otel/propagation"

	"github.com/otelaudit/otelaudit-go/internal/genaimetrics"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// Handler wraps next so that every request it serves is audited: the
// request becomes a span of kind SERVER with the GenAI attributes (the same
// extraction as [Transport], or an [Extractor] for custom JSON shapes), and
// through the audit exporter an audit entry. The incoming trace context is
// extracted from the headers, and the request context given to next holds
// the span, so calls next makes through a [Transport] are its children: the
// entries of the upstream calls and of the handler share a trace.
//
// Guarantees:
//   - The response writer keeps every optional interface of the original
//     (http.Flusher, http.Hijacker, io.ReaderFrom, http.Pusher, Unwrap for
//     http.ResponseController) through httpsnoop; streamed replies are
//     flushed as next flushes them, and reassembled for the audit as they
//     pass.
//   - Next gets the request body whole, and a shallow copy of the
//     request; the caller's *http.Request, including its Body, is left as
//     it was.
//   - The request body is read ahead, up to the cap, before next runs:
//     the span starts with what the body says (its name
//     "{operation} {model}" included), the conversation id the body names
//     is in next's context, and the entry's input is the body however
//     much of it next reads. Next reads the part read ahead, then the
//     rest; a body read ahead to its end is not read again, so it still
//     ends with EOF after net/http has closed it as the reply's header
//     went out.
//   - Except for a request whose body net/http answers with 100 Continue
//     when it is first read (HTTP/1.1, "Expect: 100-continue"): its body
//     is read only as next reads it, so that the client sends nothing
//     until next asks for it, as without the middleware, and a request
//     next refuses unread (401, 413) is never uploaded. The body is
//     captured as it passes, up to the cap; the span starts with what the
//     path and headers say, and gets the name and attributes the body
//     gives once it is known: at its end, at the cap, or when the reply
//     starts or next returns, whichever comes first. Next's context then
//     holds no conversation id from the body. What next did not read is
//     not in the entry, which says so with [MetadataRequestIncomplete].
//     (Over HTTP/2, net/http removes the Expect header before any
//     handler sees it: such a request is read ahead, and the client is
//     asked for the body at once.)
//   - Requests a [Filter] rejects go to next unchanged, with no span.
//   - The span ends when next returns, or when it panics: then the reply
//     it wrote so far is recorded as on a return, with error.type
//     [ErrorTypePanic], and the panic goes on. A panic with
//     http.ErrAbortHandler (httputil.ReverseProxy's, when the client hangs
//     up or the upstream's body breaks) is net/http's way to end a reply
//     early, not a failure of next: the call has no error type when the
//     reply's end had gone out (a stream's terminal event), else
//     [ErrorTypeCanceled] or [ErrorTypeTimeout] when the request's context
//     ended (the client went away), else [ErrorTypeStreamInterrupted] or
//     [ErrorTypeResponseIncomplete]; the panic goes on too.
//
// The returned handler is safe for concurrent use if next is.
func Handler(next http.Handler, opts ...Option) http.Handler {
	cfg := newConfig(opts)
	cfg.srv = genaimetrics.For(cfg.mp, ScopeName, otelaudit.Version)
	return &handler{next: next, cfg: cfg}
}

// errHandlerAborted is the failure finish is given when next aborts its
// reply with http.ErrAbortHandler.
var errHandlerAborted = errors.New("handler aborted its reply")

type handler struct {
	next http.Handler
	cfg  *config
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.cfg.accept(r) {
		h.next.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	ctx := h.cfg.propagators.Extract(r.Context(), propagation.HeaderCarrier(r.Header))

	var (
		x       *exchange
		late    *lateBody
		replace io.ReadCloser
	)
	switch {
	case r.Body == nil || r.Body == http.NoBody:
		ctx, x = h.cfg.begin(ctx, r, r.Host, nil, nil, false, true, start)
	case expectsContinue(r):
		// Reading ahead would make net/http send 100 Continue, and the
		// client upload the body, before next could refuse it: the body
		// is captured as next reads it, and the span described once it
		// is known. The span starts with gen_ai.operation.name, as every
		// server span does, so exporter.Sampler records it whatever the
		// sampler decides.
		ctx, x = h.cfg.beginLate(ctx, r, start)
		late = &lateBody{rc: r.Body, x: x, r: r, ctx: ctx, limit: h.cfg.maxBody, size: r.ContentLength}
		replace = late
	default:
		all, err := readUpTo(make([]byte, 0, captureCap(h.cfg.maxBody, r.ContentLength)), r.Body, h.cfg.maxBody+1)
		body, truncated := all, len(all) > h.cfg.maxBody
		if truncated {
			body = all[:h.cfg.maxBody]
		}
		replace = replayBody(r.Body, all, truncated, err)
		ctx, x = h.cfg.begin(ctx, r, r.Host, body, nil, truncated, true, start)
	}

	r2 := r.WithContext(ctx)
	if replace != nil {
		r2.Body = replace
	}
	// Each hook completes a body read late before x.respond: how the
	// reply is read depends on what the request turned out to be.
	ww := httpsnoop.Wrap(w, httpsnoop.Hooks{
		WriteHeader: func(next httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
			return func(code int) {
				if code >= 200 || code == http.StatusSwitchingProtocols {
					late.complete()
					x.respond(code, w.Header(), false, -1)
				}
				next(code)
			}
		},
		Write: func(next httpsnoop.WriteFunc) httpsnoop.WriteFunc {
			return func(b []byte) (int, error) {
				late.complete()
				x.respond(http.StatusOK, w.Header(), false, -1)
				n, err := next(b)
				_, _ = x.Write(b[:n])
				return n, err
			}
		},
		WriteString: func(next httpsnoop.WriteStringFunc) httpsnoop.WriteStringFunc {
			return func(s string) (int, error) {
				late.complete()
				x.respond(http.StatusOK, w.Header(), false, -1)
				n, err := next(s)
				_, _ = x.Write([]byte(s[:n]))
				return n, err
			}
		},
		ReadFrom: func(next httpsnoop.ReadFromFunc) httpsnoop.ReadFromFunc {
			return func(src io.Reader) (int64, error) {
				late.complete()
				x.respond(http.StatusOK, w.Header(), false, -1)
				return next(io.TeeReader(src, x))
			}
		},
		Hijack: func(next httpsnoop.HijackFunc) httpsnoop.HijackFunc {
			return func() (net.Conn, *bufio.ReadWriter, error) {
				c, rw, err := next()
				if err == nil {
					x.mu.Lock()
					x.hijacked = true
					x.mu.Unlock()
				}
				return c, rw, err
			}
		},
	})

	defer func() {
		if p := recover(); p != nil {
			// A late description that panics too (an Extractor's bug)
			// must not keep the span from ending; next's panic is the
			// one that goes on.
			func() {
				defer func() { _ = recover() }()
				late.complete()
			}()
			// Whatever next wrote before it panicked went out, so it is
			// recorded as on a return. No status is assumed: net/http
			// sends no 200 for a handler that panicked.
			if p == http.ErrAbortHandler {
				// net/http's way to end a reply early, not a defect of
				// next: httputil.ReverseProxy aborts when the client
				// hangs up or the upstream's body breaks. It is judged
				// as a read that failed: no error when the reply's end
				// had gone out (a client that hung up after [DONE]),
				// canceled or timeout when the request's context ended,
				// else interrupted or incomplete.
				x.reqCtx = r.Context()
				x.finish(errHandlerAborted, false)
			} else {
				x.finishAs(nil, false, ErrorTypePanic)
			}
			panic(p)
		}
	}()
	h.next.ServeHTTP(ww, r2)
	x.mu.Lock()
	hijacked := x.hijacked
	x.mu.Unlock()
	late.complete()
	if !hijacked {
		x.respond(http.StatusOK, w.Header(), false, -1) // nothing written: net/http sends 200
	}
	x.finish(nil, false)
}

// expectsContinue reports whether net/http's server answers r's body with
// 100 Continue when it is first read: r is HTTP/1.1 or later and its
// Expect header has the token 100-continue. (Over HTTP/2 net/http removes
// the header before any handler sees it.)
func expectsContinue(r *http.Request) bool {
	vs := r.Header["Expect"]
	if len(vs) == 0 || !r.ProtoAtLeast(1, 1) {
		return false
	}
	for _, v := range vs {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "100-continue") {
				return true
			}
		}
	}
	return false
}

// lateBody is the body next gets for a request whose body is not read
// ahead (expectsContinue): it captures what next reads, up to the cap,
// and describes the span (describeLate) once the body is known: at its
// end (EOF, or Content-Length bytes, as a JSON decoder may never read to
// EOF), at the cap, at a read error, or when complete is called (the reply
// starts, next returns or panics), whichever comes first. Reads after
// that pass through uncaptured.
type lateBody struct {
	rc    io.ReadCloser
	x     *exchange
	r     *http.Request
	ctx   context.Context // next's
	limit int
	size  int64 // Content-Length, -1 when unknown
	once  sync.Once

	mu     sync.Mutex
	pooled *[]byte // the capture (acquireCapture), taken at the first read
	buf    []byte
	n      int64 // bytes read
	end    bool  // the body's end was read
	trunc  bool  // more than limit bytes were read
	done   bool  // describeLate has the capture
}

func (b *lateBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.mu.Lock()
	known := false
	if !b.done {
		if b.pooled == nil {
			b.pooled = acquireCapture(captureCap(b.limit, b.size))
			b.buf = *b.pooled
		}
		b.n += int64(n)
		if room := b.limit - len(b.buf); n > room {
			b.buf = append(b.buf, p[:max(room, 0)]...)
			b.trunc = true
		} else {
			b.buf = append(b.buf, p[:n]...)
		}
		if err == io.EOF || b.size >= 0 && b.n >= b.size {
			b.end = true
		}
		known = b.end || b.trunc || err != nil
	}
	b.mu.Unlock()
	if known {
		b.complete()
	}
	return n, err
}

func (b *lateBody) Close() error { return b.rc.Close() }

// complete describes the span with what was captured, once; later calls
// (and concurrent ones, which wait for it) do nothing, and so does a nil
// b (a body read ahead).
func (b *lateBody) complete() {
	if b == nil {
		return
	}
	b.once.Do(func() {
		b.mu.Lock()
		b.done = true
		pooled, buf, trunc, end := b.pooled, b.buf, b.trunc, b.end
		b.pooled, b.buf = nil, nil
		b.mu.Unlock()
		b.x.describeLate(b.ctx, b.r, buf, pooled, trunc, !end && !trunc)
	})
}
