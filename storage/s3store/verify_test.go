package s3store_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/s3test"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
	"github.com/otelaudit/otelaudit-go/storage/verify"
)

// TestVerify: a store of two writers with reference-layout objects next to
// it verifies (legacy entries are a warning, not tampering; what S3 cannot
// rule out is listed); a replayed entry and an inserted unchained line are
// found in the object holding them; an empty prefix is ErrNoStore. The
// CLI test (cmd/otelaudit TestS3Verify) covers changed, deleted and
// reordered lines and deleted objects on >= 1,000 entries.
func TestVerify(t *testing.T) {
	srv := testServer(t)
	client := srv.client(nil, srv.secret)
	bucket := newBucket(t, client)
	put := func(key string, body []byte) {
		t.Helper()
		_, err := client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
		require.NoError(t, err)
	}
	var stores [2]*s3store.Store
	for i := range stores {
		st, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix("v/"), s3store.WithMaxBatchEntries(20))
		require.NoError(t, err)
		defer st.Close()
		stores[i] = st
	}
	base := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	for i := range 100 {
		require.NoError(t, stores[i%2].Write(t.Context(), entryAt(base.Add(time.Duration(i)*time.Second))))
	}
	require.NoError(t, stores[1].Flush(t.Context())) // Verify flushes only its own Store
	ref := entryAt(base.Add(-time.Hour))
	refLine, err := ref.AppendJSON(nil)
	require.NoError(t, err)
	put("v/2025-06-30/"+ref.ID+".json", refLine)

	rep, err := stores[0].Verify(t.Context())
	require.NoError(t, err)
	assert.Empty(t, rep.Problems)
	assert.Equal(t, int64(101), rep.Entries)
	assert.Equal(t, int64(100), rep.Chained)
	assert.Equal(t, int64(1), rep.Legacy)
	assert.Equal(t, 2, rep.Writers)
	assert.Equal(t, "s3://"+bucket+"/v/", rep.Dir)
	assert.Equal(t, s3store.S3Unverifiable, rep.Unverifiable)
	require.Len(t, rep.Warnings, 1)
	assert.Equal(t, verify.WarningLegacy, rep.Warnings[0].Kind)

	var objs []string
	for _, k := range s3test.Keys(t, client, bucket, "v/") {
		if strings.HasSuffix(k, ".jsonl") && !strings.HasPrefix(k, "v/_ids/") {
			objs = append(objs, k)
		}
	}
	require.GreaterOrEqual(t, len(objs), 5)
	a, b := s3test.Body(t, client, bucket, objs[1]), s3test.Body(t, client, bucket, objs[2])
	first, _, _ := bytes.Cut(a, []byte("\n"))

	// A replayed entry: a line of one object copied to the end of another.
	put(objs[2], append(bytes.Clone(b), append(first, '\n')...))
	rep, err = stores[0].Verify(t.Context())
	require.NoError(t, err)
	kinds := map[verify.ProblemKind]string{}
	for _, p := range rep.Problems {
		kinds[p.Kind] = p.File
	}
	assert.Equal(t, strings.TrimPrefix(objs[2], "v/"), kinds[verify.ProblemCorrupt], "more lines than the name says: %v", rep.Problems)
	assert.Contains(t, kinds, verify.ProblemDuplicate, "%v", rep.Problems)
	put(objs[2], b)

	// An unchained line inserted into a batch object.
	put(objs[2], append(bytes.Clone(b), append(refLine, '\n')...))
	rep, err = stores[0].Verify(t.Context())
	require.NoError(t, err)
	require.False(t, rep.OK())
	assert.Equal(t, strings.TrimPrefix(objs[2], "v/"), rep.Problems[0].File)
	put(objs[2], b)

	rep, err = stores[1].Verify(t.Context())
	require.NoError(t, err)
	assert.True(t, rep.OK(), "restored: %v", rep.Problems)

	empty, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix("empty/"))
	require.NoError(t, err)
	defer empty.Close()
	_, err = empty.Verify(t.Context())
	assert.ErrorIs(t, err, storage.ErrNoStore)
}
