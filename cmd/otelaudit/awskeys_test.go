package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/awstest"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/otelaudit/awskeys"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// logTo writes one interaction with cipher c into a new file store and
// returns the store's directory and the entry id.
func logTo(t *testing.T, c otelaudit.Cipher, in, out string) (dir, id string) {
	t.Helper()
	dir = t.TempDir()
	st, err := filestore.New(dir)
	require.NoError(t, err)
	l, err := otelaudit.NewLogger(st, otelaudit.WithCipher(c))
	require.NoError(t, err)
	id, err = l.Log(t.Context(), otelaudit.Interaction{Input: in, Output: out, Model: "m"})
	require.NoError(t, err)
	require.NoError(t, st.Close())
	return dir, id
}

func TestShowDecryptsKMSEnvelopedContent(t *testing.T) {
	ep := awstest.Endpoint(t)
	kc := awstest.KMS(ep)
	keyARN := awstest.NewKMSKey(t, kc)
	env, err := awskeys.NewEnvelope(t.Context(), kc, keyARN)
	require.NoError(t, err)
	dir, id := logTo(t, env, "what is the plan?", "ship on friday")

	awstest.Env(t, ep) // the caller's AWS credentials, as the SDK finds them
	t.Setenv("OTELAUDIT_KEY", "")
	t.Setenv("OTELAUDIT_KEY_FILE", "")
	t.Setenv("OTELAUDIT_KEY_SECRET", "")
	t.Setenv("OTELAUDIT_KMS_KEY_ID", "")
	r := runCLI(t, "show", "--dir", dir, id)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "input_content:       decrypted\n")
	assert.Regexp(t, `input_hash:\s+[0-9a-f]{64} \(matches content\)`, r.stdout)
	assertShowsText(t, r.stdout, "input", "what is the plan?")
	assertShowsText(t, r.stdout, "output", "ship on friday")

	// --kms-key / OTELAUDIT_KMS_KEY_ID: content under another key is
	// refused, under the named one it decrypts.
	bareID := keyARN[strings.LastIndex(keyARN, "/")+1:]
	other := awstest.NewKMSKey(t, kc)
	r = runCLI(t, "show", "--dir", dir, id, "--kms-key", other)
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, "content is under KMS key "+keyARN)
	t.Setenv("OTELAUDIT_KMS_KEY_ID", bareID)
	r = runCLI(t, "show", "--dir", dir, id)
	require.Equal(t, 0, r.code, r.stderr)
	assertShowsText(t, r.stdout, "input", "what is the plan?")
	t.Setenv("OTELAUDIT_KMS_KEY_ID", "")

	// A caller whose credentials have no access to the key: exit 1, the
	// KMS key named, nothing shown.
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1") // nothing listens
	r = runCLI(t, "show", "--dir", dir, id)
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, keyARN)
	assert.NotContains(t, r.stderr, "ship on friday")
}

func TestShowKeySecret(t *testing.T) {
	ep := awstest.Endpoint(t)
	sm := awstest.SecretsManager(ep)
	k1, k2 := mustKey(t), mustKey(t)
	ring, err := otelaudit.NewEncryptionManager(k1)
	require.NoError(t, err)
	dir, id := logTo(t, ring, "prompt in the ring", "answer")
	name := "otelaudit/cli/" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	_, err = sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(`["` + k2 + `","` + k1 + `"]`)})
	require.NoError(t, err)

	awstest.Env(t, ep)
	t.Setenv("OTELAUDIT_KEY", "")
	t.Setenv("OTELAUDIT_KEY_FILE", "")
	t.Setenv("OTELAUDIT_KEY_SECRET", "")
	for _, how := range []struct {
		name string
		args []string
		env  string
	}{
		{"--key-secret", []string{"--key-secret", name}, ""},
		{"OTELAUDIT_KEY_SECRET", nil, name},
	} {
		t.Run(how.name, func(t *testing.T) {
			t.Setenv("OTELAUDIT_KEY_SECRET", how.env)
			r := runCLI(t, append([]string{"show", "--dir", dir, id}, how.args...)...)
			require.Equal(t, 0, r.code, r.stderr)
			assertShowsText(t, r.stdout, "input", "prompt in the ring")
			assert.NotContains(t, r.stdout+r.stderr, k1)
			assert.NotContains(t, r.stdout+r.stderr, k2)
		})
	}
	r := runCLI(t, "show", "--dir", dir, id, "--key-secret", "otelaudit/cli/no-such-secret")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "otelaudit/cli/no-such-secret")
	r = runCLI(t, "show", "--dir", dir, id, "--key-secret", name, "--key", k1)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "not both")
}
