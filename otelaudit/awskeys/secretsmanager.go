package awskeys

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// SecretsManagerAPI is the part of *secretsmanager.Client that
// [SecretsManager] uses.
type SecretsManagerAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ SecretsManagerAPI = (*secretsmanager.Client)(nil)

// SecretsManager is a [otelaudit.KeySource] that reads a Fernet key ring
// from an AWS Secrets Manager secret: one key, or a ring as a JSON list of
// keys (or one key per line), the first key encrypting. Give it to
// [otelaudit.NewKeyRing], which reloads it on an interval, so a rotation
// in Secrets Manager reaches running services without a restart.
//
// Keys returns the keys of the secret's AWSCURRENT version followed by
// those of its AWSPREVIOUS version (when there is one, and unless
// SkipPrevious), without duplicates: after a rotation that replaced the
// secret's value with a new key, entries made with the previous key still
// decrypt, and the new key encrypts. A key removed from both versions is
// revoked: its entries then fail to decrypt with an error naming its key
// id.
type SecretsManager struct {
	// Client reads the secret; required.
	Client SecretsManagerAPI
	// SecretID is the secret's name or ARN; required.
	SecretID string
	// SkipPrevious reads only the AWSCURRENT version.
	SkipPrevious bool
}

// Keys reads the secret. Errors name the secret (never its value) and wrap
// the AWS error; a secret that holds no key matches
// [otelaudit.ErrInvalidKey].
func (s SecretsManager) Keys(ctx context.Context) ([]string, error) {
	if s.Client == nil || s.SecretID == "" {
		return nil, fmt.Errorf("%w: awskeys.SecretsManager needs a client and a secret id", otelaudit.ErrInvalidKey)
	}
	keys, err := s.version(ctx, "AWSCURRENT")
	if err != nil {
		return nil, err
	}
	if s.SkipPrevious {
		return keys, nil
	}
	prev, err := s.version(ctx, "AWSPREVIOUS")
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return keys, nil // never rotated: no previous version
	case err != nil:
		return nil, err
	}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		seen[k] = true
	}
	for _, k := range prev {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys, nil
}

func (s SecretsManager) version(ctx context.Context, stage string) ([]string, error) {
	out, err := s.Client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:     aws.String(s.SecretID),
		VersionStage: aws.String(stage),
	})
	if err != nil {
		return nil, fmt.Errorf("awskeys: read secret %s (%s): %w", s.SecretID, stage, err)
	}
	var text []byte
	switch {
	case out.SecretString != nil:
		text = []byte(*out.SecretString)
	default:
		text = out.SecretBinary
	}
	keys, err := otelaudit.ParseKeys(text)
	if err != nil {
		return nil, fmt.Errorf("awskeys: secret %s (%s): %w", s.SecretID, stage, err)
	}
	return keys, nil
}
