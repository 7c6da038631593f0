package otelauditexporter

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelaudit/otelaudit-go/internal/genaijoin"
)

// Content modes of [Config.Content].
const (
	// ContentHash keeps only the SHA-256 (or keyed HMAC) of the prompt and
	// answer. The default.
	ContentHash = "hash"
	// ContentEncrypt keeps the content Fernet-encrypted with the key ring
	// from key_file or key_env.
	ContentEncrypt = "encrypt"
	// ContentPlaintext keeps the content as it is. Only for tests and
	// stores that are protected otherwise; it must be chosen explicitly.
	ContentPlaintext = "plaintext"
)

// DefaultTimeout is the default timeout of one export (a batch written and
// durable in the store), in the exporterhelper's timeout setting: 30s,
// longer than exporterhelper's 5s because an S3 upload under load can take
// seconds and a timed-out batch is retried as a whole.
const DefaultTimeout = 30 * time.Second

// Defaults of the join of spans and GenAI log events.
const (
	// DefaultJoinWait is 10s: longer than the SDKs' default batch delays
	// (5s for spans, 1s for logs), so that a call's span and events meet.
	DefaultJoinWait = genaijoin.DefaultWait
	// DefaultJoinMaxBytes is 64 MiB.
	DefaultJoinMaxBytes = genaijoin.DefaultMaxBytes
)

// Config is the otelaudit exporter's configuration (component type
// "otelaudit"). Exactly one of Directory and S3 names the store. The keys
// are fixed: they are used in configurations outside this project.
type Config struct {
	// Directory is the file store's directory (created 0700 when absent).
	// One collector replica per directory: the file store holds a lock.
	Directory string `mapstructure:"directory"`
	// S3 selects an S3 store; nil when the "s3" section is absent.
	S3 *S3Config `mapstructure:"s3"`
	// Content is hash (default), encrypt or plaintext.
	Content string `mapstructure:"content"`
	// KeyFile is a file of Fernet keys, one a line, the first encrypting
	// (content: encrypt). Like the other key files, it must not be
	// accessible to group or others (mode 0600 or 0400).
	KeyFile string `mapstructure:"key_file"`
	// KeyEnv names an environment variable holding the Fernet keys, comma
	// separated, the first encrypting (content: encrypt).
	KeyEnv string `mapstructure:"key_env"`
	// HashKeyFile is a file whose first key line is ID:HEX (or HEX, key id
	// "local"), at least 16 bytes: hashes become
	// hmac-sha256:<id>:<hex>. Refused if group or others can access it.
	HashKeyFile string `mapstructure:"hash_key_file"`
	// CheckpointKeyFile is a file whose first key line is ID:HEX (or HEX),
	// at least 16 bytes: the file store signs its checkpoints with it
	// instead of a key kept beside the data, and the S3 store signs its
	// digest objects and removal notes with it (s3store.WithCheckpointKey;
	// each replica is a writer with its own digests), so that `otelaudit
	// verify --checkpoint-key-file` checks them. Refused if group or
	// others can access it.
	CheckpointKeyFile string `mapstructure:"checkpoint_key_file"`

	// JoinWait is how long a span without content waits for its GenAI log
	// events, and events for their span, when the exporter is also in a
	// logs pipeline (default [DefaultJoinWait]). It must be at most half
	// of timeout: a push waits for the join, then for the write.
	JoinWait time.Duration `mapstructure:"join_wait"`
	// JoinMaxBytes caps the memory the join holds (default
	// [DefaultJoinMaxBytes]); over it, the oldest calls are written at
	// once with the content they have, and counted.
	JoinMaxBytes int `mapstructure:"join_max_bytes"`

	// TimeoutConfig is exporterhelper's "timeout": how long one push
	// (a batch written and durable, including the join's wait) may take;
	// default [DefaultTimeout].
	TimeoutConfig exporterhelper.TimeoutConfig `mapstructure:",squash"`
	// QueueConfig is exporterhelper's "sending_queue"; with
	// storage: file_storage it is persistent.
	QueueConfig configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	// RetryConfig is exporterhelper's "retry_on_failure"; default
	// [DefaultRetryConfig] (no end). With a persistent queue it must be
	// enabled and have max_elapsed_time 0.
	RetryConfig configretry.BackOffConfig `mapstructure:"retry_on_failure"`
}

// S3Config is the "s3" section: the bucket must exist.
type S3Config struct {
	// Bucket is required.
	Bucket string `mapstructure:"bucket"`
	// Prefix is the key prefix; empty means the store's default.
	Prefix string `mapstructure:"prefix"`
	// Endpoint is an S3-compatible server's URL (path-style addressing);
	// empty means AWS.
	Endpoint string `mapstructure:"endpoint"`
	// Region; empty means the AWS default chain, else us-east-1.
	Region string `mapstructure:"region"`
}

var _ component.Config = (*Config)(nil)

// ErrInvalidConfig is matched (errors.Is) by every error of
// [Config.Validate].
var ErrInvalidConfig = errors.New("otelaudit exporter: invalid config")

// Validate reports a configuration that cannot work, before the Collector
// starts: no store or two stores, an unknown content mode, a key that is
// missing for encrypt or given for a mode that does not use it, a
// persistent queue whose retries are off or end (max_elapsed_time > 0).
// It reads no files: keys are loaded at start, where a missing or short
// key is an error too.
func (c *Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, a...))
	}
	switch {
	case c.Directory == "" && c.S3 == nil:
		return bad("set directory (file store) or s3.bucket (S3 store)")
	case c.Directory != "" && c.S3 != nil:
		return bad("set directory or s3, not both")
	case c.S3 != nil && c.S3.Bucket == "":
		return bad("s3.bucket is required")
	}
	switch {
	case c.JoinWait <= 0:
		return bad("join_wait must be positive")
	case c.TimeoutConfig.Timeout > 0 && 2*c.JoinWait > c.TimeoutConfig.Timeout:
		// A push waits for the join, then for the write: with less room
		// than the wait again, pushes time out, and each retry waits the
		// window out anew (and writes the spans that were written again).
		return bad("join_wait (%s) must be at most half of timeout (%s): a push waits join_wait, then for its write", c.JoinWait, c.TimeoutConfig.Timeout)
	case c.JoinMaxBytes <= 0:
		return bad("join_max_bytes must be positive")
	}
	// A persistent queue keeps acknowledged spans across a crash only if a
	// failed write is retried: without retries, a batch whose write fails
	// while the Collector shuts down is deleted from the queue
	// (opentelemetry-collector issue 15677), and its spans were already
	// acknowledged to the sender.
	//
	// Retries that end lose them as well: once max_elapsed_time has passed
	// exporterhelper drops the batch ("Exporting failed. Dropping data.")
	// and the queue deletes it, so a store down longer than that loses
	// acknowledged spans.
	if q := c.QueueConfig.Get(); q != nil && q.StorageID != nil {
		switch {
		case !c.RetryConfig.Enabled:
			return bad("sending_queue.storage (a persistent queue) needs retry_on_failure.enabled: true, or a batch that fails while the Collector stops is deleted from the queue although its spans were acknowledged")
		case c.RetryConfig.MaxElapsedTime > 0:
			return bad("sending_queue.storage (a persistent queue) needs retry_on_failure.max_elapsed_time: 0 (retry until the store takes the batch), got %s: when the retries stop, the batch is dropped from the queue although its spans were acknowledged", c.RetryConfig.MaxElapsedTime)
		}
	}
	switch c.Content {
	case ContentHash, ContentPlaintext:
		if c.KeyFile != "" || c.KeyEnv != "" {
			return bad("key_file and key_env are for content: encrypt, but content is %q", c.Content)
		}
	case ContentEncrypt:
		if (c.KeyFile == "") == (c.KeyEnv == "") {
			return bad("content: encrypt needs exactly one of key_file and key_env")
		}
	default:
		return bad("content must be hash, encrypt or plaintext, got %q", c.Content)
	}
	return nil
}
