package main

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// FuzzEscapeText checks that whatever stored text holds, what reaches
// the terminal is valid UTF-8 without control or bidi characters (but
// newlines and tabs in multi-line mode), and that clean text is kept as
// it is.
func FuzzEscapeText(f *testing.F) {
	for _, s := range []string{"", "plain", "a\x1b[2Jb", "\u202egnp.exe", "x\xffy", "line\nnext\ttab\r", "\u0085\u009b31m", "模型\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, keep := range []bool{false, true} {
			out := escapeText(s, keep)
			if !utf8.ValidString(out) {
				t.Fatalf("escapeText(%q, %v) = %q: invalid UTF-8", s, keep, out)
			}
			for _, r := range out {
				if keep && (r == '\n' || r == '\t') {
					continue
				}
				if unicode.IsControl(r) || isBidiControl(r) {
					t.Fatalf("escapeText(%q, %v) = %q: contains %U", s, keep, out, r)
				}
			}
			clean := utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
				return (unicode.IsControl(r) && !(keep && (r == '\n' || r == '\t'))) || isBidiControl(r)
			})
			if clean && out != s {
				t.Fatalf("escapeText(%q, %v) changed clean text to %q", s, keep, out)
			}
		}
		if w := displayWidth(cell(s, 12)); w != 12 {
			t.Fatalf("cell(%q, 12) is %d columns", s, w)
		}
	})
}

// FuzzTimeFlag checks that no --from/--to value panics and that accepted
// values give a consistent range.
func FuzzTimeFlag(f *testing.F) {
	for _, s := range []string{"2025-06-01", "2025-06-01T12:00:00Z", "2025-06-01T12:00:00+02:00", "now", "-1h", "-", "--", "-9999999h", "2025-06-01 12:00:00.5", "9999-12-31"} {
		f.Add(s, s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, from, to string) {
		tr := &timeRange{from: from, to: to}
		start, end, err := tr.bounds(now)
		if err == nil && start.After(end) {
			t.Fatalf("bounds(%q, %q) = %v after %v without an error", from, to, start, end)
		}
	})
}
