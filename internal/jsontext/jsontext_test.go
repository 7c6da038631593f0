package jsontext

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestAppendStringDecodesLikeEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"uote\\", "ctl\x00\x1f\n\t\r\x7f", "bad\xffutf8\xc3", "line\u2028sep\u2029", "<&>", "👋 日本", "\U0010FFFF"} {
		got := AppendString([]byte("prefix"), s)
		var back string
		if err := json.Unmarshal(got[len("prefix"):], &back); err != nil {
			t.Fatalf("%q: invalid JSON %q: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q decoded to %q, encoding/json gives %q", s, back, wantBack)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\xff", "\u2028", "😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		if !json.Valid(out) || !utf8.Valid(out) {
			t.Fatalf("invalid JSON for %q: %q", s, out)
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("%q round-tripped to %q", s, back)
		}
	})
}
