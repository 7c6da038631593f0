package s3store_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// TestSameCheckpointKey: a Store opened WithSameCheckpointKey on a prefix
// whose writers sign with another key (another id, another key under the
// id, a key of the other kind) is refused before it writes anything,
// naming both key ids and no key, and the prefix still verifies with the
// writers' key. The writers' key opens it; a prefix nobody signs takes a
// key; without the option a Store given a new key still opens (writers
// moving to a new key), and once it has written, its key is the newest.
func TestSameCheckpointKey(t *testing.T) {
	srv := testServer(t)
	c := new(counter)
	client := srv.client(c, srv.secret)
	bucket := newBucket(t, client)
	base := time.Date(2025, 9, 1, 10, 0, 0, 0, time.UTC)
	hmacKey := testCheckpointKey
	other := bytes.Repeat([]byte{0x99}, 32)
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	otherPriv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32))
	write := func(prefix string, sign s3store.Option) {
		w, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix(prefix), sign)
		require.NoError(t, err)
		require.NoError(t, w.Write(t.Context(), entryAt(base)))
		require.NoError(t, w.Close())
	}
	write("hmac/", s3store.WithCheckpointKey("ops-1", hmacKey))
	write("ed/", s3store.WithCheckpointSigner("ed-1", priv))
	for _, tc := range []struct {
		name, prefix       string
		verify             s3store.VerifyOption
		given              s3store.Option
		storeKID, givenKID string
		secretHex          string
	}{
		{"another HMAC key id", "hmac/", s3store.WithVerifyKey("ops-1", hmacKey), s3store.WithCheckpointKey("ops-2", other), "ops-1", "ops-2", hex.EncodeToString(other)},
		{"another HMAC key under the id", "hmac/", s3store.WithVerifyKey("ops-1", hmacKey), s3store.WithCheckpointKey("ops-1", other), "ops-1", "ops-1", hex.EncodeToString(other)},
		{"an Ed25519 key for an HMAC prefix", "hmac/", s3store.WithVerifyKey("ops-1", hmacKey), s3store.WithCheckpointSigner("ops-1", otherPriv), "ops-1", "ops-1", hex.EncodeToString(otherPriv.Seed())},
		{"an HMAC key for an Ed25519 prefix", "ed/", s3store.WithVerifyPublicKey("ed-1", priv.Public().(ed25519.PublicKey)), s3store.WithCheckpointKey("ed-1", other), "ed-1", "ed-1", hex.EncodeToString(other)},
		{"another Ed25519 key under the id", "ed/", s3store.WithVerifyPublicKey("ed-1", priv.Public().(ed25519.PublicKey)), s3store.WithCheckpointSigner("ed-1", otherPriv), "ed-1", "ed-1", hex.EncodeToString(otherPriv.Seed())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := &signedBucket{t: t, client: client, bucket: bucket}
			before := bucketSnapshot(t, sb, tc.prefix)
			c.reset()
			_, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix(tc.prefix), tc.given, s3store.WithSameCheckpointKey())
			require.ErrorIs(t, err, s3store.ErrCheckpointKeyMismatch)
			assert.Contains(t, err.Error(), `key id "`+tc.storeKID+`"`)
			assert.Contains(t, err.Error(), `key id "`+tc.givenKID+`"`)
			assert.NotContains(t, err.Error(), tc.secretHex, "never a key")
			assert.Equal(t, int64(0), c.put.Load()+c.del.Load(), "a refused open writes nothing")
			assert.Equal(t, before, bucketSnapshot(t, sb, tc.prefix))
			ro, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix(tc.prefix), s3store.WithReadOnly())
			require.NoError(t, err)
			rep, err := ro.Verify(t.Context(), tc.verify)
			require.NoError(t, err)
			assert.True(t, rep.OK(), "%v", rep.Problems)
		})
	}

	for _, tc := range []struct {
		prefix string
		key    s3store.Option
	}{{"hmac/", s3store.WithCheckpointKey("ops-1", hmacKey)}, {"ed/", s3store.WithCheckpointSigner("ed-1", priv)}, {"plain/", s3store.WithCheckpointKey("ops-1", hmacKey)}} {
		st, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix(tc.prefix), tc.key, s3store.WithSameCheckpointKey())
		require.NoError(t, err, "the writers' key, or any key for a prefix nobody signs: %s", tc.prefix)
		require.NoError(t, st.Close())
	}

	// Writers moving to a new key: the option does not stand in their way
	// (it is not given), and once the new key signed the newest digest, it
	// is the one a Store opened WithSameCheckpointKey needs.
	time.Sleep(1100 * time.Millisecond) // last-modified times have a resolution of one second
	write("hmac/", s3store.WithCheckpointKey("ops-2", other))
	st, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix("hmac/"), s3store.WithCheckpointKey("ops-2", other), s3store.WithSameCheckpointKey())
	require.NoError(t, err)
	require.NoError(t, st.Close())
}
