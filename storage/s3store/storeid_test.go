package s3store_test

import (
	"bytes"
	"encoding/json"
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

// Every writer's open digest names the store it opened in (the digest of
// the prefix's legacy note, written once per prefix), so that a writer
// session of another store signed with the same key is found.

// at returns a signedBucket for prefix of bucket on sb's server, with its
// own reading Store and witness.
func (sb *signedBucket) at(bucket, prefix string) *signedBucket {
	o := &signedBucket{t: sb.t, client: sb.client, bucket: bucket, prefix: prefix}
	v, err := s3store.New(sb.t.Context(), sb.client, bucket, s3store.WithPrefix(prefix))
	require.NoError(sb.t, err)
	sb.t.Cleanup(func() { _ = v.Close() })
	o.v = v
	return o
}

// copyFrom puts every object under from.prefix (except those skip
// rejects, given the key relative to the prefix) under sb.prefix.
func (sb *signedBucket) copyFrom(from *signedBucket, skip func(rel string) bool) {
	for _, k := range s3test.Keys(sb.t, from.client, from.bucket, from.prefix) {
		rel := strings.TrimPrefix(k, from.prefix)
		if skip == nil || !skip(rel) {
			sb.put(sb.prefix+rel, s3test.Body(sb.t, from.client, from.bucket, k))
		}
	}
}

// session writes one signed writer session of n entries to sb.
func (sb *signedBucket) session(base time.Time, n int) {
	st := sb.store()
	sb.write([]*s3store.Store{st}, base, n)
	require.NoError(sb.t, st.Close())
}

// problems returns the problems of rep of kind k.
func problems(rep *verify.Report, k verify.ProblemKind) []verify.Problem {
	var out []verify.Problem
	for _, p := range rep.Problems {
		if p.Kind == k {
			out = append(out, p)
		}
	}
	return out
}

// unnameStores re-signs every digest under sb.prefix as a writer from
// before stores were named writes it: open notes without Note.Store, each
// writer's digests chained again.
func (sb *signedBucket) unnameStores() {
	signer, err := storage.NewHMACSigner("k1", testCheckpointKey)
	require.NoError(sb.t, err)
	keys := s3test.Keys(sb.t, sb.client, sb.bucket, sb.prefix+"_digests/")
	slices.Sort(keys) // per writer, in number order (20 digits)
	prev := map[string]string{}
	for _, k := range keys {
		if strings.HasSuffix(k, "/_legacy.json") {
			continue
		}
		var n storage.Note
		require.NoError(sb.t, json.Unmarshal(bytes.TrimSuffix(s3test.Body(sb.t, sb.client, sb.bucket, k), []byte("\n")), &n))
		n.Store = ""
		n.PrevNote = prev[n.Writer]
		line, err := storage.EncodeNote(&n, signer)
		require.NoError(sb.t, err)
		prev[n.Writer] = storage.NoteDigest(line[:len(line)-1])
		sb.put(k, line)
	}
}

// TestFindingSessionReplayedFromAnotherPrefix: a whole writer session
// (batch objects, id markers, digests) copied from another prefix whose
// writers sign with the same key names that prefix's store in its open
// digest: Verify reports it, with the key, with and without the witness.
func TestFindingSessionReplayedFromAnotherPrefix(t *testing.T) {
	sb := newSignedBucket(t, "p1/")
	a := sb.store()
	sb.write([]*s3store.Store{a}, time.Date(2025, 7, 1, 10, 0, 0, 0, time.UTC), 100)
	require.NoError(t, a.Close())
	other := &signedBucket{t: t, client: sb.client, bucket: sb.bucket, prefix: "p2/"}
	b := other.store()
	other.write([]*s3store.Store{b}, time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC), 80)
	require.NoError(t, b.Close())
	require.True(t, sb.verify(true).OK())

	for _, k := range s3test.Keys(t, sb.client, sb.bucket, "p2/") {
		if !strings.HasSuffix(k, "_legacy.json") {
			sb.put("p1/"+strings.TrimPrefix(k, "p2/"), s3test.Body(t, sb.client, sb.bucket, k))
		}
	}
	for _, w := range []bool{true, false} {
		rep := sb.verify(w)
		assert.False(t, rep.OK(), "witness %v: a session of another prefix inserted whole passes (%d entries)", w, rep.Chained)
		ps := problems(rep, verify.ProblemUnknownWriter)
		if assert.Len(t, ps, 1, "witness %v: %v", w, rep.Problems) {
			assert.Contains(t, ps[0].Detail, "another store")
			assert.Contains(t, ps[0].File, "_digests/")
		}
		assert.Len(t, rep.Problems, 1, "witness %v: only the foreign session is reported: %v", w, rep.Problems)
	}
}

// TestStoreCopiedWholeKeepsItsIdentity: a store copied whole to another
// bucket and prefix verifies as before, and a writer opened on the copy
// names the same store (it reads the copied legacy note), so the copy
// verifies clean after it too; a session of a third store signed with
// the same key copied into the copy is still found.
func TestStoreCopiedWholeKeepsItsIdentity(t *testing.T) {
	sb := newSignedBucket(t, "orig/")
	sb.session(time.Date(2025, 7, 1, 10, 0, 0, 0, time.UTC), 60)
	sb.session(time.Date(2025, 7, 2, 10, 0, 0, 0, time.UTC), 60)
	require.True(t, sb.verify(true).OK())

	cp := sb.at(newBucket(t, sb.client), "moved/audit/")
	cp.copyFrom(sb, nil)
	cp.witness.b.Write(sb.witness.Bytes())
	rep := cp.verify(true)
	require.True(t, rep.OK(), "the whole store copied: %v", rep.Problems)
	assert.Equal(t, int64(120), rep.Chained)
	cp.session(time.Date(2025, 7, 3, 10, 0, 0, 0, time.UTC), 40)
	rep = cp.verify(true)
	require.True(t, rep.OK(), "a writer continuing the copy: %v", rep.Problems)
	assert.Equal(t, int64(160), rep.Chained)

	assertForeignSessionFound(t, cp, sb.at(sb.bucket, "third/"), time.Date(2025, 7, 3, 12, 0, 0, 0, time.UTC), true)
}

// TestStoreWrittenBeforeStoresWereNamed: open notes that name no store
// (writers from before this change; simulated by signing the digests
// again without the name) verify as before, also once a current writer
// continued the store and named it; a session of another store, which
// names that store, is still found in such a store.
func TestStoreWrittenBeforeStoresWereNamed(t *testing.T) {
	sb := newSignedBucket(t, "old/")
	sb.session(time.Date(2025, 7, 1, 10, 0, 0, 0, time.UTC), 60)
	sb.session(time.Date(2025, 7, 1, 14, 0, 0, 0, time.UTC), 60)
	sb.unnameStores()
	rep := sb.verify(false)
	require.True(t, rep.OK(), "a store written before stores were named: %v", rep.Problems)
	assert.Equal(t, int64(120), rep.Chained)

	sb.session(time.Date(2025, 7, 2, 10, 0, 0, 0, time.UTC), 40)
	rep = sb.verify(false)
	require.True(t, rep.OK(), "continued by a writer that names the store: %v", rep.Problems)
	assert.Equal(t, int64(160), rep.Chained)

	assertForeignSessionFound(t, sb, sb.at(sb.bucket, "other/"), time.Date(2025, 7, 2, 12, 0, 0, 0, time.UTC), false)
}

// TestStoreIdentityDeletedOrReplaced: the legacy note names the store.
// Replaced by another prefix's (signed with the same key, and with the
// same summary: neither prefix holds reference-layout objects, so the
// legacy check alone passes it), every writer is reported as opened in
// another store; deleted together with the session of the writer that
// stored it (so that no open note claims to have stored it), the open
// notes that name the store report it missing.
func TestStoreIdentityDeletedOrReplaced(t *testing.T) {
	sb := newSignedBucket(t, "id/")
	sb.session(time.Date(2025, 7, 1, 10, 0, 0, 0, time.UTC), 60)
	sb.session(time.Date(2025, 7, 1, 14, 0, 0, 0, time.UTC), 60)
	require.True(t, sb.verify(false).OK())
	before := sb.snapshot()
	note := sb.prefix + "_digests/_legacy.json"

	t.Run("replaced", func(t *testing.T) {
		sb.restore(before)
		other := sb.at(sb.bucket, "elsewhere/")
		other.session(time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC), 10)
		sb.put(note, s3test.Body(t, sb.client, sb.bucket, other.prefix+"_digests/_legacy.json"))
		rep := sb.verify(false)
		assert.False(t, rep.OK())
		assert.Len(t, problems(rep, verify.ProblemUnknownWriter), 2, "%v", rep.Problems)
	})
	t.Run("deleted", func(t *testing.T) {
		sb.restore(before)
		// The writer that stored the note: its open note carries the
		// note's summary.
		first := ""
		for k, body := range before {
			if strings.HasSuffix(k, "/00000000000000000001.json") && bytes.Contains(body, []byte(`"legacy":`)) {
				first = strings.Split(strings.TrimPrefix(k, sb.prefix+"_digests/"), "/")[0]
			}
		}
		require.NotEmpty(t, first)
		for k := range before {
			if strings.Contains(k, first) || k == note {
				sb.del(k)
			}
		}
		rep := sb.verify(false)
		assert.False(t, rep.OK(), "the legacy note and the session that stored it deleted")
		ps := problems(rep, verify.ProblemMissing)
		if assert.Len(t, ps, 1, "%v", rep.Problems) {
			assert.Equal(t, "_digests/_legacy.json", ps[0].File)
		}
	})
}

// assertForeignSessionFound writes a session into other (another store,
// which names itself) at start, copies it into into, all but other's
// store identity, and checks that Verify of into reports its writer as
// unknown.
func assertForeignSessionFound(t *testing.T, into, other *signedBucket, start time.Time, withWitness bool) {
	t.Helper()
	other.session(start, 30)
	into.copyFrom(other, func(rel string) bool { return rel == "_digests/_legacy.json" })
	rep := into.verify(withWitness)
	assert.False(t, rep.OK())
	assert.Len(t, problems(rep, verify.ProblemUnknownWriter), 1, "%v", rep.Problems)
}
