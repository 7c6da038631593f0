package main

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/otelaudit/otelaudit-go/storage"
)

const queryHelp = `Usage: otelaudit query --dir DIR [--from TIME] [--to TIME] [--model M] [--provider P]
                       [--conversation C] [--trace-id T] [--format table|jsonl]

List the entries of a store, oldest first. --from and --to bound the time
range (both inclusive; only the day files in range are read); --model,
--provider, --conversation and --trace-id keep entries whose field equals the
value exactly. All filters combine (AND).

The table shows id, time, provider, model, tokens (input/output, "-" when
unknown), latency and the safety outcome; never content. --format jsonl prints
one entry per line in the store's wire format, for jq and other tools (content
fields as stored: null, plaintext or ciphertext).

Examples:
  otelaudit query --dir ./audit-data --from 2025-06-01 --to 2025-06-01
  otelaudit query --dir ./audit-data --from -1h --model gpt-4o
  otelaudit query --dir ./audit-data --trace-id 4bf92f3577b34da6a3ce929d0e0e4736
  otelaudit query --dir ./audit-data --conversation conv-42 --format jsonl | jq -r .id`

// entryFilter keeps entries whose fields equal every non-empty value.
type entryFilter struct {
	model, provider, conversation, traceID string
}

func (f *entryFilter) match(e *storage.AuditEntry) bool {
	return eqOpt(f.model, e.Model) && eqOpt(f.provider, e.Provider) &&
		eqOpt(f.conversation, e.ConversationID) &&
		(f.traceID == "" || strings.EqualFold(f.traceID, e.TraceID))
}

func eqOpt(want string, got *string) bool {
	return want == "" || (got != nil && *got == want)
}

func runQuery(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("query")
	sf := addStoreFlags(fs, true)
	tr := addTimeFlags(fs)
	var f entryFilter
	fs.StringVar(&f.model, "model", "", "only entries of model `M`")
	fs.StringVar(&f.provider, "provider", "", "only entries of provider `P`")
	fs.StringVar(&f.conversation, "conversation", "", "only entries of conversation id `C`")
	fs.StringVar(&f.traceID, "trace-id", "", "only entries of trace `T` (32 hex digits, case-insensitive)")
	format := fs.String("format", "table", "output `FORMAT`: table or jsonl")
	pos, err := c.parse(fs, queryHelp, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if *format != "table" && *format != "jsonl" {
		return usageErrorf("--format %q: want table or jsonl", *format)
	}
	if f.traceID != "" && !isHex(f.traceID, 32) {
		return usageErrorf("--trace-id %q: want 32 hex digits (a W3C trace id)", sanitize(f.traceID))
	}
	start, end, err := tr.bounds(c.now())
	if err != nil {
		return err
	}
	st, err := sf.open(ctx, c, true)
	if err != nil {
		return err
	}
	defer st.Close()

	w := bufio.NewWriterSize(c.stdout, 64<<10)
	var out entryPrinter
	if *format == "jsonl" {
		out = &jsonlPrinter{w: w}
	} else {
		out = &tablePrinter{w: w}
	}
	var prog *progress // rows stream to stdout: a progress line would tangle with them on one screen
	if !c.stdoutTTY {
		prog = c.newProgress("query", "entries scanned", 0)
	}
	var matched int
	var scanErr error
	for e, err := range st.Entries(ctx, start, end) {
		if err != nil {
			scanErr = err
			break
		}
		prog.Add(1)
		if !f.match(e) {
			continue
		}
		matched++
		if err := out.print(e); err != nil {
			prog.Finish()
			return err
		}
	}
	prog.Finish()
	st.warnSkipped(c, "query")
	if scanErr == nil {
		scanErr = out.finish(matched)
	}
	if err := w.Flush(); err != nil && scanErr == nil {
		scanErr = fmt.Errorf("write output: %w", err)
	}
	if scanErr != nil {
		return storeError(ctx, fmt.Errorf("read %s: %w", st.name, scanErr))
	}
	return nil
}

// isHex reports whether s is n hex digits.
func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

type entryPrinter interface {
	print(e *storage.AuditEntry) error
	finish(n int) error
}

// jsonlPrinter writes entries in the wire format, one per line.
type jsonlPrinter struct {
	w   *bufio.Writer
	buf []byte
}

func (p *jsonlPrinter) print(e *storage.AuditEntry) error {
	b, err := e.AppendJSON(p.buf[:0])
	if err != nil {
		// An entry a backend returned always encodes; report the id
		// only, never content.
		return fmt.Errorf("encode entry %s: %w", sanitize(e.ID), err)
	}
	p.buf = append(b, '\n')
	_, err = p.w.Write(p.buf)
	return err
}

func (p *jsonlPrinter) finish(int) error { return nil }

// Table column widths; longer values are cut with "…" (query --format
// jsonl has them whole).
const (
	colID       = 36
	colTime     = 24
	colProvider = 12
	colModel    = 24
	colTokens   = 15
	colLatency  = 10
)

// tablePrinter writes a fixed-width table, streaming (no buffering of
// rows), so that a query over millions of entries runs in constant memory.
type tablePrinter struct {
	w      *bufio.Writer
	header bool
}

func (p *tablePrinter) writeHeader() {
	p.header = true
	fmt.Fprintf(p.w, "%-*s  %-*s  %-*s  %-*s  %*s  %*s  %s\n",
		colID, "ID", colTime, "TIME (UTC)", colProvider, "PROVIDER", colModel, "MODEL",
		colTokens, "TOKENS IN/OUT", colLatency, "LATENCY", "SAFETY")
}

func (p *tablePrinter) print(e *storage.AuditEntry) error {
	if !p.header {
		p.writeHeader()
	}
	tokens := tokenText(e.InputTokens) + "/" + tokenText(e.OutputTokens)
	_, err := fmt.Fprintf(p.w, "%s  %s  %s  %s  %*s  %*s  %s\n",
		cell(e.ID, colID), cell(e.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z"), colTime),
		cell(optText(e.Provider), colProvider), cell(optText(e.Model), colModel),
		colTokens, tokens, colLatency, latencyText(e.LatencyMS), safetyText(e))
	return err
}

func (p *tablePrinter) finish(n int) error {
	if !p.header {
		p.writeHeader()
	}
	noun := "entries"
	if n == 1 {
		noun = "entry"
	}
	_, err := fmt.Fprintf(p.w, "(%d %s)\n", n, noun)
	return err
}

func tokenText(v *int64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatInt(*v, 10)
}

func optText(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

// latencyText formats a latency for the table: one decimal, or three
// significant digits for a non-zero latency that one decimal would show as
// 0.0ms (an in-process call) and for very large ones.
func latencyText(ms float64) string {
	switch {
	case ms >= 1e6 || (ms != 0 && ms < 0.05):
		return strconv.FormatFloat(ms, 'g', 3, 64) + "ms"
	default:
		return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
	}
}

func safetyText(e *storage.AuditEntry) string {
	s := "ok"
	if !e.SafetyPassed {
		s = "FAILED"
	}
	if len(e.DetectorsTriggered) > 0 {
		s += " (" + strings.Join(e.DetectorsTriggered, ",") + ")"
	}
	return sanitize(s)
}

// cell returns s sanitised and cut or padded to width terminal columns
// (East Asian wide characters take two, combining marks none).
func cell(s string, width int) string {
	s = sanitize(s)
	w := displayWidth(s)
	if w > width {
		for w > width-1 {
			r, size := utf8.DecodeLastRuneInString(s)
			s = s[:len(s)-size]
			w -= runeWidth(r)
		}
		s += "…"
		w++
	}
	return s + strings.Repeat(" ", width-w)
}

func displayWidth(s string) int {
	w := 0
	for _, r := range s {
		w += runeWidth(r)
	}
	return w
}

// runeWidth approximates how many terminal columns r takes: 0 for
// combining marks and zero-width characters, 2 for East Asian wide and
// fullwidth characters and emoji, 1 otherwise.
func runeWidth(r rune) int {
	switch {
	case unicode.In(r, unicode.Mn, unicode.Me) || r == 0x200b || r == 0x200d || r == 0xfeff:
		return 0
	case r >= 0x1100 && r <= 0x115f, r >= 0x2e80 && r <= 0xa4cf && r != 0x303f,
		r >= 0xac00 && r <= 0xd7a3, r >= 0xf900 && r <= 0xfaff, r >= 0xfe30 && r <= 0xfe4f,
		r >= 0xff00 && r <= 0xff60, r >= 0xffe0 && r <= 0xffe6,
		r >= 0x1f300 && r <= 0x1f64f, r >= 0x1f900 && r <= 0x1f9ff,
		r >= 0x20000 && r <= 0x3fffd:
		return 2
	}
	return 1
}

// sanitize makes a stored string safe to print on a terminal. Stored
// fields come from model traffic, so they may hold escape sequences that
// move the cursor or rewrite the screen, or bidirectional overrides that
// make text read differently from what it is: control characters (C0, DEL,
// C1), bidi controls and invalid UTF-8 bytes are shown as Go escapes
// (\x1b, \u202e, \xff). Everything else, including every printable
// script, is kept.
func sanitize(s string) string { return escapeText(s, false) }

// sanitizeText is sanitize for multi-line text: newlines and tabs are
// kept.
func sanitizeText(s string) string { return escapeText(s, true) }

func escapeText(s string, keepLines bool) string {
	var b strings.Builder
	start := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var esc string
		switch {
		case r == utf8.RuneError && size == 1:
			esc = fmt.Sprintf("\\x%02x", s[i])
		case keepLines && (r == '\n' || r == '\t'):
		case unicode.IsControl(r) || isBidiControl(r):
			if r < 0x100 {
				esc = fmt.Sprintf("\\x%02x", r)
			} else {
				esc = fmt.Sprintf("\\u%04x", r)
			}
		}
		if esc != "" {
			b.WriteString(s[start:i])
			b.WriteString(esc)
			start = i + size
		}
		i += size
	}
	if start == 0 {
		return s
	}
	b.WriteString(s[start:])
	return b.String()
}

// isBidiControl reports whether r is a Unicode bidirectional formatting
// character (marks, embeddings, overrides, isolates).
func isBidiControl(r rune) bool {
	return r == 0x061c || r == 0x200e || r == 0x200f ||
		(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}
