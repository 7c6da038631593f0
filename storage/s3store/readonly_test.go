package s3store_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/s3test"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// bucketSnapshot returns every object of the bucket under prefix with its
// bytes.
func bucketSnapshot(t *testing.T, sb *signedBucket, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range s3test.Keys(t, sb.client, sb.bucket, prefix) {
		out[k] = string(s3test.Body(t, sb.client, sb.bucket, k))
	}
	return out
}

// TestOpenWithoutTheWritersKey: a Store opened for writing without a
// checkpoint key on a prefix whose writers sign digests (a service
// deployed without its key) is refused before it writes anything: it would
// store batch objects no digest lists, which Verify with the writers' key
// reports as tampering. WithReadOnly opens it and reads everything, and
// refuses every write without a request; with the key it opens and stays
// intact; a prefix nobody signs still opens without a key.
func TestOpenWithoutTheWritersKey(t *testing.T) {
	srv := testServer(t)
	c := new(counter)
	client := srv.client(c, srv.secret)
	sb := &signedBucket{t: t, client: client, bucket: newBucket(t, client), prefix: "signed/"}
	key := testCheckpointKey
	base := time.Date(2025, 9, 1, 10, 0, 0, 0, time.UTC)

	w, err := s3store.New(t.Context(), client, sb.bucket, s3store.WithPrefix(sb.prefix), s3store.WithCheckpointKey("ops-2026", key))
	require.NoError(t, err)
	var ids []string
	for i := range 3 {
		e := entryAt(base.Add(time.Duration(i) * time.Second))
		ids = append(ids, e.ID)
		require.NoError(t, w.Write(t.Context(), e))
	}
	require.NoError(t, w.Close())
	before := bucketSnapshot(t, sb, "")
	kid, err := s3store.SigningKeyID(t.Context(), client, sb.bucket, s3store.WithPrefix(sb.prefix))
	require.NoError(t, err)
	assert.Equal(t, "ops-2026", kid)
	kid, err = s3store.SigningKeyID(t.Context(), client, sb.bucket, s3store.WithPrefix("plain/"))
	require.NoError(t, err)
	assert.Empty(t, kid, "no digests, no key id")

	spool := filepath.Join(t.TempDir(), "spool")
	c.reset()
	_, err = s3store.New(t.Context(), client, sb.bucket, s3store.WithPrefix(sb.prefix), s3store.WithSpoolDir(spool))
	require.ErrorIs(t, err, s3store.ErrCheckpointKeyNeeded)
	assert.Contains(t, err.Error(), `key id "ops-2026"`, "the key id read from the newest digest")
	assert.Contains(t, err.Error(), "WithCheckpointKey")
	assert.Contains(t, err.Error(), "WithReadOnly")
	assert.Equal(t, int64(0), c.put.Load()+c.del.Load(), "a refused open writes nothing")
	assert.Equal(t, int64(2), c.list.Load(), "one LIST of at most one digest to refuse, one of the digests to name the key")
	assert.Equal(t, before, bucketSnapshot(t, sb, ""))
	_, err = os.Stat(spool)
	assert.ErrorIs(t, err, os.ErrNotExist, "a refused open takes no spool directory")

	// Read-only, with or without the key: every read works, nothing is
	// written, and no request checks for a key.
	for _, opts := range [][]s3store.Option{nil, {s3store.WithCheckpointKey("ops-2026", key)}} {
		c.reset()
		ro, err := s3store.New(t.Context(), client, sb.bucket, append([]s3store.Option{s3store.WithPrefix(sb.prefix), s3store.WithReadOnly(), s3store.WithSpoolDir(spool)}, opts...)...)
		require.NoError(t, err)
		assert.Equal(t, int64(1), c.all.Load(), "read-only New: only the bucket check")
		n, err := ro.Count(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 3, n)
		es, err := ro.ListEntries(t.Context(), base, base.Add(time.Hour))
		require.NoError(t, err)
		assert.Len(t, es, 3)
		got, err := ro.Read(t.Context(), ids[1])
		require.NoError(t, err)
		assert.Equal(t, ids[1], got.ID)
		rep, err := ro.Verify(t.Context(), s3store.WithVerifyKey("ops-2026", key))
		require.NoError(t, err)
		assert.True(t, rep.OK(), "%v", rep.Problems)

		c.reset()
		require.ErrorIs(t, ro.Write(t.Context(), entryAt(base)), s3store.ErrReadOnly)
		require.ErrorIs(t, ro.WriteBatch(t.Context(), []*storage.AuditEntry{entryAt(base)}), s3store.ErrReadOnly)
		_, err = ro.Delete(t.Context(), ids[0])
		require.ErrorIs(t, err, s3store.ErrReadOnly)
		_, err = ro.DeleteBefore(t.Context(), base.Add(time.Hour))
		require.ErrorIs(t, err, s3store.ErrReadOnly)
		require.NoError(t, ro.Flush(t.Context()), "nothing to flush")
		require.NoError(t, ro.Close())
		assert.Equal(t, int64(0), c.all.Load(), "refused writes, Flush and Close make no request")
		assert.Equal(t, before, bucketSnapshot(t, sb, ""))
		_, err = os.Stat(spool)
		assert.ErrorIs(t, err, os.ErrNotExist, "a read-only Store takes no spool directory")
	}

	// With the key: no extra request at New, and the prefix stays intact.
	c.reset()
	w, err = s3store.New(t.Context(), client, sb.bucket, s3store.WithPrefix(sb.prefix), s3store.WithCheckpointKey("ops-2026", key))
	require.NoError(t, err)
	assert.Equal(t, int64(1), c.all.Load(), "a signing New: only the bucket check")
	require.NoError(t, w.Write(t.Context(), entryAt(base.Add(time.Minute))))
	require.NoError(t, w.Close())
	ro, err := s3store.New(t.Context(), client, sb.bucket, s3store.WithPrefix(sb.prefix), s3store.WithReadOnly())
	require.NoError(t, err)
	defer ro.Close()
	rep, err := ro.Verify(t.Context(), s3store.WithVerifyKey("ops-2026", key))
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Problems)
	assert.EqualValues(t, 4, rep.Entries)

	// A prefix nobody signs (empty, then holding unsigned entries) opens
	// without a key, at the cost of one LIST.
	for range 2 {
		c.reset()
		u, err := s3store.New(t.Context(), client, sb.bucket, s3store.WithPrefix("plain/"))
		require.NoError(t, err)
		assert.Equal(t, int64(1), c.list.Load(), "one LIST of the digests")
		require.NoError(t, u.Write(t.Context(), entryAt(base)))
		require.NoError(t, u.Close())
	}
	// Another prefix's digests do not count: "signed/" sits next to it.
	u, err := s3store.New(t.Context(), client, sb.bucket, s3store.WithPrefix(""))
	require.NoError(t, err, "the bucket root holds no _digests/ of its own")
	require.NoError(t, u.Close())
}

// TestSigningKeyIDAfterRotation: once the writers of a prefix moved to a
// new checkpoint key, SigningKeyID and the refusal of a writer without a
// key name the new key, not the one of the prefix's first digest.
func TestSigningKeyIDAfterRotation(t *testing.T) {
	srv := testServer(t)
	client := srv.client(nil, srv.secret)
	bucket := newBucket(t, client)
	base := time.Date(2025, 9, 1, 10, 0, 0, 0, time.UTC)
	for i, kid := range []string{"ops-2026", "ops-2027"} {
		if i > 0 {
			// Digest objects are ordered by their last-modified time,
			// which S3 keeps to the second.
			time.Sleep(1100 * time.Millisecond)
		}
		w, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix("rotated/"),
			s3store.WithCheckpointKey(kid, bytes.Repeat([]byte{byte('a' + i)}, 32)))
		require.NoError(t, err)
		require.NoError(t, w.Write(t.Context(), entryAt(base.Add(time.Duration(i)*time.Hour))))
		require.NoError(t, w.Close())
	}
	kid, err := s3store.SigningKeyID(t.Context(), client, bucket, s3store.WithPrefix("rotated/"))
	require.NoError(t, err)
	assert.Equal(t, "ops-2027", kid)
	_, err = s3store.New(t.Context(), client, bucket, s3store.WithPrefix("rotated/"))
	require.ErrorIs(t, err, s3store.ErrCheckpointKeyNeeded)
	assert.Contains(t, err.Error(), `key id "ops-2027"`)
}
