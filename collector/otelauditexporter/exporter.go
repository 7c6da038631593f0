package otelauditexporter

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	auditexporter "github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// defaultS3Region is used when neither the config nor the AWS chain gives
// a region (S3-compatible servers ignore it).
const defaultS3Region = "us-east-1"

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
	join  *joiner                 // nil without a logs pipeline
}

func newAuditExporter(cfg *Config, set exporter.Settings) *auditExporter {
	return &auditExporter{cfg: cfg, set: set}
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
	if a.logs.Load() {
		a.join = newJoiner(a.cfg.JoinWait, a.cfg.JoinMaxBytes, a.cfg.TimeoutConfig.Timeout, func(ctx context.Context, vs []auditexporter.SpanView) error {
			return e.ExportViews(ctx, vs, false)
		})
	}
	return nil
}

func (a *auditExporter) open(ctx context.Context) (*auditexporter.Exporter, error) {
	var lopts []otelaudit.Option
	switch a.cfg.Content {
	case ContentEncrypt:
		m, err := loadFernet(a.cfg)
		if err != nil {
			return nil, err
		}
		lopts = append(lopts, otelaudit.WithStoreContent(true), otelaudit.WithEncryption(m))
	case ContentPlaintext:
		lopts = append(lopts, otelaudit.WithStoreContent(true))
	}
	if a.cfg.HashKeyFile != "" {
		id, key, err := readKeyFile(a.cfg.HashKeyFile, "hash_key_file")
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
	if a.cfg.Directory != "" {
		var fopts []storage.FileOption
		if a.cfg.CheckpointKeyFile != "" {
			id, key, err := readKeyFile(a.cfg.CheckpointKeyFile, "checkpoint_key_file")
			if err != nil {
				return nil, err
			}
			fopts = append(fopts, storage.WithCheckpointKey(id, key))
		}
		st, err := storage.NewFileStorage(a.cfg.Directory, fopts...)
		if err != nil {
			return nil, fmt.Errorf("otelaudit exporter: open file store %s: %w", a.cfg.Directory, err)
		}
		return st, nil
	}
	s3c := a.cfg.S3
	var opts []func(*awsconfig.LoadOptions) error
	if s3c.Region != "" {
		opts = append(opts, awsconfig.WithRegion(s3c.Region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("otelaudit exporter: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = defaultS3Region
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if s3c.Endpoint != "" {
			o.BaseEndpoint = aws.String(s3c.Endpoint)
			o.UsePathStyle = true
		}
	})
	var sopts []s3store.Option
	if s3c.Prefix != "" {
		sopts = append(sopts, s3store.WithPrefix(s3c.Prefix))
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
		return exp.ExportViews(ctx, views, false)
	}
	direct, held := join.split(views)
	err := exp.ExportViews(ctx, direct, false)
	return errors.Join(err, wait(ctx, join.addSpans(held)))
}

// pushLogs hands the GenAI events of ld to the join and returns when the
// entries of their calls are written. Other log records are ignored.
func (a *auditExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	_, join := a.started()
	if join == nil {
		return errNotStarted
	}
	return wait(ctx, join.addEvents(ld))
}

func (a *auditExporter) started() (*auditexporter.Exporter, *joiner) {
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
		a.join.close()
		a.join = nil
	}
	err := a.exp.Shutdown(ctx)
	a.exp = nil
	if a.release != nil {
		a.release()
	}
	return err
}

// loadFernet builds the key ring of content: encrypt. Errors never hold a
// key.
func loadFernet(c *Config) (*otelaudit.EncryptionManager, error) {
	if c.KeyFile != "" {
		m, err := otelaudit.LoadEncryptionManager(c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("otelaudit exporter: key_file: %w", err)
		}
		return m, nil
	}
	v := os.Getenv(c.KeyEnv)
	var keys []string
	for k := range strings.SplitSeq(v, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("otelaudit exporter: key_env: environment variable %s holds no key", c.KeyEnv)
	}
	m, err := otelaudit.NewEncryptionManager(keys...)
	if err != nil {
		return nil, fmt.Errorf("otelaudit exporter: key_env %s: %w", c.KeyEnv, err)
	}
	return m, nil
}

// readKeyFile reads the first key line of path: ID:HEX, or HEX for key id
// "local"; blank lines and lines starting with '#' are skipped. The key has
// at least 16 bytes. Errors name the setting and the file, never the key.
func readKeyFile(path, setting string) (id string, key []byte, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("otelaudit exporter: %s: %w", setting, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, h := "local", line
		if i := strings.LastIndexByte(line, ':'); i >= 0 {
			id, h = line[:i], line[i+1:]
		}
		if id == "" || strings.ContainsAny(id, " \t") {
			return "", nil, fmt.Errorf("otelaudit exporter: %s %s: the key id before ':' must be non-empty without spaces", setting, path)
		}
		key, err := hex.DecodeString(h)
		if err != nil {
			return "", nil, fmt.Errorf("otelaudit exporter: %s %s: the key is not hex (want ID:HEX or HEX)", setting, path)
		}
		if len(key) < 16 {
			return "", nil, fmt.Errorf("otelaudit exporter: %s %s: the key is %d bytes, want at least 16", setting, path, len(key))
		}
		return id, key, nil
	}
	return "", nil, fmt.Errorf("otelaudit exporter: %s %s holds no key", setting, path)
}
