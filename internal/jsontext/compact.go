package jsontext

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"
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
	if !json.Valid(raw) {
		return b, false
	}
	b, _ = appendCanonical(b, raw, skipSpace(raw, 0))
	return b, true
}

// member is an object member while its object is sorted: the decoded key
// and the canonical text of the value.
type member struct {
	key   string
	value []byte
}

// appendCanonical appends the canonical text of the value that starts at
// raw[i] (valid JSON, no leading space) and returns the index after it.
func appendCanonical(b []byte, raw []byte, i int) ([]byte, int) {
	switch raw[i] {
	case '"':
		s, next := decodeString(raw, i)
		return AppendString(b, s), next
	case '[':
		b = append(b, '[')
		i = skipSpace(raw, i+1)
		for first := true; raw[i] != ']'; first = false {
			if !first {
				b = append(b, ',')
			}
			b, i = appendCanonical(b, raw, i)
			i = skipSpace(raw, i)
			if raw[i] == ',' {
				i = skipSpace(raw, i+1)
			}
		}
		return append(b, ']'), i + 1
	case '{':
		var ms []member
		i = skipSpace(raw, i+1)
		for raw[i] != '}' {
			var m member
			m.key, i = decodeString(raw, i)
			i = skipSpace(raw, skipSpace(raw, i)+1) // the colon
			m.value, i = appendCanonical(nil, raw, i)
			ms = append(ms, m)
			i = skipSpace(raw, i)
			if raw[i] == ',' {
				i = skipSpace(raw, i+1)
			}
		}
		slices.SortStableFunc(ms, func(x, y member) int { return strings.Compare(x.key, y.key) })
		b = append(b, '{')
		for k, m := range ms {
			if k > 0 {
				b = append(b, ',')
			}
			b = append(AppendString(b, m.key), ':')
			b = append(b, m.value...)
		}
		return append(b, '}'), i + 1
	}
	// A number, true, false or null: up to the next delimiter.
	j := i
	for j < len(raw) && !isDelimiter(raw[j]) {
		j++
	}
	return append(b, raw[i:j]...), j
}

func isDelimiter(c byte) bool {
	switch c {
	case ',', ']', '}', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

func skipSpace(raw []byte, i int) int {
	for i < len(raw) {
		switch raw[i] {
		case ' ', '\t', '\n', '\r':
			i++
			continue
		}
		break
	}
	return i
}

// decodeString decodes the JSON string whose opening quote is at raw[i],
// as encoding/json decodes it (each byte of invalid UTF-8 becomes
// U+FFFD), and returns the index after its closing quote.
func decodeString(raw []byte, i int) (string, int) {
	end, escaped := stringEnd(raw, i)
	s := string(raw[i+1 : end])
	if escaped {
		s = unquote(raw[i+1 : end])
	}
	return replaceInvalid(s), end + 1
}

// stringEnd returns the index of the quote that ends the JSON string whose
// opening quote is at raw[start], and whether the string holds escapes.
// raw is valid JSON.
func stringEnd(raw []byte, start int) (end int, escaped bool) {
	for i := start + 1; i < len(raw); i++ {
		switch raw[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			return i, escaped
		}
	}
	return len(raw), escaped // not reached for valid JSON
}

// unquote decodes the body of a valid JSON string literal (between its
// quotes) as encoding/json does: a lone or unpaired surrogate escape
// becomes U+FFFD.
func unquote(body []byte) string {
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch body[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(body[i+1 : i+5])
			i += 4
			if r >= 0xd800 && r < 0xdc00 && i+6 < len(body) && body[i+1] == '\\' && body[i+2] == 'u' {
				if lo := hex4(body[i+3 : i+7]); lo >= 0xdc00 && lo < 0xe000 {
					r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
					i += 6
				}
			}
			if r >= 0xd800 && r < 0xe000 {
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default: // '"', '\\', '/'
			out = append(out, body[i])
		}
	}
	return string(out)
}

// hex4 decodes four hex digits (valid JSON guarantees them).
func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// replaceInvalid returns s with each byte that is not part of valid UTF-8
// replaced by U+FFFD, as encoding/json decodes it.
func replaceInvalid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	out := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, s[i:i+size]...)
		}
		i += size
	}
	return string(out)
}
