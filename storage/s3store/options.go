package s3store

import (
	"log/slog"
	"strings"
	"time"
)

const (
	// DefaultPrefix is the key prefix under which a Store keeps its
	// objects when WithPrefix is not given.
	DefaultPrefix = "audit/"
	// DefaultMaxBatchEntries is the number of entries after which the
	// open batch is sealed and uploaded.
	DefaultMaxBatchEntries = 5000
	// DefaultMaxBatchBytes is the encoded size, in bytes, after which the
	// open batch is sealed and uploaded (8 MiB).
	DefaultMaxBatchBytes = 8 << 20
	// DefaultMaxBatchDelay is how long, at most, the first entry of a
	// batch waits in memory before the batch is sealed and uploaded (1 s).
	DefaultMaxBatchDelay = time.Second
	// DefaultUploadConcurrency is the number of batches uploaded at once.
	DefaultUploadConcurrency = 4
	// DefaultReadConcurrency is the number of objects fetched at once by
	// range queries and by the reference-layout fallback of Read.
	DefaultReadConcurrency = 8
	// DefaultMaxPendingBytes bounds the encoded size, in bytes, of entries
	// accepted but not yet uploaded (256 MiB). When it is reached, Write
	// blocks until uploads catch up or its ctx ends.
	DefaultMaxPendingBytes = 256 << 20
	// DefaultCloseTimeout is how long Close keeps trying to upload what
	// was accepted (30 s).
	DefaultCloseTimeout = 30 * time.Second
	// DefaultMaxRetryBackoff caps the wait between two delivery attempts
	// of one batch (5 s).
	DefaultMaxRetryBackoff = 5 * time.Second
)

// Option configures a Store. Options are applied in order; nil arguments
// are ignored and out-of-range values keep the default.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	prefix            string
	maxBatchEntries   int
	maxBatchBytes     int
	maxBatchDelay     time.Duration
	uploadConcurrency int
	readConcurrency   int
	maxPendingBytes   int64
	closeTimeout      time.Duration
	maxRetryBackoff   time.Duration
	spoolDir          string
	logger            *slog.Logger
}

func newConfig(opts []Option) config {
	c := config{
		prefix:            DefaultPrefix,
		maxBatchEntries:   DefaultMaxBatchEntries,
		maxBatchBytes:     DefaultMaxBatchBytes,
		maxBatchDelay:     DefaultMaxBatchDelay,
		uploadConcurrency: DefaultUploadConcurrency,
		readConcurrency:   DefaultReadConcurrency,
		maxPendingBytes:   DefaultMaxPendingBytes,
		closeTimeout:      DefaultCloseTimeout,
		maxRetryBackoff:   DefaultMaxRetryBackoff,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c
}

// WithPrefix sets the key prefix (default [DefaultPrefix]). A trailing "/"
// is added when missing; "" stores the partitions at the bucket's root.
// Point it at the prefix a reference-implementation store used to read that
// store's objects.
func WithPrefix(p string) Option {
	return optionFunc(func(c *config) {
		p = strings.TrimLeft(p, "/")
		if p != "" && !strings.HasSuffix(p, "/") {
			p += "/"
		}
		c.prefix = p
	})
}

// WithMaxBatchEntries sets how many entries seal a batch (default
// [DefaultMaxBatchEntries]). Values < 1 keep the default.
func WithMaxBatchEntries(n int) Option {
	return optionFunc(func(c *config) {
		if n >= 1 {
			c.maxBatchEntries = n
		}
	})
}

// WithMaxBatchBytes sets the encoded size that seals a batch (default
// [DefaultMaxBatchBytes]). Values < 1 keep the default.
func WithMaxBatchBytes(n int) Option {
	return optionFunc(func(c *config) {
		if n >= 1 {
			c.maxBatchBytes = n
		}
	})
}

// WithMaxBatchDelay sets how long the first entry of an open batch may
// wait before the batch is sealed (default [DefaultMaxBatchDelay]). Values
// <= 0 keep the default.
func WithMaxBatchDelay(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.maxBatchDelay = d
		}
	})
}

// WithUploadConcurrency sets how many batches are uploaded at once
// (default [DefaultUploadConcurrency]). Values < 1 keep the default.
func WithUploadConcurrency(n int) Option {
	return optionFunc(func(c *config) {
		if n >= 1 {
			c.uploadConcurrency = n
		}
	})
}

// WithReadConcurrency sets how many objects queries fetch at once
// (default [DefaultReadConcurrency]). Values < 1 keep the default.
func WithReadConcurrency(n int) Option {
	return optionFunc(func(c *config) {
		if n >= 1 {
			c.readConcurrency = n
		}
	})
}

// WithMaxPendingBytes bounds the encoded bytes accepted but not yet
// uploaded (default [DefaultMaxPendingBytes]); Write blocks above it.
// Values < 1 keep the default.
func WithMaxPendingBytes(n int64) Option {
	return optionFunc(func(c *config) {
		if n >= 1 {
			c.maxPendingBytes = n
		}
	})
}

// WithCloseTimeout sets how long Close keeps trying to upload (default
// [DefaultCloseTimeout]). Values <= 0 keep the default.
func WithCloseTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.closeTimeout = d
		}
	})
}

// WithMaxRetryBackoff caps the wait between delivery attempts of a batch
// (default [DefaultMaxRetryBackoff]). Values <= 0 keep the default.
func WithMaxRetryBackoff(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.maxRetryBackoff = d
		}
	})
}

// WithSpoolDir makes the Store keep every accepted, not yet uploaded entry
// in files under dir (created 0700, files 0600): Write appends the entry to
// the open batch's spool file before it returns, so accepted entries
// survive a crash of the process and an outage of the server that outlasts
// Close. A Store started on the same dir uploads what an earlier one left
// there, under the same object keys, so nothing is written twice. Only one
// Store may use a dir at a time (New fails otherwise). "" (the default)
// keeps unsent entries in memory only.
func WithSpoolDir(dir string) Option {
	return optionFunc(func(c *config) { c.spoolDir = dir })
}

// WithLogger sets where the Store reports background events (retries,
// skipped lines); nil keeps slog.Default(). Entry content is never logged.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}
