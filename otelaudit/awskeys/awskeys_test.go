package awskeys_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/awstest"
	"github.com/otelaudit/otelaudit-go/internal/lend/lendtest"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/otelaudit/awskeys"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

func newSecret(t *testing.T, sm *secretsmanager.Client, value string) string {
	t.Helper()
	name := "otelaudit/test/" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + time.Now().Format("150405.000000000")
	out, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	require.NoError(t, err)
	return aws.ToString(out.ARN)
}

func putSecret(t *testing.T, sm *secretsmanager.Client, id, value string) {
	t.Helper()
	_, err := sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(id), SecretString: aws.String(value)})
	require.NoError(t, err)
}

func keyIDs(t *testing.T, keys ...string) []string {
	t.Helper()
	var ids []string
	for _, k := range keys {
		id, err := otelaudit.KeyID(k)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	return ids
}

func TestSecretsManagerRoundTrip(t *testing.T) {
	sm := awstest.SecretsManager(awstest.Endpoint(t))
	k1, _ := otelaudit.GenerateKey()
	k2, _ := otelaudit.GenerateKey()

	t.Run("one key", func(t *testing.T) {
		arn := newSecret(t, sm, k1)
		keys, err := awskeys.SecretsManager{Client: sm, SecretID: arn}.Keys(t.Context())
		require.NoError(t, err)
		assert.Equal(t, []string{k1}, keys)
	})
	t.Run("ring as a JSON list, by name", func(t *testing.T) {
		list, _ := json.Marshal([]string{k2, k1})
		arn := newSecret(t, sm, string(list))
		name := arn[strings.LastIndex(arn, ":secret:")+len(":secret:"):]
		name = name[:strings.LastIndex(name, "-")] // ARNs end in -XXXXXX
		keys, err := awskeys.SecretsManager{Client: sm, SecretID: name}.Keys(t.Context())
		require.NoError(t, err)
		assert.Equal(t, []string{k2, k1}, keys)

		ring, err := otelaudit.NewKeyRing(t.Context(), awskeys.SecretsManager{Client: sm, SecretID: arn}, otelaudit.WithRefreshInterval(-1))
		require.NoError(t, err)
		defer ring.Close()
		ct, err := ring.Encrypt("prompt")
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(ct, "fernet:"+keyIDs(t, k2)[0]+":"))
		pt, err := ring.Decrypt(ct)
		require.NoError(t, err)
		assert.Equal(t, "prompt", pt)
	})
	t.Run("errors", func(t *testing.T) {
		_, err := awskeys.SecretsManager{Client: sm, SecretID: "otelaudit/test/no-such-secret"}.Keys(t.Context())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "otelaudit/test/no-such-secret")
		assert.Contains(t, err.Error(), "ResourceNotFound")

		arn := newSecret(t, sm, "  \n# nothing\n")
		_, err = awskeys.SecretsManager{Client: sm, SecretID: arn}.Keys(t.Context())
		require.ErrorIs(t, err, otelaudit.ErrInvalidKey)

		arn = newSecret(t, sm, "not-a-fernet-key")
		_, err = otelaudit.NewKeyRing(t.Context(), awskeys.SecretsManager{Client: sm, SecretID: arn})
		require.ErrorIs(t, err, otelaudit.ErrInvalidKey)
		assert.NotContains(t, err.Error(), "not-a-fernet-key", "secret values never appear in errors")
	})
}

// TestSecretsManagerRotationReachesRunningLogger rotates the secret while a
// Logger runs: the new key encrypts within the refresh interval, entries of
// the old key still decrypt (AWSPREVIOUS), and an outage keeps the ring.
func TestSecretsManagerRotationReachesRunningLogger(t *testing.T) {
	sm := awstest.SecretsManager(awstest.Endpoint(t))
	k1, _ := otelaudit.GenerateKey()
	k2, _ := otelaudit.GenerateKey()
	k3, _ := otelaudit.GenerateKey()
	ids := keyIDs(t, k1, k2, k3)
	arn := newSecret(t, sm, k1)

	var mu sync.Mutex
	var reported []error
	const interval = 200 * time.Millisecond
	src := &switchable{SecretsManager: awskeys.SecretsManager{Client: sm, SecretID: arn}}
	ring, err := otelaudit.NewKeyRing(t.Context(), src, otelaudit.WithRefreshInterval(interval),
		otelaudit.WithRefreshErrorHandler(func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() }))
	require.NoError(t, err)
	defer ring.Close()
	st := storage.NewMemoryStorage(0)
	l, err := otelaudit.NewLogger(st, otelaudit.WithCipher(ring))
	require.NoError(t, err)
	ctx := t.Context()
	logged := map[string]string{}
	logOne := func(text string) *storage.AuditEntry {
		id, err := l.Log(ctx, otelaudit.Interaction{Input: text, Output: "re: " + text})
		require.NoError(t, err)
		logged[id] = text
		e, err := l.GetEntry(ctx, id)
		require.NoError(t, err)
		return e
	}
	e := logOne("before rotation")
	assert.True(t, strings.HasPrefix(*e.InputContent, "fernet:"+ids[0]+":"))

	// Rotation as Secrets Manager does it: the new value becomes
	// AWSCURRENT, the old one AWSPREVIOUS.
	putSecret(t, sm, arn, k2)
	rotated := time.Now()
	require.Eventually(t, func() bool { return ring.KeyIDs()[0] == ids[1] }, 10*interval+5*time.Second, 10*time.Millisecond)
	t.Logf("rotation picked up after %v (refresh interval %v)", time.Since(rotated).Round(time.Millisecond), interval)
	assert.Equal(t, []string{ids[1], ids[0]}, ring.KeyIDs(), "AWSPREVIOUS keys stay for decryption")
	e = logOne("after rotation")
	assert.True(t, strings.HasPrefix(*e.InputContent, "fernet:"+ids[1]+":"))

	// Secrets Manager unreachable: the ring stays, the failure is reported.
	// (On a loaded machine a refresh before the outage may have failed
	// too, by its deadline: only what comes after counts.)
	mu.Lock()
	reportedBefore := len(reported)
	mu.Unlock()
	failuresBefore := ring.RefreshFailures()
	src.fail(errors.New("connection refused"))
	require.Eventually(t, func() bool { return ring.RefreshFailures() > failuresBefore }, 10*time.Second, 10*time.Millisecond)
	e = logOne("during outage")
	assert.True(t, strings.HasPrefix(*e.InputContent, "fernet:"+ids[1]+":"), "still encrypted with the last good ring")
	// The count goes up inside the reload, the report right after it.
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.ContainsFunc(reported[reportedBefore:], func(err error) bool { return strings.Contains(err.Error(), "connection refused") })
	}, 10*time.Second, 10*time.Millisecond, "the outage is reported")
	src.fail(nil)

	// Every entry so far decrypts.
	for id, text := range logged {
		e, err := l.GetEntry(ctx, id)
		require.NoError(t, err)
		in, out, err := l.DecryptContent(e)
		require.NoError(t, err)
		assert.Equal(t, text, in)
		assert.Equal(t, "re: "+text, out)
	}

	// A second rotation drops k1 from both versions: revoked.
	putSecret(t, sm, arn, k3)
	require.NoError(t, ring.Refresh(ctx))
	assert.Equal(t, []string{ids[2], ids[1]}, ring.KeyIDs())
	for id, text := range logged {
		e, _ := l.GetEntry(ctx, id)
		_, _, err := l.DecryptContent(e)
		if text == "before rotation" {
			require.ErrorIs(t, err, otelaudit.ErrUnknownKey)
			assert.Contains(t, err.Error(), ids[0])
		} else {
			require.NoError(t, err)
		}
	}
}

// switchable makes a real source fail on demand, to stand for an outage.
type switchable struct {
	awskeys.SecretsManager
	mu  sync.Mutex
	err error
}

func (s *switchable) fail(err error) { s.mu.Lock(); s.err = err; s.mu.Unlock() }

func (s *switchable) Keys(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.SecretsManager.Keys(ctx)
}

func TestEnvelopeRoundTripWithKMS(t *testing.T) {
	ep := awstest.Endpoint(t)
	kc := awstest.KMS(ep)
	keyARN := awstest.NewKMSKey(t, kc)
	env, err := awskeys.NewEnvelope(t.Context(), kc, keyARN)
	require.NoError(t, err)
	assert.Equal(t, keyARN, env.KeyARN())

	st := storage.NewMemoryStorage(0)
	l, err := otelaudit.NewLogger(st, otelaudit.WithCipher(env))
	require.NoError(t, err)
	ctx := t.Context()
	var ids []string
	for i, text := range []string{"", "short", strings.Repeat("long prompt é ", 500)} {
		id, err := l.Log(ctx, otelaudit.Interaction{Input: text, Output: "answer " + text, Model: "m", Provider: "p"})
		require.NoError(t, err, i)
		ids = append(ids, id)
	}
	assert.EqualValues(t, 1, env.KMSCalls(), "one data key for all entries")
	for i, id := range ids {
		e, err := l.GetEntry(ctx, id)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(*e.InputContent, "kms:"+keyARN+":"), *e.InputContent)
		assert.NotContains(t, *e.OutputContent, "answer")
		in, out, err := l.DecryptContent(e)
		require.NoError(t, err, i)
		assert.Equal(t, "answer "+in, out)
	}

	// Any entry decrypts with KMS Decrypt alone: a fresh decrypt-only
	// Envelope, as the CLI makes, with a client of its own.
	reader, err := awskeys.NewEnvelope(ctx, awstest.KMS(ep), "")
	require.NoError(t, err)
	e, _ := l.GetEntry(ctx, ids[1])
	pt, err := reader.Decrypt(*e.InputContent)
	require.NoError(t, err)
	assert.Equal(t, "short", pt)
	pt, err = reader.Decrypt(*e.OutputContent)
	require.NoError(t, err)
	assert.Equal(t, "answer short", pt)
	assert.EqualValues(t, 1, reader.KMSCalls(), "the unwrapped data key is cached")
	_, err = reader.Encrypt("x")
	require.ErrorIs(t, err, awskeys.ErrNoKMSKey)

	// Tampering: the key ARN, the wrapped key and the content are bound.
	ct := *e.InputContent
	flipped := []byte(ct)
	flipped[len(flipped)-3] ^= 1
	_, err = reader.Decrypt(string(flipped))
	require.ErrorIs(t, err, otelaudit.ErrDecrypt)
	_, err = reader.Decrypt("fernet:abcd1234:gAAAAA")
	require.ErrorIs(t, err, otelaudit.ErrOtherScheme)
	_, err = reader.Decrypt("kms:nothing")
	require.ErrorIs(t, err, otelaudit.ErrDecrypt)
}

// TestEnvelopeAppendEncrypt checks AppendEncrypt against Encrypt and
// Decrypt (lendtest.CheckAppendEncrypt), and that a Logger on a file
// store, which encrypts with it into memory it reuses (lent to the store,
// scribbled over when each loan ends), keeps every entry whole: many
// entries from several goroutines, each read back and opened with KMS
// alone.
func TestEnvelopeAppendEncrypt(t *testing.T) {
	ep := awstest.Endpoint(t)
	kc := awstest.KMS(ep)
	keyARN := awstest.NewKMSKey(t, kc)
	env, err := awskeys.NewEnvelope(t.Context(), kc, keyARN)
	require.NoError(t, err)
	lendtest.CheckAppendEncrypt(t, env, awskeys.KMSPrefix+keyARN+":")

	loans := lendtest.Scribble(t)
	st, err := filestore.New(t.TempDir())
	require.NoError(t, err)
	defer st.Close()
	l, err := otelaudit.NewLogger(st, otelaudit.WithCipher(env))
	require.NoError(t, err)
	var want lendtest.Want
	lendtest.LogMany(t, l, &want, 4, 50)
	require.Equal(t, int64(200), loans())
	reader, err := awskeys.NewEnvelope(t.Context(), awstest.KMS(ep), "")
	require.NoError(t, err)
	want.CheckAll(t, func(id string) (*storage.AuditEntry, error) { return l.GetEntry(t.Context(), id) }, lendtest.CipherOpen(reader))
}

func TestEnvelopeRotatesDataKeysByCountAndAge(t *testing.T) {
	ep := awstest.Endpoint(t)
	kc := awstest.KMS(ep)
	keyARN := awstest.NewKMSKey(t, kc)
	env, err := awskeys.NewEnvelope(t.Context(), kc, keyARN, awskeys.WithDataKeyMaxUses(3))
	require.NoError(t, err)
	wrapped := map[string]bool{}
	var cts []string
	for i := range 7 {
		ct, err := env.Encrypt("entry")
		require.NoError(t, err, i)
		cts = append(cts, ct)
		wrapped[strings.Split(strings.TrimPrefix(ct, "kms:"+keyARN+":"), ":")[0]] = true
	}
	assert.Len(t, wrapped, 3, "7 contents at 3 per data key")
	assert.EqualValues(t, 3, env.KMSCalls())

	aged, err := awskeys.NewEnvelope(t.Context(), kc, keyARN, awskeys.WithDataKeyMaxAge(50*time.Millisecond))
	require.NoError(t, err)
	a, _ := aged.Encrypt("x")
	time.Sleep(80 * time.Millisecond)
	b, _ := aged.Encrypt("x")
	assert.NotEqual(t, strings.Split(a, ":")[len(strings.Split(a, ":"))-2], strings.Split(b, ":")[len(strings.Split(b, ":"))-2], "a new data key after max age")

	for _, ct := range append(cts, a, b) {
		pt, err := env.Decrypt(ct)
		require.NoError(t, err)
		assert.Contains(t, []string{"entry", "x"}, pt)
	}
}

func TestEnvelopeRevokedAndWrongKeys(t *testing.T) {
	ep := awstest.Endpoint(t)
	kc := awstest.KMS(ep)
	ctx := t.Context()
	_, err := awskeys.NewEnvelope(ctx, kc, "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000")
	require.Error(t, err, "a key that does not exist fails at start")
	assert.Contains(t, err.Error(), "00000000-0000-0000-0000-000000000000")

	keyARN := awstest.NewKMSKey(t, kc)
	env, err := awskeys.NewEnvelope(ctx, kc, keyARN)
	require.NoError(t, err)
	ct, err := env.Encrypt("secret prompt")
	require.NoError(t, err)

	// A caller without access to the key (another account; as after a
	// revoked grant): KMS refuses, and the error names the key.
	outsider, err := awskeys.NewEnvelope(ctx, awstest.KMSAsAccount(ep, "111122223333"), "")
	require.NoError(t, err)
	_, err = outsider.Decrypt(ct)
	require.ErrorIs(t, err, otelaudit.ErrDecrypt)
	assert.Contains(t, err.Error(), keyARN)
	assert.Contains(t, err.Error(), "does not exist")
	assert.NotContains(t, err.Error(), "secret prompt")

	// The wrapped data key presented as another key's: KMS refuses.
	other := awstest.NewKMSKey(t, kc)
	reader, err := awskeys.NewEnvelope(ctx, kc, "")
	require.NoError(t, err)
	_, err = reader.Decrypt(strings.Replace(ct, keyARN, other, 1))
	require.ErrorIs(t, err, otelaudit.ErrDecrypt)
	assert.Contains(t, err.Error(), other)

	pt, err := reader.Decrypt(ct)
	require.NoError(t, err)
	assert.Equal(t, "secret prompt", pt)

	// A reader limited to other keys refuses before calling KMS.
	picky, err := awskeys.NewEnvelope(ctx, kc, "", awskeys.WithDecryptKeys(other))
	require.NoError(t, err)
	_, err = picky.Decrypt(ct)
	require.ErrorIs(t, err, otelaudit.ErrUnknownKey)
	assert.Contains(t, err.Error(), keyARN)
	assert.Zero(t, picky.KMSCalls())
	bareID := keyARN[strings.LastIndex(keyARN, "/")+1:]
	for _, id := range []string{keyARN, bareID} {
		ok, err := awskeys.NewEnvelope(ctx, kc, "", awskeys.WithDecryptKeys(other, id))
		require.NoError(t, err)
		pt, err = ok.Decrypt(ct)
		require.NoError(t, err, id)
		assert.Equal(t, "secret prompt", pt)
	}
}

func TestCipherFromEnv(t *testing.T) {
	ep := awstest.Endpoint(t)
	cfg := awstest.Config(ep)
	kc := awstest.KMS(ep)
	sm := awstest.SecretsManager(ep)
	k1, _ := otelaudit.GenerateKey()
	secret := newSecret(t, sm, k1)
	keyARN := awstest.NewKMSKey(t, kc)
	for _, v := range []string{"OTELAUDIT_KEY", "OTELAUDIT_KEY_FILE", "OTELAUDIT_KEY_SECRET", "OTELAUDIT_KMS_KEY_ID"} {
		t.Setenv(v, "")
	}
	ctx := t.Context()

	_, _, err := awskeys.CipherFromEnv(ctx, cfg)
	require.ErrorIs(t, err, os.ErrNotExist)

	t.Setenv("OTELAUDIT_KEY_SECRET", secret)
	c, stop, err := awskeys.CipherFromEnv(ctx, cfg)
	require.NoError(t, err)
	fernetCT, err := c.Encrypt("old entry")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(fernetCT, "fernet:"+keyIDs(t, k1)[0]+":"))
	require.NoError(t, stop())

	t.Setenv("OTELAUDIT_KMS_KEY_ID", keyARN)
	c, stop, err = awskeys.CipherFromEnv(ctx, cfg)
	require.NoError(t, err)
	defer stop()
	kmsCT, err := c.Encrypt("new entry")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(kmsCT, "kms:"+keyARN+":"), "KMS encrypts when configured")
	for want, ct := range map[string]string{"old entry": fernetCT, "new entry": kmsCT} {
		got, err := c.Decrypt(ct)
		require.NoError(t, err)
		assert.Equal(t, want, got, "the Fernet ring still decrypts")
	}

	t.Setenv("OTELAUDIT_KEY_SECRET", "")
	t.Setenv("OTELAUDIT_KMS_KEY_ID", "alias/does-not-exist")
	_, _, err = awskeys.CipherFromEnv(ctx, cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "alias/does-not-exist")
}
