package awskeys_test

import (
	"crypto/sha256"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/otelaudit/otelaudit-go/internal/awstest"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/otelaudit/awskeys"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// BenchmarkLoggerLogEncrypted measures Logger.Log of a 1 KiB in / 1 KiB out
// call into a filestore.Store (default durability), 1 goroutine, with
// content hash-only, encrypted with a Fernet key ring, and enveloped with a
// KMS data key (from the local emulator; cached, so KMS is called once).
// Target for both encrypted modes: >= 60,000 entries/s on a quiet 2-core
// machine.
//
// The parallel/ sub-benchmarks do the same with GOMAXPROCS goroutines
// sharing one Logger and one store, as a service's request handlers do,
// and the many/ ones with four times as many goroutines as processors.
//
// Each encrypted sub-benchmark runs a hash-only Logger beside it, in
// alternating chunks of logCompareChunk entries (the baseline's chunks are
// not timed), so that the machine's load drifts over both alike. It
// reports, besides entries/s, cpu-µs/entry (process CPU: this
// goroutine, the store's syncer and GC), sched-wait-µs/entry (the time
// goroutines spent runnable before a processor ran them, which a writer
// woken by another spends; see the runtime's /sched/latencies:seconds)
// and, with 1 goroutine,
// caller-cpu-µs/entry (the CPU of the thread that calls Log, which bounds
// the 1-goroutine rate on an idle machine and depends little on load),
// the baseline's figures
// (hash-only-entries/s, hash-only-cpu-µs/entry) and the ratios
// x-hash-only (entries/s over the baseline's) and cpu-x-hash-only (CPU per
// entry over the baseline's), which are what to compare across machines.
//
// Every sub-benchmark also measures, in chunks alternating with the
// timed ones, the floor of its mode on this machine: the steps no
// implementation of this entry format can skip, each on its own in a
// loop (see floorRun). It reports them per entry (floor-hash-µs: the two
// content hashes; floor-encrypt-µs: the two encryptions; floor-digest-µs:
// the SHA-256 of the line's entry bytes, which chain format 2 lets the
// writer compute before the store's lock; floor-chain-µs: the chain link
// under the lock, the outer hash and the suffix; floor-write-µs: one
// write(2) of that line to an O_APPEND file), their sum floor-µs/entry,
// the rate it allows floor-entries/s (with G goroutines on P processors:
// the chain link and the write are serial, the rest parallel, so
// 1/max(serial, sum/min(G, P))), and x-floor, the
// measured entries/s over floor-entries/s.
func BenchmarkLoggerLogEncrypted(b *testing.B) {
	key, err := otelaudit.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	ring, err := otelaudit.NewEncryptionManager(key)
	if err != nil {
		b.Fatal(err)
	}
	kc := awstest.KMS(awstest.Endpoint(b))
	env, err := awskeys.NewEnvelope(b.Context(), kc, awstest.NewKMSKey(b, kc))
	if err != nil {
		b.Fatal(err)
	}
	procs := runtime.GOMAXPROCS(0)
	for _, bc := range []struct {
		name       string
		cipher     otelaudit.Cipher
		goroutines int
	}{
		{"hash-only", nil, 1},
		{"fernet-ring", ring, 1},
		{"kms-envelope", env, 1},
		{"parallel/hash-only", nil, procs},
		{"parallel/fernet-ring", ring, procs},
		{"parallel/kms-envelope", env, procs},
		{"many/hash-only", nil, 4 * procs},
		{"many/fernet-ring", ring, 4 * procs},
		{"many/kms-envelope", env, 4 * procs},
	} {
		b.Run(bc.name, func(b *testing.B) {
			run := newLogRun(b, bc.cipher)
			floor := newFloorRun(b, bc.cipher)
			var base *logRun
			if bc.cipher != nil {
				base = newLogRun(b, nil)
			}
			b.SetBytes(2048)
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				n := min(logCompareChunk*bc.goroutines, b.N-done)
				run.log(b, n, bc.goroutines)
				b.StopTimer()
				if base != nil {
					base.log(b, n, bc.goroutines)
				}
				floor.run(b, n)
				b.StartTimer()
				done += n
			}
			run.close(b)
			b.StopTimer()
			rate, cpu := run.figures()
			b.ReportMetric(rate, "entries/s")
			b.ReportMetric(cpu, "cpu-µs/entry")
			b.ReportMetric(run.schedWaitFigure(), "sched-wait-µs/entry")
			caller := run.callerFigure()
			if bc.goroutines == 1 {
				b.ReportMetric(caller, "caller-cpu-µs/entry")
			}
			floor.report(b, rate, min(bc.goroutines, procs))
			if base != nil {
				base.close(b)
				baseRate, baseCPU := base.figures()
				b.ReportMetric(baseRate, "hash-only-entries/s")
				b.ReportMetric(baseCPU, "hash-only-cpu-µs/entry")
				b.ReportMetric(rate/baseRate, "x-hash-only")
				b.ReportMetric(cpu/baseCPU, "cpu-x-hash-only")
				if bc.goroutines == 1 {
					b.ReportMetric(base.callerFigure(), "hash-only-caller-cpu-µs/entry")
				}
			}
		})
	}
}

// logCompareChunk is how many entries each side of a same-run comparison
// logs before the other side takes its turn.
const logCompareChunk = 512

// logRun is one Logger into its own filestore.Store, with the wall and
// process CPU time spent in its chunks.
type logRun struct {
	st        *filestore.Store
	l         *otelaudit.Logger
	n         atomic.Int64
	wall, cpu time.Duration
	// schedWait is the time goroutines spent runnable but not running
	// during the chunks (runtime/metrics /sched/latencies:seconds).
	schedWait time.Duration
	callerCPU time.Duration // 1 goroutine only
}

var (
	benchIn  = strings.Repeat("Summarise the quarterly report. ", 32)[:1024]
	benchOut = strings.Repeat("Revenue grew 12% year on year. ", 34)[:1024]
)

// benchInteraction is the call every run logs, its input token count set
// to tokens.
func benchInteraction(tokens int64) otelaudit.Interaction {
	return otelaudit.Interaction{
		Input: benchIn, Output: benchOut, Provider: "openai", Model: "gpt-4o", Operation: "chat",
		Latency: 850 * time.Millisecond, InputTokens: otelaudit.Ptr(tokens), OutputTokens: otelaudit.Ptr[int64](256),
		Metadata: map[string]any{"tenant": "acme"},
	}
}

func newLogRun(b *testing.B, c otelaudit.Cipher) *logRun {
	b.Helper()
	st, err := filestore.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	var opts []otelaudit.Option
	if c != nil {
		opts = append(opts, otelaudit.WithCipher(c))
	}
	l, err := otelaudit.NewLogger(st, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return &logRun{st: st, l: l}
}

// log logs n entries from the given number of goroutines and adds the
// time they took. With one goroutine, it also adds the CPU time of the
// thread that calls Log (the caller's share of the process CPU; the store's
// background goroutine and most GC work run on other threads).
func (r *logRun) log(b *testing.B, n, goroutines int) {
	ctx := b.Context()
	logN := func(k int) {
		for range k {
			if _, err := r.l.Log(ctx, benchInteraction(r.n.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	}
	start, cpu0, wait0 := time.Now(), processCPU(), schedLatency()
	if goroutines == 1 {
		runtime.LockOSThread()
		t0 := threadCPU()
		logN(n)
		r.callerCPU += threadCPU() - t0
		runtime.UnlockOSThread()
	} else {
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() { logN(n/goroutines + btoi(g < n%goroutines)) })
		}
		wg.Wait()
	}
	r.wall += time.Since(start)
	r.cpu += processCPU() - cpu0
	r.schedWait += schedLatency() - wait0
	if b.Failed() {
		b.FailNow()
	}
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

// close closes the store (its final fsync counts as part of the run).
func (r *logRun) close(b *testing.B) {
	start, cpu0 := time.Now(), processCPU()
	if err := r.st.Close(); err != nil {
		b.Fatal(err)
	}
	r.wall += time.Since(start)
	r.cpu += processCPU() - cpu0
}

// figures returns entries/s (wall clock) and process CPU µs per entry.
func (r *logRun) figures() (rate, cpuMicros float64) {
	n := float64(r.n.Load())
	return n / r.wall.Seconds(), float64(r.cpu.Microseconds()) / n
}

// schedWaitFigure returns the µs per entry goroutines spent runnable
// but not running during the run (all goroutines of the process; a
// writer woken by another waits there until a processor takes it).
func (r *logRun) schedWaitFigure() float64 {
	return float64(r.schedWait.Nanoseconds()) / 1e3 / float64(r.n.Load())
}

// callerFigure returns the CPU µs per entry of the thread that called Log
// (1 goroutine runs only).
func (r *logRun) callerFigure() float64 {
	return float64(r.callerCPU.Microseconds()) / float64(r.n.Load())
}

// floorRun measures the irreducible steps of logging one entry of a
// mode, each on its own in a loop over a chunk of entries: the two content
// hashes (otelaudit.HashContent), the two encryptions (the mode's cipher;
// none for hash-only), the digest of the entry's bytes that the writing
// goroutine computes before it takes the store's lock
// (storage.PrefixDigest on the prefix of a real entry of the mode), the
// chain link the store's lock serialises (storage.Chainer.AppendLineDigest:
// the ~150-byte outer hash and the line with its chain suffix) and one
// write(2) of that line to an O_APPEND file. Looping one step at a time
// keeps caches warm, so the floor is if anything low.
type floorRun struct {
	c      otelaudit.Cipher
	prefix []byte // wire form of one entry of the mode, before its chain
	line   []byte // that entry's stored line
	ch     storage.Chainer
	f      *os.File
	n      int
	// time spent in each step
	hash, encrypt, digest, chain, write time.Duration
}

func newFloorRun(b *testing.B, c otelaudit.Cipher) *floorRun {
	b.Helper()
	var opts []otelaudit.Option
	if c != nil {
		opts = append(opts, otelaudit.WithCipher(c))
	}
	l, err := otelaudit.NewLogger(storage.NewMemoryStorage(0), opts...)
	if err != nil {
		b.Fatal(err)
	}
	e, err := l.Entry(benchInteraction(1))
	if err != nil {
		b.Fatal(err)
	}
	prefix, err := e.AppendPrefix(nil)
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "floor.jsonl"), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return &floorRun{c: c, prefix: prefix, ch: storage.NewChainer(storage.NewWriterID()), f: f}
}

// run times n entries' worth of each step.
func (r *floorRun) run(b *testing.B, n int) {
	t := time.Now()
	for range n {
		otelaudit.HashContent(benchIn)
		otelaudit.HashContent(benchOut)
	}
	r.hash += time.Since(t)
	if r.c != nil {
		t = time.Now()
		for range n {
			if _, err := r.c.Encrypt(benchIn); err != nil {
				b.Fatal(err)
			}
			if _, err := r.c.Encrypt(benchOut); err != nil {
				b.Fatal(err)
			}
		}
		r.encrypt += time.Since(t)
	}
	var d [sha256.Size]byte
	t = time.Now()
	for range n {
		d = storage.PrefixDigest(r.prefix)
	}
	r.digest += time.Since(t)
	t = time.Now()
	for range n {
		r.line = r.ch.AppendLineDigest(r.line[:0], r.prefix, &d)
	}
	r.chain += time.Since(t)
	t = time.Now()
	for range n {
		if _, err := r.f.Write(r.line); err != nil {
			b.Fatal(err)
		}
	}
	r.write += time.Since(t)
	r.n += n
	// Keep the file (untimed) from growing without bound.
	if fi, err := r.f.Stat(); err == nil && fi.Size() > 64<<20 {
		if err := r.f.Truncate(0); err != nil {
			b.Fatal(err)
		}
	}
}

// report reports the floor's figures next to rate, the measured
// entries/s with goroutines running on as many processors.
func (r *floorRun) report(b *testing.B, rate float64, parallel int) {
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(r.n) }
	hash, enc, digest, chain, write := per(r.hash), per(r.encrypt), per(r.digest), per(r.chain), per(r.write)
	sum := hash + enc + digest + chain + write
	floorRate := 1e6 / max(chain+write, sum/float64(parallel))
	b.ReportMetric(hash, "floor-hash-µs")
	b.ReportMetric(enc, "floor-encrypt-µs")
	b.ReportMetric(digest, "floor-digest-µs")
	b.ReportMetric(chain, "floor-chain-µs")
	b.ReportMetric(write, "floor-write-µs")
	b.ReportMetric(sum, "floor-µs/entry")
	b.ReportMetric(floorRate, "floor-entries/s")
	b.ReportMetric(rate/floorRate, "x-floor")
	b.ReportMetric(float64(len(r.line)), "line-bytes")
}

// schedLatency returns the total time goroutines of this process have
// spent runnable before they ran, from the runtime's histogram
// (/sched/latencies:seconds; each sample counted at its bucket's lower
// bound, so the figure is if anything low).
func schedLatency() time.Duration {
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	h := s[0].Value.Float64Histogram()
	var total float64
	for i, n := range h.Counts {
		if lo := h.Buckets[i]; n > 0 && lo > 0 && !math.IsInf(lo, 0) {
			total += float64(n) * lo
		}
	}
	return time.Duration(total * 1e9)
}

// processCPU returns the user plus system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEncrypt1KiB measures one content encryption of 1 KiB with each
// cipher, next to the SHA-256 content hash every mode computes anyway.
func BenchmarkEncrypt1KiB(b *testing.B) {
	in := strings.Repeat("Summarise the quarterly report. ", 32)[:1024]
	key, err := otelaudit.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	ring, err := otelaudit.NewEncryptionManager(key)
	if err != nil {
		b.Fatal(err)
	}
	kc := awstest.KMS(awstest.Endpoint(b))
	env, err := awskeys.NewEnvelope(b.Context(), kc, awstest.NewKMSKey(b, kc))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sha256-hash", func(b *testing.B) {
		b.SetBytes(1024)
		for b.Loop() {
			otelaudit.HashContent(in)
		}
	})
	for name, c := range map[string]otelaudit.Cipher{"fernet-ring": ring, "kms-envelope": env} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(1024)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Encrypt(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
