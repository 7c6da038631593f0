package jsontext

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, 5, 0.30000000000000004, 1e-7, 1e21, 99999.999, 1.5e300, -2.5e-9, 123456789} {
		want, _ := json.Marshal(f)
		if got := string(AppendFloat(nil, f)); got != string(want) {
			t.Errorf("AppendFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

// TestAppendValueMatchesEncodingJSON: what AppendValue writes decodes to
// what encoding/json writes decodes to, and map keys come sorted.
func TestAppendValueMatchesEncodingJSON(t *testing.T) {
	type custom struct {
		A int `json:"a"`
	}
	for _, v := range []any{
		nil, "x\n\"<>", true, json.Number("1.5e3"), 2.5, -7, int64(1 << 40), int32(-3), uint64(1 << 63), uint32(9),
		[]string{"a", "b"}, []string(nil), []any{1.0, "two", nil, []any{}}, map[string]any{"b": 1.0, "a": map[string]any{}},
		custom{A: 4}, map[string]any{"z": custom{A: 1}},
	} {
		got, err := AppendValue(nil, v, 1, 10)
		if err != nil {
			t.Fatalf("AppendValue(%#v): %v", v, err)
		}
		if err := CheckAny(v, 1, 10); err != nil {
			t.Errorf("CheckAny(%#v) = %v, AppendValue encodes it", v, err)
		}
		want, _ := json.Marshal(v)
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("AppendValue(%#v) wrote %s: %v", v, got, err)
		}
		_ = json.Unmarshal(want, &w)
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		if string(gj) != string(wj) {
			t.Errorf("AppendValue(%#v) = %s, want %s", v, got, want)
		}
	}
	got, _ := AppendValue(nil, map[string]any{"b": 1, "a": 2, "c": 3}, 1, 10)
	if string(got) != `{"a":2,"b":1,"c":3}` {
		t.Errorf("keys not sorted: %s", got)
	}
}

func TestAppendValueRejects(t *testing.T) {
	deep := any("leaf")
	for range 5 {
		deep = []any{deep}
	}
	type wrapped struct{ S string }
	var tooDeep *TooDeepError
	for _, tc := range []struct {
		name string
		v    any
		is   func(error) bool
	}{
		{"invalid UTF-8 string", "a\xffb", func(err error) bool { return errors.Is(err, ErrNotUTF8) }},
		{"invalid UTF-8 key", map[string]any{"\xff": 1}, func(err error) bool { return errors.Is(err, ErrNotUTF8) }},
		{"invalid UTF-8 in a list", []string{"ok", "\xfe"}, func(err error) bool { return errors.Is(err, ErrNotUTF8) }},
		{"invalid UTF-8 through encoding/json", wrapped{S: "\xff"}, func(err error) bool { return errors.Is(err, ErrNotUTF8) }},
		{"NaN", math.NaN(), func(err error) bool { return err != nil }},
		{"infinity", math.Inf(1), func(err error) bool { return err != nil }},
		{"bad number", json.Number("1x"), func(err error) bool { return err != nil }},
		{"a string as a number", json.Number(`"1"`), func(err error) bool { return err != nil }},
		{"too deep", deep, func(err error) bool { return errors.As(err, &tooDeep) && tooDeep.Limit == 3 }},
		{"too deep in a map", map[string]any{"k": deep}, func(err error) bool { return errors.As(err, &tooDeep) }},
		{"NaN in a list in a map", map[string]any{"ok": 1, "l": []any{"x", math.NaN()}}, func(err error) bool { return err != nil }},
		{"invalid UTF-8 in a string list in a map", map[string]any{"l": []string{"\xff"}}, func(err error) bool { return errors.Is(err, ErrNotUTF8) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := AppendValue(nil, tc.v, 1, 3)
			if !tc.is(err) {
				t.Errorf("AppendValue(%#v) error = %v", tc.v, err)
			}
			// CheckAny returns the very error AppendValue returns.
			if cerr := CheckAny(tc.v, 1, 3); cerr == nil || cerr.Error() != err.Error() {
				t.Errorf("CheckAny(%#v) = %v, AppendValue's error is %v", tc.v, cerr, err)
			}
		})
	}
}

// TestCheckAnyNamesTheSortedFirstError: with two bad keys, CheckAny names
// the one AppendValue meets first in key order, every time.
func TestCheckAnyNamesTheSortedFirstError(t *testing.T) {
	v := map[string]any{"a": math.Inf(1), "b": "\xff", "c": math.NaN(), "d": "\xfe"}
	_, want := AppendValue(nil, v, 1, 10)
	for range 50 {
		if err := CheckAny(v, 1, 10); err == nil || err.Error() != want.Error() {
			t.Fatalf("CheckAny = %v, want %v", err, want)
		}
	}
}

func BenchmarkCheckAnyMetadata(b *testing.B) {
	md := map[string]any{"gen_ai.response.id": "resp-1", "gen_ai.response.model": "gpt-4o-2024-08-06",
		"gen_ai.response.finish_reasons": []any{"stop"}}
	b.Run("AppendValue", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = AppendValue(buf[:0], md, 1, 1000)
		}
	})
	b.Run("CheckAny", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = CheckAny(md, 1, 1000)
		}
	})
}

func TestCheckValue(t *testing.T) {
	ok := []string{`1`, `"a\"[["`, `{"a":[{"b":[]}]}`, "\"\xff\""}
	for _, raw := range ok {
		if err := CheckValue([]byte(raw), 4); err != nil {
			t.Errorf("CheckValue(%q) = %v", raw, err)
		}
	}
	var tooDeep *TooDeepError
	if err := CheckValue([]byte(strings.Repeat("[", 5)+strings.Repeat("]", 5)), 4); !errors.As(err, &tooDeep) {
		t.Errorf("5 levels under a limit of 4: %v", err)
	}
	for _, raw := range []string{``, `1 2`, `{`, `{"a":}`} {
		if err := CheckValue([]byte(raw), 4); err == nil {
			t.Errorf("CheckValue(%q) accepted invalid JSON", raw)
		}
	}
}

// secretMarshaler fails with an error that quotes the value it holds, as
// a careless MarshalJSON or MarshalText may.
type secretMarshaler struct{ s string }

func (m secretMarshaler) MarshalJSON() ([]byte, error) {
	return nil, errors.New("cannot encode " + m.s)
}
func (m secretMarshaler) MarshalText() ([]byte, error) {
	return nil, errors.New("cannot encode " + m.s)
}

// TestErrorsQuoteNoValue: a value may be content (metadata may hold
// anything), so the errors of AppendValue and CheckAny name the problem
// and where it is (the key path), never the value, nor encoding/json's
// words about it.
func TestErrorsQuoteNoValue(t *testing.T) {
	const secret = "SECRET-7f3a"
	for _, tc := range []struct {
		name, path string
		v          any
	}{
		{"json.Number", `at ["note"]: `, map[string]any{"note": json.Number(secret)}},
		{"json.Number deep in lists and maps", `at ["a"]["deep"][1]: `,
			map[string]any{"a": map[string]any{"deep": []any{json.Number("1"), json.Number("1e" + secret)}}}},
		{"RawMessage that is not JSON", `at ["raw"]: `, map[string]any{"raw": json.RawMessage(secret)}},
		{"MarshalJSON error quoting the value", `at ["m"]: `, map[string]any{"m": secretMarshaler{secret}}},
		{"MarshalText error of a map key", `at ["m"]: `, map[string]any{"m": map[secretMarshaler]int{{secret}: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := AppendValue(nil, tc.v, 1, 10)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, leak := range []string{secret, "'S'", "cannot encode"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("the error quotes the value (%q): %v", leak, err)
				}
			}
			if !strings.HasPrefix(err.Error(), tc.path) {
				t.Errorf("the error does not name the path %s: %v", tc.path, err)
			}
			if cerr := CheckAny(tc.v, 1, 10); cerr == nil || cerr.Error() != err.Error() {
				t.Errorf("CheckAny = %v, AppendValue's error is %v", cerr, err)
			}
		})
	}
}

// TestErrorPath: the key path of an error, its matching (errors.Is, As)
// kept, and a deep path cut short.
func TestErrorPath(t *testing.T) {
	_, err := AppendValue(nil, map[string]any{"k": []any{"ok", map[string]any{"x\"y": "\xff"}}}, 1, 10)
	if !errors.Is(err, ErrNotUTF8) || err.Error() != `at ["k"][1]["x\"y"]: `+ErrNotUTF8.Error() {
		t.Errorf("error = %v", err)
	}
	_, err = AppendValue(nil, "\xff", 1, 10)
	if err != ErrNotUTF8 {
		t.Errorf("a top-level error has no path: %v", err)
	}
	deep := any("leaf")
	for range 50 {
		deep = []any{deep}
	}
	_, err = AppendValue(nil, map[string]any{"k": deep}, 1, 20)
	var tooDeep *TooDeepError
	if !errors.As(err, &tooDeep) || tooDeep.Limit != 20 {
		t.Errorf("error = %v", err)
	}
	if want := `at ["k"][0][0][0][0][0][0][0]...: nested deeper than 20 levels`; err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}
