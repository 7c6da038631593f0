package s3store_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// referenceEntries returns every line of the reference stores in
// testdata, parsed, with its raw bytes.
func referenceEntries(t *testing.T) (map[string]*storage.AuditEntry, map[string][]byte) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "reference-store", "*", "audit_*.jsonl"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	parsed, raw := map[string]*storage.AuditEntry{}, map[string][]byte{}
	for _, f := range files {
		fh, err := os.Open(f)
		require.NoError(t, err)
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			e, err := storage.ParseEntry(line)
			require.NoError(t, err, f)
			parsed[e.ID] = e
			raw[e.ID] = append([]byte(nil), line...)
		}
		require.NoError(t, sc.Err())
		require.NoError(t, fh.Close())
	}
	return parsed, raw
}

// TestReferenceLayout uploads the reference stores as the reference
// implementation's S3 layout (prefix/YYYY-MM-DD/<id>.json, one entry per
// object) and checks that the Store reads, counts and deletes them, mixed
// with its own batches.
func TestReferenceLayout(t *testing.T) {
	srv := testServer(t)
	var c counter
	client := srv.client(&c, srv.secret)
	bucket := newBucket(t, client)
	want, raw := referenceEntries(t)
	for id, e := range want {
		_, err := client.PutObject(t.Context(), &s3.PutObjectInput{
			Bucket: aws.String(bucket),
			Key:    aws.String("legacy/" + e.Timestamp.UTC().Format("2006-01-02") + "/" + id + ".json"),
			Body:   bytes.NewReader(raw[id]),
		})
		require.NoError(t, err)
	}
	st, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix("legacy/"))
	require.NoError(t, err)
	defer st.Close()

	n, err := st.Count(t.Context())
	require.NoError(t, err)
	assert.Equal(t, len(want), n)

	all, err := st.ListEntries(t.Context(), time.Time{}, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Len(t, all, len(want))
	for i, e := range all {
		assert.Equal(t, want[e.ID], e, "entry %s", e.ID)
		if i > 0 {
			assert.False(t, e.Timestamp.Before(all[i-1].Timestamp), "oldest first")
		}
	}
	for id, w := range want {
		got, err := st.Read(t.Context(), id)
		if assert.NoError(t, err, id) {
			assert.Equal(t, w, got)
		}
	}

	// Own batches next to the reference objects.
	var mine []*storage.AuditEntry
	for _, e := range all[:3] {
		mine = append(mine, entryAt(e.Timestamp.Add(time.Millisecond)))
	}
	require.NoError(t, st.WriteBatch(t.Context(), mine))
	n, err = st.Count(t.Context())
	require.NoError(t, err)
	assert.Equal(t, len(want)+len(mine), n)
	day0 := all[0].Timestamp.UTC().Truncate(24 * time.Hour)
	got, err := st.ListEntries(t.Context(), day0, day0.Add(24*time.Hour-1))
	require.NoError(t, err)
	ids := map[string]bool{}
	for _, e := range got {
		ids[e.ID] = true
	}
	for _, e := range mine {
		if e.Timestamp.Before(day0.Add(24 * time.Hour)) {
			assert.True(t, ids[e.ID], "own entry in the reference day")
		}
	}

	// Delete a reference object, then expire everything before the
	// second-newest reference entry.
	ok, err := st.Delete(t.Context(), all[1].ID)
	require.NoError(t, err)
	assert.True(t, ok)
	_, err = st.Read(t.Context(), all[1].ID)
	assert.ErrorIs(t, err, storage.ErrNotFound)
	ok, err = st.Delete(t.Context(), all[1].ID)
	require.NoError(t, err)
	assert.False(t, ok)

	cut := all[len(all)-2].Timestamp
	expect := 0
	for _, e := range all {
		if e.Timestamp.Before(cut) && e.ID != all[1].ID {
			expect++
		}
	}
	for _, e := range mine {
		if e.Timestamp.Before(cut) {
			expect++
		}
	}
	removed, err := st.DeleteBefore(t.Context(), cut)
	require.NoError(t, err)
	assert.Equal(t, expect, removed)
	left, err := st.ListEntries(t.Context(), time.Time{}, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	for _, e := range left {
		assert.False(t, e.Timestamp.Before(cut), "entry %s before the cut survived", e.ID)
	}
	n, err = st.Count(t.Context())
	require.NoError(t, err)
	assert.Equal(t, len(left), n)
	assert.Equal(t, len(want)+len(mine)-1-expect, n)
}
