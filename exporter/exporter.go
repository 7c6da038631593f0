package exporter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/internal/entryid"
	"github.com/otelaudit/otelaudit-go/internal/lend"
	"github.com/otelaudit/otelaudit-go/internal/logentry"
	"github.com/otelaudit/otelaudit-go/internal/reportlimit"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// Defaults of the retry policy, see [WithRetryBackoff].
const (
	// DefaultRetryInitial is the wait (10 ms) before the first retry of a
	// failed backend write; it doubles per attempt.
	DefaultRetryInitial = 10 * time.Millisecond
	// DefaultRetryMax caps the wait between retries (1 s).
	DefaultRetryMax = time.Second
)

// Option configures an [Exporter].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	mp           metric.MeterProvider
	retryInitial time.Duration
	retryMax     time.Duration
	closeBackend bool
	// valueLimit is the span attribute value length limit the
	// environment sets (-1: none), see [MetadataContentTruncated].
	valueLimit int
}

// WithMeterProvider makes the exporter (and its processor) report pipeline
// health and the GenAI client metrics through mp instead of the global
// MeterProvider (otel.GetMeterProvider()). nil is ignored.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if mp != nil {
			c.mp = mp
		}
	})
}

// WithRetryBackoff sets the exponential backoff between retries of a failed
// backend write: initial before the first retry, doubling up to max.
// Defaults: [DefaultRetryInitial], [DefaultRetryMax]. Values <= 0 keep the
// default; max below initial is raised to initial.
func WithRetryBackoff(initial, max time.Duration) Option {
	return optionFunc(func(c *config) {
		if initial > 0 {
			c.retryInitial = initial
		}
		if max > 0 {
			c.retryMax = max
		}
	})
}

// WithCloseBackend makes [Exporter.Shutdown] close the Logger's backend
// after flushing it. By default the backend is flushed but left open: the
// Logger does not own it, and the caller may still read from it.
func WithCloseBackend(close bool) Option {
	return optionFunc(func(c *config) { c.closeBackend = close })
}

// Exporter turns finished GenAI spans into audit entries and stores them
// through a [otelaudit.Logger]: the same [otelaudit.Logger.Entry] step as
// Logger.Log (hash, keyed hash or encryption per the Logger's options), with
// the entry's trace_id and span_id set to the span's. Spans that are not
// GenAI spans (see [IsGenAI]) are ignored. See [ContentText] for what
// counts as a span's input and output content and [EntryIDForSpan] for ids.
//
// Give it to [NewProcessor] (as [ProviderOptions] and [NewTracerProvider]
// do): only that processor receives the content otelaudit.StartCall,
// StartTool, StartAgent and the middleware hand over beside their spans
// (their spans carry none), and only it never drops a span. *Exporter
// also implements sdktrace.SpanExporter, for spans of other
// instrumentations, whose content is on the span; behind another span
// processor (sdktrace.WithBatcher, WithSyncer) the entry of one of this
// module's spans is written without its content, marked
// [MetadataContentUnavailable] and counted in [Stats].ContentUnavailable,
// and the SDK's BatchSpanProcessor drops spans when its queue is full.
// ExportSpans retries failed writes until its ctx ends; retries never
// duplicate an entry (see [Exporter.ExportSpans]).
//
// An Exporter is safe for concurrent use. Its counters ([Exporter.Stats])
// cover every path that writes through it.
type Exporter struct {
	logger  *otelaudit.Logger
	backend storage.Backend
	cfg     config
	inst    *instruments

	stopped  atomic.Bool
	stopOnce sync.Once
	stopErr  error

	written, failed, retried, spooled, dropped, invalid, replayed, layered atomic.Int64
	contentUnavailable, contentTruncated                                   atomic.Int64
	eventsStored                                                           atomic.Int64
	// warnedUnavailable and warnedTruncated: the first entry of each
	// kind was reported (see noteIncomplete).
	warnedUnavailable, warnedTruncated atomic.Bool
	// failing is set while backend writes fail, so that an outage is
	// reported to otel.Handle once.
	failing atomic.Bool
	// outsideReports keeps a failure that is not the span's own (an
	// encryption key gone, say), and so fails every span, to one report
	// a minute.
	outsideReports reportlimit.Limiter
	// queueDepth reports the processor's queue depth to the gauge; set
	// once by NewProcessor.
	queueDepth atomic.Pointer[func() int64]
}

var _ sdktrace.SpanExporter = (*Exporter)(nil)

// ErrShutdown is matched (errors.Is) by the errors of an [Exporter] or
// processor used after Shutdown.
var ErrShutdown = errors.New("exporter: already shut down")

// New returns an Exporter writing through l. A nil l is an error.
func New(l *otelaudit.Logger, opts ...Option) (*Exporter, error) {
	if l == nil {
		return nil, errors.New("exporter: New needs an *otelaudit.Logger, got nil")
	}
	c := config{retryInitial: DefaultRetryInitial, retryMax: DefaultRetryMax, valueLimit: spanValueLengthLimit()}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.retryMax < c.retryInitial {
		c.retryMax = c.retryInitial
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	e := &Exporter{logger: l, backend: l.Backend(), cfg: c}
	inst, err := newInstruments(c.mp, e)
	if err != nil {
		return nil, err
	}
	e.inst = inst
	return e, nil
}

// Stats are the counters of an [Exporter] and its processor since New, in
// entries. They are also reported as OTel metrics (see [NewProcessor]).
type Stats struct {
	// Written entries are stored in the backend (confirmed by a
	// successful write, or found there when a failed write is retried).
	Written int64
	// Failed counts entries in backend writes that returned an error (each
	// failed attempt counts its entries once).
	Failed int64
	// Retried counts entries written again after a failed attempt.
	Retried int64
	// Spooled counts entries written to the processor's local spool
	// because its queue was full (or at a Shutdown that ran out of time).
	Spooled int64
	// Replayed counts spooled entries later written to the backend.
	Replayed int64
	// Dropped counts accepted entries that were lost: ended after
	// Shutdown, or still unwritten when Shutdown gave up without a spool.
	// It is 0 in normal operation. Of the spans ended after Shutdown only
	// the first is reported to otel.Handle: this is their count.
	Dropped int64
	// Invalid counts GenAI spans that could not become an entry. Each is
	// reported to otel.Handle by its span's ids when its own data is
	// refused (matching storage.ErrInvalidEntry), so that the span can be
	// found; a failure from outside the span (the Logger's cipher, say),
	// which fails every span alike, is reported at once and then at most
	// once a minute with how many were held back: this is their count.
	Invalid int64
	// Layered counts GenAI spans not audited because another span of the
	// same call (its GenAI parent or child, see [AuditSameCallKey]) was.
	Layered int64
	// ContentUnavailable counts entries made without their content because
	// it was never captured (see [MetadataContentUnavailable]): the
	// Exporter runs behind another span processor than [NewProcessor]. It
	// is 0 when the exporter is wired with NewProcessor, ProviderOptions or
	// NewTracerProvider.
	ContentUnavailable int64
	// ContentTruncated counts entries made from a span whose content the
	// span attribute value length limit most likely cut (see
	// [MetadataContentTruncated]).
	ContentTruncated int64
	// EventsStored counts entries made of a call's events alone (the
	// Collector's join, without the span) that a look-up before a write
	// (a retry, or a replay after a crash) found stored already as part
	// of their span's entry: same trace and span id, same content hashes.
	// They are not written again; they count in Written too.
	EventsStored int64
}

// Stats returns the counters. Safe to call at any time, also after
// Shutdown.
func (e *Exporter) Stats() Stats {
	return Stats{
		Written:  e.written.Load(),
		Failed:   e.failed.Load(),
		Retried:  e.retried.Load(),
		Spooled:  e.spooled.Load(),
		Replayed: e.replayed.Load(),
		Dropped:  e.dropped.Load(),
		Invalid:  e.invalid.Load(),
		Layered:  e.layered.Load(),

		ContentUnavailable: e.contentUnavailable.Load(),
		ContentTruncated:   e.contentTruncated.Load(),
		EventsStored:       e.eventsStored.Load(),
	}
}

// Logger returns the Logger the exporter writes through.
func (e *Exporter) Logger() *otelaudit.Logger { return e.logger }

// entries converts the GenAI spans among spans into entries, made in
// loans where the backend borrows entries: end them once the entries are
// written or given up. Spans that cannot be converted are counted as
// invalid and reported. It is generic so that SDK spans and other
// [SpanView]s share it without a copy of the slice.
func entries[S SpanView](ctx context.Context, e *Exporter, spans []S) ([]*storage.AuditEntry, []lend.Loan) {
	out := make([]*storage.AuditEntry, 0, len(spans))
	var loans []lend.Loan
	for _, s := range spans {
		if any(s) == nil || !IsGenAI(s.Attributes()) {
			continue
		}
		if en, ln := e.entry(ctx, s, true); en != nil {
			out = append(out, en)
			if ln != nil {
				loans = append(loans, ln)
			}
		}
	}
	return out, loans
}

// loggerEntry is l.Entry(in), whose validation leaves in's metadata out
// when interactionFromSpan checked it as it made it (mdChecked), and which
// is made in a loan when borrow is set and the backend borrows entries
// (see internal/logentry).
var loggerEntry = logentry.Entry.(func(l *otelaudit.Logger, in otelaudit.Interaction, mdChecked, borrow bool) (*storage.AuditEntry, lend.Loan, error))

// entry converts one GenAI span and records its GenAI client metrics.
// With borrow the entry may be made in a loan (returned; nil when not):
// set it only when the entry goes to e's backend and nowhere else, and
// end the loan once no write, retry or spool can use the entry any more.
func (e *Exporter) entry(ctx context.Context, s SpanView, borrow bool) (*storage.AuditEntry, lend.Loan) {
	var (
		ml *mdLoan
		md map[string]any
	)
	if borrow {
		ml = getMDLoan()
		md = ml.md
	}
	in, mdChecked, unavailable := interactionFromSpan(s, md)
	cutKey, cut := e.checkCut(s, &in)
	en, ln, err := loggerEntry(e.logger, in, mdChecked, borrow)
	if ml != nil {
		ln = ml.attach(ln, err == nil && len(md) > 0)
	}
	if err != nil {
		e.invalid.Add(1)
		e.reportInvalid(fmt.Errorf("exporter: span %s/%s cannot become an audit entry: %w", in.TraceID, in.SpanID, err))
		return nil, nil
	}
	if unavailable || cut {
		e.noteIncomplete(&in, unavailable, cutKey, cut)
	}
	e.inst.recordGenAI(ctx, s, &in)
	return en, ln
}

// reportInvalid reports err, about one span that cannot become an entry:
// every time when the span's own data is refused, rate-limited otherwise
// (see Stats.Invalid).
func (e *Exporter) reportInvalid(err error) {
	if errors.Is(err, storage.ErrInvalidEntry) {
		otel.Handle(err)
		return
	}
	e.outsideReports.Report(err)
}

// ExportSpans stores the GenAI spans among spans as audit entries, in one
// backend batch. A failed write is retried with backoff until it succeeds
// or ctx ends; before a retry, entries the failed attempt did store anyway
// (a backend may fail after writing part of a batch) are looked up by id
// and not written again, so retries never duplicate. It returns nil when
// every entry is stored, ctx's error (wrapped, with the count of unwritten
// entries) otherwise, and an error matching [ErrShutdown] after Shutdown.
// The SDK calls it from one goroutine at a time, but concurrent calls are
// safe.
func (e *Exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if e.stopped.Load() {
		return ErrShutdown
	}
	es, loans := entries(ctx, e, spans)
	return e.export(ctx, es, loans, false)
}

// ExportViews is [Exporter.ExportSpans] for spans from another source than
// the Go SDK (the Collector exporter passes OTLP spans): the same
// conversion ([InteractionFromSpan]), entry step, counters and retries.
// With dedupe set, entries the backend already holds (looked up by id, see
// [EntryIDForSpan]) are not written again even on the first attempt: use
// it when views may be delivered twice, as a persistent queue does after a
// crash. Nil views are skipped.
func (e *Exporter) ExportViews(ctx context.Context, views []SpanView, dedupe bool) error {
	if e.stopped.Load() {
		return ErrShutdown
	}
	es, loans := entries(ctx, e, views)
	return e.export(ctx, es, loans, dedupe)
}

// export writes es (see writeDurable), then ends their loans: whether
// written or not, nothing uses them afterwards.
func (e *Exporter) export(ctx context.Context, es []*storage.AuditEntry, loans []lend.Loan, dedupe bool) error {
	defer endLoans(loans)
	if len(es) == 0 {
		return nil
	}
	_, err := e.writeDurable(ctx, es, dedupe)
	return err
}

// writeDurable writes es to the backend, retrying with backoff until it
// succeeds or ctx ends; then it returns the entries not written and an
// error. With dedupe set, entries already in the backend are skipped before
// the first attempt too (spool replay).
func (e *Exporter) writeDurable(ctx context.Context, es []*storage.AuditEntry, dedupe bool) ([]*storage.AuditEntry, error) {
	backoff := e.cfg.retryInitial
	for attempt := 0; ; attempt++ {
		var err error
		if attempt > 0 || dedupe {
			var rest []*storage.AuditEntry
			if rest, err = e.missing(ctx, es); err == nil {
				e.written.Add(int64(len(es) - len(rest)))
				es = rest
				if len(es) == 0 {
					e.recovered()
					return nil, nil
				}
				if attempt > 0 {
					e.retried.Add(int64(len(es)))
				}
			}
		}
		if err == nil {
			if err = e.write(ctx, es); err == nil {
				e.recovered()
				return nil, nil
			}
			if errors.Is(err, storage.ErrInvalidEntry) {
				// One entry the backend refuses (longer than its line
				// limit, ...) fails the whole batch, at every attempt:
				// write the entries one by one and drop the refused ones,
				// counted and reported, so they hold back no other entry.
				if es, err = e.writeEach(ctx, es); err == nil {
					e.recovered()
					return nil, nil
				}
			}
		}
		// Report the start of an outage once, not every failed attempt.
		if e.failing.CompareAndSwap(false, true) {
			otel.Handle(fmt.Errorf("exporter: backend write of %d audit entries failed, retrying with backoff: %w", len(es), err))
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return es, fmt.Errorf("exporter: %d audit entries not written: %w", len(es), context.Cause(ctx))
		case <-t.C:
		}
		backoff = min(2*backoff, e.cfg.retryMax)
	}
}

// recovered notes a successful write; the next failure is reported again.
func (e *Exporter) recovered() {
	if e.failing.Load() {
		e.failing.Store(false)
	}
}

// write is one attempt: WriteBatch with counters and latency.
func (e *Exporter) write(ctx context.Context, es []*storage.AuditEntry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	err := e.backend.WriteBatch(ctx, es)
	e.inst.recordWrite(ctx, time.Since(start), err)
	if err != nil {
		e.failed.Add(int64(len(es)))
		return err
	}
	e.written.Add(int64(len(es)))
	return nil
}

// writeEach writes the entries of es one at a time, after their batch was
// refused as invalid. An entry the backend refuses as invalid is dropped,
// counted as invalid and reported by its span's ids (never its content);
// it returns the entries not written for another reason, with the last
// such error.
func (e *Exporter) writeEach(ctx context.Context, es []*storage.AuditEntry) ([]*storage.AuditEntry, error) {
	var rest []*storage.AuditEntry
	var last error
	for _, en := range es {
		err := e.write(ctx, []*storage.AuditEntry{en})
		switch {
		case err == nil:
		case errors.Is(err, storage.ErrInvalidEntry):
			e.invalid.Add(1)
			e.reportInvalid(fmt.Errorf("exporter: span %s/%s cannot become an audit entry, dropped: %w", en.TraceID, en.SpanID, err))
		default:
			rest, last = append(rest, en), err
		}
	}
	return rest, last
}

// missing returns the entries of es that the backend does not hold. Any
// read error other than not-found is returned: without knowing, writing
// again could duplicate. An entry made of a call's events alone that is
// not found by id may be stored already as part of its span's entry (see
// [Exporter.eventsStoredWithSpan]): such entries are not missing.
func (e *Exporter) missing(ctx context.Context, es []*storage.AuditEntry) ([]*storage.AuditEntry, error) {
	held := make([]bool, len(es))
	var eventsOnly []int // not found by id, made of a call's events alone
	for i, en := range es {
		_, err := e.backend.Read(ctx, en.ID)
		switch {
		case err == nil:
			held[i] = true
		case errors.Is(err, storage.ErrNotFound):
			if madeOfEvents(en) {
				eventsOnly = append(eventsOnly, i)
			}
		default:
			return nil, fmt.Errorf("look up entry %s before retry: %w", en.ID, err)
		}
	}
	if len(eventsOnly) > 0 {
		stored, err := e.eventsStoredWithSpan(ctx, es, eventsOnly)
		if err != nil {
			return nil, fmt.Errorf("look up %d entries of events before retry: %w", len(eventsOnly), err)
		}
		for _, i := range stored {
			held[i] = true
			e.eventsStored.Add(1)
		}
	}
	if !slices.Contains(held, true) {
		return es, nil
	}
	rest := make([]*storage.AuditEntry, 0, len(es))
	for i, en := range es {
		if !held[i] {
			rest = append(rest, en)
		}
	}
	return rest, nil
}

// eventsLookback is how long before the first event of a call the
// look-up of [Exporter.eventsStoredWithSpan] searches for the call's span
// entry (timestamped at the span's start): longer than a GenAI call
// lasts. A call that began earlier is not found and is written again.
const eventsLookback = 2 * time.Minute

// madeOfEvents reports whether en is an entry made of a call's events
// alone: its id is derived with the entryid.Events salt from its trace,
// span and time, as the Collector's join makes it.
func madeOfEvents(en *storage.AuditEntry) bool {
	tid, err := trace.TraceIDFromHex(en.TraceID)
	if err != nil {
		return false
	}
	sid, err := trace.SpanIDFromHex(en.SpanID)
	if err != nil {
		return false
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid})
	return en.ID == entryid.Derive(entryid.Events, sc, en.Timestamp)
}

// eventsStoredWithSpan returns which of es[idx] (entries made of a call's
// events alone, not found by id) have their content stored already in the
// entry of their span: the join wrote the span with these events, and the
// events were delivered again without it (a persistent queue replaying a
// logs push after a crash). The span's entry has an id derived from the
// span's start, which the events do not carry, so it is looked for by
// time: an entry of the eventsLookback before the event entry's time with
// its trace and span id and the same content hashes. Cost: one range read
// of the backend for the whole batch (file store: the index blocks of
// those minutes; S3: one list per day and a get per batch object
// overlapping them), only when the exporter looks entries up (retries,
// replay) and the batch has such entries.
func (e *Exporter) eventsStoredWithSpan(ctx context.Context, es []*storage.AuditEntry, idx []int) ([]int, error) {
	type key struct{ trace, span, in, out string }
	want := make(map[key][]int, len(idx))
	from, to := es[idx[0]].Timestamp, es[idx[0]].Timestamp
	for _, i := range idx {
		en := es[i]
		k := key{en.TraceID, en.SpanID, en.InputHash, en.OutputHash}
		want[k] = append(want[k], i)
		from, to = minTime(from, en.Timestamp), maxTime(to, en.Timestamp)
	}
	var stored []int
	for x, err := range e.backend.Entries(ctx, from.Add(-eventsLookback), to.Add(time.Second)) {
		if err != nil {
			return nil, err
		}
		k := key{x.TraceID, x.SpanID, x.InputHash, x.OutputHash}
		is := want[k]
		if len(is) == 0 {
			continue
		}
		left := is[:0]
		for _, i := range is {
			t := es[i].Timestamp
			if x.ID != es[i].ID && !x.Timestamp.Before(t.Add(-eventsLookback)) && x.Timestamp.Before(t.Add(time.Second)) {
				stored = append(stored, i)
			} else {
				left = append(left, i)
			}
		}
		if len(left) == 0 {
			delete(want, k)
		} else {
			want[k] = left
		}
		if len(want) == 0 {
			break
		}
	}
	return stored, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// flushBackend makes what the backend accepted durable, when it can say so.
func (e *Exporter) flushBackend(ctx context.Context) error {
	switch b := e.backend.(type) {
	case storage.Flusher:
		return b.Flush(ctx)
	case interface{ Flush() error }: // a user's backend without a ctx
		return b.Flush()
	}
	return nil
}

// ForceFlush flushes the backend (its Flush method, when it has one), so
// that every entry written so far is durable.
func (e *Exporter) ForceFlush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if e.stopped.Load() {
		return nil
	}
	return e.flushBackend(ctx)
}

// Shutdown flushes the backend and, with [WithCloseBackend], closes it. It
// runs once; later calls return the first result. Afterwards ExportSpans
// returns an error matching [ErrShutdown].
func (e *Exporter) Shutdown(ctx context.Context) error {
	e.stopOnce.Do(func() {
		e.stopped.Store(true)
		err := e.flushBackend(ctx)
		if e.cfg.closeBackend {
			err = errors.Join(err, e.backend.Close())
		}
		err = errors.Join(err, e.inst.close())
		if err != nil {
			e.stopErr = fmt.Errorf("exporter: shutdown: %w", err)
		}
	})
	return e.stopErr
}

// endLoans ends each of loans.
func endLoans(loans []lend.Loan) {
	for _, ln := range loans {
		ln.End()
	}
}
