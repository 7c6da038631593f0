package filestore

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/reftest"
)

// ownKeyStore writes a store signed with its own .checkpoint.key (one
// entry, closed) and returns its directory and that key.
func ownKeyStore(t *testing.T) (dir string, key []byte) {
	t.Helper()
	dir = t.TempDir()
	st, err := New(dir)
	require.NoError(t, err)
	require.NoError(t, st.Write(t.Context(), testEntry(verifyBase)))
	require.NoError(t, st.Close())
	key, err = readKeyFile(filepath.Join(dir, keyFileName))
	require.NoError(t, err)
	return dir, key
}

// TestOpenWithoutItsOwnKeyFile: a store whose notes are signed with its
// own key (key id "local"), opened for writing after .checkpoint.key went
// missing (moved out of the store as the Production advice says, or left
// behind by a copy that skipped dotfiles), is refused instead of signing
// on with a new "local" key, which would leave the store verifying as
// tampered for good. The error matches ErrCheckpointKeyNeeded, names the
// key id, the file and the way out, never the key, and no key file or
// note is written. With the file back, or its key given, it opens and
// verifies.
func TestOpenWithoutItsOwnKeyFile(t *testing.T) {
	dir, key := ownKeyStore(t)
	keyPath := filepath.Join(dir, keyFileName)
	moved := filepath.Join(t.TempDir(), "checkpoint.key")
	require.NoError(t, os.Rename(keyPath, moved))
	before := snapshotFiles(t, dir)

	_, err := New(dir)
	require.ErrorIs(t, err, ErrCheckpointKeyNeeded)
	msg := err.Error()
	assert.Contains(t, msg, `key id "local"`)
	assert.Contains(t, msg, keyPath, "names the file it expected")
	assert.Contains(t, msg, "put that file back")
	assert.Contains(t, msg, "WithCheckpointKey")
	assert.NotContains(t, msg, hex.EncodeToString(key), "never the key")
	assert.Equal(t, before, snapshotFiles(t, dir), "a refused open writes no key file and no note")
	_, err = os.Stat(keyPath)
	assert.ErrorIs(t, err, os.ErrNotExist)

	// The key given as an option: it signs on under "local" with the
	// same key, so the store's own key file, put back, verifies it all.
	st, err := New(dir, WithCheckpointKey(localKeyID, key))
	require.NoError(t, err)
	require.NoError(t, st.Write(t.Context(), testEntry(verifyBase.Add(time.Minute))))
	require.NoError(t, st.Close())

	require.NoError(t, os.Rename(moved, keyPath))
	st, err = New(dir)
	require.NoError(t, err)
	require.NoError(t, st.Write(t.Context(), testEntry(verifyBase.Add(2*time.Minute))))
	require.NoError(t, st.Close())
	rep, err := Verify(t.Context(), dir)
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Problems)
	assert.Equal(t, int64(3), rep.Chained)
}

// TestOwnKeyFileCreated: a store that has signed nothing yet still gets
// its own key file (0600, in a 0700 directory) on first open: a new
// directory, an existing empty one, and one holding only entries the
// reference implementation wrote (no notes).
func TestOwnKeyFileCreated(t *testing.T) {
	ds, ok := reftest.Load(t)["hashonly"]
	require.True(t, ok)
	for name, dir := range map[string]string{
		"new":       filepath.Join(t.TempDir(), "audit-data"),
		"empty":     t.TempDir(),
		"reference": copyDir(t, filepath.Join(reftest.Dir, ds.Dir)),
	} {
		t.Run(name, func(t *testing.T) {
			st, err := New(dir)
			require.NoError(t, err)
			require.NoError(t, st.Close())
			fi, err := os.Stat(filepath.Join(dir, keyFileName))
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
			if name == "new" {
				di, err := os.Stat(dir)
				require.NoError(t, err)
				assert.Equal(t, os.FileMode(0o700), di.Mode().Perm())
			}
			rep, err := Verify(t.Context(), dir)
			require.NoError(t, err)
			assert.True(t, rep.OK(), "%v", rep.Problems)
		})
	}
}

// TestVerifyReplacedOwnKey: a store whose .checkpoint.key was replaced
// by a new one under the same id "local" (what a writer did before it
// refused to: see TestOpenWithoutItsOwnKeyFile) holds notes signed with
// either key. Verify with one key reports the other's notes; given both
// keys of the one id, it tries each and the store verifies.
func TestVerifyReplacedOwnKey(t *testing.T) {
	dir, oldKey := ownKeyStore(t)
	keyPath := filepath.Join(dir, keyFileName)
	require.NoError(t, os.Remove(keyPath))
	// The new key file, as the writer used to make it.
	newKey := make([]byte, 32)
	rand.Read(newKey)
	require.NoError(t, os.WriteFile(keyPath, []byte(hex.EncodeToString(newKey)+"\n"), 0o600))
	st, err := New(dir)
	require.NoError(t, err)
	require.NoError(t, st.Write(t.Context(), testEntry(verifyBase.Add(time.Minute))))
	require.NoError(t, st.Close())

	for name, key := range map[string][]byte{"old": oldKey, "new": newKey} {
		rep, err := Verify(t.Context(), dir, WithVerifyKey(localKeyID, key))
		require.NoError(t, err)
		assert.Contains(t, kinds(rep.Problems), ProblemBadSignature, "the %s key alone", name)
	}
	rep, err := Verify(t.Context(), dir, WithVerifyKey(localKeyID, oldKey), WithVerifyKey(localKeyID, newKey))
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Problems)
	assert.Equal(t, int64(2), rep.Chained)
	assert.Equal(t, 2, rep.Writers)
}

// TestVerifyDamagedOwnKeyFile: verified without a key, a store whose own
// .checkpoint.key is there but damaged reports no-key saying the file
// cannot be used, not that there is none.
func TestVerifyDamagedOwnKeyFile(t *testing.T) {
	dir, key := ownKeyStore(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, keyFileName), []byte("not a key\n"), 0o600))
	rep, err := Verify(t.Context(), dir)
	require.NoError(t, err)
	var found bool
	for _, p := range rep.Problems {
		if p.Kind == ProblemNoKey {
			found = true
			assert.Contains(t, p.Detail, ".checkpoint.key cannot be used")
			assert.Contains(t, p.Detail, "damaged")
			assert.NotContains(t, p.Detail, hex.EncodeToString(key))
		}
	}
	assert.True(t, found, "no-key reported: %v", rep.Problems)
}
