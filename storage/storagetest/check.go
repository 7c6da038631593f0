package storagetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// The suite's assertions, on package testing alone, so that users who run
// the suite do not inherit an assertion library. The check* helpers report
// and continue (t.Errorf) and return whether the check held; the must*
// helpers stop the subtest (t.Fatalf). msgAndArgs is an optional format
// string and its arguments, saying what was checked.

func describe(msgAndArgs []any) string {
	if len(msgAndArgs) == 0 {
		return ""
	}
	if f, ok := msgAndArgs[0].(string); ok {
		return ": " + fmt.Sprintf(f, msgAndArgs[1:]...)
	}
	return ": " + fmt.Sprint(msgAndArgs...)
}

func report(t testing.TB, fatal bool, msg string, msgAndArgs []any) {
	t.Helper()
	if fatal {
		t.Fatal(msg + describe(msgAndArgs))
	}
	t.Error(msg + describe(msgAndArgs))
}

func noError(t testing.TB, fatal bool, err error, msgAndArgs []any) bool {
	t.Helper()
	if err != nil {
		report(t, fatal, fmt.Sprintf("unexpected error: %v", err), msgAndArgs)
		return false
	}
	return true
}

func mustNoError(t testing.TB, err error, msgAndArgs ...any) {
	t.Helper()
	noError(t, true, err, msgAndArgs)
}

func checkNoError(t testing.TB, err error, msgAndArgs ...any) bool {
	t.Helper()
	return noError(t, false, err, msgAndArgs)
}

func checkErrorIs(t testing.TB, err, target error, msgAndArgs ...any) bool {
	t.Helper()
	if !errors.Is(err, target) {
		report(t, false, fmt.Sprintf("error %v does not match %v", err, target), msgAndArgs)
		return false
	}
	return true
}

func equal(t testing.TB, fatal bool, want, got any, msgAndArgs []any) bool {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		report(t, fatal, fmt.Sprintf("got  %#v\nwant %#v", got, want), msgAndArgs)
		return false
	}
	return true
}

func checkEqual(t testing.TB, want, got any, msgAndArgs ...any) bool {
	t.Helper()
	return equal(t, false, want, got, msgAndArgs)
}

func mustEqual(t testing.TB, want, got any, msgAndArgs ...any) {
	t.Helper()
	equal(t, true, want, got, msgAndArgs)
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface, reflect.Func, reflect.Chan:
		return r.IsNil()
	}
	return false
}

func checkNil(t testing.TB, v any, msgAndArgs ...any) bool {
	t.Helper()
	if !isNil(v) {
		report(t, false, fmt.Sprintf("got %#v, want nil", v), msgAndArgs)
		return false
	}
	return true
}

func checkNotNil(t testing.TB, v any, msgAndArgs ...any) bool {
	t.Helper()
	if isNil(v) {
		report(t, false, "got nil", msgAndArgs)
		return false
	}
	return true
}

func mustNotNil(t testing.TB, v any, msgAndArgs ...any) {
	t.Helper()
	if isNil(v) {
		report(t, true, "got nil", msgAndArgs)
	}
}

func checkTrue(t testing.TB, ok bool, msgAndArgs ...any) bool {
	t.Helper()
	if !ok {
		report(t, false, "check failed", msgAndArgs)
	}
	return ok
}

func mustTrue(t testing.TB, ok bool, msgAndArgs ...any) {
	t.Helper()
	if !ok {
		report(t, true, "check failed", msgAndArgs)
	}
}

func checkFalse(t testing.TB, ok bool, msgAndArgs ...any) bool {
	t.Helper()
	return checkTrue(t, !ok, msgAndArgs...)
}

func checkZero(t testing.TB, n int, msgAndArgs ...any) bool {
	t.Helper()
	return checkEqual(t, 0, n, msgAndArgs...)
}

func mustZero(t testing.TB, n int, msgAndArgs ...any) {
	t.Helper()
	mustEqual(t, 0, n, msgAndArgs...)
}

func checkLen[S ~[]E, E any](t testing.TB, s S, n int, msgAndArgs ...any) bool {
	t.Helper()
	if len(s) != n {
		report(t, false, fmt.Sprintf("got %d elements, want %d", len(s), n), msgAndArgs)
		return false
	}
	return true
}

func mustLen[S ~[]E, E any](t testing.TB, s S, n int, msgAndArgs ...any) {
	t.Helper()
	if len(s) != n {
		report(t, true, fmt.Sprintf("got %d elements, want %d", len(s), n), msgAndArgs)
	}
}

// checkSameElements reports whether a and b hold the same strings, in any
// order.
func checkSameElements(t testing.TB, a, b []string, msgAndArgs ...any) bool {
	t.Helper()
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return checkEqual(t, a, b, msgAndArgs...)
}
