package jsontape

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// toAny decodes v the way json.Unmarshal into an any does, through the
// navigation API only. A number beyond float64's range is an error, as it
// is for encoding/json. Each byte of invalid UTF-8 in strings and keys
// becomes U+FFFD, which encoding/json does and Str, by design, does not;
// keys are replaced before they go into the map, so that keys that only
// differ in invalid bytes collide in document order, as in encoding/json.
func toAny(v Value) (any, error) {
	switch v.Kind() {
	case Null:
		return nil, nil
	case False:
		return false, nil
	case True:
		return true, nil
	case Number:
		f := v.Num()
		if math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %s out of range", v.Raw())
		}
		return f, nil
	case String:
		return sanitizeString(v.Str()), nil
	case Array:
		out := []any{}
		for e := range v.Elements() {
			x, err := toAny(e)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
		return out, nil
	case Object:
		out := map[string]any{}
		for k, m := range v.Members() {
			x, err := toAny(m)
			if err != nil {
				return nil, err
			}
			out[sanitizeString(k)] = x // the last of repeated keys wins, as in encoding/json
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected kind %v", v.Kind())
}

func sanitizeString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		sb.WriteRune(r) // RuneError for each invalid byte
		i += size
	}
	return sb.String()
}

// checkAgainstJSON asserts that Parse, Valid and the decoded value agree
// with encoding/json on data.
func checkAgainstJSON(t *testing.T, data []byte) {
	t.Helper()
	want := json.Valid(data)
	v, err := Parse(data)
	if (err == nil) != want {
		t.Fatalf("Parse error %v, json.Valid %v for %q", err, want, data)
	}
	if got := Valid(data); got != want {
		t.Fatalf("Valid %v, json.Valid %v for %q", got, want, data)
	}
	if err != nil {
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v does not match ErrInvalid", err)
		}
		return
	}
	var jv any
	jerr := json.Unmarshal(data, &jv)
	tv, terr := toAny(v)
	if (jerr == nil) != (terr == nil) {
		t.Fatalf("json.Unmarshal error %v, tape decode error %v for %q", jerr, terr, data)
	}
	if jerr != nil {
		return
	}
	if !reflect.DeepEqual(jv, tv) {
		t.Fatalf("decoded differently from encoding/json for %q:\njson: %#v\ntape: %#v", data, jv, tv)
	}
	if got := v.Raw(); got != strings.Trim(string(data), " \t\r\n") {
		t.Fatalf("root Raw %q for %q", got, data)
	}
	if len(data) <= 1<<12 { // checkRaw is quadratic in depth
		checkRaw(t, v)
	}
}

// checkRaw asserts that every value's Raw text is itself valid JSON that
// decodes to the same value, i.e. that the tape's offsets are exact.
func checkRaw(t *testing.T, v Value) {
	t.Helper()
	raw := v.Raw()
	if !json.Valid([]byte(raw)) {
		t.Fatalf("Raw %q of a %v is not valid JSON", raw, v.Kind())
	}
	if v.Kind() == String {
		var s string
		require.NoError(t, json.Unmarshal([]byte(raw), &s))
		if got := sanitizeString(v.Str()); got != s {
			t.Fatalf("Str %q, encoding/json %q for %q", got, s, raw)
		}
	}
	for _, m := range v.Members() {
		checkRaw(t, m)
	}
	for e := range v.Elements() {
		checkRaw(t, e)
	}
}

func TestAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range []string{
		// Valid.
		`{}`, `[]`, `0`, `-0`, `1.5e+10`, `-1E-2`, `true`, `false`, `null`, `""`,
		" \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } } \n",
		`{"a":1,"a":2}`, `[[[]]]`, `"\u00e9\n\"\\\/\b\f\r\t"`, `"\ud83d\ude00"`,
		`"\ud800"`, `"\ud800\u0041"`, `"\udc00\ud800\udc00"`, `"\ud800\\"`, `"\ud800\ud800\udc00"`,
		"\"\xff\xfe raw invalid\"", "{\"k\xff\":\"v\\n\xc3\"}", `"\u0000"`, "\"\x7f\"",
		`1e400`, `[1e-400]`, `123456789012345678901234567890`,
		`{"a":{"b":{"c":[1,{"d":null}]}},"e":"x"}`,
		// Invalid.
		``, ` `, `{`, `}`, `[`, `]`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[,1]`, `{,}`, `{"a" 1}`,
		`01`, `-`, `-a`, `1.`, `1.e5`, `.5`, `+1`, `1e`, `1e+`, `0x10`, `NaN`, `Infinity`,
		`tru`, `truex`, `nul`, `nulll`, `falsE`, `"abc`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"a\nb\"",
		"\"\x00\"", `{"a":1}}`, `[1]]`, `{"a":1]`, `[1}`, `1 2`, `"a" "b"`, `{} x`, `{1:2}`,
		"\xef\xbb\xbf{}", `[1,2`, `{"a":[}`, `"\`, `"\u`,
	} {
		t.Run(s, func(t *testing.T) { checkAgainstJSON(t, []byte(s)) })
	}
}

func TestDepthLimit(t *testing.T) {
	arrays := func(depth int) []byte {
		return []byte(strings.Repeat("[", depth) + strings.Repeat("]", depth))
	}
	objects := func(depth int) []byte { // depth-1 {"a": around an empty object
		return []byte(strings.Repeat(`{"a":`, depth-1) + "{}" + strings.Repeat("}", depth-1))
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"arrays at the limit", arrays(MaxDepth)},
		{"arrays past the limit", arrays(MaxDepth + 1)},
		{"objects at the limit", objects(MaxDepth)},
		{"objects past the limit", objects(MaxDepth + 1)},
	} {
		t.Run(tc.name, func(t *testing.T) { checkAgainstJSON(t, tc.data) })
	}

	// Far deeper than any stack a recursive parser could afford: a
	// clean error, no crash.
	_, err := Parse([]byte(strings.Repeat("[", 10_000_000)))
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorIs(t, err, ErrTooDeep)
	assert.False(t, Valid(objects(MaxDepth+1)))

	v, err := Parse(arrays(MaxDepth))
	require.NoError(t, err)
	depth := 1
	for v.Len() == 1 {
		for e := range v.Elements() {
			v = e
		}
		depth++
	}
	assert.Equal(t, MaxDepth, depth)
}

func TestNavigation(t *testing.T) {
	src := `{"model":"gpt","n":-12,"f":1.5,"big":12345678901234567890,"ok":true,"no":false,"nil":null,` +
		`"t\u0079pe":"esc key","dup":1,"dup":2,"msgs":[{"role":"user","content":"a\"b"},7,"s"],"empty":{},"arr":[]}`
	v, err := ParseString(src)
	require.NoError(t, err)
	require.Equal(t, Object, v.Kind())
	assert.Equal(t, src, v.Raw())
	assert.Equal(t, 13, v.Len())

	assert.Equal(t, "gpt", v.Get("model").Str())
	assert.Equal(t, -12.0, v.Get("n").Num())
	n, ok := v.Get("n").Int()
	assert.True(t, ok)
	assert.Equal(t, int64(-12), n)
	_, ok = v.Get("f").Int()
	assert.False(t, ok, "a fraction is not an Int")
	_, ok = v.Get("big").Int()
	assert.False(t, ok, "beyond int64 is not an Int")
	assert.Equal(t, 12345678901234567890.0, v.Get("big").Num())
	assert.Equal(t, True, v.Get("ok").Kind())
	assert.Equal(t, False, v.Get("no").Kind())
	assert.Equal(t, Null, v.Get("nil").Kind())
	assert.True(t, v.Get("nil").Exists(), "null is a value")
	assert.Equal(t, "null", v.Get("nil").Raw())
	assert.Equal(t, "esc key", v.Get("type").Str(), "keys match decoded")
	assert.False(t, v.Get(`t\u0079pe`).Exists(), "keys do not match escaped")
	assert.Equal(t, 1.0, v.Get("dup").Num(), "Get finds the first of repeated keys")

	missing := v.Get("nope")
	assert.False(t, missing.Exists())
	assert.Equal(t, Invalid, missing.Kind())
	assert.Equal(t, "", missing.Raw())
	assert.False(t, missing.Get("x").Exists())
	assert.Equal(t, 0, missing.Len())
	assert.False(t, v.Get("model").Get("x").Exists(), "Get on a string")
	assert.Equal(t, "", v.Get("n").Str(), "Str of a number")
	assert.Equal(t, 0.0, v.Get("model").Num(), "Num of a string")

	msgs := v.Get("msgs")
	require.True(t, msgs.IsArray())
	assert.Equal(t, `[{"role":"user","content":"a\"b"},7,"s"]`, msgs.Raw())
	var kinds []Kind
	for e := range msgs.Elements() {
		kinds = append(kinds, e.Kind())
	}
	assert.Equal(t, []Kind{Object, Number, String}, kinds)
	assert.False(t, msgs.Get("role").Exists(), "Get on an array")

	var keys []string
	for k, m := range v.Members() {
		keys = append(keys, k)
		if k == "msgs" {
			for e := range m.Elements() {
				assert.Equal(t, `a"b`, e.Get("content").Str())
				break // stopping early must not disturb the outer walk
			}
		}
	}
	assert.Equal(t, []string{"model", "n", "f", "big", "ok", "no", "nil", "type", "dup", "dup", "msgs", "empty", "arr"}, keys)
	assert.True(t, v.Get("empty").IsObject())
	assert.Equal(t, 0, v.Get("empty").Len())
	assert.True(t, v.Get("arr").IsArray())
	for range v.Get("arr").Elements() {
		t.Fatal("an empty array has no elements")
	}
	for range v.Get("model").Members() {
		t.Fatal("a string has no members")
	}

	var zero Value
	assert.False(t, zero.Exists())
	for range zero.Elements() {
		t.Fatal("the missing value has no elements")
	}
}

func TestManyEscapes(t *testing.T) {
	// One long string made of escapes, escaped quotes among them: each
	// escape must cost O(1) scanning, or this takes hours, not
	// milliseconds.
	const n = 1 << 20
	v, err := ParseString(`["` + strings.Repeat(`\n\"`, n) + `"]`)
	require.NoError(t, err)
	for e := range v.Elements() {
		assert.Equal(t, strings.Repeat("\n\"", n), e.Str())
	}
	assert.True(t, ValidString(`"`+strings.Repeat(`\u00e9x`, n)+`"`))
	assert.False(t, ValidString(`"`+strings.Repeat(`\u00e9x`, n)+"\x01\""))
}

func TestParserReuse(t *testing.T) {
	var p Parser
	v, err := p.ParseString(`{"id":"first","n":[1,2,3]}`)
	require.NoError(t, err)
	id := v.Get("id").Str()
	raw := v.Get("n").Raw()

	big := `[` + strings.Repeat(`{"k":"v"},`, 1000) + `0]`
	v, err = p.ParseString(big)
	require.NoError(t, err)
	assert.Equal(t, 1001, v.Len())
	// Strings from the earlier parse reference its text, not the nodes.
	assert.Equal(t, "first", id)
	assert.Equal(t, "[1,2,3]", raw)

	_, err = p.ParseString(`{"a":`)
	require.ErrorIs(t, err, ErrInvalid)
	v, err = p.Parse([]byte(`{"a":"b"}`))
	require.NoError(t, err)
	assert.Equal(t, "b", v.Get("a").Str())

	allocs := testing.AllocsPerRun(100, func() {
		v, err := p.Parse(benchRequest)
		if err != nil || v.Get("model").Str() != "gpt-4o-mini" {
			t.Fatal(v.Raw(), err)
		}
	})
	assert.Zero(t, allocs, "a reused Parser allocates nothing")

	p.Reset()
	assert.Empty(t, p.t.src, "Reset drops the text")
	var zero Parser
	zero.Reset() // a no-op on the zero Parser
	v, err = zero.ParseString(`[true]`)
	require.NoError(t, err)
	assert.Equal(t, 1, v.Len())
}

func TestStrSharesInput(t *testing.T) {
	data := []byte(`{"k":"plain","e":"tab\t"}`)
	v, err := Parse(data)
	require.NoError(t, err)
	s := v.Get("k").Str()
	// The documented contract: no copy, so the caller's buffer shows
	// through (which is why buffers are not rewritten after a parse).
	data[6] = 'P'
	assert.Equal(t, "Plain", s)
	assert.Equal(t, "tab\t", v.Get("e").Str())
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct{ in, msg string }{
		{`{"a":1,}`, "offset 7"},
		{`[1,2`, "end of input"},
		{`"secret\x"`, "offset 8"},
		{`tru`, "end of input"},
		{`trux`, "offset 3"},
	} {
		_, err := ParseString(tc.in)
		require.ErrorIs(t, err, ErrInvalid, tc.in)
		assert.Contains(t, err.Error(), tc.msg, tc.in)
		assert.NotContains(t, err.Error(), "secret", "errors carry no input text")
	}
}

func TestKindString(t *testing.T) {
	assert.Equal(t, "object", Object.String())
	assert.Equal(t, "invalid", Invalid.String())
	assert.Equal(t, "Kind(42)", Kind(42).String())
}

func TestValidDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	data := []byte(`{"model":"m","messages":[{"role":"user","content":"hello"}],"n":[1,2,3]}`)
	bad := []byte(`{"model":"m","messages":[{"role":"user","content":"hello"}],"n":[1,2,3,]}`)
	Valid(data) // warm the scratch pool
	allocs := testing.AllocsPerRun(100, func() {
		if !Valid(data) || Valid(bad) {
			t.Fatal("Valid is wrong")
		}
	})
	assert.Zero(t, allocs, "neither accepting nor rejecting allocates")
}

func FuzzTape(f *testing.F) {
	for _, s := range []string{
		`{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"stream":true}`,
		`[1,-0.5e3,"\ud83d\ude00",null,true,false,{"a":{}},[]]`,
		`"\ud800\u0041 \xff"`,
		`{"a":1,"a":[1e400]}`,
		`{"a" 1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAgainstJSON(t, data)
	})
}

// FuzzString builds a JSON string literal from arbitrary bytes, escaping
// some of them in the ways JSON allows (including lone and paired
// surrogates), and checks Str against encoding/json.
func FuzzString(f *testing.F) {
	f.Add([]byte("plain"), []byte{0})
	f.Add([]byte("h\xc3\xa9\"\\/\x01\xff"), []byte{1, 2, 3})
	f.Add([]byte("\xed\xa0\x80\xf0\x9f\x98\x80"), []byte{4, 5})
	f.Fuzz(func(t *testing.T, text, how []byte) {
		var b strings.Builder
		b.WriteByte('"')
		for i := 0; i < len(text); i++ {
			c := text[i]
			mode := byte(0)
			if len(how) > 0 {
				mode = how[i%len(how)] % 6
			}
			switch {
			case mode == 1 || c < 0x20 || c == '"' || c == '\\':
				fmt.Fprintf(&b, `\u%04x`, c)
			case mode == 2 && c == '/':
				b.WriteString(`\/`)
			case mode == 3 && i+1 < len(text):
				// Any 16-bit unit, surrogates included.
				fmt.Fprintf(&b, `\u%04X`, uint16(c)<<8|uint16(text[i+1]))
				i++
			case mode == 4:
				fmt.Fprintf(&b, `\ud%03x`, 0x800|uint16(c)<<2&0x7ff)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
		checkAgainstJSON(t, []byte(b.String()))
	})
}

func Example() {
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"caf\u00e9?"}]}`)
	v, err := Parse(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(v.Get("model").Str())
	for m := range v.Get("messages").Elements() {
		fmt.Printf("%s: %s\n", m.Get("role").Str(), m.Get("content").Str())
	}
	_, err = ParseString(`{"model":`)
	fmt.Println(errors.Is(err, ErrInvalid))
	// Output:
	// gpt-4o
	// system: be brief
	// user: café?
	// true
}

// TestNextSpecial checks the word-at-a-time and vectorised searches
// against a byte loop for every length up to 100 and every position of
// one byte of each class (special or not, ASCII or not), from every start
// offset up to 9, so each word and tail boundary is crossed.
func TestNextSpecial(t *testing.T) {
	naive := func(b []byte, i int) int {
		for ; i < len(b); i++ {
			if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
				return i
			}
		}
		return len(b)
	}
	for _, c := range []byte{'"', '\\', 0, 0x1f, ' ', 0x7f, 0x80, 0xff, 'a'} {
		for n := 0; n <= 100; n++ {
			for p := -1; p < n; p++ {
				b := bytes.Repeat([]byte{'x'}, n)
				if p >= 0 {
					b[p] = c
				}
				for i := 0; i <= min(n, 9); i++ {
					quote := -1
					if got, want := nextSpecial(b, i, &quote), naive(b, i); got != want {
						t.Fatalf("byte %#x at %d of %d, from %d: got %d, want %d", c, p, n, i, got, want)
					}
				}
			}
		}
	}
}

// TestControlFree checks the block and word tests of controlFree against
// a byte loop: every length up to 100 (three 32-byte blocks, then words,
// then a tail), with a control byte or a byte next to the 0x20 bound at
// every position, alone and behind a byte at 0x80 or above in the same
// word (a borrow must not hide or invent a hit).
func TestControlFree(t *testing.T) {
	naive := func(b []byte) int {
		for i, c := range b {
			if c < 0x20 {
				return i
			}
		}
		return len(b)
	}
	for _, c := range []byte{0, 0x01, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xa0, 0xff} {
		for _, before := range []byte{'x', 0x80, 0xff, 0x20} {
			for n := 0; n <= 100; n++ {
				for p := -1; p < n; p++ {
					b := bytes.Repeat([]byte{'x'}, n)
					if p >= 0 {
						b[p] = c
						if p > 0 {
							b[p-1] = before
						}
					}
					if got, want := controlFree(b), naive(b); got != want {
						t.Fatalf("byte %#x at %d of %d after %#x: got %d, want %d", c, p, n, before, got, want)
					}
				}
			}
		}
	}
}
