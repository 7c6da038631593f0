package exporter

import (
	"context"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// TestQueuedSpanReleasesCall: while an audited call's span waits in the
// audit queue (the worker held back by a backend write that has not
// returned), the queue keeps the span's content but neither the
// otelaudit.Call nor the SDK's live span: both can be collected as soon as
// the call ended. The entry is still written, with the content's hashes,
// once the backend returns.
func TestQueuedSpanReleasesCall(t *testing.T) {
	pl := newGatedPipeline(t)
	backend, tp := pl.backend, pl.tp

	backend.gate.Lock()
	held := true
	defer func() {
		if held {
			backend.gate.Unlock()
		}
	}()
	text := strings.Repeat("distinctive prompt ", 20)
	const n = 16 // the first few leave the queue for the held-back writer
	var collected atomic.Int32
	for range n {
		_, call := otelaudit.StartCall(context.Background(), otelaudit.Request{
			Provider: "openai", Model: "gpt-4o", Input: []otelaudit.Message{{Content: text}},
		}, otelaudit.WithTracerProvider(tp))
		call.SetOutput(otelaudit.Message{Content: text, FinishReason: "stop"})
		runtime.AddCleanup(call, func(*atomic.Int32) { collected.Add(1) }, &collected)
		call.End()
	}
	for deadline := time.Now().Add(5 * time.Second); int(collected.Load()) < n && time.Now().Before(deadline); {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	// The worker takes a few spans and then waits for the writer: the
	// rest stay queued until the backend returns.
	if queued := len(pl.p.queue); queued == 0 {
		t.Fatal("no span queued: the worker was not held back")
	} else if got := int(collected.Load()); got < n {
		t.Fatalf("%d of %d ended calls collected with %d spans queued", got, n, queued)
	}
	backend.gate.Unlock()
	held = false
	if err := tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := pl.e.Stats().Written; got != n {
		t.Fatalf("written %d, want %d", got, n)
	}
}
