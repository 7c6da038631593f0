package jsontext

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendCompact(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"space", " { \"a\" : [ 1 , 2.50 ] ,\n\t\"b\":null } ", `{"a":[1,2.50],"b":null}`},
		{"html escapes of encoding/json", `{"q":"a\u003cb\u003e\u0026c"}`, `{"q":"a<b>&c"}`},
		{"python ensure_ascii", `{"city":"M\u00fcnchen \ud83d\ude00"}`, `{"city":"München 😀"}`},
		{"escaped slash and short forms", `["\/x","\b\f","\n\r\t"]`, `["/x","\u0008\u000c","\n\r\t"]`},
		{"quote and backslash stay escaped", `"\"\\"`, `"\"\\"`},
		{"line separator stays escaped", "\"a\u2028b\\u2029\"", `"a\u2028b\u2029"`},
		{"lone surrogates", `["\ud800x","\udc00","\ud800\u0041"]`, `["` + "\ufffd" + `x","` + "\ufffd" + `","` + "\ufffd" + `A"]`},
		{"upper-case hex", `"\u00C9"`, `"É"`},
		{"keys sorted at every level", `{"z":1,"a":{"y":"\u0079","b":[{"d":0,"c":1}]}}`, `{"a":{"b":[{"c":1,"d":0}],"y":"y"},"z":1}`},
		{"keys sorted as decoded", `{"\u0062":1,"a":2,"\u00e9":3,"z":4}`, `{"a":2,"b":1,"z":4,"é":3}`},
		{"equal keys keep their order", `{"k":2,"a":0,"k":1}`, `{"a":0,"k":2,"k":1}`},
		{"empty containers", `{ "a" : [ ] , "b" : { } }`, `{"a":[],"b":{}}`},
		{"numbers kept as written", `[1.0,-0,2e10,1E-3]`, `[1.0,-0,2e10,1E-3]`},
		{"scalar", ` true `, `true`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := AppendCompact([]byte("x"), []byte(tc.in))
			require.True(t, ok)
			assert.Equal(t, "x"+tc.want, string(got))
		})
	}
}

func TestAppendCompactRefusesInvalidJSON(t *testing.T) {
	for _, in := range []string{``, `{`, `{"a":1}{}`, `"\x"`, `'a'`, `[1,]`} {
		got, ok := AppendCompact([]byte("x"), []byte(in))
		assert.False(t, ok, in)
		assert.Equal(t, "x", string(got), "nothing appended for %q", in)
	}
}

// The same value written by writers that escape differently has one
// canonical text.
func TestAppendCompactSameValueSameText(t *testing.T) {
	v := map[string]any{"args": map[string]any{"html": "<a href='x'>&</a>", "city": "Zürich", "emoji": "👋"}}
	escaped, err := json.Marshal(v) // escapes <, > and &
	require.NoError(t, err)
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(v))
	a, ok := AppendCompact(nil, escaped)
	require.True(t, ok)
	b, ok := AppendCompact(nil, plain.Bytes())
	require.True(t, ok)
	assert.Equal(t, string(a), string(b))
}

// A Go map (sorted keys) and a provider's key order give one text.
func TestAppendCompactKeyOrder(t *testing.T) {
	a, ok := AppendCompact(nil, []byte(`{"type":"tool_call","id":"c1","arguments":{"q":"x","limit":3}}`))
	require.True(t, ok)
	m, err := json.Marshal(map[string]any{"type": "tool_call", "id": "c1", "arguments": map[string]any{"limit": 3, "q": "x"}})
	require.NoError(t, err)
	b, ok := AppendCompact(nil, m)
	require.True(t, ok)
	assert.Equal(t, string(a), string(b))
}

func FuzzAppendCompact(f *testing.F) {
	for _, s := range []string{`{"a":"\u003c"}`, `["\ud83d\ude00","\ud800"]`, ` [ 1 , -2.5e3 , "x" ] `, `"\/\b"`, `{"k":{"n":null}}`, "\"\xff\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, ok := AppendCompact(nil, raw)
		if ok != json.Valid(raw) {
			t.Fatalf("ok = %v for %q, json.Valid says %v", ok, raw, !ok)
		}
		if !ok {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("%q gave invalid JSON %q", raw, out)
		}
		if again, _ := AppendCompact(nil, out); !bytes.Equal(again, out) {
			t.Fatalf("not canonical: %q gave %q, then %q", raw, out, again)
		}
		if a, b := decodeNumbers(t, raw), decodeNumbers(t, out); !reflect.DeepEqual(a, b) {
			t.Fatalf("%q decodes to %#v, its compact text %q to %#v", raw, a, out, b)
		}
	})
}

func decodeNumbers(t *testing.T, raw []byte) any {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", raw, err)
	}
	return v
}
