package otelaudit

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// benchInteraction is a typical audited call: 1 KiB of input and of output.
func benchInteraction(i int64) Interaction {
	return Interaction{
		Input:        benchInput,
		Output:       benchOutput,
		Provider:     "openai",
		Model:        "gpt-4o",
		Operation:    "chat",
		Latency:      850 * time.Millisecond,
		InputTokens:  Ptr(i),
		OutputTokens: Ptr[int64](256),
		Metadata:     map[string]any{"tenant": "acme"},
	}
}

var (
	benchInput  = strings.Repeat("Summarise the quarterly report. ", 32)[:1024]
	benchOutput = strings.Repeat("Revenue grew 12% year on year. ", 34)[:1024]
)

// BenchmarkLoggerLogFile measures Logger.Log into a filestore.Store with the
// default durability (handed to the OS per entry, fsync every 100 ms), the
// path of issue 3's write targets: hash-only >= 50,000 entries/s and
// encrypted >= 20,000 entries/s on a 2-core machine. The final Close (which
// fsyncs) is inside the timed region.
func BenchmarkLoggerLogFile(b *testing.B) {
	key, err := GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	ring, err := NewEncryptionManager(key)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name       string
		goroutines int
		opts       []Option
	}{
		{"hash-only/goroutines=1", 1, nil},
		{"hash-only/goroutines=4", 4, nil},
		{"encrypted/goroutines=1", 1, []Option{WithEncryption(ring)}},
		{"encrypted/goroutines=4", 4, []Option{WithEncryption(ring)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			st, err := filestore.New(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			l, err := NewLogger(st, bc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			ctx := b.Context()
			var seq atomic.Int64
			b.SetBytes(2048)
			b.ReportAllocs()
			b.SetParallelism(1) // RunParallel starts GOMAXPROCS*p goroutines
			start := time.Now()
			if bc.goroutines == 1 {
				for i := 0; b.Loop(); i++ {
					if _, err := l.Log(ctx, benchInteraction(int64(i))); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				runGoroutines(b, bc.goroutines, func() {
					if _, err := l.Log(ctx, benchInteraction(seq.Add(1))); err != nil {
						b.Error(err)
					}
				})
			}
			if err := st.Close(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
		})
	}
}

// runGoroutines runs op b.N times in total, split over n goroutines.
func runGoroutines(b *testing.B, n int, op func()) {
	b.Helper()
	var left atomic.Int64
	left.Store(int64(b.N))
	done := make(chan struct{})
	b.ResetTimer()
	for range n {
		go func() {
			defer func() { done <- struct{}{} }()
			for left.Add(-1) >= 0 {
				op()
			}
		}()
	}
	for range n {
		<-done
	}
}
