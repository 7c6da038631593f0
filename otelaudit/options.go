package otelaudit

import (
	"time"

	"github.com/otelaudit/otelaudit-go/internal/env"
)

// DefaultRetention is how long entries are kept when neither
// OTELAUDIT_RETENTION_DAYS nor [WithRetention] says otherwise: 0, keep
// forever. CleanupExpired does nothing then.
const DefaultRetention time.Duration = 0

// Option configures a [Logger]. Options are applied after the defaults and
// the OTELAUDIT_* environment variables, so an option always wins.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	storeContent bool
	cipher       Cipher
	hasher       *contentHasher
	retention    time.Duration
	now          func() time.Time
	newID        func() string
}

func newConfig(opts []Option) (config, error) {
	c := config{
		retention: env.Days(env.RetentionDays, DefaultRetention),
		now:       time.Now,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// WithStoreContent sets whether entries keep the input and output content
// and not only their hashes. The default, false, stores hashes only. true
// without [WithEncryption] stores plaintext, so it must be an explicit
// choice; with WithEncryption the content is stored encrypted.
func WithStoreContent(store bool) Option {
	return optionFunc(func(c *config) error {
		c.storeContent = store
		return nil
	})
}

// WithEncryption stores content encrypted with m's first key. It implies
// [WithStoreContent](true) unless a later WithStoreContent(false) turns
// content off again. A nil m is ignored. It is [WithCipher](m).
func WithEncryption(m *EncryptionManager) Option {
	if m == nil {
		return WithCipher(nil)
	}
	return WithCipher(m)
}

// WithCipher stores content encrypted with c: a fixed [EncryptionManager],
// a reloading [KeyRing], or the KMS envelope of package awskeys. It
// implies [WithStoreContent](true) unless a later WithStoreContent(false)
// turns content off again, and [Logger.DecryptContent] decrypts with c.
// A nil c is ignored. When c fails to encrypt, Log fails: content is never
// stored unencrypted instead.
func WithCipher(c Cipher) Option {
	return optionFunc(func(cfg *config) error {
		if c != nil {
			cfg.cipher = c
			cfg.storeContent = true
		}
		return nil
	})
}

// WithHashKey switches content hashes to keyed mode: HMAC-SHA256 with key,
// written as "hmac-sha256:<keyID>:<hex>", so that someone reading the store
// cannot confirm a guessed prompt by hashing it. key must be at least
// [MinHashKeyLen] bytes and keyID non-empty without ':' or spaces;
// otherwise [NewLogger] fails with an error matching [ErrInvalidKey].
func WithHashKey(keyID string, key []byte) Option {
	return optionFunc(func(c *config) error {
		h, err := newKeyedHasher(keyID, key)
		if err != nil {
			return err
		}
		c.hasher = h
		return nil
	})
}

// WithRetention sets how long entries are kept: [Logger.CleanupExpired]
// removes entries older than d. 0 keeps entries forever; negative values
// are ignored. The default is [DefaultRetention], or
// OTELAUDIT_RETENTION_DAYS when set.
func WithRetention(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d >= 0 {
			c.retention = d
		}
		return nil
	})
}

// WithClock makes the Logger read the time from now instead of time.Now:
// for the timestamps of interactions that carry none and for retention. For
// tests and examples; nil is ignored.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c *config) error {
		if now != nil {
			c.now = now
		}
		return nil
	})
}

// WithIDGenerator makes the Logger use newID for entries whose interaction
// carries no ID, instead of a UUIDv7. For tests and examples; nil is
// ignored. newID must return unique, non-empty ids.
func WithIDGenerator(newID func() string) Option {
	return optionFunc(func(c *config) error {
		if newID != nil {
			c.newID = newID
		}
		return nil
	})
}
