package s3store_test

import (
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
	"github.com/otelaudit/otelaudit-go/storage/verify"
)

// stopAtPut fails, while on, every PUT whose path has the suffix or
// contains the part: a Delete then stops where a killed process would.
type stopAtPut struct {
	base         http.RoundTripper
	suffix, part string
	on           atomic.Bool
}

func (f *stopAtPut) RoundTrip(r *http.Request) (*http.Response, error) {
	p := r.URL.Path
	if f.on.Load() && r.Method == http.MethodPut && (f.suffix != "" && strings.HasSuffix(p, f.suffix) || f.part != "" && strings.Contains(p, f.part)) {
		return nil, errors.New("injected: the process stopped before this put")
	}
	return f.base.RoundTrip(r)
}

// deleteStopped deletes id from st with f on: the Delete fails where f
// stops it.
func (f *stopAtPut) deleteStopped(t *testing.T, st *s3store.Store, id string) {
	f.on.Store(true)
	defer f.on.Store(false)
	_, err := st.Delete(t.Context(), id)
	require.Error(t, err, "the injected stop")
}

// signedStoreThrough opens a signing Store on sb's bucket whose requests
// go through rt, and writes 20 entries of one batch object with it; it
// returns the store, the id of the eighth entry and the object's key.
func signedStoreThrough(t *testing.T, sb *signedBucket, rt http.RoundTripper) (st *s3store.Store, victim, obj string) {
	srv := testServer(t)
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.access, srv.secret, ""), HTTPClient: &http.Client{Transport: rt}})
	st, err := s3store.New(t.Context(), client, sb.bucket, s3store.WithPrefix(sb.prefix), s3store.WithMaxBatchEntries(50),
		s3store.WithCheckpointKey("k1", testCheckpointKey), s3store.WithWitness(&sb.witness))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	base := time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC)
	for i := range 20 {
		e := entryAt(base.Add(time.Duration(i) * time.Second))
		if i == 7 {
			victim = e.ID
		}
		require.NoError(t, st.Write(t.Context(), e))
	}
	require.NoError(t, st.Flush(t.Context()))
	objs, _ := sb.batchKeys("")
	require.Len(t, objs, 1)
	return st, victim, objs[0]
}

// TestRemovalStoppedBeforeItsNote: a Delete whose process stops when it
// is about to sign its removal note has changed nothing: the store
// verifies clean. (The note is signed before the rewritten object is
// written, so no crash leaves an object the store did not sign.)
func TestRemovalStoppedBeforeItsNote(t *testing.T) {
	sb := newSignedBucket(t, "n/")
	stop := &stopAtPut{base: http.DefaultTransport.(*http.Transport).Clone(), part: "/_digests/"}
	st, victim, _ := signedStoreThrough(t, sb, stop)
	stop.deleteStopped(t, st, victim)
	rep := sb.verify(true)
	require.True(t, rep.OK(), "%v", rep.Problems)
	assert.Equal(t, int64(20), rep.Chained)
	assert.Empty(t, unfinishedRemovals(rep), "%v", rep.Warnings)
	_, err := st.Read(t.Context(), victim)
	require.NoError(t, err, "not removed")
}

// TestUnfinishedRemoval: a Delete that stopped after signing its removal
// note and before writing the object's next generation leaves the store
// as it was, which verifies with a warning (not as tampering); deleting
// again finishes the removal, and the store verifies clean. Undoing a
// finished removal (the new generation deleted, the old one put back as
// it was) is still caught.
func TestUnfinishedRemoval(t *testing.T) {
	sb := newSignedBucket(t, "u/")
	stop := &stopAtPut{base: http.DefaultTransport.(*http.Transport).Clone(), suffix: ".1.jsonl"}
	st, victim, obj := signedStoreThrough(t, sb, stop)
	original := sb.snapshot()[obj]

	stop.deleteStopped(t, st, victim)

	rep := sb.verify(true)
	require.True(t, rep.OK(), "an unfinished removal is not tampering: %v", rep.Problems)
	assert.Equal(t, int64(20), rep.Chained, "the object still holds every entry")
	unfinished := unfinishedRemovals(rep)
	require.Len(t, unfinished, 1, "%v", rep.Warnings)
	assert.Equal(t, strings.TrimPrefix(obj, sb.prefix), unfinished[0].File)
	_, err := st.Read(t.Context(), victim)
	require.NoError(t, err, "not removed yet")

	removed, err := st.Delete(t.Context(), victim)
	require.NoError(t, err)
	require.True(t, removed)
	require.NoError(t, st.Close())
	_, err = sb.v.Read(t.Context(), victim)
	require.ErrorIs(t, err, storage.ErrNotFound)
	rep = sb.verify(true)
	require.True(t, rep.OK(), "%v", rep.Problems)
	assert.Equal(t, int64(19), rep.Chained)
	assert.Empty(t, unfinishedRemovals(rep), "%v", rep.Warnings)

	// The finished removal undone: caught, not taken for an unfinished one.
	now, _ := sb.batchKeys("")
	for _, k := range now {
		if k != obj {
			sb.del(k)
		}
	}
	sb.put(obj, original)
	rep = sb.verify(true)
	require.False(t, rep.OK())
	assert.Contains(t, kinds(rep), verify.ProblemMissing, "%v", rep.Problems)
	assert.Empty(t, unfinishedRemovals(rep), "%v", rep.Warnings)
}

// unfinishedRemovals returns rep's unfinished-removal warnings.
func unfinishedRemovals(rep *verify.Report) []verify.Problem {
	var out []verify.Problem
	for _, w := range rep.Warnings {
		if w.Kind == verify.WarningUnfinishedRemoval {
			out = append(out, w)
		}
	}
	return out
}
