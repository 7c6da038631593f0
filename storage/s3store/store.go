package s3store

import (
	"bytes"
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/otelaudit/otelaudit-go/internal/lend"
	"github.com/otelaudit/otelaudit-go/storage"
)

// Store is a [storage.Backend] on an S3 bucket. See the package doc for the
// object layout, when Write returns and what each method costs in requests.
//
// All methods are safe for concurrent use. After Close every method returns
// an error matching [storage.ErrClosed].
type Store struct {
	client *s3.Client
	bucket string
	cfg    config
	writer string // 16 hex digits naming this Store's batches
	spool  *spool // nil without WithSpoolDir

	// bgCtx bounds background uploads; cancelled when Close gives up.
	bgCtx    context.Context
	bgCancel context.CancelFunc
	wg       sync.WaitGroup

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	mu sync.Mutex
	// The fields below are protected by mu.
	cond        *sync.Cond          // signalled when queue grows or stopping is set
	cur         *batch              // open batch, nil when none
	seq         uint64              // last batch number used by this writer
	chain       storage.Chainer     // this writer's hash chain, advanced as entries are accepted
	queue       []*batch            // sealed, waiting for a worker
	outstanding map[*batch]struct{} // sealed and not yet delivered
	pending     int64               // encoded bytes accepted and not yet delivered
	pendingN    int                 // entries accepted and not yet delivered
	space       chan struct{}       // closed and replaced when pending shrinks
	failed      chan struct{}       // closed and replaced when a delivery fails permanently
	permErr     error               // last permanent delivery error; nil after a success
	stopping    bool

	// Digests (with a checkpoint key; see digest.go). dmu guards dg and
	// is never held together with mu.
	dmu        sync.Mutex
	dg         digestState
	digestNow  chan struct{} // asks digestLoop for a digest now
	digestStop chan struct{} // closed by Close
	digestDone chan struct{} // closed when digestLoop returns

	stats struct {
		accepted, uploaded, objects, retries, skipped atomic.Uint64
	}
}

var (
	_ storage.Backend       = (*Store)(nil)
	_ storage.Flusher       = (*Store)(nil)
	_ storage.StatsReporter = (*Store)(nil)
	_ lend.Borrower         = (*Store)(nil)
)

// New returns a Store that keeps its entries in bucket through client.
//
// It checks the bucket first (one HeadBucket request): a missing bucket is
// an error matching [ErrBucketNotFound], refused credentials one matching
// [ErrAccessDenied], and an unreachable server is an error too. With
// [WithSpoolDir] it then takes the spool directory and schedules the upload
// of whatever an earlier Store left there. A nil client or an empty bucket
// name is an error.
//
// Opened for writing without a checkpoint key, it lists prefix/_digests/
// (one LIST, at most one key): if the prefix's writers sign digests, New
// fails with an error matching [ErrCheckpointKeyNeeded] and writes
// nothing. A signing Store and one opened [WithReadOnly] make no such
// request. A signing Store opened [WithSameCheckpointKey] lists
// prefix/_digests/ instead and fails with an error matching
// [ErrCheckpointKeyMismatch], writing nothing, when its key did not sign
// the newest digest.
func New(ctx context.Context, client *s3.Client, bucket string, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, errors.New("s3store: nil *s3.Client")
	}
	if bucket == "" {
		return nil, errors.New("s3store: empty bucket name")
	}
	cfg := newConfig(opts)
	if cfg.keyErr != nil {
		return nil, fmt.Errorf("s3store: %w", cfg.keyErr)
	}
	if cfg.lockErr != nil {
		return nil, cfg.lockErr
	}
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		if code := httpStatus(err); code == 404 || apiCode(err) == "NotFound" || apiCode(err) == "NoSuchBucket" {
			return nil, fmt.Errorf("s3store: check bucket %q: %w: %w", bucket, ErrBucketNotFound, err)
		}
		return nil, classify("check access", bucket, err)
	}
	if !cfg.readOnly && cfg.signer.IsZero() {
		if err := checkKeyGiven(ctx, client, bucket, cfg); err != nil {
			return nil, err
		}
	}
	var w [8]byte
	if _, err := crand.Read(w[:]); err != nil {
		return nil, fmt.Errorf("s3store: writer id: %w", err)
	}
	s := &Store{
		client:      client,
		bucket:      bucket,
		cfg:         cfg,
		writer:      hex.EncodeToString(w[:]),
		outstanding: make(map[*batch]struct{}),
		space:       make(chan struct{}),
		failed:      make(chan struct{}),
	}
	s.chain = storage.NewChainer(s.writer)
	s.cond = sync.NewCond(&s.mu)
	s.bgCtx, s.bgCancel = context.WithCancel(context.WithoutCancel(ctx))
	if !cfg.readOnly && cfg.sameKey && !cfg.signer.IsZero() {
		// Before the spool: a Store that refuses uploads nothing.
		if err := s.checkSameKey(ctx); err != nil {
			s.bgCancel()
			return nil, err
		}
	}
	if cfg.readOnly {
		// Nothing to upload: no spool, no workers, no digests (signing()
		// is false).
		return s, nil
	}
	if cfg.spoolDir != "" {
		sp, recovered, err := openSpool(cfg.spoolDir, cfg.logger)
		if err != nil {
			s.bgCancel()
			return nil, err
		}
		s.spool = sp
		for _, b := range recovered {
			s.outstanding[b] = struct{}{}
			s.queue = append(s.queue, b)
			s.pending += int64(b.size())
			s.pendingN += len(b.ids)
		}
		if len(recovered) > 0 {
			cfg.logger.Info("s3store: uploading spooled batches", "batches", len(recovered), "entries", s.pendingN, "bucket", bucket)
		}
	}
	for range cfg.uploadConcurrency {
		s.wg.Add(1)
		go s.worker()
	}
	s.dg.nextSeq = 1
	if s.signing() {
		s.digestNow = make(chan struct{}, 1)
		s.digestStop = make(chan struct{})
		s.digestDone = make(chan struct{})
		go s.digestLoop(s.digestStop)
	}
	return s, nil
}

// Bucket returns the bucket name given to New.
func (s *Store) Bucket() string { return s.bucket }

// Prefix returns the key prefix in use ("" or ending in "/").
func (s *Store) Prefix() string { return s.cfg.prefix }

// Stats returns the counters an S3 store keeps: Accepted, Uploaded,
// Pending, Objects, Retries and SkippedLines. It is safe to call at any
// time, including after Close.
func (s *Store) Stats() storage.Stats {
	s.mu.Lock()
	p := s.pendingN
	s.mu.Unlock()
	return storage.Stats{
		Accepted:     s.stats.accepted.Load(),
		Uploaded:     s.stats.uploaded.Load(),
		Objects:      s.stats.objects.Load(),
		Retries:      s.stats.retries.Load(),
		SkippedLines: s.stats.skipped.Load(),
		Pending:      p,
	}
}

// encoded is one validated entry in wire form: before it is accepted, the
// prefix the chain hash covers (no chain key, no closing brace); once
// accepted, the whole chained line (without '\n').
type encoded struct {
	id   string
	ts   time.Time
	line []byte
	// digest is storage.PrefixDigest of the prefix, computed by the
	// writing goroutine before it takes mu (see accept); unused once
	// accepted.
	digest [32]byte
}

func encode(e *storage.AuditEntry) (encoded, error) {
	if e == nil {
		return encoded{}, fmt.Errorf("%w: nil entry", storage.ErrInvalidEntry)
	}
	prefix, err := e.AppendPrefix(nil)
	if err == nil {
		// Writer ids are NewWriterID's 16 hex digits.
		err = storage.CheckLineSize(e.ID, len(prefix)+storage.MaxChainSuffix("0123456789abcdef"), storage.DefaultMaxLineSize)
	}
	if err != nil {
		return encoded{}, err
	}
	return encoded{id: e.ID, ts: e.Timestamp.UTC(), line: prefix, digest: storage.PrefixDigest(prefix)}, nil
}

// Write accepts e into the open batch. It returns once the entry is held
// in memory (and, with [WithSpoolDir], written to the spool file), not
// once it is uploaded: [Store.Flush] and [Store.Close] wait for uploads.
// An accepted entry is never dropped; the Store retries its upload until
// it is stored or Close gives up (see [ErrUndelivered]).
//
// Write fails without accepting e when e is invalid (errors match
// [storage.ErrInvalidEntry]), ctx is done, the Store is closed or opened
// [WithReadOnly] (errors match [ErrReadOnly]), the last upload failed with
// a permanent error (access denied, missing bucket; the error matches it),
// or the spool file cannot be written. When more than the pending limit
// ([WithMaxPendingBytes]) waits for upload, Write blocks until there is
// room or ctx ends.
func (s *Store) Write(ctx context.Context, e *storage.AuditEntry) error {
	if err := s.checkWrite(ctx); err != nil {
		return err
	}
	enc, err := encode(e)
	if err != nil {
		return fmt.Errorf("s3store: write: %w", err)
	}
	return s.accept(ctx, []encoded{enc})
}

// WriteBatch accepts every entry of es, as Write does. Entries are checked
// first: if any is invalid none is accepted. An empty es is a no-op.
func (s *Store) WriteBatch(ctx context.Context, es []*storage.AuditEntry) error {
	if err := s.checkWrite(ctx); err != nil {
		return err
	}
	if len(es) == 0 {
		return nil
	}
	encs := make([]encoded, len(es))
	for i, e := range es {
		enc, err := encode(e)
		if err != nil {
			return fmt.Errorf("s3store: write batch: entry %d: %w", i, err)
		}
		encs[i] = enc
	}
	return s.accept(ctx, encs)
}

func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return storage.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3store: %w", err)
	}
	return nil
}

// checkWrite is check for the methods that change the store: on a Store
// opened WithReadOnly they fail with ErrReadOnly.
func (s *Store) checkWrite(ctx context.Context) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if s.cfg.readOnly {
		return ErrReadOnly
	}
	return nil
}

// accept adds encs to the open batch, sealing it when full.
func (s *Store) accept(ctx context.Context, encs []encoded) error {
	suffix := storage.MaxChainSuffix(s.writer)
	size := 0
	for _, e := range encs {
		size += len(e.line) + suffix
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.pending > 0 && s.pending+int64(size) > s.cfg.maxPendingBytes {
		if s.permErr != nil {
			return fmt.Errorf("s3store: write not accepted: %w", s.permErr)
		}
		space := s.space
		s.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			s.mu.Lock()
			return fmt.Errorf("s3store: waiting for uploads to catch up: %w", ctx.Err())
		}
		s.mu.Lock()
	}
	if s.stopping || s.closed.Load() {
		return storage.ErrClosed
	}
	if s.permErr != nil {
		return fmt.Errorf("s3store: write not accepted: %w", s.permErr)
	}
	for len(encs) > 0 {
		if s.cur == nil {
			if err := s.openBatch(); err != nil {
				return err
			}
		}
		b := s.cur
		// Take as many as fit in this batch (counting the chain key at
		// its largest).
		n, bytes := 0, 0
		for n < len(encs) && len(b.ids)+n < s.cfg.maxBatchEntries &&
			(n == 0 || b.size()+bytes+len(encs[n].line)+suffix <= s.cfg.maxBatchBytes) {
			bytes += len(encs[n].line) + suffix
			n++
		}
		// Chain them on a tentative copy of the chain, kept only once the
		// batch (and its spool file) took them.
		ch := s.chain
		chained := make([]encoded, n)
		bytes = 0
		for i, e := range encs[:n] {
			line := ch.AppendLineDigest(make([]byte, 0, len(e.line)+suffix), e.line, &e.digest)
			chained[i] = encoded{id: e.id, ts: e.ts, line: line[:len(line)-1]}
			bytes += len(line)
		}
		if err := b.add(chained); err != nil {
			return fmt.Errorf("s3store: spool: %w", err)
		}
		s.chain = ch
		b.last = storage.Chain{Writer: ch.Writer(), Seq: ch.Seq(), Hash: ch.Head()}
		s.pending += int64(bytes)
		s.pendingN += n
		s.stats.accepted.Add(uint64(n))
		encs = encs[n:]
		if len(b.ids) >= s.cfg.maxBatchEntries || b.size() >= s.cfg.maxBatchBytes {
			s.sealLocked()
		}
	}
	return nil
}

// openBatch starts a new open batch. Caller holds mu.
func (s *Store) openBatch() error {
	s.seq++
	b := &batch{writer: s.writer, seq: s.seq, done: make(chan struct{})}
	if s.spool != nil {
		if err := s.spool.create(b); err != nil {
			s.seq--
			return fmt.Errorf("s3store: spool: %w", err)
		}
	}
	s.cur = b
	s.outstanding[b] = struct{}{}
	b.timer = time.AfterFunc(s.cfg.maxBatchDelay, func() {
		s.mu.Lock()
		if s.cur == b {
			s.sealLocked()
		}
		s.mu.Unlock()
	})
	return nil
}

// sealLocked closes the open batch and queues it for upload. Caller holds
// mu.
func (s *Store) sealLocked() {
	b := s.cur
	if b == nil {
		return
	}
	s.cur = nil
	b.timer.Stop()
	b.seal()
	s.queue = append(s.queue, b)
	s.cond.Signal()
}

func (s *Store) worker() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.stopping {
			s.cond.Wait()
		}
		if len(s.queue) == 0 {
			s.mu.Unlock()
			return
		}
		b := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		s.deliverLoop(b)
	}
}

// deliverLoop uploads b, retrying with capped exponential backoff and
// jitter until it is stored or the Store gives up at Close.
func (s *Store) deliverLoop(b *batch) {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := s.deliver(s.bgCtx, b)
		if err == nil {
			s.finish(b)
			return
		}
		if s.bgCtx.Err() != nil {
			return // Close gave up; the batch stays outstanding (and spooled).
		}
		s.stats.retries.Add(1)
		perm := isPermanent(err)
		s.mu.Lock()
		b.lastErr = err
		if perm {
			s.permErr = err
			close(s.failed)
			s.failed = make(chan struct{})
		}
		s.mu.Unlock()
		if attempt == 1 || attempt%20 == 0 {
			s.cfg.logger.Warn("s3store: upload failed, will retry", "bucket", s.bucket, "batch", b.base(), "entries", len(b.ids), "attempt", attempt, "error", err)
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-time.After(wait):
		case <-s.bgCtx.Done():
			return
		}
		backoff = min(backoff*2, s.cfg.maxRetryBackoff)
		if perm {
			backoff = s.cfg.maxRetryBackoff
		}
	}
}

// finish records b as delivered.
func (s *Store) finish(b *batch) {
	if s.spool != nil {
		if err := s.spool.remove(b); err != nil {
			// The objects are stored; a leftover spool file is uploaded
			// again by a later Store and finds them there (no duplicate).
			s.cfg.logger.Warn("s3store: cannot remove delivered spool file", "error", err)
		}
	}
	s.stats.uploaded.Add(uint64(len(b.ids)))
	s.mu.Lock()
	delete(s.outstanding, b)
	s.pending -= int64(b.size())
	s.pendingN -= len(b.ids)
	s.permErr = nil
	close(s.space)
	s.space = make(chan struct{})
	s.mu.Unlock()
	close(b.done)
}

// deliver stores every object of b that is not stored yet: the id
// markers and then the batch objects (one per partition), each with
// If-None-Match: * so that a retry of a request that did land, or a
// spooled batch uploaded again, finds its object there instead of writing
// it twice.
//
// A signing Store writes its "open" digest before its first object and
// records each batch object it stores for the next digest.
func (s *Store) deliver(ctx context.Context, b *batch) error {
	if err := s.ensureOpen(ctx); err != nil {
		return err
	}
	for _, o := range b.objects(s.signing()) {
		if o.stored {
			continue
		}
		err := s.putNew(ctx, s.cfg.prefix+o.rel, o.body, !o.marker)
		if err != nil {
			return err
		}
		o.stored = true
		if !o.marker {
			s.stats.objects.Add(1)
			s.stored(o)
		}
	}
	s.delivered(b)
	return nil
}

// putNew stores body under key unless an object is already there. An
// existing object counts as success: keys are never reused for different
// content (see the package doc).
//
// With lock (batch and digest objects) and [WithObjectLock], the object is
// written with the Object Lock retention configured.
func (s *Store) putNew(ctx context.Context, key string, body []byte, lock bool) error {
	_, err := s.putNewCreated(ctx, key, body, lock)
	return err
}

// putNewCreated is putNew that also tells whether this put stored the
// object (false when it was there already: 412).
func (s *Store) putNewCreated(ctx context.Context, key string, body []byte, lock bool) (created bool, err error) {
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String("application/x-ndjson"),
		IfNoneMatch:   aws.String("*"),
	}
	s.lockInput(in, lock)
	_, err = s.client.PutObject(ctx, in)
	switch {
	case err == nil:
		return true, nil
	case isPreconditionFailed(err):
		return false, nil
	}
	return false, classify("put object", s.bucket, err)
}

// Flush seals the open batch and waits until every entry accepted before
// the call is uploaded. It returns early with the error when an upload
// fails permanently (access denied, missing bucket), and with ctx.Err()
// (joined with the last upload error) when ctx ends first; the entries
// stay pending in both cases.
//
// A signing Store ([WithCheckpointKey]) then writes a digest of the
// objects stored since its last one, so that a verification after Flush
// finds nothing of this Store unconfirmed.
func (s *Store) Flush(ctx context.Context) error {
	if s.closed.Load() {
		return storage.ErrClosed
	}
	if err := s.flush(ctx); err != nil {
		return err
	}
	return s.digest(ctx, false)
}

func (s *Store) flush(ctx context.Context) error {
	s.mu.Lock()
	s.sealLocked()
	wait := make([]*batch, 0, len(s.outstanding))
	for b := range s.outstanding {
		wait = append(wait, b)
	}
	s.mu.Unlock()
	slices.SortFunc(wait, func(a, b *batch) int { return cmp.Compare(a.seq, b.seq) })
	for _, b := range wait {
		for {
			s.mu.Lock()
			failed := s.failed
			lastErr := b.lastErr
			s.mu.Unlock()
			if lastErr != nil && isPermanent(lastErr) {
				select {
				case <-b.done:
					goto next
				default:
				}
				return fmt.Errorf("s3store: flush: %w", lastErr)
			}
			select {
			case <-b.done:
				goto next
			case <-failed:
			case <-ctx.Done():
				return fmt.Errorf("s3store: flush: %w", errors.Join(ctx.Err(), lastErr))
			}
		}
	next:
	}
	return nil
}

// Close uploads everything accepted, waiting at most the close timeout
// ([WithCloseTimeout]), and stops the background uploads. It is
// idempotent: later calls return the first call's result. When entries
// remain unsent its error matches [ErrUndelivered] and says how many and
// whether they are kept in the spool directory. Other methods return an
// error matching [storage.ErrClosed] once Close has started. Close on a
// nil *Store does nothing and returns nil, so that
//
//	st, err := s3store.New(...)
//	defer st.Close()
//
// is safe before err is checked.
func (s *Store) Close() error {
	if s == nil {
		return nil
	}
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.closeTimeout)
		err := s.flush(ctx)
		cancel()
		if err != nil {
			s.bgCancel()
		}
		s.mu.Lock()
		s.stopping = true
		s.cond.Broadcast()
		s.mu.Unlock()
		s.wg.Wait()
		s.mu.Lock()
		left := s.pendingN
		s.mu.Unlock()
		var digestErr error
		if s.signing() {
			close(s.digestStop)
			<-s.digestDone
			dctx, cancel := context.WithTimeout(context.WithoutCancel(s.bgCtx), s.cfg.closeTimeout)
			// The final digest says the writer is done; with entries left
			// undelivered it is not (a later Store uploads them from the
			// spool), so the last digest stays open.
			digestErr = s.digest(dctx, left == 0)
			cancel()
		}
		s.bgCancel()
		if left > 0 {
			if s.spool != nil {
				s.closeErr = fmt.Errorf("%w: %d entries kept in spool directory %s for the next Store: %w", ErrUndelivered, left, s.spool.dir, err)
			} else {
				s.closeErr = fmt.Errorf("%w: %d entries lost (no spool directory): %w", ErrUndelivered, left, err)
			}
		}
		if s.spool != nil {
			if err := s.spool.close(); err != nil {
				s.closeErr = errors.Join(s.closeErr, err)
			}
		}
		if digestErr != nil {
			s.closeErr = errors.Join(s.closeErr, digestErr)
		}
	})
	return s.closeErr
}

// lockInput adds the Object Lock retention to a put of a batch or digest
// object (lock), when the Store has one.
func (s *Store) lockInput(in *s3.PutObjectInput, lock bool) {
	if !lock || s.cfg.lockMode == "" {
		return
	}
	until := time.Now().Add(s.cfg.lockPeriod).UTC()
	in.ObjectLockMode = s.cfg.lockMode
	in.ObjectLockRetainUntilDate = &until
}

// locked reports whether an object stored at modified is still under the
// Store's Object Lock retention.
func (s *Store) locked(modified time.Time) bool {
	return s.cfg.lockMode != "" && !modified.IsZero() && time.Now().Before(modified.Add(s.cfg.lockPeriod))
}

// BorrowEntries is for otelaudit.Logger, which alone can call it (its
// argument's type is internal to this module): it returns s, marking s as
// a backend that keeps nothing of an entry once Write or WriteBatch
// returned (they encode each entry into a line of the store's own before
// they return, and keep only that and the entry's id). See internal/lend.
func (s *Store) BorrowEntries(lend.Token) any { return s }
