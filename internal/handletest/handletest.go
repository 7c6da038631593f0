// Package handletest captures, for tests, what instrumentation reports
// through otel.Handle, so that a test can check a report was made, made
// once, and quotes no content.
//
//	reports := handletest.Capture(t)
//	... // the code under test
//	require.Len(t, reports(), 1)
package handletest

import (
	"log"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
)

// Capture makes the global error handler record each error's text until
// t ends, then log as the default handler does (the default one cannot be
// set again: once replaced, it delegates to the new one). It returns the
// texts recorded so far, in order; safe for concurrent use. Tests that
// capture must not run in parallel with each other.
func Capture(t testing.TB) func() []string {
	t.Helper()
	var mu sync.Mutex
	var got []string
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		got = append(got, err.Error())
		mu.Unlock()
	}))
	t.Cleanup(func() { otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Print(err) })) })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}
