// Package reportlimit keeps a failure that repeats for every span, such
// as an encryption key that no longer works, from flooding otel.Handle:
// a Limiter reports the first error at once and then at most one per
// interval, saying how many it held back in between.
//
//	var invalid reportlimit.Limiter // zero value: one report a minute
//	invalid.Report(err)             // reported
//	invalid.Report(err)             // counted, held back
//	// a minute later:
//	invalid.Report(err)             // reported, "(and 1 more like it since ...)"
package reportlimit

import (
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
)

// Interval is the least time between two reports of a Limiter.
const Interval = time.Minute

// Limiter passes errors on to otel.Handle, the first at once and then at
// most one per Interval. Its zero value is ready to use; it is safe for
// concurrent use and must not be copied after first use.
type Limiter struct {
	mu   sync.Mutex
	last time.Time        // when the last report was made; zero before the first
	held int64            // errors held back since last
	now  func() time.Time // time.Now when nil; set by this package's tests
}

// Report hands err to otel.Handle when no report was made in the last
// Interval, with the number of errors held back since the previous
// report; otherwise it counts err and drops it. It reports whether err
// was handed on.
func (l *Limiter) Report(err error) bool {
	if err == nil {
		return false
	}
	l.mu.Lock()
	now := l.clock()
	if !l.last.IsZero() && now.Sub(l.last) < Interval {
		l.held++
		l.mu.Unlock()
		return false
	}
	held, since := l.held, l.last
	l.held, l.last = 0, now
	l.mu.Unlock()
	if held > 0 {
		err = fmt.Errorf("%w (and %d more like it since %s, held back: at most one report per %s)",
			err, held, since.UTC().Format(time.RFC3339), Interval)
	}
	otel.Handle(err)
	return true
}

func (l *Limiter) clock() time.Time {
	if l.now != nil {
		return l.now()
	}
	return time.Now()
}
