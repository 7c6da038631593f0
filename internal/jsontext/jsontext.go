// Package jsontext appends JSON text without reflection, for the hot paths
// that write audit entries and GenAI message attributes.
package jsontext

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// AppendString appends s to b as a JSON string literal. The result decodes
// (encoding/json) to s, except that each byte of invalid UTF-8 becomes
// U+FFFD, as encoding/json does. U+2028 and U+2029 are escaped so the text
// is safe in JavaScript; '<', '>' and '&' are kept as they are.
func AppendString(b []byte, s string) []byte {
	b, _ = appendString(b, s, false)
	return b
}

// AppendValidString is AppendString for text that must be valid UTF-8: it
// reports ok = false, instead of writing U+FFFD, when s is not, leaving
// what it appended so far in b (the caller discards it). An encoder calls
// it to check and escape a string in one pass.
func AppendValidString(b []byte, s string) (_ []byte, ok bool) {
	return appendString(b, s, true)
}

func appendString(b []byte, s string, strict bool) ([]byte, bool) {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip plain bytes 32, then 8 at a time (they are copied in one
		// append below); any other word goes byte by byte. Base64
		// ciphertext and most prose never leave the first loop.
		i = skipPlain32(s, i)
		if i+8 <= len(s) && plainWord(load64(s, i)) {
			i += 8
			continue
		}
		if i >= len(s) {
			break
		}
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
			if strict {
				return b, false
			}
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
	return append(b, '"'), true
}

// PlainPrefix returns the length of the longest prefix of s, rounded down
// to a multiple of 8 bytes, made only of bytes that AppendString copies
// unescaped and that end no JSON string: printable ASCII other than '"'
// and '\\'. Scanners use it to skip plain text a word at a time; the
// bytes after the prefix must still be looked at one by one.
func PlainPrefix(s string) int {
	i := 0
	for i+8 <= len(s) && plainWord(load64(s, i)) {
		i += 8
	}
	return i
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// load64 returns the 8 bytes of s at i as a little-endian word.
func load64(s string, i int) uint64 {
	// Slicing first leaves one bounds check, and the compiler turns the
	// eight byte loads of a known-length string into one 64-bit load
	// (indexing s[i+k] directly kept eight checked byte loads).
	w := s[i : i+8]
	return uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
}

// skipPlain32 returns i advanced over plain bytes (see plainWord) 32 at a
// time, with one branch per 32 bytes.
func skipPlain32(s string, i int) int {
	for i+32 <= len(s) {
		w := s[i : i+32]
		if (plainBits(load64(w, 0))|plainBits(load64(w, 8))|
			plainBits(load64(w, 16))|plainBits(load64(w, 24)))&msb != 0 {
			break
		}
		i += 32
	}
	return i
}

// plainBits has a byte's high bit set where w has a byte that is not
// plain, or a lower byte that is not (see plainWord).
func plainBits(w uint64) uint64 {
	q := w ^ 0x22*lsb
	k := w ^ 0x5c*lsb
	return w | (w - 0x20*lsb) | (q - lsb) | (k - lsb)
}

// plainWord reports whether each of the 8 bytes of w is ASCII, not a
// control character and neither '"' nor '\\', so it is copied unescaped.
// Once no byte has its high bit set, a byte's subtraction below sets that
// bit only when the byte is < 0x20 (or zero after the XOR, that is '"' or
// '\\') or a lower byte already did; so the test is exact.
func plainWord(w uint64) bool {
	// q := w ^ 0x22*lsb has zero bytes where w has '"', k := w ^ 0x5c*lsb
	// where w has '\\'.
	return plainBits(w)&msb == 0
}
