package storagetest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
)

// The "every accepted entry is readable" rule, held against inputs that
// backends have got wrong: an entry is either rejected at Write with an
// error matching storage.ErrInvalidEntry (and nothing is stored), or it
// reads back equal by id, by a query for its own instant, and in Count.

// CheckAccepted writes e to b and checks the rule above; it reports
// whether Write accepted e. A Write error that does not match
// storage.ErrInvalidEntry fails the test. It is what the suite's defect
// cases and the fuzz targets of the backends call.
func CheckAccepted(t testing.TB, b storage.Backend, e *storage.AuditEntry) bool {
	t.Helper()
	ctx := t.Context()
	before, err := b.Count(ctx)
	mustNoError(t, err, "Count")
	if werr := b.Write(ctx, e); werr != nil {
		if !errors.Is(werr, storage.ErrInvalidEntry) {
			t.Fatalf("Write failed with %v; a rejected entry must give an error matching storage.ErrInvalidEntry", werr)
		}
		after, err := b.Count(ctx)
		mustNoError(t, err, "Count")
		checkEqual(t, before, after, "a rejected entry changed Count (%v)", werr)
		return false
	}
	got, err := b.Read(ctx, e.ID)
	if !checkNoError(t, err, "Read of an accepted entry (id %q)", e.ID) {
		return true
	}
	assertEntry(t, e, got, "accepted entry read back by id")
	at, err := b.ListEntries(ctx, e.Timestamp, e.Timestamp)
	mustNoError(t, err, "ListEntries at the entry's instant")
	found := false
	for _, x := range at {
		found = found || x.ID == e.ID
	}
	checkTrue(t, found, "ListEntries(ts, ts) misses the accepted entry %q at %v", e.ID, e.Timestamp)
	after, err := b.Count(ctx)
	mustNoError(t, err, "Count")
	checkEqual(t, before+1, after, "Count after an accepted entry")
	return true
}

func (s *suite) testDefects(t *testing.T) {
	day := time.Date(2025, 6, 7, 8, 9, 10, 11, time.UTC)
	t.Run("CaseFoldedExtraKeys", func(t *testing.T) {
		// encoding/json matches keys case-insensitively: such a key must
		// not override the real field when read back.
		b := s.backend(t)
		for i, k := range []string{"Safety_Passed", "ID", "TIMESTAMP", "Model", "Input_Hash", "\u017fafety_passed"} {
			e := newEntry(day.Add(time.Duration(i) * time.Second))
			e.SafetyPassed = false
			e.Model = ptr("real-model")
			e.Extra = map[string]json.RawMessage{k: json.RawMessage(`true`)}
			if k == "ID" || k == "TIMESTAMP" || k == "Model" || k == "Input_Hash" {
				e.Extra[k] = json.RawMessage(`"2030-01-01T00:00:00Z"`)
			}
			CheckAccepted(t, b, e)
		}
	})
	t.Run("EscapedIDs", func(t *testing.T) {
		// Ids that JSON escapes are found, deleted and gone.
		b := s.backend(t)
		for i, id := range []string{`back\slash`, `quo"te`, "nul\x00byte", "new\nline", "tab\tid", "sep\u2028arator", "</script>&"} {
			e := newEntry(day.Add(time.Duration(i) * time.Minute))
			e.ID = id
			if !CheckAccepted(t, b, e) {
				continue
			}
			ok, err := b.Delete(t.Context(), id)
			mustNoError(t, err, "Delete(%q)", id)
			checkTrue(t, ok, "Delete(%q) of a stored entry returned false", id)
			_, err = b.Read(t.Context(), id)
			checkErrorIs(t, err, storage.ErrNotFound, "Read(%q) after Delete", id)
		}
		n, err := b.Count(t.Context())
		mustNoError(t, err)
		checkZero(t, n, "entries left after deleting every one")
	})
	t.Run("FarRangeBounds", func(t *testing.T) {
		// Bounds beyond what the wire format can hold are clamped, not
		// turned into an empty result.
		b := s.backend(t)
		es := []*storage.AuditEntry{newEntry(day), newEntry(day.AddDate(1, 0, 0)), newEntry(day.AddDate(-20, 0, 0))}
		write(t, b, es...)
		bounds := [][2]time.Time{
			{time.Time{}, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
			{time.Time{}, time.Unix(1<<62, 0)},
			{time.Unix(-1<<62, 0), maxTime},
			{time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1<<20, 1, 1, 0, 0, 0, 0, time.UTC)},
		}
		for _, r := range bounds {
			got, err := b.ListEntries(t.Context(), r[0], r[1])
			mustNoError(t, err, "ListEntries(%v, %v)", r[0], r[1])
			checkLen(t, got, len(es), "ListEntries(%v, %v)", r[0], r[1])
			n := 0
			for _, err := range b.Entries(t.Context(), r[0], r[1]) {
				mustNoError(t, err)
				n++
			}
			checkEqual(t, len(es), n, "Entries(%v, %v)", r[0], r[1])
		}
	})
	t.Run("TimestampYears", func(t *testing.T) {
		// The wire format writes years 0000-9999; others are rejected,
		// the edges of that range are readable.
		b := s.backend(t)
		for _, ts := range []time.Time{
			time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(100000, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC),
			time.Date(9999, 12, 31, 23, 59, 59, 0, time.FixedZone("W", -3600)), // year 10000 in UTC
		} {
			e := newEntry(ts)
			err := b.Write(t.Context(), e)
			checkErrorIs(t, err, storage.ErrInvalidEntry, "Write with timestamp %v", ts)
		}
		for _, ts := range []time.Time{
			time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
			time.Date(1500, 6, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2300, 6, 1, 0, 0, 0, 0, time.UTC),
			time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		} {
			CheckAccepted(t, b, newEntry(ts))
		}
		got, err := b.ListEntries(t.Context(), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), maxTime)
		mustNoError(t, err)
		checkLen(t, got, 5, "entries of years 0000-9999")
	})
	t.Run("DeepMetadata", func(t *testing.T) {
		b := s.backend(t)
		for i, depth := range []int{100, storage.MaxNesting, 10001} {
			e := newEntry(day.Add(time.Duration(i) * time.Hour))
			var v any = "leaf"
			for range depth - 1 {
				v = map[string]any{"k": v}
			}
			e.Metadata = map[string]any{"deep": v}
			CheckAccepted(t, b, e)
		}
		raw := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
		e := newEntry(day.Add(5 * time.Hour))
		e.Extra = map[string]json.RawMessage{"deep": json.RawMessage(raw)}
		CheckAccepted(t, b, e)
	})
	t.Run("InvalidUTF8", func(t *testing.T) {
		b := s.backend(t)
		set := []func(e *storage.AuditEntry){
			func(e *storage.AuditEntry) { e.InputContent = ptr("ok\xffbad\xc3(") },
			func(e *storage.AuditEntry) { e.Provider = ptr("\xfe\xff") },
			func(e *storage.AuditEntry) { e.DetectorsTriggered = []string{"\xffx"} },
			func(e *storage.AuditEntry) { e.Metadata = map[string]any{"k": "v\xff"} },
			func(e *storage.AuditEntry) { e.Metadata = map[string]any{"\xffkey": "x"} },
			func(e *storage.AuditEntry) { e.ID = "id-\xff\xfe" },
			func(e *storage.AuditEntry) { e.Extra = map[string]json.RawMessage{"k\xff": json.RawMessage(`1`)} },
			func(e *storage.AuditEntry) { e.Extra = map[string]json.RawMessage{"k": json.RawMessage("\"\xff\"")} },
		}
		for i, fn := range set {
			e := newEntry(day.Add(time.Duration(i) * time.Minute))
			fn(e)
			CheckAccepted(t, b, e)
		}
	})
	t.Run("LineSize", func(t *testing.T) {
		// An entry beyond the default line size bound is rejected, or
		// stored and readable.
		b := s.backend(t)
		e := newEntry(day)
		e.InputContent = ptr(strings.Repeat("x", storage.DefaultMaxLineSize+1))
		CheckAccepted(t, b, e)
		small := newEntry(day.Add(time.Second))
		small.InputContent = ptr(strings.Repeat("y", storage.DefaultMaxLineSize/2))
		checkTrue(t, CheckAccepted(t, b, small), "an entry of half the line size bound must be accepted")
	})
	if s.cfg.Unreadable != nil {
		t.Run("UnreadableData", func(t *testing.T) {
			b := s.backend(t)
			e := newEntry(day)
			write(t, b, e)
			b = s.cfg.Unreadable(t, b, e)
			_, err := b.Read(t.Context(), e.ID)
			if checkTrue(t, err != nil, "Read of an entry whose data cannot be read succeeded") {
				checkFalse(t, errors.Is(err, storage.ErrNotFound), "Read of unreadable data must fail with an I/O error, not ErrNotFound: %v", err)
			}
			_, err = b.ListEntries(t.Context(), day, day)
			checkTrue(t, err != nil, "ListEntries over unreadable data returned no error")
		})
	}
	if s.cfg.Damage != nil {
		t.Run("DamagedData", func(t *testing.T) {
			b := s.backend(t)
			var es []*storage.AuditEntry
			for i := range 300 {
				es = append(es, newEntry(day.Add(time.Duration(i)*time.Second)))
			}
			mustNoError(t, b.WriteBatch(t.Context(), es))
			b = s.cfg.Damage(t, b, es[40])
			listed, err := b.ListEntries(t.Context(), minTime, maxTime)
			mustNoError(t, err)
			n, err := b.Count(t.Context())
			mustNoError(t, err)
			checkEqual(t, len(listed), n, "Count and ListEntries disagree after damage")
			readable := 0
			for _, e := range es {
				if _, err := b.Read(t.Context(), e.ID); err == nil {
					readable++
				}
			}
			checkEqual(t, len(listed), readable, "entries readable by id and by range differ after damage")
			checkTrue(t, len(listed) < len(es), "the damaged entry is still listed")
		})
	}
}
