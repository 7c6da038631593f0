package otelaudit

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
)

// DefaultKeyRefreshInterval is how often a [KeyRing] reloads its source
// when [WithRefreshInterval] does not say otherwise: 5 minutes.
const DefaultKeyRefreshInterval = 5 * time.Minute

// KeyRing is a Fernet key ring loaded from a [KeySource] and reloaded on
// an interval, so that a key rotated at the source (a new key put first,
// the old ones kept after it) reaches a running service without a
// restart. It implements [Cipher]: pass it to [WithCipher].
//
// A reload that fails, or that returns keys that are not valid, keeps the
// last good ring and is reported (to the handler of
// [WithRefreshErrorHandler], by default otel.Handle) and counted
// ([KeyRing.RefreshFailures]); the ring never falls back to storing
// content unencrypted. Each Encrypt and Decrypt uses the ring current at
// that moment.
//
// A KeyRing is safe for concurrent use. Close stops the reloading; the
// ring keeps working with its last keys after Close.
type KeyRing struct {
	src      KeySource
	interval time.Duration
	timeout  time.Duration
	onError  func(error)

	cur      atomic.Pointer[EncryptionManager]
	failures atomic.Int64
	mu       sync.Mutex // serialises reloads
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

// KeyRingOption configures [NewKeyRing].
type KeyRingOption interface {
	applyKeyRing(*KeyRing)
}

type keyRingOptionFunc func(*KeyRing)

func (f keyRingOptionFunc) applyKeyRing(r *KeyRing) { f(r) }

// WithRefreshInterval sets how often the ring reloads its source. The
// default is [DefaultKeyRefreshInterval]; a negative d turns reloading
// off (the keys are read once); 0 is ignored.
func WithRefreshInterval(d time.Duration) KeyRingOption {
	return keyRingOptionFunc(func(r *KeyRing) {
		if d != 0 {
			r.interval = d
		}
	})
}

// WithRefreshErrorHandler sends the errors of background reloads to f
// instead of otel.Handle. nil is ignored. f must not block for long; it is
// called from the reloading goroutine.
func WithRefreshErrorHandler(f func(error)) KeyRingOption {
	return keyRingOptionFunc(func(r *KeyRing) {
		if f != nil {
			r.onError = f
		}
	})
}

// NewKeyRing loads src once and returns the ring, which then reloads src
// in the background every refresh interval until [KeyRing.Close]. The
// first load must succeed: its error (the source's, or [ErrInvalidKey] for
// a key that is not a Fernet key) is returned, so a service never starts
// without its keys.
func NewKeyRing(ctx context.Context, src KeySource, opts ...KeyRingOption) (*KeyRing, error) {
	if src == nil {
		return nil, fmt.Errorf("%w: NewKeyRing needs a key source, got nil", ErrInvalidKey)
	}
	r := &KeyRing{
		src:      src,
		interval: DefaultKeyRefreshInterval,
		onError:  otel.Handle,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	for _, o := range opts {
		if o != nil {
			o.applyKeyRing(r)
		}
	}
	r.timeout = min(max(r.interval, time.Second), 30*time.Second)
	if err := r.Refresh(ctx); err != nil {
		return nil, err
	}
	if r.interval > 0 {
		go r.loop()
	} else {
		close(r.done)
	}
	return r, nil
}

// Refresh reloads the source now and swaps the ring when the keys
// changed. On error the current ring stays in use and the error is
// returned (and counted, but not sent to the error handler: the caller
// has it).
func (r *KeyRing) Refresh(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, err := managerFrom(ctx, r.src)
	if err == nil {
		if cur := r.cur.Load(); cur == nil || !slices.Equal(cur.ids, m.ids) {
			r.cur.Store(m)
		}
		return nil
	}
	if r.cur.Load() != nil {
		r.failures.Add(1)
		return fmt.Errorf("otelaudit: reload key ring (keeping the current keys %v): %w", r.cur.Load().ids, err)
	}
	return err
}

func (r *KeyRing) loop() {
	defer close(r.done)
	// base ends when Close is called, cancelling a reload in progress.
	base, cancelAll := context.WithCancel(context.Background())
	defer cancelAll()
	go func() {
		select {
		case <-r.stop:
		case <-base.Done():
		}
		cancelAll()
	}()
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(base, r.timeout)
		err := r.Refresh(ctx)
		cancel()
		if err != nil && base.Err() == nil {
			r.onError(err)
		}
	}
}

// Current returns the ring in use now.
func (r *KeyRing) Current() *EncryptionManager { return r.cur.Load() }

// KeyIDs returns the key ids of the ring in use now, the encrypting key
// first.
func (r *KeyRing) KeyIDs() []string { return r.cur.Load().KeyIDs() }

// RefreshFailures returns how many reloads have failed since the ring was
// made (each kept the previous keys).
func (r *KeyRing) RefreshFailures() int64 { return r.failures.Load() }

// Encrypt encrypts with the encrypting key of the current ring (see
// [EncryptionManager.Encrypt]).
func (r *KeyRing) Encrypt(plaintext string) (string, error) {
	return r.cur.Load().Encrypt(plaintext)
}

// AppendEncrypt is [KeyRing.Encrypt] onto dst (see [AppendEncrypter]).
func (r *KeyRing) AppendEncrypt(dst []byte, plaintext string) ([]byte, error) {
	return r.cur.Load().AppendEncrypt(dst, plaintext)
}

// Decrypt decrypts with the current ring (see [EncryptionManager.Decrypt]).
func (r *KeyRing) Decrypt(ciphertext string) (string, error) {
	return r.cur.Load().Decrypt(ciphertext)
}

// Close stops the background reloads and waits for a reload in progress
// to end. It is idempotent and always returns nil; the ring keeps its
// last keys.
func (r *KeyRing) Close() error {
	r.once.Do(func() { close(r.stop) })
	<-r.done
	return nil
}
