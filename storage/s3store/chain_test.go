package s3store_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/s3test"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// TestEntriesAreChained: each Store chains the entries it accepts through
// the shared codec (storage.Chainer), in the order it accepts them, across
// its batch objects and days: in the stored objects every writer's entries
// are positions 1..n, each hash covers the entry's bytes as stored and
// links to the one before.
func TestEntriesAreChained(t *testing.T) {
	srv := testServer(t)
	client := srv.client(nil, srv.secret)
	bucket := newBucket(t, client)
	var stores [2]*s3store.Store
	for i := range stores {
		st, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix("chain/"), s3store.WithMaxBatchEntries(37))
		require.NoError(t, err)
		defer st.Close()
		stores[i] = st
	}
	base := time.Date(2025, 6, 30, 20, 0, 0, 0, time.UTC) // crosses midnight
	const total = 1000
	for i := range total {
		e := entryAt(base.Add(time.Duration(i*7919%total) * 30 * time.Second))
		if i%100 == 0 {
			require.NoError(t, stores[i%2].WriteBatch(t.Context(), []*storage.AuditEntry{e, entryAt(e.Timestamp)}))
			continue
		}
		require.NoError(t, stores[i%2].Write(t.Context(), e))
	}
	for _, st := range stores {
		require.NoError(t, st.Flush(t.Context()))
	}

	type link struct {
		seq        uint64
		prev, hash string
	}
	byWriter := map[string][]link{}
	var h storage.ChainHasher
	objects := 0
	for _, k := range s3test.Keys(t, client, bucket, "chain/") {
		if strings.HasPrefix(k, "chain/_ids/") {
			continue
		}
		objects++
		for line := range bytes.Lines(s3test.Body(t, client, bucket, k)) {
			line = bytes.TrimSuffix(line, []byte("\n"))
			prefix, c, ok := storage.SplitChain(line)
			require.True(t, ok, "%s: unchained line", k)
			require.True(t, h.Matches(prefix, c), "%s: hash of entry %d does not cover its bytes", k, c.Seq)
			byWriter[c.Writer] = append(byWriter[c.Writer], link{c.Seq, c.Prev, c.Hash})
		}
	}
	assert.Greater(t, objects, 4, "several batch objects per writer")
	require.Len(t, byWriter, 2)
	n := 0
	for w, ls := range byWriter {
		slices.SortFunc(ls, func(a, b link) int { return int(a.seq) - int(b.seq) })
		prev := ""
		for i, l := range ls {
			require.Equal(t, uint64(i+1), l.seq, "writer %s: positions 1..n without gaps", w)
			require.Equal(t, prev, l.prev, "writer %s: entry %d links to the one before", w, l.seq)
			prev = l.hash
		}
		n += len(ls)
	}
	assert.Equal(t, total+total/100, n)

	got, err := stores[0].ListEntries(t.Context(), base, base.Add(24*time.Hour))
	require.NoError(t, err)
	require.Len(t, got, n)
	for _, e := range got {
		require.NotNil(t, e.Chain, "entries read back carry their chain")
		assert.Contains(t, byWriter, e.Chain.Writer)
	}
}
