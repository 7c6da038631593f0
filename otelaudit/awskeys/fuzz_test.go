package awskeys_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/otelaudit/awskeys"
)

// fakeKMS wraps with a fixed data key: for fuzzing Decrypt's parsing
// without an emulator. Real KMS behaviour is tested against moto.
type fakeKMS struct{}

var fakeKey = bytes.Repeat([]byte{7}, 32)

const fakeARN = "arn:aws:kms:us-east-1:123456789012:key/fuzz"

func (fakeKMS) GenerateDataKey(context.Context, *kms.GenerateDataKeyInput, ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	return &kms.GenerateDataKeyOutput{KeyId: aws.String(fakeARN), Plaintext: bytes.Clone(fakeKey), CiphertextBlob: []byte("wrapped")}, nil
}

func (fakeKMS) Decrypt(_ context.Context, in *kms.DecryptInput, _ ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	if string(in.CiphertextBlob) != "wrapped" || aws.ToString(in.KeyId) != fakeARN {
		return nil, errors.New("AccessDeniedException")
	}
	return &kms.DecryptOutput{KeyId: aws.String(fakeARN), Plaintext: bytes.Clone(fakeKey)}, nil
}

// FuzzEnvelopeDecrypt feeds arbitrary ciphertext to Envelope.Decrypt: it
// must never panic, every error must match ErrDecrypt, and whatever
// decrypts must have been sealed with the data key.
func FuzzEnvelopeDecrypt(f *testing.F) {
	env, err := awskeys.NewEnvelope(context.Background(), fakeKMS{}, fakeARN)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "hello", "a ü"} {
		ct, err := env.Encrypt(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ct)
	}
	f.Add("kms:")
	f.Add("kms:::")
	f.Add("kms:" + fakeARN + ":d3JhcHBlZA:")
	f.Add("fernet:abcd:gAAAA")
	f.Fuzz(func(t *testing.T, ct string) {
		pt, err := env.Decrypt(ct)
		if err != nil {
			if !errors.Is(err, otelaudit.ErrDecrypt) {
				t.Fatalf("error does not match ErrDecrypt: %v", err)
			}
			return
		}
		again, err := env.Encrypt(pt)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := env.Decrypt(again); err != nil || back != pt {
			t.Fatalf("round trip of a decrypted text failed: %v", err)
		}
	})
}
