package s3store_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/s3test"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// deleteRaceRounds is how many times TestDeleteRace plays its race, in
// deleteRaceLanes lanes at once (each on its own prefix, with its own two
// Stores). The race it guards against (a Delete that returned true while
// its entry survived) was seen once in CI over a few dozen runs.
const (
	deleteRaceRounds = 200
	deleteRaceLanes  = 4
)

// TestDeleteRace plays, round after round, Deletes from two Stores racing
// with each other and with a DeleteBefore that rewrites the same batch
// (the part of its day before the cut) and deletes the day before it
// whole. After each round: every entry a Delete said it removed is gone,
// every entry before the cut is gone, exactly the others are listed and
// counted, and no object holds a removed entry any more (superseded
// generations are tombstones).
func TestDeleteRace(t *testing.T) {
	srv := testServer(t)
	client := srv.client(nil, srv.secret)
	bucket := newBucket(t, client)
	for lane := range deleteRaceLanes {
		t.Run(fmt.Sprintf("lane%d", lane), func(t *testing.T) {
			t.Parallel()
			prefix := fmt.Sprintf("race%d/", lane)
			var stores [2]*s3store.Store
			for i := range stores {
				st, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix(prefix))
				require.NoError(t, err)
				t.Cleanup(func() { _ = st.Close() })
				stores[i] = st
			}
			for round := range deleteRaceRounds / deleteRaceLanes {
				deleteRaceRound(t, client, bucket, prefix, stores, round)
			}
		})
	}
}

// deleteRaceRound plays one round of TestDeleteRace in day 2*round after
// a fixed date.
func deleteRaceRound(t *testing.T, client *s3.Client, bucket, prefix string, stores [2]*s3store.Store, round int) {
	d := time.Date(2023, 1, 2, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 2*round)
	var prev, cur []*storage.AuditEntry
	for h := range 4 {
		prev = append(prev, entryAt(d.Add(-24*time.Hour+time.Duration(h+1)*time.Hour)))
	}
	for h := range 8 {
		cur = append(cur, entryAt(d.Add(time.Duration(h+1)*time.Hour)))
	}
	require.NoError(t, stores[0].WriteBatch(t.Context(), append(append([]*storage.AuditEntry{}, prev...), cur...)))
	require.NoError(t, stores[0].Flush(t.Context()))

	cut := d.Add(4*time.Hour + 30*time.Minute) // cur[0:4] expire
	// Deletes racing with retention (they may find their entry gone) and
	// deletes of entries only they remove (they must report true).
	racing := []*storage.AuditEntry{prev[1], cur[1]}
	sure := []*storage.AuditEntry{cur[5], cur[6]}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i, e := range append(append([]*storage.AuditEntry{}, racing...), sure...) {
		wg.Go(func() {
			ok, err := stores[i%2].Delete(t.Context(), e.ID)
			if err == nil && !ok && i >= len(racing) {
				err = fmt.Errorf("Delete(%s) = false", e.ID)
			}
			errs <- err
		})
	}
	wg.Go(func() {
		_, err := stores[1].DeleteBefore(t.Context(), cut)
		errs <- err
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "round %d", round)
	}

	removed := append(append(append([]*storage.AuditEntry{}, prev...), cur[:4]...), sure...)
	want := []string{cur[4].ID, cur[7].ID}
	st := stores[round%2]
	got, err := st.ListEntries(t.Context(), d.Add(-24*time.Hour), d.Add(24*time.Hour-1))
	require.NoError(t, err)
	ids := make([]string, len(got))
	for i, e := range got {
		ids[i] = e.ID
	}
	require.Equal(t, want, ids, "round %d: entries left", round)
	n, err := st.Count(t.Context())
	require.NoError(t, err)
	if n != len(want) {
		for _, k := range s3test.Keys(t, client, bucket, prefix) {
			t.Logf("%s: %q", k, s3test.Body(t, client, bucket, k))
		}
	}
	require.Equal(t, len(want), n, "round %d: Count", round)
	for _, e := range append(racing, sure...) {
		_, err := st.Read(t.Context(), e.ID)
		require.ErrorIs(t, err, storage.ErrNotFound, "round %d: removed entry %s read back", round, e.ID)
	}
	for _, k := range s3test.Keys(t, client, bucket, prefix) {
		if strings.HasPrefix(k, prefix+"_ids/") {
			continue
		}
		body := s3test.Body(t, client, bucket, k)
		for _, e := range removed {
			require.False(t, bytes.Contains(body, []byte(e.ID)), "round %d: %s still holds removed entry %s", round, k, e.ID)
		}
	}
}
