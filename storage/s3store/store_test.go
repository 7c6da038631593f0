package s3store_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
)

func entryAt(ts time.Time) *storage.AuditEntry {
	model := "gpt-4o-mini"
	return &storage.AuditEntry{
		ID:           storage.NewEntryID(),
		Timestamp:    ts,
		InputHash:    strings.Repeat("a", 64),
		OutputHash:   strings.Repeat("b", 64),
		SafetyPassed: true,
		LatencyMS:    3,
		Model:        &model,
	}
}

func TestNewErrors(t *testing.T) {
	srv := testServer(t)
	good := srv.client(nil, srv.secret)
	bucket := newBucket(t, good)

	t.Run("MissingBucket", func(t *testing.T) {
		_, err := s3store.New(t.Context(), good, bucket+"-missing")
		require.ErrorIs(t, err, s3store.ErrBucketNotFound)
		assert.Contains(t, err.Error(), bucket+"-missing")
	})
	t.Run("WrongSecret", func(t *testing.T) {
		_, err := s3store.New(t.Context(), srv.client(nil, "not-the-secret"), bucket)
		require.ErrorIs(t, err, s3store.ErrAccessDenied)
	})
	t.Run("NilClient", func(t *testing.T) {
		_, err := s3store.New(t.Context(), nil, bucket)
		require.Error(t, err)
	})
	t.Run("EmptyBucket", func(t *testing.T) {
		_, err := s3store.New(t.Context(), good, "")
		require.Error(t, err)
	})
}

// TestBucketRemovedLater: a permanent upload error is reported by Flush,
// queries and Write, and Close says what it could not deliver.
func TestBucketRemovedLater(t *testing.T) {
	srv := testServer(t)
	client := srv.client(nil, srv.secret)
	bucket := newBucket(t, client)
	st, err := s3store.New(t.Context(), client, bucket, s3store.WithCloseTimeout(time.Second), s3store.WithMaxRetryBackoff(100*time.Millisecond))
	require.NoError(t, err)
	_, err = client.DeleteBucket(t.Context(), &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)

	require.NoError(t, st.Write(t.Context(), entryAt(time.Now())), "accepted into the batch")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	err = st.Flush(ctx)
	require.ErrorIs(t, err, s3store.ErrBucketNotFound)
	_, err = st.Count(ctx)
	require.ErrorIs(t, err, s3store.ErrBucketNotFound)
	require.ErrorIs(t, st.Write(ctx, entryAt(time.Now())), s3store.ErrBucketNotFound, "Write while uploads fail permanently")
	err = st.Close()
	require.ErrorIs(t, err, s3store.ErrUndelivered)
	assert.Contains(t, err.Error(), "1 entries lost")
}

// TestBatching: 1,000 entries cost a handful of requests, objects carry
// their count, and Count reads no object.
func TestBatching(t *testing.T) {
	st, c, client, bucket := newCountedStore(t)

	base := time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC)
	es := make([]*storage.AuditEntry, 1000)
	c.reset()
	for i := range es {
		es[i] = entryAt(base.Add(time.Duration(i) * time.Second))
		require.NoError(t, st.Write(t.Context(), es[i]))
	}
	require.NoError(t, st.Flush(t.Context()))
	assert.LessOrEqual(t, c.all.Load(), int64(10), "requests for 1,000 entries")
	assert.Equal(t, int64(2), c.put.Load(), "one batch object and one marker")

	c.reset()
	n, err := st.Count(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1000, n)
	assert.Equal(t, int64(0), c.get.Load(), "Count must not read objects")
	assert.Equal(t, int64(1), c.list.Load())

	c.reset()
	got, err := st.Read(t.Context(), es[567].ID)
	require.NoError(t, err)
	assert.Equal(t, es[567].ID, got.ID)
	assert.Equal(t, int64(3), c.all.Load(), "Read of a UUIDv7 id")

	objs := s3test.Keys(t, client, bucket, s3store.DefaultPrefix+"2025-07-01/")
	require.Len(t, objs, 1)
	assert.True(t, strings.HasSuffix(objs[0], ".1000.jsonl"), objs[0])
}

// TestCalendar: partitions for Feb 29 and the 31st are queried like every
// other day, and a one-day query lists only that day.
func TestCalendar(t *testing.T) {
	st, c, client, bucket := newCountedStore(t, s3store.WithPrefix("cal/"))

	days := []time.Time{
		time.Date(2024, 1, 31, 12, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 28, 12, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC),
		time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC),
		time.Date(2024, 3, 30, 12, 0, 0, 0, time.UTC),
		time.Date(2024, 3, 31, 12, 0, 0, 0, time.UTC),
		time.Date(2024, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	want := map[string][]string{} // by UTC day
	for _, d := range days {
		for _, off := range []time.Duration{0, -time.Second, -time.Nanosecond, time.Nanosecond} {
			e := entryAt(d.Add(off))
			day := e.Timestamp.Format("2006-01-02")
			want[day] = append(want[day], e.ID)
			require.NoError(t, st.Write(t.Context(), e))
		}
	}
	require.NoError(t, st.Flush(t.Context()))
	for day, ids := range want {
		t.Run(day, func(t *testing.T) {
			c.reset()
			from, err := time.Parse("2006-01-02", day)
			require.NoError(t, err)
			got, err := st.ListEntries(t.Context(), from, from.Add(24*time.Hour-1))
			require.NoError(t, err)
			var gotIDs []string
			for _, e := range got {
				gotIDs = append(gotIDs, e.ID)
			}
			assert.ElementsMatch(t, ids, gotIDs)
			assert.Equal(t, int64(1), c.list.Load(), "a one-day query lists one partition")
		})
	}
	all, err := st.ListEntries(t.Context(), days[0].Add(-time.Hour), days[len(days)-1].Add(time.Second))
	require.NoError(t, err)
	assert.Len(t, all, 4*len(days))
	for _, d := range []string{"2024-02-29", "2024-01-31", "2024-03-31", "2024-12-31"} {
		assert.NotEmpty(t, s3test.Keys(t, client, bucket, "cal/"+d+"/"), "partition %s", d)
	}
}

// TestDeleteBeforePartialDay: whole days go, the day of t is rewritten
// without the expired entries, and the rewritten object replaces the old
// one.
func TestDeleteBeforePartialDay(t *testing.T) {
	srv := testServer(t)
	client := srv.client(nil, srv.secret)
	bucket := newBucket(t, client)
	st, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix(""))
	require.NoError(t, err)
	defer st.Close()

	d := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	var es []*storage.AuditEntry
	for _, ts := range []time.Time{d.Add(-25 * time.Hour), d.Add(-time.Hour), d.Add(10 * time.Hour), d.Add(12 * time.Hour), d.Add(12*time.Hour + 1), d.Add(30 * time.Hour)} {
		es = append(es, entryAt(ts))
	}
	require.NoError(t, st.WriteBatch(t.Context(), es))
	require.NoError(t, st.Flush(t.Context()))

	n, err := st.DeleteBefore(t.Context(), d.Add(12*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	got, err := st.ListEntries(t.Context(), time.Time{}, d.Add(48*time.Hour))
	require.NoError(t, err)
	require.Len(t, got, 3)
	for i, e := range got {
		assert.Equal(t, es[3+i].ID, e.ID)
	}
	cnt, err := st.Count(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 3, cnt)
	day := s3test.Keys(t, client, bucket, "2024-02-29/")
	require.Len(t, day, 2, "the straddling batch is superseded, not duplicated")
	assert.True(t, strings.HasSuffix(day[1], ".1.jsonl"), "next generation, a slot name: %s", day[1])
	for _, k := range day {
		for _, e := range es[:3] {
			assert.NotContains(t, string(s3test.Body(t, client, bucket, k)), e.ID, "%s still holds an expired entry", k)
		}
	}
	assert.Empty(t, s3test.Keys(t, client, bucket, "2024-02-27/"))
	assert.Empty(t, s3test.Keys(t, client, bucket, "2024-02-28/"))
	_, err = st.Read(t.Context(), es[0].ID)
	assert.ErrorIs(t, err, storage.ErrNotFound)
	_, err = st.Read(t.Context(), es[4].ID)
	assert.NoError(t, err)
}

// TestDeleteGenerations: Delete rewrites the batch; a leftover older
// generation (a crash between put and delete) is ignored by every reader.
func TestDeleteGenerations(t *testing.T) {
	srv := testServer(t)
	client := srv.client(nil, srv.secret)
	bucket := newBucket(t, client)
	st, err := s3store.New(t.Context(), client, bucket)
	require.NoError(t, err)
	defer st.Close()

	ts := time.Date(2025, 3, 31, 8, 0, 0, 0, time.UTC)
	es := []*storage.AuditEntry{entryAt(ts), entryAt(ts.Add(time.Second)), entryAt(ts.Add(2 * time.Second))}
	require.NoError(t, st.WriteBatch(t.Context(), es))
	require.NoError(t, st.Flush(t.Context()))
	gen0 := s3test.Keys(t, client, bucket, "audit/2025-03-31/")
	require.Len(t, gen0, 1)
	old, err := client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(gen0[0])})
	require.NoError(t, err)
	defer old.Body.Close()
	oldBody, err := io.ReadAll(old.Body)
	require.NoError(t, err)

	ok, err := st.Delete(t.Context(), es[1].ID)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = st.Delete(t.Context(), es[1].ID)
	require.NoError(t, err)
	assert.False(t, ok, "second delete")
	day := s3test.Keys(t, client, bucket, "audit/2025-03-31/")
	require.Len(t, day, 2, "generation 0 keeps its name, generation 1 is current")
	for _, k := range day {
		assert.NotContains(t, string(s3test.Body(t, client, bucket, k)), es[1].ID, "%s still holds the deleted entry", k)
	}

	// The old generation uploaded again (a stale spool file) is refused:
	// its name is taken.
	_, err = client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(gen0[0]), Body: bytes.NewReader(oldBody), IfNoneMatch: aws.String("*")})
	require.Error(t, err, "conditional put over the superseded generation")

	// Put generation 0 back, as a crash between the put of generation 1
	// and the tombstone over generation 0 would leave it.
	_, err = client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(gen0[0]), Body: bytes.NewReader(oldBody)})
	require.NoError(t, err)
	got, err := st.ListEntries(t.Context(), ts, ts.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, []string{es[0].ID, es[2].ID}, []string{got[0].ID, got[1].ID})
	cnt, err := st.Count(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 2, cnt)
	_, err = st.Read(t.Context(), es[1].ID)
	assert.ErrorIs(t, err, storage.ErrNotFound)
}

// TestSpoolRecovery: entries accepted while the server is down survive
// Close (in the spool) and a later Store delivers them exactly once, also
// when a spool file is delivered a second time.
func TestSpoolRecovery(t *testing.T) {
	g := startGateway(t)
	srv := g.server()
	client := srv.client(nil, srv.secret)
	bucket := newBucket(t, client)
	spool := filepath.Join(t.TempDir(), "spool")
	opts := []s3store.Option{s3store.WithSpoolDir(spool), s3store.WithMaxBatchEntries(50), s3store.WithMaxRetryBackoff(200 * time.Millisecond)}

	// Delivered batches whose spool files come back (a crash after the
	// upload, before the file was removed) must not duplicate.
	a, err := s3store.New(t.Context(), client, bucket, opts...)
	require.NoError(t, err)
	_, err = s3store.New(t.Context(), client, bucket, opts...)
	require.Error(t, err, "a second Store on the same spool directory")
	base := time.Date(2025, 5, 31, 23, 0, 0, 0, time.UTC)
	var first []*storage.AuditEntry
	for i := range 120 {
		first = append(first, entryAt(base.Add(time.Duration(i)*time.Minute)))
	}
	require.NoError(t, a.WriteBatch(t.Context(), first))
	saved := map[string][]byte{}
	files, _ := filepath.Glob(filepath.Join(spool, "*.jsonl"))
	require.NotEmpty(t, files)
	for _, f := range files {
		info, err := os.Stat(f)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "spool file mode")
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		saved[f] = b
	}
	info, err := os.Stat(spool)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), info.Mode().Perm(), "spool dir mode")
	require.NoError(t, a.Flush(t.Context()))
	require.NoError(t, a.Close())
	left, _ := filepath.Glob(filepath.Join(spool, "*.jsonl"))
	assert.Empty(t, left, "delivered spool files are removed")
	for f, b := range saved {
		require.NoError(t, os.WriteFile(f, b, 0o600))
	}

	// Entries accepted while the server is down.
	b, err := s3store.New(t.Context(), client, bucket, append(opts, s3store.WithCloseTimeout(time.Second))...)
	require.NoError(t, err)
	require.NoError(t, b.Flush(t.Context()), "redelivers the old spool files")
	g.stop()
	var second []*storage.AuditEntry
	for i := range 130 {
		second = append(second, entryAt(base.Add(time.Duration(i)*time.Minute+time.Second)))
	}
	for _, e := range second {
		require.NoError(t, b.Write(t.Context(), e))
	}
	err = b.Close()
	require.ErrorIs(t, err, s3store.ErrUndelivered)
	assert.Contains(t, err.Error(), "130 entries kept in spool")

	g.start(t)
	c, err := s3store.New(t.Context(), client, bucket, opts...)
	require.NoError(t, err)
	defer c.Close()
	n, err := c.Count(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 250, n)
	got, err := c.ListEntries(t.Context(), base, base.Add(24*time.Hour))
	require.NoError(t, err)
	seen := map[string]int{}
	for _, e := range got {
		seen[e.ID]++
	}
	for _, e := range append(first, second...) {
		assert.Equal(t, 1, seen[e.ID], "entry %s", e.ID)
	}
	assert.Len(t, got, 250)
	left, _ = filepath.Glob(filepath.Join(spool, "*.jsonl"))
	assert.Empty(t, left)
}

// TestServerRestartMidRun is the fault test: the server is killed in the
// middle of a 10,000-entry run and started again on the same root and
// port; every entry is stored exactly once.
func TestServerRestartMidRun(t *testing.T) {
	g := startGateway(t)
	srv := g.server()
	client := srv.client(nil, srv.secret)
	bucket := newBucket(t, client)
	st, err := s3store.New(t.Context(), client, bucket,
		s3store.WithSpoolDir(t.TempDir()),
		s3store.WithMaxBatchEntries(250),
		s3store.WithMaxBatchDelay(20*time.Millisecond),
		s3store.WithMaxRetryBackoff(300*time.Millisecond))
	require.NoError(t, err)
	defer st.Close()

	const total = 10000
	base := time.Date(2025, 8, 31, 22, 0, 0, 0, time.UTC) // crosses into September
	written := make([]*storage.AuditEntry, 0, total)
	restarted := make(chan struct{})
	for i := range total {
		switch i {
		case total * 3 / 10:
			g.stop()
			time.Sleep(300 * time.Millisecond) // uploads fail through the SDK's retries meanwhile
		case total * 6 / 10:
			g.start(t)
			close(restarted)
		}
		e := entryAt(base.Add(time.Duration(i) * time.Second))
		require.NoError(t, st.Write(t.Context(), e))
		written = append(written, e)
		if i%100 == 0 {
			time.Sleep(5 * time.Millisecond) // let batches go out while writing
		}
	}
	<-restarted
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	require.NoError(t, st.Flush(ctx))
	assert.NotZero(t, st.Stats().Retries, "the outage must have failed some uploads")

	n, err := st.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, total, n)
	got, err := st.ListEntries(ctx, base, base.Add(total*time.Second))
	require.NoError(t, err)
	require.Len(t, got, total)
	for i, e := range got {
		if !assert.Equal(t, written[i].ID, e.ID, "entry %d", i) {
			break
		}
	}
	for _, i := range []int{0, total*3/10 + 1, total / 2, total - 1} {
		e, err := st.Read(ctx, written[i].ID)
		require.NoError(t, err)
		assert.Equal(t, written[i].Timestamp, e.Timestamp)
	}
}

// TestTwoWritersOneDay: two Stores on one bucket write interleaved
// timestamps in small batches, so a day holds many objects whose time
// spans overlap; queries merge them in order, and each Store reads the
// other's entries.
func TestTwoWritersOneDay(t *testing.T) {
	srv := testServer(t)
	client := srv.client(nil, srv.secret)
	bucket := newBucket(t, client)
	var stores []*s3store.Store
	for range 2 {
		st, err := s3store.New(t.Context(), client, bucket, s3store.WithMaxBatchEntries(37), s3store.WithReadConcurrency(3))
		require.NoError(t, err)
		defer st.Close()
		stores = append(stores, st)
	}
	base := time.Date(2024, 7, 31, 0, 0, 0, 0, time.UTC)
	byID := map[string]*storage.AuditEntry{}
	for i := range 1000 {
		e := entryAt(base.Add(time.Duration(i*997%1000) * time.Minute)) // a permutation of minutes
		if i%10 == 0 {
			e.Timestamp = base.Add(12 * time.Hour) // ties across objects
		}
		byID[e.ID] = e
		require.NoError(t, stores[i%2].Write(t.Context(), e))
	}
	require.NoError(t, stores[0].Flush(t.Context()))
	require.NoError(t, stores[1].Flush(t.Context()))
	for _, st := range stores {
		got, err := st.ListEntries(t.Context(), base, base.Add(24*time.Hour-1))
		require.NoError(t, err)
		require.Len(t, got, len(byID))
		for i, e := range got {
			require.Contains(t, byID, e.ID)
			if i > 0 {
				prev := got[i-1]
				require.True(t, prev.Timestamp.Before(e.Timestamp) || prev.Timestamp.Equal(e.Timestamp) && prev.ID < e.ID,
					"entry %d out of order", i)
			}
		}
		n, err := st.Count(t.Context())
		require.NoError(t, err)
		assert.Equal(t, len(byID), n)
	}
	// Reads across writers, and a delete by one seen by the other.
	for id := range byID {
		_, err := stores[1].Read(t.Context(), id)
		require.NoError(t, err)
		ok, err := stores[1].Delete(t.Context(), id)
		require.NoError(t, err)
		require.True(t, ok)
		_, err = stores[0].Read(t.Context(), id)
		require.ErrorIs(t, err, storage.ErrNotFound)
		break
	}
}

// TestConcurrentDeletesOneBatch: concurrent Deletes of different entries of
// one batch object, from two Stores, all take effect (each rewrite starts
// again when another won).
func TestConcurrentDeletesOneBatch(t *testing.T) {
	srv := testServer(t)
	client := srv.client(nil, srv.secret)
	bucket := newBucket(t, client)
	var stores []*s3store.Store
	for range 2 {
		st, err := s3store.New(t.Context(), client, bucket)
		require.NoError(t, err)
		defer st.Close()
		stores = append(stores, st)
	}
	base := time.Date(2024, 10, 31, 6, 0, 0, 0, time.UTC)
	var es []*storage.AuditEntry
	for i := range 40 {
		es = append(es, entryAt(base.Add(time.Duration(i)*time.Second)))
	}
	require.NoError(t, stores[0].WriteBatch(t.Context(), es))
	require.NoError(t, stores[0].Flush(t.Context()))

	errs := make(chan error, len(es))
	for i, e := range es[:30] {
		go func() {
			ok, err := stores[i%2].Delete(t.Context(), e.ID)
			if err == nil && !ok {
				err = fmt.Errorf("Delete(%s) = false", e.ID)
			}
			errs <- err
		}()
	}
	for range 30 {
		require.NoError(t, <-errs)
	}
	got, err := stores[1].ListEntries(t.Context(), base, base.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, got, 10)
	for i, e := range got {
		assert.Equal(t, es[30+i].ID, e.ID)
	}
	n, err := stores[0].Count(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 10, n)
	for _, k := range s3test.Keys(t, client, bucket, "audit/2024-10-31/") {
		body := string(s3test.Body(t, client, bucket, k))
		for _, e := range es[:30] {
			assert.NotContains(t, body, e.ID, "%s still holds a deleted entry", k)
		}
	}
}
