package jsontext

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/otelaudit/otelaudit-go/internal/jsontape"
)

// AppendCompact appends raw, which must be one valid JSON value, to b in
// one canonical text: without insignificant space, the members of every
// object sorted by key (byte order of the decoded UTF-8 key; members with
// equal keys keep their order), and every string written as
// [AppendString] writes it. Two texts of the same value give the same
// bytes, however their writers escaped and ordered it: encoding/json's
// \u003c for '<' and sorted map keys, Python's \u00e9 for 'é', "\/" for
// '/', a provider's own key order. Numbers are kept as written. It reports
// ok = false, appending nothing, when raw is not valid JSON.
//
// The audit content of a message part that is not text is this text of
// its JSON, so a tool call hashes the same whichever instrumentation
// recorded it.
func AppendCompact(b []byte, raw []byte) (_ []byte, ok bool) {
	v, err := jsontape.Parse(raw)
	if err != nil {
		return b, false
	}
	return appendCanonical(b, v), true
}

// member is an object member while its object is sorted.
type member struct {
	key   string
	value jsontape.Value
}

// appendCanonical appends the canonical text of v (see AppendCompact).
func appendCanonical(b []byte, v jsontape.Value) []byte {
	switch v.Kind() {
	case jsontape.String:
		// As decoded: AppendString would write an invalid byte as the
		// escape \ufffd, but the decoded text holds U+FFFD.
		return AppendString(b, ValidUTF8(v.Str()))
	case jsontape.Array:
		b = append(b, '[')
		first := true
		for e := range v.Elements() {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendCanonical(b, e)
		}
		return append(b, ']')
	case jsontape.Object:
		var ms []member
		for k, mv := range v.Members() {
			ms = append(ms, member{ValidUTF8(k), mv})
		}
		slices.SortStableFunc(ms, func(x, y member) int { return strings.Compare(x.key, y.key) })
		b = append(b, '{')
		for i, m := range ms {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(AppendString(b, m.key), ':')
			b = appendCanonical(b, m.value)
		}
		return append(b, '}')
	}
	return append(b, v.Raw()...) // a number, true, false or null
}

// ValidUTF8 returns s with each byte that is not part of valid UTF-8
// replaced by U+FFFD, as encoding/json decodes such text; s itself when
// it is valid.
func ValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s { // an invalid byte is one utf8.RuneError
		b.WriteRune(r)
	}
	return b.String()
}
