package s3store_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/s3test"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
	"github.com/otelaudit/otelaudit-go/storage/verify"
)

// hasProblem reports whether rep holds a problem of kind about file (a
// key relative to the prefix).
func hasProblem(rep *verify.Report, kind verify.ProblemKind, file string) bool {
	return slices.ContainsFunc(rep.Problems, func(p verify.Problem) bool { return p.Kind == kind && p.File == file })
}

func hasWarning(rep *verify.Report, kind verify.ProblemKind) bool {
	return slices.ContainsFunc(rep.Warnings, func(p verify.Problem) bool { return p.Kind == kind })
}

// putReference stores the reference stores' entries in the reference
// implementation's layout under the bucket's prefix and returns their
// keys relative to it, by id.
func (sb *signedBucket) putReference(t *testing.T) map[string]string {
	parsed, raw := referenceEntries(t)
	keys := map[string]string{}
	for id, e := range parsed {
		rel := e.Timestamp.UTC().Format("2006-01-02") + "/" + id + ".json"
		sb.put(sb.prefix+rel, raw[id])
		keys[id] = rel
	}
	return keys
}

// forgedReference is a made-up entry in the reference layout, as an
// attacker who can write the bucket adds it.
func forgedReference(t *testing.T, ts time.Time) (rel string, body []byte) {
	e := entryAt(ts)
	body, err := e.AppendJSON(nil)
	require.NoError(t, err)
	return ts.UTC().Format("2006-01-02") + "/" + e.ID + ".json", body
}

// TestLegacySigned: a bucket the reference implementation wrote, then
// continued by two signing Stores that start at once, verifies intact
// (legacy as a warning); a reference-layout object added (in a day with
// legacy objects or a new one), changed or deleted after signing began
// is a legacy-changed problem naming the object, with and without the
// witness; Delete of a legacy entry and retention (whole days, and a day
// cut in the middle) by a signing Store still verify intact.
func TestLegacySigned(t *testing.T) {
	sb := newSignedBucket(t, "lg/")
	keys := sb.putReference(t)
	a, b := sb.store(), sb.store()
	sb.write([]*s3store.Store{a, b}, time.Date(2025, 6, 1, 6, 0, 0, 0, time.UTC), 200)
	require.NoError(t, a.Close())
	require.NoError(t, b.Close())

	for _, w := range []bool{true, false} {
		rep := sb.verify(w)
		require.True(t, rep.OK(), "witness %v: %v", w, rep.Problems)
		assert.Equal(t, int64(len(keys)), rep.Legacy)
		assert.True(t, hasWarning(rep, verify.WarningLegacy), "%v", rep.Warnings)
	}
	notes := s3test.Keys(t, sb.client, sb.bucket, sb.prefix+"_digests/_legacy")
	require.Len(t, notes, 1, "one legacy note")

	snap := sb.snapshot()
	var refKeys []string
	for _, k := range keys {
		refKeys = append(refKeys, k)
	}
	slices.Sort(refKeys)
	victim := refKeys[len(refKeys)-1] // a 2025-06-01 object: a day the writers share
	require.True(t, strings.HasPrefix(victim, "2025-06-01/"), victim)
	cases := []struct {
		name   string
		tamper func() string
	}{
		{"added in a day with legacy objects", func() string {
			rel, body := forgedReference(t, time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC))
			sb.put(sb.prefix+rel, body)
			return rel
		}},
		{"added in a new day", func() string {
			rel, body := forgedReference(t, time.Date(2025, 8, 1, 9, 0, 0, 0, time.UTC))
			sb.put(sb.prefix+rel, body)
			return rel
		}},
		{"changed", func() string {
			body := snap[sb.prefix+victim]
			sb.put(sb.prefix+victim, bytes.Replace(body, []byte(`"safety_passed": true`), []byte(`"safety_passed": false`), 1))
			require.NotEqual(t, body, s3test.Body(t, sb.client, sb.bucket, sb.prefix+victim))
			return victim
		}},
		{"deleted", func() string {
			sb.del(sb.prefix + victim)
			return victim
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer sb.restore(snap)
			rel := tc.tamper()
			for _, w := range []bool{true, false} {
				rep := sb.verify(w)
				assert.True(t, hasProblem(rep, verify.ProblemLegacyChanged, rel), "witness %v: %v", w, rep.Problems)
			}
		})
	}

	// A Store that predates the legacy note left none: then no
	// reference-layout object is accounted for.
	t.Run("no legacy note", func(t *testing.T) {
		defer sb.restore(snap)
		sb.del(notes[0])
		rep := sb.verify(true)
		assert.True(t, hasProblem(rep, verify.ProblemLegacyChanged, victim), "%v", rep.Problems)
	})

	c := sb.store()
	var delID string
	for id, k := range keys {
		if strings.HasPrefix(k, "2025-06-01/") {
			delID = id
		}
	}
	ok, err := c.Delete(t.Context(), delID)
	require.NoError(t, err)
	require.True(t, ok)
	rep := sb.verify(true)
	require.True(t, rep.OK(), "after Delete of a legacy entry: %v", rep.Problems)
	assert.Equal(t, int64(len(keys)-1), rep.Legacy)

	// Whole days (2024-02-28, 2025-03-28) and 2025-05-31 cut at noon.
	_, err = c.DeleteBefore(t.Context(), time.Date(2025, 5, 31, 12, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.NoError(t, c.Close())
	rep = sb.verify(true)
	require.True(t, rep.OK(), "after retention: %v", rep.Problems)
	var left int64
	for _, k := range s3test.Keys(t, sb.client, sb.bucket, sb.prefix) {
		if strings.HasSuffix(k, ".json") && !strings.Contains(k, "/_") {
			left++
		}
	}
	assert.Equal(t, left, rep.Legacy)
	assert.Less(t, left, int64(len(keys)-1), "retention removed legacy objects")
	assert.True(t, hasWarning(rep, verify.WarningLegacy))
}

// TestLegacyForgedInFreshSignedStore: a signed store that never held a
// reference-layout object rejects one added later.
func TestLegacyForgedInFreshSignedStore(t *testing.T) {
	sb := newSignedBucket(t, "fr/")
	a := sb.store()
	sb.write([]*s3store.Store{a}, time.Date(2025, 6, 1, 6, 0, 0, 0, time.UTC), 60)
	require.NoError(t, a.Close())
	require.True(t, sb.verify(true).OK())
	rel, body := forgedReference(t, time.Date(2025, 6, 1, 6, 0, 1, 0, time.UTC))
	sb.put(sb.prefix+rel, body)
	rep := sb.verify(true)
	assert.True(t, hasProblem(rep, verify.ProblemLegacyChanged, rel), "%v", rep.Problems)
	assert.Equal(t, int64(1), rep.Legacy)
}

// TestMarkerCheck: Verify reports every id marker a batch object needs
// and lacks (deleted markers make Read by id miss stored entries), naming
// the object and the marker, for UUIDv7 ids, other ids and a rewritten
// generation; a marker naming no batch object is only a warning.
func TestMarkerCheck(t *testing.T) {
	// Signed, so that the Delete below is accounted for.
	sb := newSignedBucket(t, s3store.DefaultPrefix)
	st := sb.store(s3store.WithMaxBatchEntries(40))
	defer st.Close()
	client, bucket := sb.client, sb.bucket
	verifyNow := func() (*verify.Report, error) {
		return st.Verify(t.Context(), s3store.WithVerifyKey("k1", testCheckpointKey))
	}
	ctx := t.Context()
	base := time.Date(2025, 6, 1, 22, 0, 0, 0, time.UTC)
	for i := range 120 { // two days
		e := entryAt(base.Add(time.Duration(i) * time.Minute))
		if i%30 == 7 {
			e.ID = fmt.Sprintf("ref-%03d", i) // not a UUIDv7: the "other" markers
		}
		require.NoError(t, st.Write(ctx, e))
	}
	require.NoError(t, st.Flush(ctx))
	rep, err := verifyNow()
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Problems)
	assert.False(t, hasWarning(rep, verify.WarningOrphanMarker), "%v", rep.Warnings)

	prefix := st.Prefix()
	markers := s3test.Keys(t, client, bucket, prefix+"_ids/")
	require.NotEmpty(t, markers)
	put := func(key string) { sb.put(key, nil) }
	del := sb.del
	// objectOf returns the batch object (relative key) a marker names.
	objectOf := func(marker string) string {
		leaf := marker[strings.LastIndex(marker, "/")+1:]
		j := strings.LastIndex(leaf, "_") // batch names hold no '_'
		date := leaf[j-10 : j]
		for _, k := range s3test.Keys(t, client, bucket, prefix+date+"/") {
			if strings.HasSuffix(k, "/"+leaf[j+1:]) {
				return strings.TrimPrefix(k, prefix)
			}
		}
		t.Fatalf("no object for marker %s", marker)
		return ""
	}

	var v7Marker, otherMarker string
	for _, m := range markers {
		if strings.Contains(m, "_ids/other/") {
			otherMarker = m
		} else if v7Marker == "" {
			v7Marker = m
		}
	}
	require.NotEmpty(t, otherMarker)
	require.NotEmpty(t, v7Marker)

	for _, m := range []string{v7Marker, otherMarker} {
		t.Run(strings.Split(strings.TrimPrefix(m, prefix+"_ids/"), "/")[0], func(t *testing.T) {
			obj := objectOf(m)
			del(m)
			defer put(m)
			// An entry of the object is stored but not found by id.
			body := s3test.Body(t, client, bucket, prefix+obj)
			var id string
			for l := range bytes.Lines(body) {
				e, err := storage.ParseEntry(bytes.TrimSuffix(l, []byte("\n")))
				require.NoError(t, err)
				if strings.HasPrefix(e.ID, "ref-") == strings.Contains(m, "/other/") {
					id = e.ID
				}
			}
			require.NotEmpty(t, id)
			_, err := st.Read(ctx, id)
			require.ErrorIs(t, err, storage.ErrNotFound, "a deleted marker hides the entry")

			rep, err := verifyNow()
			require.NoError(t, err)
			require.True(t, hasProblem(rep, verify.ProblemMarkerMissing, obj), "%v", rep.Problems)
			assert.Contains(t, rep.Problems[0].Detail, strings.TrimPrefix(m, prefix), "names the marker key")
		})
	}

	t.Run("rewritten generation", func(t *testing.T) {
		obj := objectOf(v7Marker)
		body := s3test.Body(t, client, bucket, prefix+obj)
		first, err := storage.ParseEntry(bytes.TrimSuffix(bytes.SplitAfter(body, []byte("\n"))[0], []byte("\n")))
		require.NoError(t, err)
		ok, err := st.Delete(ctx, first.ID)
		require.NoError(t, err)
		require.True(t, ok)
		rep, err := verifyNow()
		require.NoError(t, err)
		require.True(t, rep.OK(), "%v", rep.Problems)

		del(v7Marker)
		defer put(v7Marker)
		rep, err = verifyNow()
		require.NoError(t, err)
		require.Len(t, rep.Problems, 1, "%v", rep.Problems)
		p := rep.Problems[0]
		assert.Equal(t, verify.ProblemMarkerMissing, p.Kind)
		assert.True(t, strings.HasPrefix(p.File, obj[:strings.Index(obj, ".")]), "names the current generation of %s: %v", obj, p)
		assert.Contains(t, p.Detail, "cannot be found by id")
	})

	t.Run("orphan marker", func(t *testing.T) {
		leaf := v7Marker[strings.LastIndex(v7Marker, "/")+1:]
		i := strings.LastIndex(leaf, "_")
		orphan := v7Marker[:len(v7Marker)-len(leaf)] + leaf[:i+1] + "00000000000000ff-1.0.00000000000000-00000000000000.1.jsonl"
		put(orphan)
		defer del(orphan)
		rep, err := verifyNow()
		require.NoError(t, err)
		assert.True(t, rep.OK(), "%v", rep.Problems)
		assert.True(t, hasWarning(rep, verify.WarningOrphanMarker), "%v", rep.Warnings)
	})
}

// TestLegacyOnlyWithKey: a prefix holding only reference-layout objects
// and no signed digest, verified with a key, is what a signed prefix
// stripped of its digests and chains would look like: reported. Without
// a key it is a reference bucket.
func TestLegacyOnlyWithKey(t *testing.T) {
	sb := newSignedBucket(t, "lk/")
	keys := sb.putReference(t)
	rep := sb.verify(false)
	assert.True(t, hasProblem(rep, verify.ProblemMissing, "_digests/"), "%v", rep.Problems)
	assert.Equal(t, int64(len(keys)), rep.Legacy)

	rep, err := sb.v.Verify(t.Context())
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Problems)
	assert.True(t, hasWarning(rep, verify.WarningLegacy), "%v", rep.Warnings)
}

// TestObjectOverLimitNotRead plants an object larger than the Store's
// object limit where a reference-layout entry would be: queries fail with
// ErrObjectTooLarge instead of reading it into memory, the store's own
// objects stay readable under the limit, and Verify reports the object.
func TestObjectOverLimitNotRead(t *testing.T) {
	sb := newSignedBucket(t, "big/")
	a := sb.store()
	sb.write([]*s3store.Store{a}, time.Date(2025, 6, 1, 6, 0, 0, 0, time.UTC), 20)
	require.NoError(t, a.Close())

	limited, err := s3store.New(t.Context(), sb.client, sb.bucket, s3store.WithPrefix(sb.prefix), s3store.WithMaxObjectBytes(1<<20), s3store.WithReadOnly())
	require.NoError(t, err)
	defer limited.Close()
	es, err := limited.ListEntries(t.Context(), time.Time{}, time.Now())
	require.NoError(t, err)
	require.Len(t, es, 20, "the store's objects are under the limit")

	sb.put(sb.prefix+"2025-06-01/planted.json", bytes.Repeat([]byte("x"), 2<<20))
	_, err = limited.ListEntries(t.Context(), time.Time{}, time.Now())
	require.ErrorIs(t, err, s3store.ErrObjectTooLarge)
	assert.Contains(t, err.Error(), "planted.json")
	// Verify names it as not signed without reading it.
	rep, err := limited.Verify(t.Context(), s3store.WithVerifyKey("k1", testCheckpointKey))
	require.NoError(t, err)
	assert.True(t, hasProblem(rep, verify.ProblemLegacyChanged, "2025-06-01/planted.json"), "%v", rep.Problems)
}

// TestLegacyNoteDeleted: the legacy note deleted together with every
// reference-layout object it lists, or deleted so that a writer starting
// later signs a new one over what is left, is caught with the key (the
// writer that stored the note says so in its signed open digest), with
// and without the witness; reference-layout entries would otherwise be
// deleted unseen.
func TestLegacyNoteDeleted(t *testing.T) {
	sb := newSignedBucket(t, "lnd/")
	keys := sb.putReference(t)
	a := sb.store()
	sb.write([]*s3store.Store{a}, time.Date(2025, 6, 1, 6, 0, 0, 0, time.UTC), 60)
	require.NoError(t, a.Close())
	intact := sb.snapshot()
	for _, w := range []bool{true, false} {
		rep := sb.verify(w)
		require.True(t, rep.OK(), "witness %v: %v", w, rep.Problems)
	}
	note := sb.prefix + "_digests/_legacy.json"

	// The note and every object it lists deleted.
	sb.del(note)
	for _, k := range keys {
		sb.del(sb.prefix + k)
	}
	for _, w := range []bool{true, false} {
		rep := sb.verify(w)
		assert.True(t, hasProblem(rep, verify.ProblemMissing, "_digests/_legacy.json"), "witness %v: %v", w, rep.Problems)
	}
	sb.restore(intact)

	// The note and one object deleted; a writer started afterwards signs
	// a new note over the objects left.
	sb.del(note)
	for _, k := range keys {
		sb.del(sb.prefix + k)
		break
	}
	b := sb.store()
	sb.write([]*s3store.Store{b}, time.Date(2025, 6, 2, 6, 0, 0, 0, time.UTC), 10)
	require.NoError(t, b.Close())
	require.Len(t, s3test.Keys(t, sb.client, sb.bucket, note), 1, "the new writer signed a legacy note")
	for _, w := range []bool{true, false} {
		rep := sb.verify(w)
		assert.True(t, hasProblem(rep, verify.ProblemLegacyChanged, "_digests/_legacy.json"), "witness %v: %v", w, rep.Problems)
	}
}

// TestVerifyObjectOverLimit: an object over the Store's object limit
// planted where a batch object or a digest is expected is reported by
// Verify, naming it, without reading it, and the rest of the store is
// still verified: one planted object does not turn a verification into
// an error that hides every other finding.
func TestVerifyObjectOverLimit(t *testing.T) {
	sb := newSignedBucket(t, "bigb/")
	a := sb.store()
	sb.write([]*s3store.Store{a}, time.Date(2025, 6, 1, 6, 0, 0, 0, time.UTC), 120)
	require.NoError(t, a.Close())
	objs, digests := sb.batchKeys("")
	require.Greater(t, len(objs), 2)
	require.Greater(t, len(digests), 1)

	limited, err := s3store.New(t.Context(), sb.client, sb.bucket, s3store.WithPrefix(sb.prefix), s3store.WithMaxObjectBytes(1<<20), s3store.WithReadOnly())
	require.NoError(t, err)
	defer limited.Close()
	big := bytes.Repeat([]byte("x"), 2<<20)
	sb.put(objs[1], big)
	sb.put(digests[1], big)
	rep, err := limited.Verify(t.Context(), s3store.WithVerifyKey("k1", testCheckpointKey))
	require.NoError(t, err)
	rel := func(k string) string { return strings.TrimPrefix(k, sb.prefix) }
	assert.True(t, hasProblem(rep, verify.ProblemCorrupt, rel(objs[1])), "%v", rep.Problems)
	assert.True(t, hasProblem(rep, verify.ProblemCorrupt, rel(digests[1])), "%v", rep.Problems)
	assert.Positive(t, rep.Chained, "the other objects are verified")
}

// TestLegacyNoteSkipsObjectOverLimit: an object over the read limit
// planted in the reference layout before the legacy note exists (the
// first signing Store on a prefix, or after the note was deleted) does
// not stop signing writers from storing: the note leaves it out, and
// Verify reports it as added.
func TestLegacyNoteSkipsObjectOverLimit(t *testing.T) {
	sb := newSignedBucket(t, "bign/")
	sb.put(sb.prefix+"2025-01-01/planted.json", bytes.Repeat([]byte("x"), 2<<20))
	st := sb.store(s3store.WithMaxObjectBytes(1 << 20))
	sb.write([]*s3store.Store{st}, time.Date(2025, 7, 1, 10, 0, 0, 0, time.UTC), 10)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, st.Flush(ctx), "the writer stores its entries")
	require.NoError(t, st.Close())
	rep := sb.verify(true)
	assert.True(t, hasProblem(rep, verify.ProblemLegacyChanged, "2025-01-01/planted.json"), "%v", rep.Problems)
	assert.Equal(t, int64(10), rep.Chained)
}
