package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progressInterval is how often a progress line is redrawn.
const progressInterval = 150 * time.Millisecond

// progressDelay is how long a scan runs before its progress line first
// appears: short scans never draw one.
const progressDelay = 300 * time.Millisecond

// progress draws a one-line progress indicator on a terminal while a long
// scan runs: a bar with a percentage when the total is known, a running
// count and rate otherwise. A nil *progress does nothing, so callers need
// not check whether stderr is a terminal.
//
// Add is safe for concurrent use and costs one atomic add; drawing happens
// on a separate goroutine that Finish stops and waits for, leaving the
// line cleared.
type progress struct {
	w     io.Writer
	label string
	unit  string
	total atomic.Int64 // 0 = unknown
	n     atomic.Int64
	start time.Time
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

// newProgress starts a progress line on c's stderr if it is a terminal;
// otherwise it returns nil. total 0 means unknown.
func (c *cli) newProgress(label, unit string, total int64) *progress {
	if !c.progress {
		return nil
	}
	p := &progress{w: c.stderr, label: label, unit: unit, start: time.Now(), stop: make(chan struct{})}
	p.total.Store(total)
	p.wg.Add(1)
	go p.loop()
	return p
}

// Add counts n more units done.
func (p *progress) Add(n int64) {
	if p != nil {
		p.n.Add(n)
	}
}

// Set sets the units done so far.
func (p *progress) Set(n int64) {
	if p != nil {
		p.n.Store(n)
	}
}

// SetTotal sets (or, with 0, clears) the known total.
func (p *progress) SetTotal(total int64) {
	if p != nil {
		p.total.Store(total)
	}
}

// Finish stops drawing and clears the line. It is idempotent.
func (p *progress) Finish() {
	if p == nil {
		return
	}
	p.once.Do(func() {
		close(p.stop)
		p.wg.Wait()
	})
}

func (p *progress) loop() {
	defer p.wg.Done()
	delay := time.NewTimer(progressDelay)
	defer delay.Stop()
	select {
	case <-p.stop:
		return
	case <-delay.C:
	}
	t := time.NewTicker(progressInterval)
	defer t.Stop()
	for {
		p.draw()
		select {
		case <-p.stop:
			fmt.Fprint(p.w, "\r\x1b[K")
			return
		case <-t.C:
		}
	}
}

const barWidth = 30

func (p *progress) draw() {
	n, total := p.n.Load(), p.total.Load()
	elapsed := time.Since(p.start)
	rate := float64(n) / max(elapsed.Seconds(), 1e-9)
	var b strings.Builder
	b.WriteString("\r")
	b.WriteString(p.label)
	b.WriteString(" ")
	if total > 0 {
		frac := min(float64(n)/float64(total), 1)
		filled := int(frac * barWidth)
		b.WriteString("[")
		b.WriteString(strings.Repeat("=", filled))
		if filled < barWidth {
			b.WriteString(">")
			b.WriteString(strings.Repeat(" ", barWidth-filled-1))
		}
		if p.unit == "bytes" {
			fmt.Fprintf(&b, "] %3.0f%% %.1f/%.1f MiB", frac*100, mib(n), mib(total))
		} else {
			fmt.Fprintf(&b, "] %3.0f%% %d/%d %s", frac*100, n, total, p.unit)
		}
		if rate > 0 && n < total {
			eta := time.Duration(float64(total-n) / rate * float64(time.Second))
			fmt.Fprintf(&b, ", %s left", eta.Round(time.Second))
		}
	} else {
		if p.unit == "bytes" {
			fmt.Fprintf(&b, "%.1f MiB, %.1f MiB/s, %s", mib(n), rate/(1<<20), elapsed.Round(100*time.Millisecond))
		} else {
			fmt.Fprintf(&b, "%d %s, %.0f/s, %s", n, p.unit, rate, elapsed.Round(100*time.Millisecond))
		}
	}
	b.WriteString("\x1b[K")
	io.WriteString(p.w, b.String())
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
