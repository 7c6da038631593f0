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

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
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
// step, counters, retries with dedupe). It is created by the factory and
// opened at start.
type auditExporter struct {
	cfg *Config
	set exporter.Settings
	exp *auditexporter.Exporter // nil until start
}

func newAuditExporter(cfg *Config, set exporter.Settings) *auditExporter {
	return &auditExporter{cfg: cfg, set: set}
}

// start opens the store and loads the keys; every failure is an error that
// stops the Collector from starting.
func (a *auditExporter) start(ctx context.Context, _ component.Host) error {
	var lopts []otelaudit.Option
	switch a.cfg.Content {
	case ContentEncrypt:
		m, err := loadFernet(a.cfg)
		if err != nil {
			return err
		}
		lopts = append(lopts, otelaudit.WithStoreContent(true), otelaudit.WithEncryption(m))
	case ContentPlaintext:
		lopts = append(lopts, otelaudit.WithStoreContent(true))
	}
	if a.cfg.HashKeyFile != "" {
		id, key, err := readKeyFile(a.cfg.HashKeyFile, "hash_key_file")
		if err != nil {
			return err
		}
		lopts = append(lopts, otelaudit.WithHashKey(id, key))
	}
	b, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	l, err := otelaudit.NewLogger(b, lopts...)
	if err != nil {
		_ = b.Close()
		return fmt.Errorf("otelaudit exporter: %w", err)
	}
	e, err := auditexporter.New(l,
		auditexporter.WithCloseBackend(true),
		auditexporter.WithMeterProvider(a.set.MeterProvider))
	if err != nil {
		_ = b.Close()
		return fmt.Errorf("otelaudit exporter: %w", err)
	}
	a.exp = e
	return nil
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

// pushTraces writes the GenAI spans of td; other spans are skipped by the
// conversion's cheap key check. The error is the Exporter's (retried by
// exporterhelper's retry_on_failure when it is not permanent).
func (a *auditExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	if a.exp == nil {
		return errors.New("otelaudit exporter: not started")
	}
	return a.exp.ExportViews(ctx, spanViews(td), false)
}

// shutdown flushes and closes the store.
func (a *auditExporter) shutdown(ctx context.Context) error {
	if a.exp == nil {
		return nil
	}
	return a.exp.Shutdown(ctx)
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
