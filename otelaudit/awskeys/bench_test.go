package awskeys_test

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/otelaudit/otelaudit-go/internal/awstest"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/otelaudit/awskeys"
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
// sharing one Logger and one store, as a service's request handlers do.
//
// Each encrypted sub-benchmark runs a hash-only Logger beside it, in
// alternating chunks of logCompareChunk entries (the baseline's chunks are
// not timed), so that the machine's load drifts over both alike. It
// reports, besides entries/s and cpu-µs/entry (process CPU: this
// goroutine, the store's syncer and GC) and, with 1 goroutine,
// caller-cpu-µs/entry (the CPU of the thread that calls Log, which bounds
// the 1-goroutine rate on an idle machine and depends little on load),
// the baseline's figures
// (hash-only-entries/s, hash-only-cpu-µs/entry) and the ratios
// x-hash-only (entries/s over the baseline's) and cpu-x-hash-only (CPU per
// entry over the baseline's), which are what to compare across machines.
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
	} {
		b.Run(bc.name, func(b *testing.B) {
			run := newLogRun(b, bc.cipher)
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
				if base != nil {
					b.StopTimer()
					base.log(b, n, bc.goroutines)
					b.StartTimer()
				}
				done += n
			}
			run.close(b)
			b.StopTimer()
			rate, cpu := run.figures()
			b.ReportMetric(rate, "entries/s")
			b.ReportMetric(cpu, "cpu-µs/entry")
			caller := run.callerFigure()
			if bc.goroutines == 1 {
				b.ReportMetric(caller, "caller-cpu-µs/entry")
			}
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
	callerCPU time.Duration // 1 goroutine only
}

var (
	benchIn  = strings.Repeat("Summarise the quarterly report. ", 32)[:1024]
	benchOut = strings.Repeat("Revenue grew 12% year on year. ", 34)[:1024]
)

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
			tokens := r.n.Add(1)
			if _, err := r.l.Log(ctx, otelaudit.Interaction{
				Input: benchIn, Output: benchOut, Provider: "openai", Model: "gpt-4o", Operation: "chat",
				Latency: 850 * time.Millisecond, InputTokens: otelaudit.Ptr(tokens), OutputTokens: otelaudit.Ptr[int64](256),
				Metadata: map[string]any{"tenant": "acme"},
			}); err != nil {
				b.Error(err)
				return
			}
		}
	}
	start, cpu0 := time.Now(), processCPU()
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

// callerFigure returns the CPU µs per entry of the thread that called Log
// (1 goroutine runs only).
func (r *logRun) callerFigure() float64 {
	return float64(r.callerCPU.Microseconds()) / float64(r.n.Load())
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
