package middleware

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
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
//   - The request body is read ahead up to the cap for the audit and
//     given to next whole (the read-ahead part first, then the rest; a
//     body read ahead to its end is not read again, so it still ends with
//     EOF after net/http has closed it as the reply's header went out). Next
//     gets a shallow copy of the request; the caller's *http.Request,
//     including its Body, is left as it was.
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
		body      []byte
		truncated bool
		replace   io.ReadCloser
	)
	if r.Body != nil && r.Body != http.NoBody {
		all, err := readUpTo(make([]byte, 0, captureCap(h.cfg.maxBody, r.ContentLength)), r.Body, h.cfg.maxBody+1)
		body, truncated = all, len(all) > h.cfg.maxBody
		if truncated {
			body = all[:h.cfg.maxBody]
		}
		replace = replayBody(r.Body, all, truncated, err)
	}
	ctx, x := h.cfg.begin(ctx, r, r.Host, body, nil, truncated, true, start)

	r2 := r.WithContext(ctx)
	if replace != nil {
		r2.Body = replace
	}
	ww := httpsnoop.Wrap(w, httpsnoop.Hooks{
		WriteHeader: func(next httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
			return func(code int) {
				if code >= 200 || code == http.StatusSwitchingProtocols {
					x.respond(code, w.Header(), false, -1)
				}
				next(code)
			}
		},
		Write: func(next httpsnoop.WriteFunc) httpsnoop.WriteFunc {
			return func(b []byte) (int, error) {
				x.respond(http.StatusOK, w.Header(), false, -1)
				n, err := next(b)
				_, _ = x.Write(b[:n])
				return n, err
			}
		},
		WriteString: func(next httpsnoop.WriteStringFunc) httpsnoop.WriteStringFunc {
			return func(s string) (int, error) {
				x.respond(http.StatusOK, w.Header(), false, -1)
				n, err := next(s)
				_, _ = x.Write([]byte(s[:n]))
				return n, err
			}
		},
		ReadFrom: func(next httpsnoop.ReadFromFunc) httpsnoop.ReadFromFunc {
			return func(src io.Reader) (int64, error) {
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
	if !hijacked {
		x.respond(http.StatusOK, w.Header(), false, -1) // nothing written: net/http sends 200
	}
	x.finish(nil, false)
}
