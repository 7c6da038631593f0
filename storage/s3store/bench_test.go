package s3store_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// Benchmarks against the server the environment names (make bench starts
// versitygw); skipped without one.

// BenchmarkWrite measures write throughput with batching, from the first
// Write to the end of the Flush that uploads the last entry, and the HTTP
// requests it takes per 1,000 entries.
func BenchmarkWrite(b *testing.B) {
	cases := []struct {
		name   string
		par    int
		spool  bool
		signed bool
	}{
		{"sequential", 1, false, false},
		{"8writers", 8, false, false},
		{"sequential-spool", 1, true, false},
		// Chaining is always on; these add signed digests (a digest per
		// interval and at the final Flush).
		{"sequential-signed", 1, false, true},
		{"8writers-signed", 8, false, true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			par := tc.par
			var opts []s3store.Option
			if tc.spool {
				opts = append(opts, s3store.WithSpoolDir(b.TempDir()))
			}
			if tc.signed {
				opts = append(opts, s3store.WithCheckpointKey("bench", testCheckpointKey))
			}
			st, c, _, _ := newCountedStore(b, opts...)
			base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
			c.reset()
			b.ResetTimer()
			if par == 1 {
				e := entryAt(base)
				for i := range b.N {
					e.ID = storage.NewEntryID()
					e.Timestamp = base.Add(time.Duration(i) * time.Millisecond)
					if err := st.Write(b.Context(), e); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.SetParallelism(max(1, par/runtime.GOMAXPROCS(0))) // about par goroutines in all
				b.RunParallel(func(pb *testing.PB) {
					e := entryAt(base)
					i := 0
					for pb.Next() {
						i++
						e.ID = storage.NewEntryID()
						e.Timestamp = base.Add(time.Duration(i) * time.Millisecond)
						if err := st.Write(b.Context(), e); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			require.NoError(b, st.Flush(b.Context()))
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(float64(c.all.Load())*1000/float64(b.N), "requests/1000entries")
		})
	}
}

// BenchmarkRequestsPer1000 writes exactly 1,000 entries and flushes, per
// iteration, and reports the HTTP requests that took; "signed" with
// digests on (each Flush writes one).
func BenchmarkRequestsPer1000(b *testing.B) {
	b.Run("unsigned", func(b *testing.B) { requestsPer1000(b) })
	b.Run("signed", func(b *testing.B) {
		requestsPer1000(b, s3store.WithCheckpointKey("bench", testCheckpointKey))
	})
}

func requestsPer1000(b *testing.B, opts ...s3store.Option) {
	st, c, _, _ := newCountedStore(b, opts...)
	base := time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)
	es := make([]*storage.AuditEntry, 1000)
	var reqs, rounds int64
	for b.Loop() {
		for i := range es {
			es[i] = entryAt(base.Add(time.Duration(rounds)*time.Second + time.Duration(i)*time.Microsecond))
		}
		c.reset()
		for _, e := range es {
			if err := st.Write(b.Context(), e); err != nil {
				b.Fatal(err)
			}
		}
		if err := st.Flush(b.Context()); err != nil {
			b.Fatal(err)
		}
		reqs += c.all.Load()
		rounds++
	}
	b.ReportMetric(float64(reqs)/float64(rounds), "requests/1000entries")
}

// populate writes perDay entries on each of days consecutive days from
// start and returns their ids.
func populate(b *testing.B, st *s3store.Store, start time.Time, days, perDay int) []string {
	b.Helper()
	var ids []string
	for d := range days {
		es := make([]*storage.AuditEntry, perDay)
		for i := range es {
			es[i] = entryAt(start.AddDate(0, 0, d).Add(time.Duration(i) * 24 * time.Hour / time.Duration(perDay)))
			ids = append(ids, es[i].ID)
		}
		require.NoError(b, st.WriteBatch(b.Context(), es))
	}
	require.NoError(b, st.Flush(b.Context()))
	return ids
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// BenchmarkRead measures Read by id (UUIDv7) in a bucket of 30 days x
// 1,000 entries, with its p50/p99 latency and requests per read.
func BenchmarkRead(b *testing.B) {
	st, c, _, _ := newCountedStore(b)
	ids := populate(b, st, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), 30, 1000)
	var lat []time.Duration
	c.reset()
	for b.Loop() {
		id := ids[rand.IntN(len(ids))]
		t0 := time.Now()
		if _, err := st.Read(b.Context(), id); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(c.all.Load())/float64(len(lat)), "requests/read")
}

// BenchmarkRangeQuery1Day90 measures ListEntries over one UTC day in a
// bucket holding 90 days x 500 entries.
func BenchmarkRangeQuery1Day90(b *testing.B) {
	st, c, _, _ := newCountedStore(b)
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	populate(b, st, start, 90, 500)
	var lat []time.Duration
	n := 0
	c.reset()
	for b.Loop() {
		d := start.AddDate(0, 0, rand.IntN(90))
		t0 := time.Now()
		es, err := st.ListEntries(b.Context(), d, d.Add(24*time.Hour-1))
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		n = len(es)
	}
	if n != 500 {
		b.Fatalf("one day returned %d entries, want 500", n)
	}
	b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(c.all.Load())/float64(len(lat)), "requests/query")
}

// BenchmarkVerify1M verifies a signed S3 store of OTELAUDIT_BENCH_ENTRIES
// entries (default 1,000,000) from two writers, with the key and with the
// witness (every hash, link, digest and object SHA-256 checked), and
// reports entries/s.
func BenchmarkVerify1M(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("OTELAUDIT_BENCH_ENTRIES")); err == nil && v > 0 {
		n = v
	}
	srv := testServer(b)
	client := srv.client(nil, srv.secret)
	bucket := newBucket(b, client)
	var witness bytes.Buffer
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return witness.Write(p) })
	base := time.Date(2025, 6, 3, 0, 0, 0, 0, time.UTC)
	var sts [2]*s3store.Store
	for i := range sts {
		st, err := s3store.New(b.Context(), client, bucket, s3store.WithCheckpointKey("bench", testCheckpointKey), s3store.WithWitness(w))
		require.NoError(b, err)
		sts[i] = st
	}
	es := make([]*storage.AuditEntry, 0, 1000)
	for i := 0; i < n; i += 1000 {
		es = es[:0]
		for j := i; j < min(n, i+1000); j++ {
			es = append(es, entryAt(base.Add(time.Duration(j)*50*time.Millisecond)))
		}
		require.NoError(b, sts[(i/1000)%2].WriteBatch(b.Context(), es))
	}
	for _, st := range sts {
		require.NoError(b, st.Close())
	}
	// Verifying reads: without WithReadOnly, New refuses a signed prefix
	// opened without its writers' key (ErrCheckpointKeyNeeded).
	v, err := s3store.New(b.Context(), client, bucket, s3store.WithReadOnly())
	require.NoError(b, err)
	defer v.Close()
	for b.Loop() {
		t0 := time.Now()
		rep, err := v.Verify(b.Context(), s3store.WithVerifyKey("bench", testCheckpointKey), s3store.WithVerifyWitness(bytes.NewReader(witness.Bytes())))
		el := time.Since(t0)
		require.NoError(b, err)
		if !rep.OK() || rep.Chained != int64(n) {
			b.Fatalf("verify: %d chained of %d, problems %v", rep.Chained, n, rep.Problems)
		}
		b.ReportMetric(float64(n)/el.Seconds(), "entries/s")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
