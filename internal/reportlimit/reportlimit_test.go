package reportlimit

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"

	"github.com/otelaudit/otelaudit-go/internal/handletest"
)

var errKey = errors.New("encrypt: key unavailable")

func TestLimiterReportsFirstThenOnePerInterval(t *testing.T) {
	reports := handletest.Capture(t)
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	l := &Limiter{now: func() time.Time { return now }}

	assert.True(t, l.Report(errKey), "the first is reported")
	for range 999 {
		now = now.Add(10 * time.Millisecond)
		assert.False(t, l.Report(errKey))
	}
	require.Len(t, reports(), 1)
	assert.Equal(t, errKey.Error(), reports()[0], "the first report is the error alone")

	now = time.Date(2026, 12, 3, 9, 1, 0, 0, time.UTC)
	err := fmt.Errorf("span 1: %w", errKey)
	assert.True(t, l.Report(err), "an interval after the first")
	require.Len(t, reports(), 2)
	assert.Equal(t, "span 1: encrypt: key unavailable (and 999 more like it since 2026-12-03T09:00:00Z, held back: at most one report per 1m0s)", reports()[1])

	now = now.Add(2 * time.Minute)
	assert.True(t, l.Report(errKey), "after a quiet interval")
	require.Len(t, reports(), 3)
	assert.Equal(t, errKey.Error(), reports()[2], "nothing was held back")
	assert.False(t, l.Report(nil), "nil is not an error")
	assert.Len(t, reports(), 3)
}

func TestLimiterZeroValueIsReady(t *testing.T) {
	reports := handletest.Capture(t)
	var l Limiter
	for range 100 {
		l.Report(errKey)
	}
	assert.Len(t, reports(), 1, "100 errors within %s", Interval)
}

func TestLimiterReportedErrorMatches(t *testing.T) {
	handletest.Capture(t) // restores the handler when t ends
	var got []error
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { got = append(got, err) }))
	now := time.Unix(0, 0)
	l := &Limiter{now: func() time.Time { return now }}
	l.Report(errKey)
	l.Report(errKey)
	now = now.Add(Interval)
	l.Report(errKey)
	require.Len(t, got, 2)
	assert.Contains(t, got[1].Error(), "1 more like it")
	assert.ErrorIs(t, got[1], errKey, "the held-back count wraps the error")
}

func TestLimiterConcurrent(t *testing.T) {
	reports := handletest.Capture(t)
	var l Limiter
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				l.Report(fmt.Errorf("g%d/%d: %w", g, i, errKey))
			}
		})
	}
	wg.Wait()
	assert.Len(t, reports(), 1, "8,000 errors at once: one report")
}
