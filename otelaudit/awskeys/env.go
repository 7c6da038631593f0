package awskeys

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/otelaudit/otelaudit-go/internal/env"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// CipherFromEnv returns the content cipher the environment configures,
// with AWS clients made from cfg, and a function that stops its
// background work (call it at shutdown):
//
//   - OTELAUDIT_KMS_KEY_ID set: a KMS [Envelope] under that key encrypts.
//     When a Fernet ring is configured too (below), it still decrypts older
//     entries ([otelaudit.MultiCipher]).
//   - otherwise a reloading [otelaudit.KeyRing] encrypts, over the AWS
//     Secrets Manager secret OTELAUDIT_KEY_SECRET names, or else
//     [otelaudit.DefaultKeySource] (OTELAUDIT_KEY_FILE, OTELAUDIT_KEY).
//
// With nothing configured it returns an error wrapping os.ErrNotExist. It
// never returns a nil cipher without an error: a service that asked for
// encryption does not start without it.
func CipherFromEnv(ctx context.Context, cfg aws.Config, opts ...otelaudit.KeyRingOption) (otelaudit.Cipher, func() error, error) {
	var ring *otelaudit.KeyRing
	var src otelaudit.KeySource
	if id := os.Getenv(env.KeySecret); id != "" {
		src = SecretsManager{Client: secretsmanager.NewFromConfig(cfg), SecretID: id}
	} else if os.Getenv(env.KeyFile) != "" || os.Getenv(env.Key) != "" {
		src = otelaudit.DefaultKeySource("")
	}
	if src != nil {
		var err error
		if ring, err = otelaudit.NewKeyRing(ctx, src, opts...); err != nil {
			return nil, nil, err
		}
	}
	stop := func() error {
		if ring != nil {
			return ring.Close()
		}
		return nil
	}
	kmsKey := os.Getenv(env.KMSKeyID)
	if kmsKey == "" {
		if ring == nil {
			return nil, nil, fmt.Errorf("awskeys: no key configured: set %s, %s, %s or %s: %w",
				env.KMSKeyID, env.KeySecret, env.KeyFile, env.Key, os.ErrNotExist)
		}
		return ring, stop, nil
	}
	envelope, err := NewEnvelope(ctx, kms.NewFromConfig(cfg), kmsKey)
	if err != nil {
		return nil, nil, errors.Join(err, stop())
	}
	if ring == nil {
		return envelope, stop, nil
	}
	return otelaudit.MultiCipher(envelope, ring), stop, nil
}
