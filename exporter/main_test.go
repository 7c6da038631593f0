package exporter_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/otelaudit/otelaudit-go/storage"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var errInjected = errors.New("injected backend failure")

// fakeBackend is a MemoryStorage that can be slow, fail some writes (after
// storing part of the batch, like a backend that dies mid-write), be down
// for a while, or hang; and that counts how often each id was written, so
// duplicates show even though MemoryStorage replaces by id.
type fakeBackend struct {
	*storage.MemoryStorage

	delay     time.Duration // per WriteBatch call
	failRate  float64       // share of WriteBatch calls that fail
	partial   bool          // a failing call stores the first half first
	downUntil time.Time     // every write fails before this
	hang      chan struct{} // when non-nil, writes block until ctx ends or it is closed
	hangHard  bool          // with hang: writes ignore ctx and block until hang is closed

	mu       sync.Mutex
	writes   map[string]int
	calls    int
	failures int
	flushes  int
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{MemoryStorage: storage.NewMemoryStorage(0), writes: map[string]int{}}
}

func (b *fakeBackend) Write(ctx context.Context, e *storage.AuditEntry) error {
	return b.WriteBatch(ctx, []*storage.AuditEntry{e})
}

func (b *fakeBackend) WriteBatch(ctx context.Context, es []*storage.AuditEntry) error {
	if b.hang != nil && b.hangHard {
		<-b.hang
	} else if b.hang != nil {
		select {
		case <-b.hang:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if b.delay > 0 {
		time.Sleep(b.delay)
	}
	b.mu.Lock()
	b.calls++
	fail := time.Now().Before(b.downUntil) || (b.failRate > 0 && rand.Float64() < b.failRate)
	if fail {
		b.failures++
	}
	b.mu.Unlock()
	if fail {
		if b.partial && len(es) > 1 {
			half := es[:len(es)/2]
			if err := b.store(ctx, half); err != nil {
				return err
			}
		}
		return fmt.Errorf("fake backend: %w", errInjected)
	}
	return b.store(ctx, es)
}

func (b *fakeBackend) store(ctx context.Context, es []*storage.AuditEntry) error {
	if err := b.MemoryStorage.WriteBatch(ctx, es); err != nil {
		return err
	}
	b.mu.Lock()
	for _, e := range es {
		b.writes[e.ID]++
	}
	b.mu.Unlock()
	return nil
}

func (b *fakeBackend) Flush(context.Context) error {
	b.mu.Lock()
	b.flushes++
	b.mu.Unlock()
	return nil
}

// duplicates returns how many ids were written more than once.
func (b *fakeBackend) duplicates() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, c := range b.writes {
		if c > 1 {
			n++
		}
	}
	return n
}

func (b *fakeBackend) distinct() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.writes)
}
