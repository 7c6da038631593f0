package otelauditexporter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelaudit/otelaudit-go/collector/otelauditexporter/internal/metadata"
	auditexporter "github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/genaijoin"
	"github.com/otelaudit/otelaudit-go/internal/s3client"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// auditExporter writes the GenAI spans of OTLP traces through an
// exporter.Exporter, the SDK exporter's own write path (conversion, entry
// step, counters, retries with dedupe). When the component is also in a
// logs pipeline, spans without content meet their GenAI log events in a
// join first. The traces and logs exporters of one component share it:
// the store is opened by the first start and closed by the last shutdown.
type auditExporter struct {
	cfg     *Config
	set     exporter.Settings
	logs    atomic.Bool // a logs exporter was created: join spans and events
	release func()      // forgets the shared instance after the last shutdown

	mu    sync.Mutex
	users int
	exp   *auditexporter.Exporter // nil until started
	join  *genaijoin.Joiner       // nil without a logs pipeline
	// dedupeUntil (Unix ns): with a persistent queue, batches written
	// before then are checked against the store first (see
	// [ReplayDedupeWindow]). Atomic: the join's writes read it while
	// shutdown holds mu.
	dedupeUntil atomic.Int64
	ring        *otelaudit.KeyRing // content: encrypt; closed at shutdown

	// unflushed holds the spans (trace id, span id, start) whose entries
	// the store accepted while its flush failed: the store keeps them and
	// uploads them with a later flush, so the retry of their push must
	// not write them again, only flush. Cleared by a flush that succeeds.
	unflushedMu sync.Mutex
	unflushed   map[spanKey]struct{}

	// recent: the last spans written, by entry id (see [RecentSpans]).
	recent *recentSpans
}

func newAuditExporter(cfg *Config, set exporter.Settings) *auditExporter {
	return &auditExporter{cfg: cfg, set: set, recent: newRecentSpans(RecentSpans)}
}

// start opens the store and loads the keys (once for both signals); every
// failure is an error that stops the Collector from starting.
func (a *auditExporter) start(ctx context.Context, _ component.Host) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.exp != nil {
		a.users++
		return nil
	}
	e, err := a.open(ctx)
	if err != nil {
		return err
	}
	a.exp, a.users = e, 1
	if q := a.cfg.QueueConfig.Get(); q != nil && q.StorageID != nil {
		a.dedupeUntil.Store(time.Now().Add(ReplayDedupeWindow).UnixNano())
	}
	if a.logs.Load() {
		a.join = genaijoin.New(a.cfg.JoinWait, a.cfg.JoinMaxBytes, a.cfg.TimeoutConfig.Timeout, func(ctx context.Context, vs []auditexporter.SpanView) error {
			return a.writeDurable(ctx, e, vs)
		})
		if err := a.joinMetrics(a.join); err != nil {
			a.set.Logger.Warn("otelaudit exporter: join metrics not registered", zap.Error(err))
		}
	}
	return nil
}

// joinMetrics reports the join's counters as
// otelaudit.collector.join.calls{outcome=joined|span_only|events_only|over_cap|events_after_span}
// through the Collector's meter provider.
func (a *auditExporter) joinMetrics(j *genaijoin.Joiner) error {
	m := a.set.MeterProvider.Meter(metadata.ScopeName)
	_, err := m.Int64ObservableCounter("otelaudit.collector.join.calls",
		metric.WithDescription("GenAI calls written by the join of spans and log events, by outcome; over_cap counts calls written before their window ended because the join was over join_max_bytes; events_after_span counts calls whose span was written with its content and whose events, coming after it with that content, were not written again"),
		metric.WithUnit("{call}"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			st := j.Stats()
			o.Observe(st.Joined, metric.WithAttributes(attribute.String("outcome", "joined")))
			o.Observe(st.SpansWithoutEvents, metric.WithAttributes(attribute.String("outcome", "span_only")))
			o.Observe(st.EventsWithoutSpan, metric.WithAttributes(attribute.String("outcome", "events_only")))
			o.Observe(st.OverCap, metric.WithAttributes(attribute.String("outcome", "over_cap")))
			o.Observe(st.EventsAfterSpan, metric.WithAttributes(attribute.String("outcome", "events_after_span")))
			return nil
		}))
	return err
}

func (a *auditExporter) open(ctx context.Context) (_ *auditexporter.Exporter, err error) {
	defer func() {
		if err != nil && a.ring != nil {
			_ = a.ring.Close()
			a.ring = nil
		}
	}()
	var lopts []otelaudit.Option
	switch a.cfg.Content {
	case ContentEncrypt:
		r, err := keyRing(ctx, a.cfg)
		if err != nil {
			return nil, err
		}
		a.ring = r
		lopts = append(lopts, otelaudit.WithCipher(r))
	case ContentPlaintext:
		lopts = append(lopts, otelaudit.WithStoreContent(true))
	}
	if a.cfg.HashKeyFile != "" {
		id, key, err := readKeyFile(ctx, a.cfg.HashKeyFile, "hash_key_file")
		if err != nil {
			return nil, err
		}
		lopts = append(lopts, otelaudit.WithHashKey(id, key))
	}
	b, err := a.openStore(ctx)
	if err != nil {
		return nil, err
	}
	l, err := otelaudit.NewLogger(b, lopts...)
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("otelaudit exporter: %w", err)
	}
	e, err := auditexporter.New(l,
		auditexporter.WithCloseBackend(true),
		auditexporter.WithMeterProvider(a.set.MeterProvider))
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("otelaudit exporter: %w", err)
	}
	return e, nil
}

func (a *auditExporter) openStore(ctx context.Context) (storage.Backend, error) {
	var ckptID string
	var ckptKey []byte
	if a.cfg.CheckpointKeyFile != "" {
		var err error
		if ckptID, ckptKey, err = readKeyFile(ctx, a.cfg.CheckpointKeyFile, "checkpoint_key_file"); err != nil {
			return nil, err
		}
	}
	if a.cfg.Directory != "" {
		var fopts []filestore.Option
		if ckptKey != nil {
			fopts = append(fopts, filestore.WithCheckpointKey(ckptID, ckptKey))
		}
		st, err := filestore.New(a.cfg.Directory, fopts...)
		if err != nil {
			return nil, fmt.Errorf("otelaudit exporter: open file store %s: %w", a.cfg.Directory, err)
		}
		return st, nil
	}
	s3c := a.cfg.S3
	client, err := s3client.New(ctx, s3c.Region, s3c.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("otelaudit exporter: %w", err)
	}
	var sopts []s3store.Option
	if s3c.Prefix != "" {
		sopts = append(sopts, s3store.WithPrefix(s3c.Prefix))
	}
	if ckptKey != nil {
		sopts = append(sopts, s3store.WithCheckpointKey(ckptID, ckptKey))
	}
	st, err := s3store.New(ctx, client, s3c.Bucket, sopts...)
	if err != nil {
		return nil, fmt.Errorf("otelaudit exporter: open S3 store s3://%s: %w", s3c.Bucket, err)
	}
	return st, nil
}

// pushTraces writes the GenAI spans of td; other spans are skipped by a
// cheap key check. With a logs pipeline, spans without content wait in the
// join for their events, and pushTraces returns when their entries are
// written. The error is the Exporter's (retried by exporterhelper's
// retry_on_failure).
func (a *auditExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	exp, join := a.started()
	if exp == nil {
		return errNotStarted
	}
	views := spanViews(td)
	if join == nil {
		vs := make([]auditexporter.SpanView, len(views))
		for i, v := range views {
			vs[i] = v
		}
		return a.writeDurable(ctx, exp, vs)
	}
	direct, held := join.Split(views)
	err := a.writeDurable(ctx, exp, direct)
	return errors.Join(err, genaijoin.Wait(ctx, join.AddSpans(held)))
}

// writeDurable writes views and returns once their entries are durable in
// the store: the S3 store accepts entries into memory and uploads them in
// batches, so without the flush a push would be acknowledged (and dropped
// from a persistent queue) before its entries were in the bucket, and a
// crash would lose them. The file store is durable at WriteBatch already.
//
// A push whose flush failed is retried (retry_on_failure) with the same
// spans: those the store accepted then are not written again (the store
// holds them until a flush uploads them), or an outage of the bucket
// would store each of them once per retry.
func (a *auditExporter) writeDurable(ctx context.Context, exp *auditexporter.Exporter, views []auditexporter.SpanView) error {
	if len(views) == 0 {
		return nil
	}
	views = a.notAccepted(views)
	views, ids, again, claimed := a.recent.sort(views)
	if again > 0 {
		a.set.Logger.Info("otelaudit exporter: GenAI spans delivered again were not written again: their entries are stored",
			zap.Int("spans", again))
	}
	if claimed > 0 {
		a.set.Logger.Warn("otelaudit exporter: GenAI spans named in audit.entry_id the entry of another span; written under their own span's entry id, the claimed id kept in metadata claimed_entry_id",
			zap.Int("spans", claimed))
	}
	// Even with nothing left to write, the flush below runs: spans
	// delivered again may be those of a push whose flush failed.
	if err := exp.ExportViews(ctx, views, a.replaying()); err != nil {
		// Some may be stored: a retry looks them up (the exporter's
		// retries check the store first); none is remembered as written.
		a.recent.release(ids)
		return err
	}
	// Accepted: the store holds them now, and uploads them with a flush
	// if this one fails.
	a.recent.written(ids)
	if err := exp.ForceFlush(ctx); err != nil {
		a.unflushedMu.Lock()
		if a.unflushed == nil {
			a.unflushed = make(map[spanKey]struct{})
		}
		for _, v := range views {
			a.unflushed[keyOfView(v)] = struct{}{}
		}
		a.unflushedMu.Unlock()
		return err
	}
	// Every entry accepted before this flush is durable now.
	a.unflushedMu.Lock()
	a.unflushed = nil
	a.unflushedMu.Unlock()
	return nil
}

// spanKey identifies a span's entry: trace id, span id and start time (a
// call made from its events alone starts at its first event, so it is
// told from its span's entry).
type spanKey struct {
	ids   [24]byte
	start int64
}

func keyOfView(v auditexporter.SpanView) spanKey {
	var k spanKey
	sc := v.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	copy(k.ids[:16], tid[:])
	copy(k.ids[16:], sid[:])
	k.start = v.StartTime().UnixNano()
	return k
}

// notAccepted returns the views whose entries the store has not accepted
// yet (see unflushed); views itself when there are none such.
func (a *auditExporter) notAccepted(views []auditexporter.SpanView) []auditexporter.SpanView {
	a.unflushedMu.Lock()
	defer a.unflushedMu.Unlock()
	if len(a.unflushed) == 0 {
		return views
	}
	out := make([]auditexporter.SpanView, 0, len(views))
	for _, v := range views {
		if _, ok := a.unflushed[keyOfView(v)]; !ok {
			out = append(out, v)
		}
	}
	return out
}

// pushLogs hands the GenAI events of ld to the join and returns when the
// entries of their calls are written. Other log records are ignored.
func (a *auditExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	_, join := a.started()
	if join == nil {
		return errNotStarted
	}
	evs := events(ld)
	if n := withoutIDs(evs); n > 0 {
		// The join cannot place them: say so (the count, never the
		// content) rather than drop them unseen.
		a.set.Logger.Warn("otelaudit exporter: GenAI content events without a trace and span id are not audited (emitted outside a span)",
			zap.Int("events", n))
	}
	return genaijoin.Wait(ctx, join.AddEvents(evs))
}

// withoutIDs counts the events of evs that have no valid trace or span id.
func withoutIDs(evs []genaijoin.Event) int {
	n := 0
	for _, ev := range evs {
		if !ev.HasSpan() {
			n++
		}
	}
	return n
}

// ReplayDedupeWindow is how long after start the exporter, when its
// sending queue is persistent, looks every entry up in the store before
// writing it: 1 minute. After a crash the persistent queue delivers again
// the batches that were being written when the process died; they are at
// the front of the queue, so they come in this window and are not written
// twice. The lookups cost one store read per entry, so they are limited
// to the window.
const ReplayDedupeWindow = time.Minute

// replaying reports whether writes are still in the replay window.
func (a *auditExporter) replaying() bool {
	return time.Now().UnixNano() < a.dedupeUntil.Load()
}

var errNotStarted = errors.New("otelaudit exporter: not started")

func (a *auditExporter) started() (*auditexporter.Exporter, *genaijoin.Joiner) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.exp, a.join
}

// shutdown writes what the join holds, then flushes and closes the store,
// at the last shutdown of the component's exporters.
func (a *auditExporter) shutdown(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.exp == nil {
		return nil
	}
	if a.users--; a.users > 0 {
		return nil
	}
	if a.join != nil {
		a.join.Close()
		a.join = nil
	}
	err := a.exp.Shutdown(ctx)
	a.exp = nil
	if a.ring != nil {
		err = errors.Join(err, a.ring.Close())
		a.ring = nil
	}
	if a.release != nil {
		a.release()
	}
	return err
}

// keyRing loads the key ring of content: encrypt from key_file (which
// must not be readable by group or others) or key_env; it reloads its
// source, so keys rotate without a restart. Errors never hold a key.
func keyRing(ctx context.Context, c *Config) (*otelaudit.KeyRing, error) {
	var src otelaudit.KeySource = otelaudit.KeyEnv{Name: c.KeyEnv}
	setting := "key_env " + c.KeyEnv
	if c.KeyFile != "" {
		src, setting = otelaudit.KeyFile{Path: c.KeyFile}, "key_file"
	}
	r, err := otelaudit.NewKeyRing(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("otelaudit exporter: %s: %w", setting, err)
	}
	return r, nil
}

// readKeyFile reads the first key of the ID:HEX key file at path (HEX
// alone is key id "local") through otelaudit.KeyFile.NamedKeys, so hash
// and checkpoint key files get the parser and the permission check of
// every key file: one that group or others can access is refused. Errors
// name the setting and the file, never the key.
func readKeyFile(ctx context.Context, path, setting string) (id string, key []byte, err error) {
	keys, err := otelaudit.KeyFile{Path: path}.NamedKeys(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("otelaudit exporter: %s: %w", setting, err)
	}
	return keys[0].ID, keys[0].Key, nil
}
