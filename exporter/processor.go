package exporter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/internal/handoff"
	"github.com/otelaudit/otelaudit-go/internal/joinclaim"
	"github.com/otelaudit/otelaudit-go/internal/lend"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// Defaults of [NewProcessor].
const (
	// DefaultMaxQueueSize is how many ended spans (4096) the processor
	// holds in memory before OnEnd blocks or spills to the spool.
	DefaultMaxQueueSize = 4096
	// DefaultMaxBatchSize is the largest number of entries (512) written
	// in one backend WriteBatch call.
	DefaultMaxBatchSize = 512
)

// ProcessorOption configures [NewProcessor].
type ProcessorOption interface {
	applyProcessor(*processorConfig)
}

type processorOptionFunc func(*processorConfig)

func (f processorOptionFunc) applyProcessor(c *processorConfig) { f(c) }

type processorConfig struct {
	queueSize int
	batchSize int
	spoolDir  string
	// wiredForYou: made by ProviderOptions or NewTracerProvider, which
	// put every other exporter behind Redact.
	wiredForYou bool
}

// wiredForYou marks the processor of ProviderOptions and NewTracerProvider.
func wiredForYou() ProcessorOption {
	return processorOptionFunc(func(c *processorConfig) { c.wiredForYou = true })
}

// WithMaxQueueSize sets how many spans the processor queues in memory.
// Default [DefaultMaxQueueSize]; values < 1 keep the default.
func WithMaxQueueSize(n int) ProcessorOption {
	return processorOptionFunc(func(c *processorConfig) {
		if n >= 1 {
			c.queueSize = n
		}
	})
}

// WithMaxBatchSize sets the largest backend batch. Default
// [DefaultMaxBatchSize]; values < 1 keep the default; a batch larger than
// the queue is clamped to the queue size.
func WithMaxBatchSize(n int) ProcessorOption {
	return processorOptionFunc(func(c *processorConfig) {
		if n >= 1 {
			c.batchSize = n
		}
	})
}

// WithSpool switches the overflow policy from blocking to spooling: when
// the queue is full, OnEnd turns the span into its (hashed or encrypted)
// entry on the calling goroutine and appends it to a segment file in dir
// (created 0700; files 0600) instead of waiting. Spooled entries are
// replayed into the backend in the order they were spooled, whenever the
// queue is idle and at ForceFlush and Shutdown; segments left by an
// earlier run in dir are replayed too. When Shutdown runs out of time, the
// entries not yet in the backend are also written to the spool, so they are
// not lost. "" keeps the default (block).
//
// Spooled entries hold what the backend would hold: with a Logger that
// stores plaintext content, the spool does too. A spool directory belongs
// to one processor at a time; two processors must not share one.
func WithSpool(dir string) ProcessorOption {
	return processorOptionFunc(func(c *processorConfig) { c.spoolDir = dir })
}

// item is one queue element: a span to audit (with the content handed
// over beside it, read by the worker), an entry made already, or a
// ForceFlush marker.
type item struct {
	span  sdktrace.ReadOnlySpan
	slot  *handoff.Slot
	entry *storage.AuditEntry
	flush chan error
}

// view is the span of it with its content, for the conversion.
func (it *item) view() sdktrace.ReadOnlySpan { return withContent(it.span, it.slot) }

// processor is the lossless audit span processor. See NewProcessor.
//
// Fixed after construction: e, cfg, queue, jobs, spool, spoolSignal, ctx,
// cancel, done. sendMu is held for reading by every send on queue and for
// writing once, by Shutdown, to close queue after the last send.
//
// The fields are grouped by who writes them, each group on cache lines of
// its own: what the callers write on every span (sendMu, accepted, open)
// and what the worker writes on every batch (settled) would otherwise
// share lines with each other and with the fields both read, and each
// write by one side would cost the other a cache miss on its next span.
type processor struct {
	// Read by everyone, written once (stopped: at Shutdown).
	e           *Exporter
	cfg         processorConfig
	queue       chan item
	jobs        chan job // convert -> writeLoop
	spool       *spool
	spoolSignal chan struct{}
	ctx         context.Context // cancelled when Shutdown runs out of time
	cancel      context.CancelFunc
	done        chan struct{} // closed when both worker stages have exited
	stopped     atomic.Bool

	_ cacheLinePad
	// Written by the callers on every span.
	sendMu sync.RWMutex
	// accepted counts the entries accepted (queued or spooled), spool
	// segments left by an earlier run included; settled counts those
	// that left the pipeline (written, or dropped). See pending.
	accepted atomic.Int64

	_ cacheLinePad
	// Written by the worker on every batch.
	settled atomic.Int64

	_        cacheLinePad
	stopOnce sync.Once
	stopErr  error

	// warnedContent: warnContentOnSpan has reported.
	warnedContent atomic.Bool
	// warnedDropped: send has reported a span ended after Shutdown; the
	// later ones are only counted (a service stopping under load would
	// otherwise flood its error handler, one report per span).
	warnedDropped atomic.Bool
	// spoolFailing: a spool write in send failed and was reported; set
	// back by the next one that succeeds, so that a full disk is reported
	// once per outage, not once per span that overflows the queue.
	spoolFailing atomic.Bool

	// open holds the spans started and not yet ended that the processor
	// needs at their end: their content hand-offs (see internal/handoff)
	// and the spans that may describe the same call (see AuditSameCallKey).
	// Written by the callers; its shards are on lines of their own.
	open openSpans
}

// cacheLinePad keeps what follows it off the cache lines of what precedes
// it (two 64-byte lines: x86 fetches lines in adjacent pairs).
type cacheLinePad [128]byte

// pending is the number of accepted entries not yet in the backend
// (queued, being converted or written, or spooled). Read while entries
// move, it may count a few that just left, never miss one still there.
func (p *processor) pending() int64 {
	settled := p.settled.Load()
	return p.accepted.Load() - settled
}

var _ sdktrace.SpanProcessor = (*processor)(nil)

// NewProcessor returns the lossless span processor that feeds e. Use it
// instead of the SDK's BatchSpanProcessor, which drops spans when its
// queue is full and after failed exports:
//
//   - OnStart registers the spans whose instrumentation hands their
//     content over beside the span (otelaudit.StartCall, the middleware),
//     and OnEnd attaches that content; other processors never see it.
//   - OnEnd picks the GenAI spans (see [IsGenAI]; others are ignored at
//     the cost of one attribute scan, sampled or not) and queues them in a
//     bounded in-memory queue ([WithMaxQueueSize]).
//   - One model call, one entry: a GenAI span of a model call started
//     under a GenAI span of the same kind of model call (by span name,
//     "{operation} ..."; chat, text_completion and generate_content are
//     one kind, embeddings another, Google ADK's "call_llm" is
//     generate_content), directly or through one span between them
//     (otelhttp's HTTP span between an SDK's span and
//     middleware.Transport), all through this processor, none of kind
//     SERVER and not both otelaudit.StartCall spans, is the same call seen
//     by two instrumentations. A third layer (StartCall around an SDK's
//     span around the Transport's) takes the middle span's place in the
//     pair, and the middle span, not stored, counts as layered; with the
//     SDK's span around StartCall's, the SDK's span is the one not stored
//     (StartCall's caller holds the entry's id). Agents, tools and
//     workflows nested in their own kind are calls of their own. Both spans
//     are marked with [AuditSameCallKey]; the first to end is held until
//     the other ends, and only the richer (content first, then usage and
//     response data) is stored, under the audit.entry_id the caller was
//     given (otelaudit.Call.EntryID) and with what the caller told the
//     audit on the other span (audit.* attributes, metadata, the
//     conversation id); the other counts in [Stats].Layered. A span whose
//     partner's call is over pairs again with its next GenAI child: each
//     attempt of an SDK's retries is a model call, audited. A held span is
//     written when its partner ends (ForceFlush does not wait for that)
//     or at Shutdown: then as the pair's entry, under the pair's id (a
//     StartCall span its caller never ended keeps Call.EntryID), with what
//     the caller told the audit on the unended span so far, and marked
//     [MetadataUnendedAtShutdown]; the unended span, if it ends afterwards,
//     counts as layered.
//   - A GenAI span that exporter/logaudit's Auditor, registered after
//     this processor in the same provider, took as it started (another
//     instrumentation's span, whose content comes as log events) is left
//     to the Auditor, unless the processor paired it: the Auditor writes
//     it joined with its events, which this processor never sees.
//   - A full queue never drops. By default OnEnd blocks until there is room
//     (backpressure on the callers that end spans); with [WithSpool] it
//     spills to a local spool instead.
//   - A worker converts queued spans into entries and a second one writes
//     them in batches ([WithMaxBatchSize]), so converting and writing
//     overlap; a failed write is retried with
//     exponential backoff (see [WithRetryBackoff]) until it succeeds, and
//     entries a failed write stored anyway are not written twice.
//   - ForceFlush returns nil only when every span ended before it is in the
//     backend (spool replayed) and the backend's Flush, if it has one,
//     succeeded. If ctx ends first it returns an error that matches ctx's
//     error and says how many entries are not durable yet.
//   - Shutdown stops accepting spans (later OnEnd calls are counted as
//     dropped in [Stats].Dropped; the first is reported through
//     otel.Handle, the others only counted), drains the queue and the spool into the backend, then shuts
//     e down (flushing the backend). If ctx ends first, what is left goes to
//     the spool (if any) or is counted as dropped, and the error says how
//     many entries that is. Shutdown returns by ctx's deadline (plus at
//     most about 20 ms) even when a backend call ignores ctx and never returns:
//     the error then counts the entries not durable, those held behind
//     that call included. It runs once; later calls return its result.
//   - Content that another instrumentation puts on its GenAI spans (Google
//     ADK's gcp.vertex.agent.llm_request, a hand-made span's
//     gen_ai.input.messages) is on the span for every processor, and this
//     one cannot take it off. Wired by hand (not by [ProviderOptions] or
//     [NewTracerProvider]), with no [Redact] exporter in the process, the
//     first such sampled span is reported through otel.Handle, by span
//     name and attribute key.
//   - With a spool, entries reach the backend in the order they were
//     accepted: while the spool holds entries, new ones are spooled behind
//     them, and the spool is replayed only when the queue is empty.
//
// Counters are in [Exporter.Stats] and exported as metrics (see
// [MetricEntriesWritten] and the other Metric names) through the
// exporter's MeterProvider. A nil e gives a processor that does nothing;
// an e must feed one processor only. The processor is safe for concurrent
// use; a spool directory that cannot be created makes every span go
// through the queue (blocking) and is reported to otel.Handle.
func NewProcessor(e *Exporter, opts ...ProcessorOption) sdktrace.SpanProcessor {
	if e == nil {
		return noopProcessor{}
	}
	c := processorConfig{queueSize: DefaultMaxQueueSize, batchSize: DefaultMaxBatchSize}
	for _, o := range opts {
		if o != nil {
			o.applyProcessor(&c)
		}
	}
	c.batchSize = min(c.batchSize, c.queueSize)
	p := &processor{
		e:           e,
		cfg:         c,
		queue:       make(chan item, c.queueSize),
		jobs:        make(chan job, 1),
		spoolSignal: make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if c.spoolDir != "" {
		sp, err := openSpool(c.spoolDir)
		if err != nil {
			otel.Handle(fmt.Errorf("exporter: spool disabled, blocking on a full queue instead: %w", err))
		} else {
			p.spool = sp
			p.accepted.Add(sp.Pending())
		}
	}
	depth := func() int64 { return int64(len(p.queue)) }
	e.queueDepth.Store(&depth)
	var wg sync.WaitGroup
	wg.Go(p.convert)
	wg.Go(p.writeLoop)
	go func() {
		wg.Wait()
		close(p.done)
	}()
	return p
}

// OnStart registers s when its instrumentation hands its content over
// beside the span (otelaudit.StartCall and the middleware do), so that OnEnd
// can take it, and when its name makes it a GenAI span that may pair with
// another (see [AuditSameCallKey]), or stands between two such spans (an
// HTTP client span between an SDK's GenAI span and middleware.Transport).
// Other spans cost one context lookup and name checks of the span and its
// parent. A span paired before with an ended span (an attempt an SDK
// retried) gives that one up, to be audited alone.
func (p *processor) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	if p.stopped.Load() {
		return
	}
	if alone := p.open.start(trace.SpanFromContext(parent), s, handoff.Claim(parent, s)); alone != nil && auditable(alone) {
		p.accept(item{span: alone})
	}
}

// auditable reports whether the processor writes an entry for s, an ended
// span: its own instrumentation's spans, and GenAI spans. The GenAI keys
// are never handed-over content: the span's own attributes tell.
func auditable(s sdktrace.ReadOnlySpan) bool {
	return s.InstrumentationScope().Name == otelaudit.ScopeName || IsGenAI(s.Attributes())
}

// OnEnd queues s for the audit if it is a GenAI span, with the content
// handed over since OnStart. It blocks while the queue is full unless a
// spool is configured. After Shutdown it drops s and counts it in
// [Stats].Dropped; only the first span dropped so is reported.
func (p *processor) OnEnd(s sdktrace.ReadOnlySpan) {
	if s == nil {
		return
	}
	s, slot, skipped := p.open.end(s)
	if skipped {
		p.e.layered.Add(1)
	}
	if s == nil || !auditable(s) {
		return
	}
	if !skipped && joinclaim.Taken(s.SpanContext()) && !sameCall(s) {
		// exporter/logaudit's Auditor beside this processor writes it,
		// joined with the content its log events carry.
		return
	}
	p.accept(item{span: s, slot: slot})
}

// sameCall reports whether s is marked as one of two spans of a call
// ([AuditSameCallKey]).
func sameCall(s sdktrace.ReadOnlySpan) bool {
	for _, kv := range s.Attributes() {
		if kv.Key == AuditSameCallKey {
			return true
		}
	}
	return false
}

// accept queues it, a GenAI span, or spools it when the queue is full and
// a spool is configured.
func (p *processor) accept(it item) { p.send(it, false) }

// send is accept; draining is set for Shutdown's own sends of the spans it
// drains, after it has stopped accepting others.
func (p *processor) send(it item, draining bool) {
	s := it.span
	p.sendMu.RLock()
	defer p.sendMu.RUnlock()
	if p.stopped.Load() && !draining {
		p.e.dropped.Add(1)
		if p.warnedDropped.CompareAndSwap(false, true) {
			otel.Handle(fmt.Errorf("exporter: GenAI span %s ended after Shutdown; its audit entry is lost "+
				"(reported once: Exporter.Stats().Dropped counts every span lost so)", s.SpanContext().SpanID()))
		}
		return
	}
	p.accepted.Add(1)
	if p.spool == nil {
		p.queue <- it
		return
	}
	// First in, first out: while the spool holds entries, later ones go
	// behind them into the spool, not ahead of them into the queue, and
	// the spool is replayed only once the queue is empty. So what was
	// accepted first reaches the backend first, and a crash loses the
	// newest in-memory entries, never older ones while newer are on disk.
	if p.spool.Pending() == 0 {
		select {
		case p.queue <- it:
			return
		default:
		}
	}
	// Not lent: a spool failure sends it on through the queue as an
	// entry, where nothing would end its loan.
	en, _ := p.e.entry(context.Background(), it.view(), false)
	if en == nil {
		p.settled.Add(1)
		return
	}
	if err := p.spool.append([]*storage.AuditEntry{en}); err != nil {
		if p.spoolFailing.CompareAndSwap(false, true) {
			otel.Handle(fmt.Errorf("exporter: spool write failed, blocking on the queue instead "+
				"(reported once until a spool write succeeds again): %w", err))
		}
		p.queue <- item{entry: en}
		return
	}
	if p.spoolFailing.Load() {
		p.spoolFailing.Store(false)
	}
	p.e.spooled.Add(1)
	p.signalSpool()
}

func (p *processor) signalSpool() {
	select {
	case p.spoolSignal <- struct{}{}:
	default:
	}
}

// ForceFlush waits until every span ended before the call is in the
// backend and the backend is flushed. See [NewProcessor].
func (p *processor) ForceFlush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.stopped.Load() {
		return nil
	}
	if err := p.waitEnding(ctx); err != nil {
		return p.notDurable("force flush", err)
	}
	ch := make(chan error, 1)
	p.sendMu.RLock()
	if p.stopped.Load() {
		p.sendMu.RUnlock()
		return nil
	}
	select {
	case p.queue <- item{flush: ch}:
		p.sendMu.RUnlock()
	case <-ctx.Done():
		p.sendMu.RUnlock()
		return p.notDurable("force flush", ctx.Err())
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return p.notDurable("force flush", ctx.Err())
	}
}

// waitEnding waits until the spans that their instrumentation was ending
// on another goroutine when it was called have ended (the middleware's
// Transport ends a call's span after the caller read the reply; see
// handoff.Slot.EndLater), so that a flush after the call includes it. It
// returns ctx's error if ctx ends first.
func (p *processor) waitEnding(ctx context.Context) error {
	for _, ch := range p.open.ending() {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (p *processor) notDurable(op string, err error) error {
	n := p.pending()
	if p.spool != nil {
		return fmt.Errorf("exporter: %s: %d accepted audit entries not yet in the backend (%d kept in the spool %s): %w",
			op, n, p.spool.Pending(), p.spool.dir, err)
	}
	return fmt.Errorf("exporter: %s: %d accepted audit entries not yet in the backend: %w", op, n, err)
}

// Shutdown drains everything into the backend and shuts the exporter down.
// See [NewProcessor].
func (p *processor) Shutdown(ctx context.Context) error {
	p.stopOnce.Do(func() {
		// Spans whose instrumentation ends them on another goroutine
		// ended, as far as their callers know: they go in first. With
		// ctx over, the rest of Shutdown reports what is not durable.
		_ = p.waitEnding(ctx)
		// From here spans that end are dropped and counted; spans held
		// for a partner that never ended are written as their pair's
		// entry, under the pair's id (drain also stops end from holding
		// spans behind it).
		p.stopped.Store(true)
		for _, s := range p.open.drain() {
			if auditable(s) {
				p.send(item{span: s}, true)
			}
		}
		go func() {
			// Wait for the sends in flight (the worker keeps draining),
			// then close the queue so the worker can finish.
			p.sendMu.Lock()
			close(p.queue)
			p.sendMu.Unlock()
		}()
		var errs []error
		timedOut, stuck := false, false
		droppedBefore := p.e.dropped.Load()
		select {
		case <-p.done:
		case <-ctx.Done():
			timedOut = true
			p.cancel()
			// The workers stop at once unless the backend ignores ctx
			// and hangs; meanwhile what is still queued goes to the
			// spool (or is counted), so callers blocked in OnEnd return.
			stuck = !p.salvage(time.After(shutdownGrace))
		}
		p.cancel()
		if stuck {
			// A write is still in the backend's hands: do not wait for it
			// (nor for the backend's flush), report what is not durable.
			lost := p.e.dropped.Load() - droppedBefore
			inFlight := p.pending()
			kept := int64(0)
			if p.spool != nil {
				kept = p.spool.Pending()
				inFlight -= kept
				errs = append(errs, p.spool.close())
			}
			go func() { _ = p.e.Shutdown(context.WithoutCancel(ctx)) }()
			errs = append(errs, fmt.Errorf("exporter: shutdown: the backend did not return in time: %d accepted audit entries not durable (%d held in the pipeline behind a backend write that has not returned, %d dropped), %d kept in the spool: %w",
				inFlight+lost, inFlight, lost, kept, ctx.Err()))
			p.stopErr = errors.Join(errs...)
			return
		}
		if timedOut {
			lost := p.e.dropped.Load() - droppedBefore
			if p.spool != nil {
				kept := p.spool.Pending()
				errs = append(errs, fmt.Errorf("exporter: shutdown: %d accepted audit entries not written to the backend (%d kept in the spool %s for the next run, %d dropped): %w",
					kept+lost, kept, p.spool.dir, lost, ctx.Err()))
			} else {
				errs = append(errs, fmt.Errorf("exporter: shutdown: %d accepted audit entries not written to the backend and dropped (no spool configured): %w",
					lost, ctx.Err()))
			}
		}
		if p.spool != nil {
			errs = append(errs, p.spool.close())
		}
		ectx := ctx
		if !timedOut {
			// Everything is written: let the backend finish its flush.
			ectx = context.WithoutCancel(ctx)
		}
		errs = append(errs, p.e.Shutdown(ectx))
		p.stopErr = errors.Join(errs...)
	})
	return p.stopErr
}

// shutdownGrace is how long Shutdown waits for the workers after its ctx
// ended, moving queued spans to the spool meanwhile, before it reports a
// backend that does not return.
const shutdownGrace = 20 * time.Millisecond

// salvage empties the queue after Shutdown ran out of time: spans and
// entries go to the spool (or are counted as dropped), flush markers are
// answered. It returns true once the workers have exited, false when
// deadline fires first (a backend call that ignores ctx).
func (p *processor) salvage(deadline <-chan time.Time) bool {
	// What is kept goes to the spool in one write when salvage returns.
	var keep []*storage.AuditEntry
	defer func() { p.spill(keep) }()
	for {
		select {
		case <-p.done:
			return true
		case <-deadline:
			return false
		case it, ok := <-p.queue:
			if !ok {
				select {
				case <-p.done:
					return true
				case <-deadline:
					return false
				}
			}
			switch {
			case it.flush != nil:
				it.flush <- p.notDurable("force flush", errors.New("processor is shutting down"))
			case p.spool == nil:
				// Nowhere to keep it: count it without converting it or
				// reporting it alone; Shutdown's error gives the count.
				p.e.dropped.Add(1)
				p.settled.Add(1)
			case it.entry != nil:
				keep = append(keep, it.entry)
			default:
				if en, _ := p.e.entry(context.Background(), it.view(), false); en != nil {
					keep = append(keep, en)
				} else {
					p.settled.Add(1)
				}
			}
		}
	}
}

// job is a batch of entries for the writer, optionally followed by a
// ForceFlush marker to answer once the batch is written. A batch of one
// entry, the usual one while the writer keeps up, travels in one and needs
// no slice; a slice is made when a second entry joins it before the writer
// took it.
type job struct {
	one   *storage.AuditEntry // the batch while it has one entry (batch nil)
	batch []*storage.AuditEntry
	flush chan error
	// loan and loans are the loans the batch's entries were made in
	// (internal/lend): the one while there is one, all of them beyond.
	// handle ends them.
	loan  lend.Loan
	loans []lend.Loan
}

// size is the number of entries in j's batch.
func (j *job) size() int {
	if j.one != nil {
		return 1
	}
	return len(j.batch)
}

// add appends en to j's batch; a slice made for it has room for hint
// entries.
func (j *job) add(en *storage.AuditEntry, hint int) {
	switch {
	case j.one == nil && j.batch == nil:
		j.one = en
	case j.one != nil:
		j.batch = append(make([]*storage.AuditEntry, 0, max(hint, 2)), j.one, en)
		j.one = nil
	default:
		j.batch = append(j.batch, en)
	}
}

// lend adds ln (nil: none) to j's loans; a slice made for them has room
// for hint loans.
func (j *job) lend(ln lend.Loan, hint int) {
	switch {
	case ln == nil:
	case j.loan == nil && j.loans == nil:
		j.loan = ln
	case j.loan != nil:
		j.loans = append(make([]lend.Loan, 0, max(hint, 2)), j.loan, ln)
		j.loan = nil
	default:
		j.loans = append(j.loans, ln)
	}
}

// endLoans ends j's loans: nothing may use its entries afterwards.
func (j *job) endLoans() {
	if j.loan != nil {
		j.loan.End()
	}
	endLoans(j.loans)
}

// entries is j's batch as a slice: buf (of length 1, owned by the writer)
// holds a batch of one.
func (j *job) entries(buf []*storage.AuditEntry) []*storage.AuditEntry {
	if j.one != nil {
		buf[0] = j.one
		return buf[:1]
	}
	return j.batch
}

// convert is the first stage of the worker: it reads the queue until
// Shutdown closes it, turns spans into entries and hands batches to the
// writer, so that converting (hashing, encryption) and writing overlap.
// A batch goes out when it is full, when the writer is ready for it, or
// ahead of a flush marker. It closes jobs when the queue is closed.
func (p *processor) convert() {
	defer close(p.jobs)
	// A batch is sized for what is queued now, not for the largest batch:
	// the writer usually takes batches of a few entries, and allocating
	// batchSize slots for each was a large share of the pipeline's garbage.
	// append grows it when more arrives.
	hint := func() int { return min(p.cfg.batchSize, len(p.queue)+8) }
	// The span with its content, for the conversion: one per worker,
	// reused for every span (the entry keeps nothing of it).
	view := new(contentSpan)
	var cur job // the batch being made; never carries a flush marker
	for {
		var (
			it item
			ok bool
		)
		if cur.size() > 0 {
			// Hand the batch over when the writer can take it now
			// (the usual case), without a two-way select per span.
			select {
			case p.jobs <- cur:
				cur = job{}
			default:
			}
		}
		if cur.size() == 0 {
			it, ok = <-p.queue
		} else {
			// The writer is busy: convert what comes meanwhile.
			select {
			case it, ok = <-p.queue:
			case p.jobs <- cur:
				cur = job{}
				continue
			}
		}
		if !ok {
			if cur.size() > 0 {
				p.jobs <- cur
			}
			return
		}
		switch {
		case it.flush != nil:
			cur.flush = it.flush
			p.jobs <- cur
			cur = job{}
			continue
		case it.entry != nil:
			cur.add(it.entry, hint())
		default:
			p.warnContentOnSpan(it.span)
			// Lent: the entry stays in its job, which handle ends.
			en, ln := p.e.entry(p.ctx, view.wrap(it.span, it.slot), true)
			*view = contentSpan{} // hold no span or content until the next one
			if en != nil {
				cur.add(en, hint())
				cur.lend(ln, hint())
			} else {
				p.settled.Add(1)
			}
		}
		if cur.size() >= p.cfg.batchSize {
			p.jobs <- cur
			cur = job{}
		}
	}
}

// warnContentOnSpan reports once, through otel.Handle, a sampled GenAI
// span of another instrumentation (Google's ADK, a hand-made semconv span
// with gen_ai.input.messages, ...) that carries content on the span
// itself, when this processor was wired by hand (not by ProviderOptions
// or NewTracerProvider) and nothing in the process wraps an exporter with
// Redact: every other exporter of the provider then gets that content,
// and the processor cannot take it off the span. Only the attribute's key
// is named, never its value. It runs on the worker, and only until it
// has reported.
func (p *processor) warnContentOnSpan(s sdktrace.ReadOnlySpan) {
	if p.cfg.wiredForYou || p.warnedContent.Load() || redactInUse.Load() || !s.SpanContext().IsSampled() ||
		strings.HasPrefix(s.InstrumentationScope().Name, ownScopes) {
		return
	}
	key := string(contentKey(s.Attributes()))
	if key == "" {
		if ev, k := eventContentKey(s.Events()); k != "" {
			key = ev + " event: " + string(k)
		}
	}
	if key == "" || !p.warnedContent.CompareAndSwap(false, true) {
		return
	}
	otel.Handle(fmt.Errorf("exporter: GenAI span %q (instrumentation %q) carries content on the span itself (%s): "+
		"any other exporter of its TracerProvider receives it unless wrapped with exporter.Redact "+
		"(exporter.ProviderOptions and exporter.NewTracerProvider wrap every exporter they are given); reported once",
		s.Name(), s.InstrumentationScope().Name, key))
}

// ownScopes starts the instrumentation scopes of this module, whose spans
// hand their content over beside the span unless the user opted in to
// content on the span.
const ownScopes = "github.com/otelaudit/otelaudit-go/"

// writeLoop is the second stage: it writes batches with retries, answers
// flush markers and replays the spool when idle. After Shutdown ran out of
// time (p.ctx done) it spills what it gets to the spool, or counts it as
// dropped, until convert closes jobs.
func (p *processor) writeLoop() {
	one := make([]*storage.AuditEntry, 1) // a batch of one, see job
	if p.spool == nil {
		// Nothing to replay: jobs is all there is to wait for.
		for j := range p.jobs {
			p.handle(j, one)
		}
		return
	}
	if p.spool.Pending() > 0 {
		p.signalSpool() // segments left by an earlier run
	}
	for {
		select {
		case j, ok := <-p.jobs:
			if !ok {
				if p.ctx.Err() == nil {
					_ = p.replay(true)
				}
				return
			}
			p.handle(j, one)
		case <-p.spoolSignal:
			if len(p.queue) > 0 || len(p.jobs) > 0 {
				// Older entries are queued: they go first; the next
				// job brings us back here.
				p.signalSpool()
				select {
				case j, ok := <-p.jobs:
					if !ok {
						if p.ctx.Err() == nil {
							_ = p.replay(true)
						}
						return
					}
					p.handle(j, one)
				case <-p.ctx.Done():
				}
				continue
			}
			if p.ctx.Err() == nil && p.replay(false) == nil && p.spool.Pending() > 0 {
				p.signalSpool() // more segments wait
			}
		}
	}
}

// handle writes one job's batch and answers its flush marker. one is the
// writer's slice for a batch of one entry; handle leaves it empty (the
// backend and the spool keep no slice they are given).
func (p *processor) handle(j job, one []*storage.AuditEntry) {
	batch := j.entries(one)
	defer func() { one[0] = nil }()
	// Written, spooled or dropped: no one uses the entries once handle
	// returns.
	defer j.endLoans()
	if p.ctx.Err() != nil {
		p.spill(batch)
		if j.flush != nil {
			j.flush <- p.notDurable("force flush", errors.New("processor is shutting down"))
		}
		return
	}
	if rest := p.write(batch); len(rest) > 0 {
		p.spill(rest) // Shutdown ran out of time mid-write
	}
	if j.flush != nil {
		j.flush <- p.flushAll()
	}
}

// write writes batch with retries and returns what is left: an empty batch
// normally, the unwritten entries when Shutdown ran out of time.
func (p *processor) write(batch []*storage.AuditEntry) []*storage.AuditEntry {
	if len(batch) == 0 {
		return batch
	}
	rest, err := p.e.writeDurable(p.ctx, batch, false)
	p.settled.Add(int64(len(batch) - len(rest)))
	if err != nil {
		// Only a cancelled p.ctx stops writeDurable; the caller spills
		// the rest.
		return append(batch[:0:0], rest...)
	}
	return batch[:0]
}

// replay writes spooled segments to the backend, oldest first: one
// segment, or all of them with all set. It stops when p.ctx ends (the
// segment stays on disk and is replayed, without duplicates, later).
func (p *processor) replay(all bool) error {
	if p.spool == nil {
		return nil
	}
	for p.ctx.Err() == nil {
		name, err := p.spool.next()
		if err != nil {
			otel.Handle(err)
			return err
		}
		if name == "" {
			return nil
		}
		es, bad, err := p.spool.read(name)
		if err != nil {
			otel.Handle(err)
			return err
		}
		if bad > 0 {
			p.e.invalid.Add(int64(bad))
			otel.Handle(fmt.Errorf("exporter: spool segment %s: skipped %d lines that do not parse (torn write?)", name, bad))
		}
		for i := 0; i < len(es); i += p.cfg.batchSize {
			chunk := es[i:min(i+p.cfg.batchSize, len(es))]
			// Dedupe: a replay interrupted by a crash or a timed-out
			// Shutdown may have written part of the segment already.
			if _, err := p.e.writeDurable(p.ctx, chunk, true); err != nil {
				return err
			}
		}
		if err := p.spool.done(name, len(es)+bad); err != nil {
			otel.Handle(fmt.Errorf("exporter: remove replayed spool segment: %w", err))
		}
		p.e.replayed.Add(int64(len(es)))
		p.settled.Add(int64(len(es)))
		if !all {
			return nil
		}
	}
	return p.ctx.Err()
}

// flushAll answers a ForceFlush marker: everything queued before it is
// written (the caller wrote the batch), so replay the spool and flush the
// backend.
func (p *processor) flushAll() error {
	if err := p.replay(true); err != nil {
		return p.notDurable("force flush", err)
	}
	if err := p.ctx.Err(); err != nil {
		return p.notDurable("force flush", err)
	}
	if err := p.e.flushBackend(p.ctx); err != nil {
		return fmt.Errorf("exporter: force flush: backend flush: %w", err)
	}
	return nil
}

func (p *processor) spill(es []*storage.AuditEntry) {
	if len(es) == 0 {
		return
	}
	if p.spool != nil {
		if err := p.spool.append(es); err == nil {
			p.e.spooled.Add(int64(len(es)))
			return
		} else {
			otel.Handle(fmt.Errorf("exporter: spool at shutdown: %w", err))
		}
	}
	p.e.dropped.Add(int64(len(es)))
	p.settled.Add(int64(len(es)))
	otel.Handle(fmt.Errorf("exporter: %d audit entries lost: shutdown ran out of time before the backend took them", len(es)))
}

type noopProcessor struct{}

func (noopProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (noopProcessor) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (noopProcessor) Shutdown(context.Context) error                  { return nil }
func (noopProcessor) ForceFlush(context.Context) error                { return nil }
