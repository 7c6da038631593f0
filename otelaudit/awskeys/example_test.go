package awskeys_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/otelaudit/awskeys"
	"github.com/otelaudit/otelaudit-go/storage"
)

// Envelope encryption under a KMS key. In production the client is
// kms.NewFromConfig(cfg) and the key an ARN or "alias/..."; here a stand-in
// KMS (fakeKMS, in fuzz_test.go) keeps the example self-contained.
func ExampleNewEnvelope() {
	ctx := context.Background()
	env, err := awskeys.NewEnvelope(ctx, fakeKMS{}, "arn:aws:kms:us-east-1:123456789012:key/fuzz")
	if err != nil {
		fmt.Println(err)
		return
	}
	logger, _ := otelaudit.NewLogger(storage.NewMemoryStorage(0), otelaudit.WithCipher(env))
	id, _ := logger.Log(ctx, otelaudit.Interaction{Input: "hello", Output: "hi"})
	e, _ := logger.GetEntry(ctx, id)
	parts := strings.Split(*e.InputContent, ":")
	fmt.Println(strings.Join(parts[:len(parts)-2], ":")) // scheme and KMS key ARN
	in, out, _ := logger.DecryptContent(e)
	fmt.Println(in, out, env.KMSCalls())
	// Output:
	// kms:arn:aws:kms:us-east-1:123456789012:key/fuzz
	// hello hi 1
}

// secretStore stands in for *secretsmanager.Client in the example.
type secretStore map[string]string

func (s secretStore) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	v, ok := s[aws.ToString(in.SecretId)+"/"+aws.ToString(in.VersionStage)]
	if !ok {
		return nil, fmt.Errorf("no such version")
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v)}, nil
}

// A key ring kept in AWS Secrets Manager and reloaded every 5 minutes
// (otelaudit.DefaultKeyRefreshInterval). In production the client is
// secretsmanager.NewFromConfig(cfg).
func ExampleSecretsManager() {
	ctx := context.Background()
	client := secretStore{
		"prod/otelaudit/keys/AWSCURRENT":  `["0XSG7sw-bLJ167sCwZbXGLhdRH1ImFol7V7f5O5Me9w="]`,
		"prod/otelaudit/keys/AWSPREVIOUS": string(bytes.Repeat([]byte("A"), 43)) + "=",
	}
	ring, err := otelaudit.NewKeyRing(ctx, awskeys.SecretsManager{Client: client, SecretID: "prod/otelaudit/keys"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ring.Close()
	fmt.Println(ring.KeyIDs()) // the current key encrypts, the previous one still decrypts
	// Output: [378d166d f68fac20]
}
