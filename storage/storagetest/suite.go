package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
)

// blockTimeout bounds calls that would hang on a deadlocked backend.
const blockTimeout = 30 * time.Second

type suite struct {
	cfg Config
}

// backend returns a fresh backend that is closed when t ends and checks
// that it starts empty.
func (s *suite) backend(t *testing.T) storage.Backend {
	t.Helper()
	b := s.cfg.New(t)
	mustNotNil(t, b, "Config.New returned nil")
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	n, err := b.Count(t.Context())
	mustNoError(t, err, "Count on a new backend")
	mustZero(t, n, "a new backend must be empty")
	return b
}

func ptr[T any](v T) *T { return &v }

// newEntry returns a small valid entry with a fresh id at ts.
func newEntry(ts time.Time) *storage.AuditEntry {
	return &storage.AuditEntry{
		ID:           storage.NewEntryID(),
		Timestamp:    ts,
		InputHash:    "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
		OutputHash:   "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9",
		SafetyPassed: true,
		LatencyMS:    12.5,
		Provider:     ptr("openai"),
		Model:        ptr("gpt-4o-mini"),
	}
}

// fullEntry returns an entry with every field set, in a non-UTC zone.
func fullEntry() *storage.AuditEntry {
	return &storage.AuditEntry{
		ID:                 storage.NewEntryID(),
		Timestamp:          time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("IST", 5*3600+1800)),
		InputHash:          "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
		OutputHash:         "hmac-sha256:k2024:fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9",
		InputContent:       ptr("What is 2+2? 😀 𝄞 \u2028\u2029 <b>&amp;</b> \"quoted\" \\ \n\t\r \x00\x1f\x7f"),
		OutputContent:      ptr(""),
		Provider:           ptr("anthropic"),
		Model:              ptr("claude-sonnet-4"),
		ConversationID:     ptr("conv-ü-42"),
		SafetyPassed:       false,
		DetectorsTriggered: []string{"pii", "jailbreak", "😀"},
		BlockReason:        ptr("policy: blocked"),
		Alerts:             []string{"alert-1", ""},
		LatencyMS:          1234.5678,
		InputTokens:        ptr(int64(1) << 40),
		OutputTokens:       ptr(int64(0)),
		Metadata: map[string]any{
			"string":       "value",
			"empty_string": "",
			"int":          42,
			"int64":        int64(1) << 40,
			"negative":     -7,
			"float":        1.5,
			"exponent":     json.Number("1e-7"),
			"big_exact":    json.Number("9007199254740993"),
			"true":         true,
			"false":        false,
			"null":         nil,
			"array":        []any{1, "two", 3.5, nil, false, []any{}, map[string]any{}},
			"typed_slice":  []string{"x", "y"},
			"nested":       map[string]any{"a": map[string]any{"b": []any{map[string]any{"c": "deep", "n": json.Number("-0.5")}}}},
			"empty_object": map[string]any{},
			"empty_array":  []any{},
			"astral_😀":     "𝄞 music",
			"escapes":      "line\nbreak \"q\" \\ \u2028 <>&",
		},
		TraceID:   "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID:    "00f067aa0ba902b7",
		Operation: "chat",
		Extra: map[string]json.RawMessage{
			"x_reference_field": json.RawMessage(`{"nested": [1, 2.5, "s", null, true], "z": {}}`),
			"a_string":          json.RawMessage(`"v😀"`),
			"big":               json.RawMessage(`12345678901234567890123`),
			"null_value":        json.RawMessage(`null`),
		},
	}
}

// minimalEntry returns an entry with every optional field nil or zero.
func minimalEntry() *storage.AuditEntry {
	return &storage.AuditEntry{
		ID:        storage.NewEntryID(),
		Timestamp: time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC),
	}
}

func assertEntry(t testing.TB, want, got *storage.AuditEntry, msgAndArgs ...any) bool {
	t.Helper()
	if !checkNotNil(t, got, msgAndArgs...) {
		return false
	}
	ok := true
	if got.Timestamp.Location() != time.UTC {
		ok = false
		t.Errorf("Timestamp of %s is in %v, want UTC%s", got.ID, got.Timestamp.Location(), describe(msgAndArgs))
	}
	if !equalEntry(want, got) {
		ok = false
		checkEqual(t, Normalize(want), Normalize(got), msgAndArgs...)
	}
	return ok
}

func write(t *testing.T, b storage.Backend, es ...*storage.AuditEntry) {
	t.Helper()
	for _, e := range es {
		mustNoError(t, b.Write(t.Context(), e), "Write %s", e.ID)
	}
}

func list(t *testing.T, b storage.Backend, start, end time.Time) []*storage.AuditEntry {
	t.Helper()
	es, err := b.ListEntries(t.Context(), start, end)
	mustNoError(t, err, "ListEntries(%v, %v)", start, end)
	return es
}

func ids(es []*storage.AuditEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// sortedIDs returns the ids of es ordered by timestamp (stable).
func sortedIDs(es []*storage.AuditEntry) []string {
	c := slices.Clone(es)
	sort.SliceStable(c, func(i, j int) bool { return c[i].Timestamp.Before(c[j].Timestamp) })
	return ids(c)
}

// inRange returns the ids of es with start <= ts <= end, oldest first.
func inRange(es []*storage.AuditEntry, start, end time.Time) []string {
	var out []*storage.AuditEntry
	for _, e := range es {
		if !e.Timestamp.Before(start) && !e.Timestamp.After(end) {
			out = append(out, e)
		}
	}
	return sortedIDs(out)
}

// checkOrdered fails unless es is oldest first.
func checkOrdered(t *testing.T, es []*storage.AuditEntry) {
	t.Helper()
	for i := 1; i < len(es); i++ {
		if es[i].Timestamp.Before(es[i-1].Timestamp) {
			t.Errorf("entry %d (%s, %v) comes after a newer one (%v)", i, es[i].ID, es[i].Timestamp, es[i-1].Timestamp)
			return
		}
	}
}

// shuffled returns es in a fixed scrambled order (no randomness, so
// failures reproduce).
func shuffled[T any](es []T) []T {
	out := make([]T, 0, len(es))
	n := len(es)
	// walk with a stride coprime to n
	stride := 7
	for gcd(stride, n) != 1 {
		stride++
	}
	for i, j := 0, 0; i < n; i, j = i+1, (j+stride)%n {
		out = append(out, es[j])
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// withTimeout runs fn and fails t if it does not return within
// blockTimeout (a deadlocked backend) or panics (for example an iterator
// that calls yield after the loop body broke out).
func withTimeout(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("%s panicked: %v", what, r)
			}
		}()
		fn()
	}()
	select {
	case <-done:
	case <-time.After(blockTimeout):
		t.Fatalf("%s did not return within %v (deadlock?)", what, blockTimeout)
	}
}

func (s *suite) testRoundTrip(t *testing.T) {
	t.Run("AllFields", func(t *testing.T) {
		b := s.backend(t)
		want := fullEntry()
		write(t, b, want)
		got, err := b.Read(t.Context(), want.ID)
		mustNoError(t, err)
		assertEntry(t, want, got)
		// The largest exact integer check, spelled out.
		if got != nil {
			checkEqual(t, "9007199254740993", fmt.Sprint(got.Metadata["big_exact"]), "metadata big_exact must be exact")
			mustNotNil(t, got.InputTokens)
			checkEqual(t, int64(1)<<40, *got.InputTokens)
			mustNotNil(t, got.OutputTokens, "0 tokens must not come back as null")
			mustNotNil(t, got.OutputContent, `"" content must not come back as null`)
		}
	})
	t.Run("Minimal", func(t *testing.T) {
		b := s.backend(t)
		want := minimalEntry()
		write(t, b, want)
		got, err := b.Read(t.Context(), want.ID)
		mustNoError(t, err)
		assertEntry(t, want, got)
		if got != nil {
			checkNil(t, got.InputTokens, "unknown tokens must stay null")
			checkNil(t, got.OutputTokens, "unknown tokens must stay null")
			checkNil(t, got.InputContent)
			checkFalse(t, got.SafetyPassed)
		}
	})
	t.Run("Numbers", func(t *testing.T) {
		b := s.backend(t)
		cases := []struct {
			latency float64
			tokens  *int64
		}{
			{0, nil},
			{0.001, ptr(int64(1))},
			{1e-7, ptr(int64(math.MaxInt64))},
			{1e21, ptr(int64(1) << 53)},
			{123456789.123, ptr(int64(1)<<53 + 1)},
			{math.MaxFloat64, ptr(int64(-1))},
			{5e-324, ptr(int64(0))},
			{-3.25, nil},
		}
		var es []*storage.AuditEntry
		for i, c := range cases {
			e := newEntry(time.Date(2024, 3, 1, 0, 0, i, 0, time.UTC))
			e.LatencyMS, e.InputTokens, e.OutputTokens = c.latency, c.tokens, c.tokens
			es = append(es, e)
		}
		write(t, b, es...)
		for _, e := range es {
			got, err := b.Read(t.Context(), e.ID)
			mustNoError(t, err)
			assertEntry(t, e, got, "latency %v tokens %v", e.LatencyMS, e.InputTokens)
		}
	})
	t.Run("Timestamps", func(t *testing.T) {
		b := s.backend(t)
		stamps := []time.Time{
			time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("IST", 5*3600+1800)),
			time.Date(2024, 12, 31, 23, 0, 0, 1, time.FixedZone("SST", -11*3600)),
			time.Date(2025, 1, 1, 0, 30, 0, 999999999, time.FixedZone("LINT", 14*3600)),
			time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC),
			time.Date(2038, 1, 19, 3, 14, 8, 0, time.UTC),
			time.Now(), // carries a monotonic reading
		}
		var es []*storage.AuditEntry
		for _, ts := range stamps {
			es = append(es, newEntry(ts))
		}
		write(t, b, es...)
		for _, e := range es {
			got, err := b.Read(t.Context(), e.ID)
			mustNoError(t, err)
			if assertEntry(t, e, got) {
				checkTrue(t, got.Timestamp.Equal(e.Timestamp), "%v != %v", got.Timestamp, e.Timestamp)
				checkEqual(t, e.Timestamp.Nanosecond(), got.Timestamp.Nanosecond(), "nanoseconds")
			}
			// An exact-instant query finds it, in any zone.
			at := list(t, b, e.Timestamp, e.Timestamp.In(time.FixedZone("X", -7*3600)))
			checkEqual(t, []string{e.ID}, ids(at), "ListEntries(ts, ts) for %v", e.Timestamp)
		}
	})
}

func (s *suite) testIsolation(t *testing.T) {
	b := s.backend(t)
	e := fullEntry()
	before := e.Clone()
	write(t, b, e)
	// Write must not modify the caller's entry (not even its zone or Chain).
	checkEqual(t, before, e, "Write modified the caller's entry")
	checkNil(t, e.Chain, "Write set Chain on the caller's entry")

	// Write must not retain it.
	*e.Provider = "changed"
	e.DetectorsTriggered[0] = "changed"
	e.Metadata["string"] = "changed"
	e.Metadata["nested"].(map[string]any)["a"] = "changed"
	e.Extra["a_string"][1] = 'X'
	e.InputTokens = ptr(int64(7))
	got, err := b.Read(t.Context(), e.ID)
	mustNoError(t, err)
	mustTrue(t, assertEntry(t, before, got, "stored entry changed when the caller's entry was mutated after Write"))

	// Returned entries are copies.
	*got.Provider = "mutated"
	got.DetectorsTriggered[0] = "mutated"
	got.Metadata["string"] = "mutated"
	if m, ok := got.Metadata["nested"].(map[string]any); ok {
		m["a"] = "mutated"
	}
	got.Extra["a_string"][1] = 'Y'
	*got.InputTokens = 1
	again, err := b.Read(t.Context(), e.ID)
	mustNoError(t, err)
	assertEntry(t, before, again, "stored entry changed when an entry returned by Read was mutated")

	listed := list(t, b, minTime, maxTime)
	mustLen(t, listed, 1)
	*listed[0].Provider = "mutated"
	listed[0].Metadata["string"] = "mutated"
	again, err = b.Read(t.Context(), e.ID)
	mustNoError(t, err)
	assertEntry(t, before, again, "stored entry changed when an entry returned by ListEntries was mutated")
}

func (s *suite) testNotFound(t *testing.T) {
	b := s.backend(t)
	write(t, b, newEntry(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)))
	for _, id := range []string{storage.NewEntryID(), "no-such-id", "../escape", ""} {
		got, err := b.Read(t.Context(), id)
		checkErrorIs(t, err, storage.ErrNotFound, "Read(%q)", id)
		checkNil(t, got, "Read(%q) returned an entry with its error", id)
		ok, err := b.Delete(t.Context(), id)
		checkNoError(t, err, "Delete(%q)", id)
		checkFalse(t, ok, "Delete(%q) of a missing id", id)
	}
	n, err := b.Count(t.Context())
	mustNoError(t, err)
	checkEqual(t, 1, n)
}

func (s *suite) testRangeInclusive(t *testing.T) {
	b := s.backend(t)
	t0 := time.Date(2024, 6, 15, 10, 0, 0, 500, time.UTC)
	t1 := t0.Add(90 * time.Minute)
	var es []*storage.AuditEntry
	for _, ts := range []time.Time{t0.Add(-1), t0, t0.Add(1), t1.Add(-1), t1, t1.Add(1)} {
		es = append(es, newEntry(ts))
	}
	write(t, b, shuffled(es)...)
	zone := time.FixedZone("PDT", -7*3600)
	cases := []struct {
		name       string
		start, end time.Time
	}{
		{"both ends inclusive", t0, t1},
		{"inner", t0.Add(1), t1.Add(-1)},
		{"single instant", t0, t0},
		{"bounds in another zone", t0.In(zone), t1.In(zone)},
		{"everything", minTime, maxTime},
		{"zero start", time.Time{}, t1},
		{"nothing before", t0.Add(-time.Hour), t0.Add(-2)},
		{"nothing after", t1.Add(2), t1.Add(time.Hour)},
		{"start after end", t1, t0},
	}
	for _, c := range cases {
		got := list(t, b, c.start, c.end)
		want := inRange(es, c.start, c.end)
		checkEqual(t, want, ids(got), c.name)
		if len(want) > 0 {
			assertEntry(t, es[slices.IndexFunc(es, func(e *storage.AuditEntry) bool { return e.ID == want[0] })], got[0], c.name)
		}
	}
}

// calendarStamps are timestamps across days, months and years, including
// the days 29-31 and Feb 29, and non-UTC zones whose UTC day differs.
func calendarStamps() []time.Time {
	var out []time.Time
	for _, d := range []struct{ y, m, d int }{
		{2023, 12, 31}, {2024, 1, 1}, {2024, 1, 28}, {2024, 1, 29}, {2024, 1, 30}, {2024, 1, 31},
		{2024, 2, 1}, {2024, 2, 28}, {2024, 2, 29}, {2024, 3, 1}, {2024, 3, 29}, {2024, 3, 30},
		{2024, 3, 31}, {2024, 4, 30}, {2024, 5, 31}, {2024, 12, 31}, {2025, 2, 28}, {2025, 3, 1},
	} {
		base := time.Date(d.y, time.Month(d.m), d.d, 0, 0, 0, 0, time.UTC)
		out = append(out, base, base.Add(12*time.Hour+7), base.Add(24*time.Hour-1))
	}
	out = append(out,
		time.Date(2024, 3, 1, 0, 30, 0, 0, time.FixedZone("EET", 2*3600)),     // Feb 29 in UTC
		time.Date(2024, 1, 31, 20, 0, 0, 0, time.FixedZone("EST", -5*3600)),   // Feb 1 in UTC
		time.Date(2024, 12, 31, 23, 0, 0, 0, time.FixedZone("SST", -11*3600)), // 2025 in UTC
	)
	return out
}

func (s *suite) testOrdering(t *testing.T) {
	b := s.backend(t)
	var es []*storage.AuditEntry
	for _, ts := range calendarStamps() {
		es = append(es, newEntry(ts))
	}
	write(t, b, shuffled(es)...)
	all := list(t, b, minTime, maxTime)
	checkEqual(t, sortedIDs(es), ids(all), "ListEntries over everything, oldest first")
	checkOrdered(t, all)
	// One UTC day at a time, including 29, 30, 31 and Feb 29.
	for _, e := range es {
		day := e.Timestamp.UTC().Truncate(24 * time.Hour)
		end := day.Add(24*time.Hour - 1)
		checkEqual(t, inRange(es, day, end), ids(list(t, b, day, end)), "UTC day %s", day.Format(time.DateOnly))
	}
	// Across month and year boundaries.
	for _, r := range [][2]time.Time{
		{time.Date(2024, 1, 29, 0, 0, 0, 0, time.UTC), time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2023, 12, 31, 12, 0, 0, 0, time.UTC), time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)},
		{time.Date(2024, 2, 29, 23, 0, 0, 0, time.UTC), time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)},
	} {
		checkEqual(t, inRange(es, r[0], r[1]), ids(list(t, b, r[0], r[1])), "range %v - %v", r[0], r[1])
	}
}

func (s *suite) testTies(t *testing.T) {
	b := s.backend(t)
	ts := time.Date(2024, 8, 31, 23, 59, 59, 999999999, time.UTC)
	before, after := newEntry(ts.Add(-1)), newEntry(ts.Add(1))
	var tied []*storage.AuditEntry
	for range 6 {
		tied = append(tied, newEntry(ts))
	}
	write(t, b, after)
	write(t, b, tied[:3]...)
	write(t, b, before)
	write(t, b, tied[3:]...)
	first := list(t, b, minTime, maxTime)
	mustLen(t, first, 8)
	checkEqual(t, before.ID, first[0].ID)
	checkEqual(t, after.ID, first[7].ID)
	checkSameElements(t, ids(tied), ids(first[1:7]))
	for range 3 {
		checkEqual(t, ids(first), ids(list(t, b, minTime, maxTime)), "tie order must be stable")
	}
	streamed, err := storage.Collect(b.Entries(t.Context(), minTime, maxTime))
	mustNoError(t, err)
	checkEqual(t, ids(first), ids(streamed), "Entries must order ties as ListEntries does")
	checkEqual(t, ids(first[1:7]), ids(list(t, b, ts, ts)), "exact-instant query")
}

func (s *suite) testEntries(t *testing.T) {
	b := s.backend(t)
	base := time.Date(2024, 1, 30, 18, 0, 0, 0, time.UTC)
	var es []*storage.AuditEntry
	for i := range 600 {
		es = append(es, newEntry(base.Add(time.Duration(i)*7*time.Minute+time.Duration(i))))
	}
	mustNoError(t, b.WriteBatch(t.Context(), shuffled(es)))

	for _, r := range [][2]time.Time{
		{minTime, maxTime},
		{es[100].Timestamp, es[499].Timestamp},
		{es[5].Timestamp.Add(1), es[5].Timestamp.Add(2)}, // empty
		{es[10].Timestamp, es[1].Timestamp},              // start after end
	} {
		listed := list(t, b, r[0], r[1])
		streamed, err := storage.Collect(b.Entries(t.Context(), r[0], r[1]))
		mustNoError(t, err)
		checkEqual(t, ids(listed), ids(streamed), "Entries(%v, %v) vs ListEntries", r[0], r[1])
		checkEqual(t, inRange(es, r[0], r[1]), ids(streamed))
		if len(streamed) > 0 {
			assertEntry(t, listed[len(listed)-1], streamed[len(streamed)-1])
		}
	}

	t.Run("BreakEarly", func(t *testing.T) {
		var got []string
		withTimeout(t, "ranging over Entries", func() {
			for e, err := range b.Entries(t.Context(), minTime, maxTime) {
				if err != nil {
					t.Errorf("Entries yielded %v", err)
					return
				}
				got = append(got, e.ID)
				if len(got) == 3 {
					break
				}
			}
		})
		checkEqual(t, sortedIDs(es)[:3], got)
		// Nothing is left locked or running.
		withTimeout(t, "Write after breaking out of Entries", func() {
			checkNoError(t, b.Write(t.Context(), newEntry(base.Add(-48*time.Hour))))
		})
	})

	t.Run("CallsFromLoopBody", func(t *testing.T) {
		// The consumer may call the backend, including writes, while
		// ranging; entries written meanwhile may or may not be seen.
		start, end := es[0].Timestamp, es[len(es)-1].Timestamp
		var n int
		withTimeout(t, "Entries with calls from the loop body", func() {
			for e, err := range b.Entries(t.Context(), start, end) {
				if err != nil {
					t.Errorf("Entries yielded %v", err)
					return
				}
				n++
				if n%100 == 1 {
					if _, err := b.Read(t.Context(), e.ID); err != nil {
						t.Errorf("Read from loop body: %v", err)
					}
					if _, err := b.Count(t.Context()); err != nil {
						t.Errorf("Count from loop body: %v", err)
					}
					if err := b.Write(t.Context(), newEntry(end.Add(time.Duration(n)*time.Hour))); err != nil {
						t.Errorf("Write from loop body: %v", err)
					}
				}
			}
		})
		checkEqual(t, len(es), n, "entries in range while writing outside it")
	})
}

func (s *suite) testDelete(t *testing.T) {
	b := s.backend(t)
	base := time.Date(2024, 3, 31, 23, 59, 0, 0, time.UTC)
	es := []*storage.AuditEntry{newEntry(base), newEntry(base.Add(time.Minute)), newEntry(base.Add(2 * time.Minute))}
	write(t, b, es...)

	ok, err := b.Delete(t.Context(), es[1].ID)
	mustNoError(t, err)
	checkTrue(t, ok, "Delete of a held id")
	ok, err = b.Delete(t.Context(), es[1].ID)
	mustNoError(t, err)
	checkFalse(t, ok, "second Delete of the same id")

	_, err = b.Read(t.Context(), es[1].ID)
	checkErrorIs(t, err, storage.ErrNotFound)
	for _, e := range []*storage.AuditEntry{es[0], es[2]} {
		got, err := b.Read(t.Context(), e.ID)
		mustNoError(t, err, "neighbour of the deleted entry")
		assertEntry(t, e, got)
	}
	n, err := b.Count(t.Context())
	mustNoError(t, err)
	checkEqual(t, 2, n)
	checkEqual(t, []string{es[0].ID, es[2].ID}, ids(list(t, b, minTime, maxTime)))
	streamed, err := storage.Collect(b.Entries(t.Context(), minTime, maxTime))
	mustNoError(t, err)
	checkEqual(t, []string{es[0].ID, es[2].ID}, ids(streamed))
}

func (s *suite) testDeleteBefore(t *testing.T) {
	b := s.backend(t)
	cut := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	var es []*storage.AuditEntry
	for _, ts := range []time.Time{
		cut.AddDate(-1, 0, 0), cut.Add(-48 * time.Hour), cut.Add(-1), cut, cut.Add(1), cut.Add(24 * time.Hour), cut.AddDate(0, 1, 2),
	} {
		es = append(es, newEntry(ts))
	}
	write(t, b, shuffled(es)...)

	n, err := b.DeleteBefore(t.Context(), cut.In(time.FixedZone("CET", 3600)))
	mustNoError(t, err)
	checkEqual(t, 3, n, "DeleteBefore removes Timestamp < t only")
	checkEqual(t, inRange(es, cut, maxTime), ids(list(t, b, minTime, maxTime)))
	for _, e := range es[:3] {
		_, err := b.Read(t.Context(), e.ID)
		checkErrorIs(t, err, storage.ErrNotFound, "entry at %v should be gone", e.Timestamp)
	}
	got, err := b.Read(t.Context(), es[3].ID)
	mustNoError(t, err, "the entry exactly at t stays")
	assertEntry(t, es[3], got)
	c, err := b.Count(t.Context())
	mustNoError(t, err)
	checkEqual(t, 4, c)

	n, err = b.DeleteBefore(t.Context(), cut)
	mustNoError(t, err)
	checkZero(t, n, "nothing left before t")

	n, err = b.DeleteBefore(t.Context(), maxTime)
	mustNoError(t, err)
	checkEqual(t, 4, n)
	c, err = b.Count(t.Context())
	mustNoError(t, err)
	checkZero(t, c)
}

func (s *suite) testCount(t *testing.T) {
	b := s.backend(t)
	base := time.Date(2024, 10, 31, 22, 0, 0, 0, time.UTC)
	count := func() int {
		t.Helper()
		n, err := b.Count(t.Context())
		mustNoError(t, err)
		return n
	}
	var es []*storage.AuditEntry
	for i := range 10 {
		e := newEntry(base.Add(time.Duration(i) * 20 * time.Minute))
		es = append(es, e)
		write(t, b, e)
		checkEqual(t, i+1, count())
	}
	var batch []*storage.AuditEntry
	for i := range 5 {
		batch = append(batch, newEntry(base.Add(-time.Duration(i+1)*time.Hour)))
	}
	mustNoError(t, b.WriteBatch(t.Context(), batch))
	checkEqual(t, 15, count())
	_, err := b.Delete(t.Context(), es[4].ID)
	mustNoError(t, err)
	checkEqual(t, 14, count())
	_, err = b.DeleteBefore(t.Context(), base)
	mustNoError(t, err)
	checkEqual(t, 9, count())
}

func (s *suite) testWriteBatch(t *testing.T) {
	b := s.backend(t)
	base := time.Date(2024, 12, 30, 12, 0, 0, 0, time.UTC)
	var es []*storage.AuditEntry
	for i := range 100 {
		e := newEntry(base.Add(time.Duration(i) * 47 * time.Minute)) // spans several days and a new year
		if i%10 == 0 {
			full := fullEntry()
			full.Timestamp = e.Timestamp.In(time.FixedZone("X", 9*3600))
			e = full
		}
		es = append(es, e)
	}
	mustNoError(t, b.WriteBatch(t.Context(), shuffled(es)))
	n, err := b.Count(t.Context())
	mustNoError(t, err)
	checkEqual(t, len(es), n)
	got := list(t, b, minTime, maxTime)
	mustEqual(t, sortedIDs(es), ids(got))
	for i, e := range es { // es is in timestamp order
		assertEntry(t, e, got[i])
	}
	for _, empty := range [][]*storage.AuditEntry{nil, {}} {
		mustNoError(t, b.WriteBatch(t.Context(), empty), "empty batch")
	}
	n, err = b.Count(t.Context())
	mustNoError(t, err)
	checkEqual(t, len(es), n, "an empty batch changes nothing")
}

func (s *suite) testStats(t *testing.T) {
	b := s.backend(t)
	sr := b.(storage.StatsReporter)
	ts := time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)
	before := sr.Stats().Accepted
	write(t, b, newEntry(ts))
	mustNoError(t, b.WriteBatch(t.Context(), []*storage.AuditEntry{newEntry(ts), newEntry(ts.Add(time.Hour))}))
	bad := newEntry(ts)
	bad.ID = ""
	checkErrorIs(t, b.Write(t.Context(), bad), storage.ErrInvalidEntry, "Write of an entry without id")
	checkErrorIs(t, b.WriteBatch(t.Context(), []*storage.AuditEntry{newEntry(ts), nil}), storage.ErrInvalidEntry, "WriteBatch with a nil entry")
	checkEqual(t, before+3, sr.Stats().Accepted, "Accepted counts the entries of successful writes only")
	mustNoError(t, b.Close())
	checkEqual(t, before+3, sr.Stats().Accepted, "Stats after Close")
}

func (s *suite) testInvalid(t *testing.T) {
	ts := time.Date(2024, 7, 31, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		mutate func(e *storage.AuditEntry) *storage.AuditEntry
	}{
		{"nil", func(*storage.AuditEntry) *storage.AuditEntry { return nil }},
		{"empty id", func(e *storage.AuditEntry) *storage.AuditEntry { e.ID = ""; return e }},
		{"zero timestamp", func(e *storage.AuditEntry) *storage.AuditEntry { e.Timestamp = time.Time{}; return e }},
		{"NaN latency", func(e *storage.AuditEntry) *storage.AuditEntry { e.LatencyMS = math.NaN(); return e }},
		{"+Inf latency", func(e *storage.AuditEntry) *storage.AuditEntry { e.LatencyMS = math.Inf(1); return e }},
		{"-Inf latency", func(e *storage.AuditEntry) *storage.AuditEntry { e.LatencyMS = math.Inf(-1); return e }},
		{"NaN metadata", func(e *storage.AuditEntry) *storage.AuditEntry {
			e.Metadata = map[string]any{"x": math.NaN()}
			return e
		}},
		{"nested Inf metadata", func(e *storage.AuditEntry) *storage.AuditEntry {
			e.Metadata = map[string]any{"a": []any{1, map[string]any{"b": math.Inf(-1)}}}
			return e
		}},
		{"unencodable metadata", func(e *storage.AuditEntry) *storage.AuditEntry {
			e.Metadata = map[string]any{"ch": make(chan int)}
			return e
		}},
		{"invalid json.Number metadata", func(e *storage.AuditEntry) *storage.AuditEntry {
			e.Metadata = map[string]any{"n": json.Number("12abc")}
			return e
		}},
		{"invalid Extra JSON", func(e *storage.AuditEntry) *storage.AuditEntry {
			e.Extra = map[string]json.RawMessage{"x": json.RawMessage(`{"open":`)}
			return e
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := s.backend(t)
			bad := c.mutate(newEntry(ts))
			err := b.Write(t.Context(), bad)
			checkErrorIs(t, err, storage.ErrInvalidEntry, "Write")

			good1, good2 := newEntry(ts.Add(-time.Hour)), newEntry(ts.Add(time.Hour))
			err = b.WriteBatch(t.Context(), []*storage.AuditEntry{good1, c.mutate(newEntry(ts)), good2})
			checkErrorIs(t, err, storage.ErrInvalidEntry, "WriteBatch")

			n, err := b.Count(t.Context())
			mustNoError(t, err)
			checkZero(t, n, "nothing may be stored")
			checkLen(t, list(t, b, minTime, maxTime), 0)
			for _, e := range []*storage.AuditEntry{good1, good2} {
				_, err := b.Read(t.Context(), e.ID)
				checkErrorIs(t, err, storage.ErrNotFound, "valid entry of a rejected batch was stored")
			}
			if bad != nil && bad.ID != "" {
				_, err := b.Read(t.Context(), bad.ID)
				checkErrorIs(t, err, storage.ErrNotFound, "invalid entry was stored")
			}
			// The backend still works.
			write(t, b, good1)
		})
	}
}

func (s *suite) testConcurrent(t *testing.T) {
	b := s.backend(t)
	writers, per := s.cfg.Writers, s.cfg.PerWriter
	base := time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC) // crosses into a new year
	all := make([][]*storage.AuditEntry, writers)
	for w := range writers {
		for i := range per {
			// interleaved timestamps, distinct per (w, i)
			off := time.Duration(i*writers+w) * 1300 * time.Millisecond
			all[w] = append(all[w], newEntry(base.Add(off)))
		}
	}
	ctx := t.Context()
	var (
		mu   sync.Mutex
		errs []error
	)
	report := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	// A reader runs alongside the writers.
	go func() {
		defer close(readerDone)
		tick := time.NewTicker(2 * time.Millisecond) // keeps remote backends from being flooded
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := b.Count(ctx); err != nil {
				report(fmt.Errorf("concurrent Count: %w", err))
				return
			}
			es, err := b.ListEntries(ctx, base, base.Add(time.Hour))
			if err != nil {
				report(fmt.Errorf("concurrent ListEntries: %w", err))
				return
			}
			for i := 1; i < len(es); i++ {
				if es[i].Timestamp.Before(es[i-1].Timestamp) {
					report(errors.New("concurrent ListEntries returned entries out of order"))
					return
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i, e := range all[w] {
				var err error
				if i%50 == 49 { // some single-entry batches among the writes
					err = b.WriteBatch(ctx, []*storage.AuditEntry{e})
				} else {
					err = b.Write(ctx, e)
				}
				if err != nil {
					report(fmt.Errorf("writer %d entry %d: %w", w, i, err))
					return
				}
			}
		})
	}
	// No blockTimeout here: a slow remote backend may legitimately need
	// longer; the go test -timeout catches a real deadlock.
	wg.Wait()
	close(stop)
	<-readerDone
	for _, err := range errs {
		t.Error(err)
	}

	var flat []*storage.AuditEntry
	for _, es := range all {
		flat = append(flat, es...)
	}
	n, err := b.Count(ctx)
	mustNoError(t, err)
	checkEqual(t, len(flat), n, "entries lost or duplicated")
	got := list(t, b, minTime, maxTime)
	checkEqual(t, sortedIDs(flat), ids(got), "every entry, oldest first")
	for w := range writers {
		for _, e := range []*storage.AuditEntry{all[w][0], all[w][per-1]} {
			g, err := b.Read(ctx, e.ID)
			if checkNoError(t, err) {
				assertEntry(t, e, g)
			}
		}
	}
}

func (s *suite) testClose(t *testing.T) {
	b := s.backend(t)
	e := newEntry(time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC))
	write(t, b, e)
	mustNoError(t, b.Close(), "Close")
	mustNoError(t, b.Close(), "second Close")
	ctx := t.Context()
	checkErrorIs(t, b.Write(ctx, newEntry(e.Timestamp)), storage.ErrClosed, "Write")
	checkErrorIs(t, b.WriteBatch(ctx, []*storage.AuditEntry{newEntry(e.Timestamp)}), storage.ErrClosed, "WriteBatch")
	_, err := b.Read(ctx, e.ID)
	checkErrorIs(t, err, storage.ErrClosed, "Read")
	_, err = b.ListEntries(ctx, minTime, maxTime)
	checkErrorIs(t, err, storage.ErrClosed, "ListEntries")
	checkSeqError(t, b.Entries(ctx, minTime, maxTime), storage.ErrClosed)
	_, err = b.Delete(ctx, e.ID)
	checkErrorIs(t, err, storage.ErrClosed, "Delete")
	_, err = b.DeleteBefore(ctx, maxTime)
	checkErrorIs(t, err, storage.ErrClosed, "DeleteBefore")
	_, err = b.Count(ctx)
	checkErrorIs(t, err, storage.ErrClosed, "Count")
}

// checkSeqError fails unless seq yields exactly one (nil, err) pair with
// err matching target, and nothing else.
func checkSeqError(t *testing.T, seq iter.Seq2[*storage.AuditEntry, error], target error) {
	t.Helper()
	var errs []error
	entries := 0
	withTimeout(t, "Entries", func() {
		for e, err := range seq {
			if err != nil {
				errs = append(errs, err)
				if e != nil {
					t.Errorf("Entries yielded an entry with its error")
				}
				continue
			}
			entries++
		}
	})
	checkZero(t, entries, "Entries yielded entries")
	if checkLen(t, errs, 1, "Entries must yield its error once") {
		checkErrorIs(t, errs[0], target, "Entries")
	}
}

func (s *suite) testContext(t *testing.T) {
	b := s.backend(t)
	held := newEntry(time.Date(2024, 5, 31, 12, 0, 0, 0, time.UTC))
	write(t, b, held)
	ctx := cancelledContext()
	fresh := newEntry(held.Timestamp.Add(time.Minute))

	checkErrorIs(t, b.Write(ctx, fresh), context.Canceled, "Write")
	checkErrorIs(t, b.WriteBatch(ctx, []*storage.AuditEntry{fresh, newEntry(held.Timestamp)}), context.Canceled, "WriteBatch")
	_, err := b.Read(ctx, held.ID)
	checkErrorIs(t, err, context.Canceled, "Read")
	_, err = b.ListEntries(ctx, minTime, maxTime)
	checkErrorIs(t, err, context.Canceled, "ListEntries")
	checkSeqError(t, b.Entries(ctx, minTime, maxTime), context.Canceled)
	_, err = b.Delete(ctx, held.ID)
	checkErrorIs(t, err, context.Canceled, "Delete")
	_, err = b.DeleteBefore(ctx, maxTime)
	checkErrorIs(t, err, context.Canceled, "DeleteBefore")
	_, err = b.Count(ctx)
	checkErrorIs(t, err, context.Canceled, "Count")

	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	checkErrorIs(t, b.Write(expired, fresh), context.DeadlineExceeded, "Write with an expired deadline")

	// Nothing changed.
	checkEqual(t, []string{held.ID}, ids(list(t, b, minTime, maxTime)), "a call with a done ctx changed the store")
	_, err = b.Read(t.Context(), fresh.ID)
	checkErrorIs(t, err, storage.ErrNotFound, "entry written with a done ctx")
}

func (s *suite) testReopen(t *testing.T) {
	b := s.cfg.New(t)
	mustNotNil(t, b)
	base := time.Date(2024, 2, 28, 22, 0, 0, 0, time.UTC)
	full := fullEntry()
	es := []*storage.AuditEntry{full}
	for i := range 20 {
		es = append(es, newEntry(base.Add(time.Duration(i)*3*time.Hour+time.Duration(i))))
	}
	write(t, b, es[0])
	mustNoError(t, b.WriteBatch(t.Context(), es[1:]))

	r := s.cfg.Reopen(t, b)
	mustNotNil(t, r, "Reopen returned nil")
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close after reopen: %v", err)
		}
	})
	n, err := r.Count(t.Context())
	mustNoError(t, err)
	checkEqual(t, len(es), n)
	got, err := r.Read(t.Context(), full.ID)
	mustNoError(t, err)
	assertEntry(t, full, got)
	listed := list(t, r, minTime, maxTime)
	checkEqual(t, sortedIDs(es), ids(listed))
	write(t, r, newEntry(base.Add(-time.Hour)))
	n, err = r.Count(t.Context())
	mustNoError(t, err)
	checkEqual(t, len(es)+1, n, "writes after a reopen")
}
