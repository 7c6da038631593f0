package filestore

import (
	"crypto/ed25519"
	"io"
	"log/slog"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
)

// DefaultRotationSize is the size in bytes (64 MiB) at which the file
// backend starts a new part of a day file unless [WithRotationSize] says
// otherwise.
const DefaultRotationSize int64 = 64 << 20

// DefaultSyncInterval is how often (100 ms) the file backend fsyncs written
// data in the background under [DurabilityOS].
const DefaultSyncInterval = 100 * time.Millisecond

// DefaultCheckpointEvery is the number of entries (10000) after which the
// file backend writes a signed checkpoint of its hash chain.
const DefaultCheckpointEvery = 10000

// DefaultCheckpointInterval is the time (1 minute) after which the file
// backend writes a signed checkpoint if entries were written since the last
// one. Each checkpoint is one line of about 300 bytes in checkpoints.jsonl.
const DefaultCheckpointInterval = time.Minute

// Durability says when [Store.Write] returns relative to fsync.
type Durability int

const (
	// DurabilityOS (the default) returns from Write once the entry has been
	// handed to the operating system with write(2): it survives a crash of
	// the process, and is fsynced within [DefaultSyncInterval] (or the
	// interval set by [WithSyncInterval]) and at Flush and Close. A crash
	// of the machine may lose the entries of the last interval.
	DurabilityOS Durability = iota
	// DurabilitySync returns from Write only after the entry is fsynced.
	// Concurrent writers share one fsync (group commit).
	DurabilitySync
)

// Option configures [New].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	rotationSize       int64
	durability         Durability
	syncInterval       time.Duration
	readOnly           bool
	logger             *slog.Logger
	checkpointKeyID    string
	checkpointKey      []byte
	checkpointPriv     ed25519.PrivateKey
	sameKey            bool
	checkpointEvery    int
	checkpointInterval time.Duration
	maxOpenFiles       int
	witness            io.Writer
	maxLineSize        int
	now                func() time.Time
	// scanAhead is the number of regions of a file written in time order
	// that Entries decodes ahead of the one it yields from; 0 means
	// GOMAXPROCS, 1 the sequential scan. Set by tests only.
	scanAhead int
}

func newConfig(opts []Option) config {
	c := config{
		rotationSize:       DefaultRotationSize,
		durability:         DurabilityOS,
		syncInterval:       DefaultSyncInterval,
		checkpointEvery:    DefaultCheckpointEvery,
		checkpointInterval: DefaultCheckpointInterval,
		maxOpenFiles:       8,
		maxLineSize:        storage.DefaultMaxLineSize,
		now:                time.Now,
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

// WithRotationSize sets the size in bytes beyond which a day file is rotated:
// the current audit_YYYYMMDD.jsonl is renamed to the next
// audit_YYYYMMDD_NNN.jsonl (_001 is the oldest part, as the reference
// implementation does) and a new unsuffixed file is started, so the
// unsuffixed file always holds the newest entries of its day. Zero or a
// negative size disables rotation. Default [DefaultRotationSize].
func WithRotationSize(bytes int64) Option {
	return optionFunc(func(c *config) { c.rotationSize = bytes })
}

// WithMaxLineSize bounds, in bytes, one stored line (an encoded entry with
// its chain): Write rejects a longer entry with an error matching
// [storage.ErrLineTooLong], and reads (queries, Read, index builds) skip a
// longer line in the files, counting it in [storage.Stats].SkippedLines, without
// holding it in memory. Rewrites (Delete, DeleteBefore) copy such a line
// whole; [Verify] checks a line longer than the default limit from the
// file, hashing it as it reads it (whatever this option was when the
// store was written). Values <= 0 keep the default,
// [storage.DefaultMaxLineSize].
func WithMaxLineSize(bytes int) Option {
	return optionFunc(func(c *config) {
		if bytes > 0 {
			c.maxLineSize = bytes
		}
	})
}

// WithDurability chooses when Write returns relative to fsync; see
// [Durability]. Default [DurabilityOS].
func WithDurability(d Durability) Option {
	return optionFunc(func(c *config) {
		if d == DurabilityOS || d == DurabilitySync {
			c.durability = d
		}
	})
}

// WithSyncInterval sets how often written data is fsynced in the background
// under [DurabilityOS]. Values <= 0 are ignored. Default
// [DefaultSyncInterval].
func WithSyncInterval(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.syncInterval = d
		}
	})
}

// WithReadOnly opens the store for reading only: no lock is taken, nothing
// in the directory is created or changed, and it can be read while another
// process appends to it (a line still being written is skipped as a torn
// tail). Write, WriteBatch, Delete and DeleteBefore return an error
// matching [ErrReadOnly]. The directory must exist.
func WithReadOnly() Option {
	return optionFunc(func(c *config) { c.readOnly = true })
}

// WithLogger sets where warnings (skipped lines, recovered torn tails,
// background fsync failures) are logged. Messages never contain entry
// content. A nil logger is ignored; default slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithCheckpointKey sets the HMAC-SHA256 key (and its id, written next to
// each signature) that signs the hash-chain checkpoints and removal notes.
// A key shorter than [storage.MinHMACKeyLen] bytes or an empty id makes
// [New] fail with an error matching [storage.ErrBadKey]; it never falls
// back to another key.
//
// Without this option (or [WithCheckpointSigner]) the store uses a random
// key kept in the store directory (file ".checkpoint.key", 0600, key id
// "local"), created on the first open of a store that has signed nothing;
// once notes are signed with it, New refuses to open without that file
// ([ErrCheckpointKeyNeeded]) rather than make a new one, so back it up
// with the data. That detects accidental damage and careless edits, but
// anyone who can write the directory can read that key and forge
// checkpoints: real protection needs a key held elsewhere, given here and
// to [Verify] with [WithVerifyKey], or an Ed25519 key pair. A store whose
// latest note is signed with such a key does not open for writing without
// one ([ErrCheckpointKeyNeeded]). Notes signed before a store moved to
// such a key stay signed with .checkpoint.key: Verify needs that key too
// (key id "local"), as a key given replaces the file.
func WithCheckpointKey(keyID string, key []byte) Option {
	return optionFunc(func(c *config) {
		c.checkpointKeyID = keyID
		c.checkpointKey = append([]byte{}, key...) // non-nil even when empty: an unusable key is an error, not "no key"
		c.checkpointPriv = nil
	})
}

// WithCheckpointSigner signs checkpoints and notes with an Ed25519 private
// key (and its id) instead of HMAC: [Verify] then needs only the public key
// ([WithVerifyPublicKey]), so auditors can check a store without being
// able to forge its checkpoints. A key of the wrong size or an empty id
// makes [New] fail with an error matching [storage.ErrBadKey]. The last of
// WithCheckpointKey and WithCheckpointSigner wins.
func WithCheckpointSigner(keyID string, priv ed25519.PrivateKey) Option {
	return optionFunc(func(c *config) {
		c.checkpointKeyID = keyID
		c.checkpointPriv = append(ed25519.PrivateKey{}, priv...) // non-nil even when empty
		c.checkpointKey = nil
	})
}

// WithSameCheckpointKey makes [New] refuse to open the store for writing
// with a checkpoint key other than the one its latest signed note is
// signed with: another key id, another key under that id, or a key of the
// other kind (HMAC for Ed25519 or the reverse). New then fails with an
// error matching [ErrCheckpointKeyMismatch] that names both key ids (never
// a key) and writes nothing. The key checked is the one the Store would
// sign with: the one given to [WithCheckpointKey] or
// [WithCheckpointSigner], else the store's own .checkpoint.key. A store
// with no signed note yet (new, or written by the reference
// implementation) takes any key, as without this option.
//
// Give it to a process that must sign on with the key the store already
// has, such as a retention job: its removal notes signed with a wrong key
// would make [Verify] with the store's key report a legitimate removal as
// tampering. Without it (the default) a writer given another key signs
// on with it, which is how a store moves to a new key (see
// [WithCheckpointKey]).
func WithSameCheckpointKey() Option {
	return optionFunc(func(c *config) { c.sameKey = true })
}

// WithWitness publishes every signed note (checkpoints, session opens,
// removal notes) outside the store as well: after a note is durable in
// checkpoints.jsonl, its exact line is written to w, one Write per batch of
// notes, whole lines in order. Give w a file in another directory or on
// another host (opened with O_APPEND), or any writer that ships lines away
// (a log pipeline). [Verify] given the witness ([WithVerifyWitness]) then
// requires every witnessed note to be in the store, which detects what the
// store alone cannot: its newest entries removed together with their last
// checkpoint, a deleted writer session, or the whole directory rolled back
// to an older copy.
//
// A failed witness write does not fail the store's write (the note and its
// entries are durable): it is logged (no content) and the witness lags;
// Verify only checks what the witness holds. Writes to w are serialised by
// the store. A nil w is ignored; default none.
func WithWitness(w io.Writer) Option {
	return optionFunc(func(c *config) {
		if w != nil {
			c.witness = w
		}
	})
}

// WithCheckpointInterval sets how often a signed checkpoint of the hash
// chain is written: after every entries entries or after d, whichever comes
// first, and always at Flush and Close. Values <= 0 keep the defaults
// ([DefaultCheckpointEvery], [DefaultCheckpointInterval]). Entries written
// after the last checkpoint of a writer that is still running (or crashed)
// are chain-checked but not signed, so dropping them cannot be detected.
func WithCheckpointInterval(entries int, d time.Duration) Option {
	return optionFunc(func(c *config) {
		if entries > 0 {
			c.checkpointEvery = entries
		}
		if d > 0 {
			c.checkpointInterval = d
		}
	})
}
