package middleware

import (
	"bytes"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// Transport wraps base (http.DefaultTransport when nil) so that every
// request it sends is audited: give the result to an LLM SDK as its
// http.Client's Transport and each call becomes a GenAI span of kind
// CLIENT, and through the audit exporter an audit entry, with no other code
// change.
//
// What is recorded: provider and operation (from host and path), model,
// input messages and system instructions (from the request body), output
// messages, finish reasons, usage, response id and model, error type (from
// the reply or the stream), conversation id (from the
// [DefaultConversationHeader] header or the body), server address. See the
// package documentation for the APIs understood and for how unknown
// requests are treated.
//
// Guarantees:
//   - The caller's request is never modified: the base transport gets a
//     copy (with the span's context, and the body put back when the audit
//     had to read it). The request body is sent in full whatever its size;
//     when the request has GetBody (as SDK requests do) the audit reads its
//     own copy, otherwise at most the cap is read ahead and put back in
//     front of the rest (a body read ahead to its end is not read again:
//     the copy ends with EOF however often it is read past its end).
//     GetBody, redirects and retries keep working.
//   - The response body is passed through as it is read: no buffering, no
//     added latency to the first byte of a stream. A copy of at most the cap
//     is kept for the audit; streams are reassembled as they pass.
//   - The span ends exactly once, timestamped at the first EOF or error of
//     the response body, or at its Close. A stream closed before its end,
//     or broken mid-event, is recorded with the partial output and an
//     error type ([ErrorTypeStreamAbandoned], [ErrorTypeStreamInterrupted]).
//   - A reply read to its end is parsed, and its span given its last
//     attributes and ended, on another goroutine, so that the caller does
//     not wait for that work (about a sixth of a 1 KiB call on loopback:
//     see the README's Performance section), when the provider's audit
//     processor took the span: its ForceFlush and Shutdown, and so the
//     provider's, wait for such spans, so a flush after the call finds the
//     call's entry and every processor its span (a processor registered
//     before the audit processor may get it after its own flush or
//     shutdown; exporter.ProviderOptions registers the audit processor
//     first). On a provider without the audit processor, and for failed or
//     abandoned calls, the span has ended when the read of the body's end
//     (or Close) returns, as with any instrumentation.
//   - Closing a reply never waits on the server. An error reply closed
//     unread (as SDKs do before a retry) has its rest read for the
//     provider's error code, whether its length is known (up to 64 KiB;
//     a longer one is not read) or not (chunked, or gzip that net/http
//     decoded): at most 64 KiB of it, for at most 20 ms, as the rest
//     normally comes with the headers. Past either bound the call is
//     recorded with what was read, else the HTTP status, and the body is
//     closed, which ends the read (net/http's bodies end a pending Read
//     when closed). The span has ended when Close returns.
//   - A request rejected by a [Filter] goes straight to base.
//
// The returned RoundTripper is safe for concurrent use if base is.
func Transport(base http.RoundTripper, opts ...Option) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base, cfg: newConfig(opts)}
}

type transport struct {
	base http.RoundTripper
	cfg  *config
}

var _ http.RoundTripper = (*transport)(nil)

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !t.cfg.accept(r) {
		return t.base.RoundTrip(r)
	}
	start := time.Now()
	body, pooled, trunc, replace := captureClientBody(r, t.cfg.maxBody)
	host := r.URL.Host
	if r.Host != "" {
		host = r.Host
	}
	// The audit's own copy (read through GetBody) goes back to the pool
	// once nothing reads it (begin sees to it).
	ctx, x := t.cfg.begin(r.Context(), r, host, body, pooled, trunc, false, start)
	// A shallow copy is enough: only its context and body change, and the
	// audit never writes headers (no propagation into provider requests).
	r2 := r.WithContext(ctx)
	if replace != nil {
		r2.Body = replace
		if !trunc && r.GetBody == nil {
			// The whole body was read: retries can have it again.
			r2.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
	}
	resp, err := t.base.RoundTrip(r2)
	if err != nil {
		x.fail(err)
		return resp, err
	}
	if resp == nil {
		x.finish(nil, false)
		return resp, err
	}
	x.respond(resp.StatusCode, resp.Header, resp.Uncompressed, resp.ContentLength)
	if resp.Body == nil || resp.Body == http.NoBody || resp.StatusCode == http.StatusSwitchingProtocols {
		// Nothing to read (or a protocol upgrade whose body must keep its
		// io.Writer): the call is complete now.
		x.finish(nil, false)
		return resp, nil
	}
	x.body = wrappedBody{rc: resp.Body, x: x}
	resp.Body = &x.body
	return resp, nil
}

// captureClientBody returns at most limit bytes of the request body for the
// audit, whether there was more, and, when it had to read the request's own
// Body, a replacement that yields the whole body. When it could read a
// copy of its own (GetBody), that copy is in a pooled buffer, pooled, for
// the caller to give back with releaseCapture.
func captureClientBody(r *http.Request, limit int) (body []byte, pooled *[]byte, truncated bool, replace io.ReadCloser) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil, false, nil
	}
	if r.GetBody != nil {
		if rc, err := r.GetBody(); err == nil && rc != nil {
			pooled = acquireCapture(captureCap(limit, r.ContentLength))
			body, truncated, _ = readPrefixInto(*pooled, rc, limit)
			_ = rc.Close()
			return body, pooled, truncated, nil
		}
	}
	all, err := readUpTo(make([]byte, 0, captureCap(limit, r.ContentLength)), r.Body, limit+1)
	body, truncated = all, len(all) > limit
	if truncated {
		body = all[:limit]
	}
	return body, nil, truncated, replayBody(r.Body, all, truncated, err)
}

// replayBody returns the body to give on in place of orig after all was
// read ahead of it: all, then what orig still holds. more says the read
// stopped at the cap rather than at orig's EOF; err is the error that
// stopped it, if any, given again at the end. Close closes orig.
//
// Once orig has given EOF it is not read again: the replacement ends with
// all. A consumer may well read past the end (http.Transport reads once
// more after Content-Length bytes, to check that there are no more), and
// orig may no longer answer EOF by then: net/http closes a server
// request's body that was read to its end when the reply's header goes
// out, and a read after that fails with http.ErrBodyReadAfterClose. In a
// gateway (httputil.ReverseProxy) that read races with the upstream's
// reply; on the error http.Transport tears down the upstream connection
// and the streamed reply is cut.
func replayBody(orig io.ReadCloser, all []byte, more bool, err error) io.ReadCloser {
	switch {
	case err != nil:
		return &prefixBody{r: io.MultiReader(bytes.NewReader(all), errReader{err}), c: orig}
	case more:
		return &prefixBody{r: io.MultiReader(bytes.NewReader(all), orig), c: orig}
	}
	return &prefixBody{r: bytes.NewReader(all), c: orig}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// prefixBody yields bytes read ahead, then the rest of the original body;
// Close closes the original.
type prefixBody struct {
	r io.Reader
	c io.Closer
}

func (p *prefixBody) Read(b []byte) (int, error) { return p.r.Read(b) }
func (p *prefixBody) Close() error               { return p.c.Close() }

// wrappedBody passes a response body through and feeds the audit; the span
// ends at the first EOF or error, or at Close.
type wrappedBody struct {
	rc io.ReadCloser
	x  *exchange
	// n counts the bytes read; atomic: a Close may race a Read on
	// another goroutine.
	n atomic.Int64
}

func (b *wrappedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.n.Add(int64(n))
		_, _ = b.x.Write(p[:n])
	}
	switch {
	case err == io.EOF:
		b.x.finish(nil, false)
	case err != nil:
		b.x.finish(err, false)
	}
	return n, err
}

// maxErrorDrain bounds what Close reads of an unread error reply to learn
// its error type: an error body is a small JSON object, and a reply of
// unknown length that goes on past this is not one the parse could use
// (a prefix of a JSON document does not parse).
const maxErrorDrain = 64 << 10

// errorDrainBudget bounds how long Close waits for the rest of an unread
// error reply. An error body normally comes with the headers and is read
// at once; a server that stalls it must not hold up the caller's Close
// (SDKs close the body before each retry).
const errorDrainBudget = 20 * time.Millisecond

func (b *wrappedBody) Close() error {
	if b.x.wantsDrain() {
		// An error reply closed unread (SDKs do so before a retry): read
		// the small rest so the entry gets the provider's error code.
		if closed, err := b.drain(); closed {
			return err
		}
	}
	// The caller's close is recorded before the inner body is closed:
	// closing it wakes a Read blocked in another goroutine, whose error
	// must not be taken for a broken stream. A caller that read every
	// byte of a reply of known length without reading on to EOF (a
	// json.Decoder) closes a complete reply, not an abandoned one.
	complete := b.x.contentLength >= 0 && b.n.Load() >= b.x.contentLength
	b.x.finish(nil, !complete)
	return b.rc.Close()
}

// drain reads what is left of an unread error reply (at most
// maxErrorDrain) into the capture for at most errorDrainBudget. When the
// rest came in time, or the cap was reached first (a reply of unknown
// length; closing it then closes its connection, as for any body closed
// before its end), it returns false: Close goes on as for any body. When
// it did not, drain ends the call with what was read (finish takes the
// error type from it, else from the status), then closes the inner body,
// which ends the pending read, and returns true with Close's error: the
// reading goroutine has returned before drain does.
func (b *wrappedBody) drain() (closed bool, err error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(b.x, io.LimitReader(b.rc, maxErrorDrain))
	}()
	t := time.NewTimer(b.x.cfg.drainBudget)
	defer t.Stop()
	select {
	case <-done:
		return false, nil
	case <-t.C:
	}
	b.x.finish(nil, true)
	err = b.rc.Close()
	<-done
	return true, err
}
