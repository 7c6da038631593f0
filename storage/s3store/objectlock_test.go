package s3store_test

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/s3test"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// TestObjectLock: on a bucket created with Object Lock, WithObjectLock
// writes batch and digest objects with the retention mode and period
// (read back with GetObjectRetention; the server then refuses to delete
// them); retention cleanup keeps what is still locked and removes what is
// not, and Delete of a locked entry fails with ErrObjectLocked; the
// signed store still verifies. A bad mode or period fails New.
func TestObjectLock(t *testing.T) {
	srv := testServer(t)
	client := srv.client(nil, srv.secret)
	var r [6]byte
	_, _ = rand.Read(r[:])
	bucket := "otelaudit-lock-" + hex.EncodeToString(r[:])
	_, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket), ObjectLockEnabledForBucket: aws.Bool(true)})
	require.NoError(t, err)
	// Objects stay locked for the period; the bucket is left to the
	// server's temporary root (make test removes it).

	_, err = s3store.New(t.Context(), client, bucket, s3store.WithObjectLock("FOREVER", time.Hour))
	require.Error(t, err)
	_, err = s3store.New(t.Context(), client, bucket, s3store.WithObjectLock(types.ObjectLockModeGovernance, 0))
	require.Error(t, err)

	// An unlocked writer's old day, then a locked writer's entries.
	base := time.Date(2025, 8, 1, 12, 0, 0, 0, time.UTC)
	plain, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix("l/"), s3store.WithCheckpointKey("k1", testCheckpointKey))
	require.NoError(t, err)
	for i := range 20 {
		require.NoError(t, plain.Write(t.Context(), entryAt(base.Add(time.Duration(i)*time.Minute))))
	}
	require.NoError(t, plain.Close())
	st, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix("l/"), s3store.WithCheckpointKey("k1", testCheckpointKey),
		s3store.WithObjectLock(types.ObjectLockModeGovernance, time.Hour))
	require.NoError(t, err)
	defer st.Close()
	var ids []string
	for i := range 30 {
		e := entryAt(base.Add(24*time.Hour + time.Duration(i)*time.Minute))
		ids = append(ids, e.ID)
		require.NoError(t, st.Write(t.Context(), e))
	}
	require.NoError(t, st.Flush(t.Context()))

	var locked []string // a batch object of the locked writer and its digests
	for _, k := range s3test.Keys(t, client, bucket, "l/") {
		switch {
		case strings.HasPrefix(k, "l/2025-08-02/") && len(locked) == 0:
			locked = append(locked, k)
		case strings.HasPrefix(k, "l/_digests/") && strings.Contains(k, "/"+writerID(t, locked)+"/"):
			locked = append(locked, k)
		}
	}
	require.Greater(t, len(locked), 1)
	for _, k := range locked {
		ret, err := client.GetObjectRetention(t.Context(), &s3.GetObjectRetentionInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		require.NoError(t, err, k)
		assert.Equal(t, types.ObjectLockRetentionModeGovernance, ret.Retention.Mode, k)
		assert.WithinDuration(t, time.Now().Add(time.Hour), aws.ToTime(ret.Retention.RetainUntilDate), 5*time.Minute)
		_, err = client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		require.Error(t, err, "the server keeps a locked object")
	}

	// Delete of a locked entry is refused before anything is written.
	_, err = st.Delete(t.Context(), ids[3])
	require.ErrorIs(t, err, s3store.ErrObjectLocked)
	// Retention: the unlocked day goes, the locked one stays.
	n, err := st.DeleteBefore(t.Context(), base.Add(48*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, 20, n)
	c, err := st.Count(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 30, c)
	require.NoError(t, st.Close())
	v, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix("l/"), s3store.WithReadOnly())
	require.NoError(t, err)
	defer v.Close()
	rep, err := v.Verify(t.Context(), s3store.WithVerifyKey("k1", testCheckpointKey))
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Problems)
	assert.Equal(t, int64(30), rep.Chained)
}

// writerID returns the writer id of the first batch object key in keys.
func writerID(t *testing.T, keys []string) string {
	t.Helper()
	require.NotEmpty(t, keys)
	leaf := keys[0][strings.LastIndexByte(keys[0], '/')+1:]
	return leaf[:16]
}
