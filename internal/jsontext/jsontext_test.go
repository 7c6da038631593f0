package jsontext

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
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
		checkValid(t, s)
	})
}

// checkValid checks AppendValidString against utf8.ValidString and
// AppendString for s.
func checkValid(t *testing.T, s string) {
	t.Helper()
	valid := utf8.ValidString(s)
	out, ok := AppendValidString([]byte("x"), s)
	if ok != valid {
		t.Fatalf("AppendValidString(%q) ok = %v, utf8.ValidString says %v", s, ok, valid)
	}
	if ok && string(out) != string(AppendString([]byte("x"), s)) {
		t.Fatalf("AppendValidString(%q) = %q, AppendString gives %q", s, out, AppendString([]byte("x"), s))
	}
}

// Invalid UTF-8 anywhere in a long ASCII text (past the 32-byte fast
// path) is found by AppendValidString.
func TestAppendValidStringLongText(t *testing.T) {
	base := strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", 8) // 256 bytes of base64
	for pos := 0; pos <= len(base); pos++ {
		for _, bad := range []string{"\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80"} {
			checkValid(t, base[:pos]+bad+base[pos:])
		}
		checkValid(t, base[:pos]+"é"+base[pos:])
	}
}

// appendStringBytewise is AppendString without the 8-byte fast path: the
// reference the fast path must match byte for byte.
func appendStringBytewise(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Every byte value, at every offset of a word, in plain text, gives what
// the byte-by-byte escaper gives.
func TestAppendStringFastPathMatchesBytewise(t *testing.T) {
	specials := []string{"\"", "\\", "\n", "\x00", "\x1f", "\x7f", " ", "~", "\xff", "\xc3", "é", "\u2028", "\u2029", "😀", "!", "#", "[", "]", "\x21", "\x5b", "\x5d"}
	for c := range 256 {
		specials = append(specials, string([]byte{byte(c)}))
	}
	base := "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_abcdefghijklmnopqrstuvwxyz"
	for _, sp := range specials {
		for pos := 0; pos <= 80; pos++ {
			s := base[:pos] + sp + base[pos:]
			want := string(appendStringBytewise([]byte("x"), s))
			got := string(AppendString([]byte("x"), s))
			if got != want {
				t.Fatalf("%q: got %q, want %q", s, got, want)
			}
			checkValid(t, s)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", " ", "\"", "\\", "\n", "\x01", "é", "\xff", "\u2028", "日", "<", "~"}
	for range 20000 {
		var sb strings.Builder
		for range r.IntN(120) {
			if r.IntN(4) == 0 {
				sb.WriteString(alphabet[r.IntN(len(alphabet))])
			} else {
				sb.WriteByte(byte('a' + r.IntN(26)))
			}
		}
		s := sb.String()
		if got, want := string(AppendString(nil, s)), string(appendStringBytewise(nil, s)); got != want {
			t.Fatalf("%q: got %q, want %q", s, got, want)
		}
		checkValid(t, s)
	}
}

func BenchmarkAppendString(b *testing.B) {
	s := strings.Repeat("audit trail text ", 60) // ~1 KiB of plain ASCII
	buf := make([]byte, 0, 2048)
	b.SetBytes(int64(len(s)))
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			buf = AppendString(buf[:0], s)
		}
	})
	b.Run("valid", func(b *testing.B) {
		for b.Loop() {
			buf, _ = AppendValidString(buf[:0], s)
		}
	})
	b.Run("utf8.ValidString", func(b *testing.B) {
		for b.Loop() {
			utf8.ValidString(s)
		}
	})

	b.Run("bytewise", func(b *testing.B) {
		for b.Loop() {
			buf = appendStringBytewise(buf[:0], s)
		}
	})
}

func TestPlainPrefix(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want int
	}{
		{"", 0}, {"short", 0}, {"12345678", 8}, {"1234567\"", 0}, {"12345678\\2345678", 8},
		{"1234567812345678x", 16}, {"12345678\x1f", 8}, {"12345678é1234567", 8}, {"abc\x7fdefg", 8},
	} {
		assert.Equal(t, tc.want, PlainPrefix(tc.s), "%q", tc.s)
	}
	// Everything skipped is copied verbatim by AppendString.
	s := strings.Repeat("plain text ~!", 10) + "\"tail"
	n := PlainPrefix(s)
	assert.Equal(t, `"`+s[:n]+`"`, string(AppendString(nil, s[:n])))
}
