package filestore

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSameCheckpointKey: opened WithSameCheckpointKey, New refuses a key
// that did not sign the store's latest note (another id, another key
// under the id, a key of the other kind), naming both ids and no key, and
// writes nothing; the store still verifies with its key. The store's own
// key, a store with no signed note, and (without the option) a writer
// moving the store to a new key all open as before.
func TestSameCheckpointKey(t *testing.T) {
	hmacKey := bytes.Repeat([]byte{0x42}, 32)
	other := bytes.Repeat([]byte{0x99}, 32)
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	otherPriv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32))
	write := func(t *testing.T, opts ...Option) string {
		dir := t.TempDir()
		st, err := New(dir, opts...)
		require.NoError(t, err)
		require.NoError(t, st.Write(t.Context(), testEntry(verifyBase)))
		require.NoError(t, st.Close())
		return dir
	}
	for _, tc := range []struct {
		name      string
		store     Option
		verify    VerifyOption
		given     Option
		storeKID  string
		givenKID  string
		secretHex string
	}{
		{"another HMAC key id", WithCheckpointKey("ops-1", hmacKey), WithVerifyKey("ops-1", hmacKey), WithCheckpointKey("ops-2", other), "ops-1", "ops-2", hex.EncodeToString(other)},
		{"another HMAC key under the id", WithCheckpointKey("ops-1", hmacKey), WithVerifyKey("ops-1", hmacKey), WithCheckpointKey("ops-1", other), "ops-1", "ops-1", hex.EncodeToString(other)},
		{"an Ed25519 key for an HMAC store", WithCheckpointKey("ops-1", hmacKey), WithVerifyKey("ops-1", hmacKey), WithCheckpointSigner("ops-1", otherPriv), "ops-1", "ops-1", hex.EncodeToString(otherPriv.Seed())},
		{"an HMAC key for an Ed25519 store", WithCheckpointSigner("ed-1", priv), WithVerifyPublicKey("ed-1", priv.Public().(ed25519.PublicKey)), WithCheckpointKey("ed-1", other), "ed-1", "ed-1", hex.EncodeToString(other)},
		{"another Ed25519 key under the id", WithCheckpointSigner("ed-1", priv), WithVerifyPublicKey("ed-1", priv.Public().(ed25519.PublicKey)), WithCheckpointSigner("ed-1", otherPriv), "ed-1", "ed-1", hex.EncodeToString(otherPriv.Seed())},
		{"a key of one's own for a store signed with its own key file", nil, nil, WithCheckpointKey("ops-1", hmacKey), "local", "ops-1", hex.EncodeToString(hmacKey)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []Option
			if tc.store != nil {
				opts = append(opts, tc.store)
			}
			dir := write(t, opts...)
			before := snapshotFiles(t, dir)
			_, err := New(dir, tc.given, WithSameCheckpointKey())
			require.ErrorIs(t, err, ErrCheckpointKeyMismatch)
			assert.Contains(t, err.Error(), `key id "`+tc.storeKID+`"`)
			assert.Contains(t, err.Error(), `key id "`+tc.givenKID+`"`)
			assert.NotContains(t, err.Error(), tc.secretHex, "never a key")
			assert.Equal(t, before, snapshotFiles(t, dir), "a refused open writes nothing")
			var vo []VerifyOption
			if tc.verify != nil {
				vo = append(vo, tc.verify)
			}
			rep, err := Verify(t.Context(), dir, vo...)
			require.NoError(t, err)
			assert.True(t, rep.OK(), "%v", rep.Problems)

			// Without the option the writer signs on with the new key:
			// moving a store to a new key stays possible.
			st, err := New(dir, tc.given)
			require.NoError(t, err)
			require.NoError(t, st.Close())
		})
	}

	t.Run("the store's key", func(t *testing.T) {
		for _, o := range []Option{WithCheckpointKey("ops-1", hmacKey), WithCheckpointSigner("ed-1", priv), nil} {
			var opts []Option
			if o != nil {
				opts = append(opts, o)
			}
			dir := write(t, opts...)
			st, err := New(dir, append(opts, WithSameCheckpointKey())...)
			require.NoError(t, err)
			require.NoError(t, st.Close())
		}
	})
	t.Run("a store with no signed note", func(t *testing.T) {
		dir := t.TempDir()
		st, err := New(dir, WithCheckpointKey("ops-1", hmacKey), WithSameCheckpointKey())
		require.NoError(t, err)
		require.NoError(t, st.Close())
	})
}
