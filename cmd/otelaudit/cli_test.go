package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

func TestQueryReadsReferenceStores(t *testing.T) {
	exp := loadExpected(t)
	for name, ds := range exp.Datasets {
		t.Run(name, func(t *testing.T) {
			dir := refDir(ds.Dir)

			r := runCLI(t, "query", "--dir", dir, "--format", "jsonl")
			require.Equal(t, 0, r.code, r.stderr)
			want := idsWhere(t, ds, func(refEntry) bool { return true })
			require.Len(t, want, ds.Count)
			assert.Equal(t, want, jsonlIDs(t, r.stdout), "all entries, oldest first")

			// Every printed line decodes to the same entry as the line the
			// reference wrote.
			byID := map[string]*storage.AuditEntry{}
			for line := range strings.Lines(r.stdout) {
				e, err := storage.ParseEntry([]byte(line))
				require.NoError(t, err)
				byID[e.ID] = e
			}
			for _, re := range ds.Entries {
				data, err := os.ReadFile(filepath.Join(dir, re.File))
				require.NoError(t, err)
				line := strings.Split(string(data), "\n")[re.Line-1]
				orig, err := storage.ParseEntry([]byte(line))
				require.NoError(t, err)
				assert.Equal(t, orig, byID[re.ID], "entry %s (%s:%d)", re.ID, re.File, re.Line)
			}

			r = runCLI(t, "query", "--dir", dir)
			require.Equal(t, 0, r.code, r.stderr)
			lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
			require.Len(t, lines, ds.Count+2, "header, one row per entry, total")
			assert.Regexp(t, `^ID\s+TIME \(UTC\)\s+PROVIDER\s+MODEL\s+TOKENS IN/OUT\s+LATENCY\s+SAFETY$`, lines[0])
			for i, id := range want {
				assert.True(t, strings.HasPrefix(lines[i+1], id+"  "), "row %d: %q", i+1, lines[i+1])
			}
			assert.Equal(t, "("+itoa(ds.Count)+" entries)", lines[len(lines)-1])
			for _, re := range ds.Entries {
				if re.InputContent != nil && re.Input != "" {
					assert.NotContains(t, r.stdout, *re.InputContent, "the table never shows content")
				}
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestQueryTableRow(t *testing.T) {
	r := runCLI(t, "query", "--dir", refDir("plaintext"), "--from", "2025-05-31T09:00:00Z", "--to", "2025-05-31T10:00:00Z")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	require.Len(t, lines, 3)
	// Entry 3 of audit_20250531.jsonl: provider ünïcödé, model 模型-1,
	// tokens 1/0, latency 1e+21, failed with three detectors.
	row := regexp.MustCompile(`\s{2,}`).Split(lines[1], -1)
	assert.Equal(t, []string{
		"08205156-e4f3-4016-bc39-e33561e94ca2", "2025-05-31T09:33:59.439Z", "ünïcödé", "模型-1",
		"1/0", "1e+21ms", "FAILED (prompt_injection,pii,self-harm)",
	}, row)
	assert.Equal(t, "(1 entry)", lines[2])
}

func TestQueryFilters(t *testing.T) {
	exp := loadExpected(t)
	pt := exp.Datasets["plaintext"]
	is := func(p *string, v string) bool { return p != nil && *p == v }
	at := func(s string) time.Time {
		ts, err := storage.ParseTimestamp(s)
		require.NoError(t, err)
		return ts
	}
	inRange := func(e refEntry, lo, hi string) bool {
		ts := at(e.Timestamp)
		return !ts.Before(at(lo)) && !ts.After(at(hi))
	}
	tests := []struct {
		name string
		args []string
		keep func(refEntry) bool
	}{
		{"model", []string{"--model", "gpt-4"}, func(e refEntry) bool { return is(e.Model, "gpt-4") }},
		{"model non-ASCII", []string{"--model", "模型-1"}, func(e refEntry) bool { return is(e.Model, "模型-1") }},
		{"provider", []string{"--provider", "azure"}, func(e refEntry) bool { return is(e.Provider, "azure") }},
		{"conversation", []string{"--conversation", "conv-002"}, func(e refEntry) bool { return is(e.ConversationID, "conv-002") }},
		{"from", []string{"--from", "2025-06-01T00:00:00Z"}, func(e refEntry) bool { return inRange(e, "2025-06-01T00:00:00Z", "9999-01-01T00:00:00Z") }},
		{"to", []string{"--to", "2025-05-31T10:15:54.560560Z"}, func(e refEntry) bool { return inRange(e, "1970-01-01T00:00:00Z", "2025-05-31T10:15:54.560560Z") }},
		{"from and to, inclusive", []string{"--from", "2025-05-31T06:38:21.152753Z", "--to", "2025-06-01T04:34:09Z"},
			func(e refEntry) bool { return inRange(e, "2025-05-31T06:38:21.152753Z", "2025-06-01T04:34:09Z") }},
		{"--to bare date means the whole day", []string{"--from", "2025-05-31", "--to", "2025-05-31"},
			func(e refEntry) bool { return strings.HasPrefix(e.Timestamp, "2025-05-31") }},
		{"offset in time", []string{"--to", "2025-06-01T01:00:00+02:00"}, func(e refEntry) bool { return inRange(e, "1970-01-01T00:00:00Z", "2025-05-31T23:00:00Z") }},
		{"filters combine", []string{"--provider", "openai", "--from", "2025-06-01"},
			func(e refEntry) bool { return is(e.Provider, "openai") && strings.HasPrefix(e.Timestamp, "2025-06-01") }},
		{"no match", []string{"--model", "no-such-model"}, func(refEntry) bool { return false }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"query", "--dir", refDir("plaintext"), "--format", "jsonl"}, tc.args...)
			r := runCLI(t, args...)
			require.Equal(t, 0, r.code, r.stderr)
			want := idsWhere(t, pt, tc.keep)
			if tc.name != "no match" {
				require.NotEmpty(t, want, "a filter test must select something")
				require.Less(t, len(want), pt.Count, "a filter test must leave something out")
			}
			assert.Equal(t, want, jsonlIDs(t, r.stdout))
		})
	}
}

func TestQueryTraceIDAndRelativeTime(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	traceA := "4bf92f3577b34da6a3ce929d0e0e4736"
	traceB := "00f067aa0ba902b700f067aa0ba902b7"
	var es []*storage.AuditEntry
	for i, tc := range []struct {
		trace string
		ago   time.Duration
	}{{traceA, 3 * time.Hour}, {traceB, 90 * time.Minute}, {traceA, 30 * time.Minute}, {"", 10 * time.Minute}} {
		es = append(es, &storage.AuditEntry{
			ID: "e" + itoa(i), Timestamp: now.Add(-tc.ago), TraceID: tc.trace, SpanID: "00f067aa0ba902b7",
			SafetyPassed: true, Model: ptr("m"), Provider: ptr("p"), LatencyMS: 10,
		})
	}
	writeStore(t, dir, es)

	r := runAt(t, now, "query", "--dir", dir, "--trace-id", traceA, "--format", "jsonl")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, []string{"e0", "e2"}, jsonlIDs(t, r.stdout))

	r = runAt(t, now, "query", "--dir", dir, "--trace-id", strings.ToUpper(traceB), "--format", "jsonl")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, []string{"e1"}, jsonlIDs(t, r.stdout), "trace ids compare case-insensitively")

	r = runAt(t, now, "query", "--dir", dir, "--from", "-1h", "--format", "jsonl")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, []string{"e2", "e3"}, jsonlIDs(t, r.stdout), "--from -1h is relative to now")

	r = runAt(t, now, "query", "--dir", dir, "--from", "-2h", "--to", "-20m", "--trace-id", traceA, "--format", "jsonl")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, []string{"e2"}, jsonlIDs(t, r.stdout))
}

func TestShowDecryptsReferenceContent(t *testing.T) {
	exp := loadExpected(t)
	ds := exp.Datasets["encrypted"]
	dir := refDir(ds.Dir)
	keyFile := privateCopy(t, filepath.Join(refRoot, exp.KeyFile))
	for _, re := range ds.Entries {
		t.Run(re.ID[:8], func(t *testing.T) {
			for _, how := range []struct {
				name string
				args []string
				env  map[string]string
			}{
				{"--key-file", []string{"show", "--dir", dir, re.ID, "--key-file", keyFile}, nil},
				{"--key before ID", []string{"show", "--key", exp.FernetKey, "--dir", dir, re.ID}, nil},
				{"OTELAUDIT_KEY", []string{"show", re.ID, "--dir", dir}, map[string]string{"OTELAUDIT_KEY": exp.FernetKey}},
				{"OTELAUDIT_KEY_FILE", []string{"show", re.ID, "--dir=" + dir}, map[string]string{"OTELAUDIT_KEY_FILE": keyFile}},
				{"ring with the key second", []string{"show", "--dir", dir, re.ID, "--key", mustKey(t) + "," + exp.FernetKey}, nil},
			} {
				t.Run(how.name, func(t *testing.T) {
					for k, v := range how.env {
						t.Setenv(k, v)
					}
					r := runCLI(t, how.args...)
					require.Equal(t, 0, r.code, r.stderr)
					assert.Contains(t, r.stdout, "id:                  "+re.ID+"\n")
					assert.Contains(t, r.stdout, "input_content:       decrypted\n")
					assert.Regexp(t, `input_hash:\s+[0-9a-f]{64} \(matches content\)`, r.stdout)
					assert.Regexp(t, `output_hash:\s+[0-9a-f]{64} \(matches content\)`, r.stdout)
					assertShowsText(t, r.stdout, "input", re.Input)
					assertShowsText(t, r.stdout, "output", re.Output)
					assert.NotContains(t, r.stdout+r.stderr, exp.FernetKey, "a key is never printed")
				})
			}
		})
	}
}

// assertShowsText checks that show printed content as text: exactly, or
// with control characters escaped when it holds any.
func assertShowsText(t *testing.T, out, section, text string) {
	t.Helper()
	head := "\n--- " + section + " (decrypted, " + itoa(len(text)) + " bytes) ---\n"
	i := strings.Index(out, head)
	require.GreaterOrEqual(t, i, 0, "no %s section", section)
	body := out[i+len(head):]
	if strings.ContainsAny(text, "\x00\x01\x08\x0c\r\x1f\x7f") {
		// The reference texts with control characters, escaped.
		for _, want := range []string{
			`Control chars: \x00 NUL \x01 \x1f \x7f DEL and line sep ` + "\u2028",
			"JSON specials: \"double\" \\backslash\\ /slash/ \t tab \n newline \\x0d CR \\x08 \\x0c",
		} {
			if strings.HasPrefix(body, want) {
				return
			}
		}
		t.Fatalf("%s: control characters not escaped as expected: %q", section, body[:min(len(body), 80)])
	}
	assert.True(t, strings.HasPrefix(body, text+"\n"), "%s: want %q, got %q", section, text, body[:min(len(body), len(text)+10)])
}

func mustKey(t testing.TB) string {
	k, err := otelaudit.GenerateKey()
	require.NoError(t, err)
	return k
}

func TestShowContentAsStored(t *testing.T) {
	exp := loadExpected(t)
	t.Setenv("OTELAUDIT_KEY", "")
	t.Setenv("OTELAUDIT_KEY_FILE", "")
	enc := exp.Datasets["encrypted"].Entries[0]
	r := runCLI(t, "show", "--dir", refDir("encrypted"), enc.ID)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "input_content:       encrypted (give --key, --key-file or OTELAUDIT_KEY to decrypt)\n")
	assert.NotContains(t, r.stdout, enc.Input)
	assert.NotContains(t, r.stdout, "---", "no content section without a key")

	ho := exp.Datasets["hashonly"].Entries[0]
	r = runCLI(t, "show", "--dir", refDir("hashonly"), ho.ID)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "input_content:       not stored (hash only)\n")

	pt := exp.Datasets["plaintext"].Entries[3] // gpt-4, plain ASCII text
	r = runCLI(t, "show", "--dir", refDir("plaintext"), pt.ID, "--key", exp.FernetKey)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "input_content:       plaintext\n")
	assert.Contains(t, r.stdout, "\n--- input (plaintext, "+itoa(len(pt.Input))+" bytes) ---\n"+pt.Input+"\n")
	assert.Contains(t, r.stdout, "model:               gpt-4\n")
	assert.Contains(t, r.stdout, "output_tokens:       17\n")
	assert.Contains(t, r.stdout, "input_tokens:        -\n")
}

func TestShowRefusesWrongKey(t *testing.T) {
	exp := loadExpected(t)
	id := exp.Datasets["encrypted"].Entries[1].ID
	other := mustKey(t)
	otherFile := filepath.Join(t.TempDir(), "other.key")
	require.NoError(t, os.WriteFile(otherFile, []byte("# not the store's key\n"+other+"\n"), 0o600))

	for _, tc := range []struct {
		name string
		args []string
		env  string
		code int
		msg  string
	}{
		{"--key", []string{"--key", other}, "", 1, "cannot decrypt"},
		{"--key-file", []string{"--key-file", otherFile}, "", 1, "cannot decrypt"},
		{"OTELAUDIT_KEY", nil, other, 1, "cannot decrypt"},
		{"malformed --key", []string{"--key", "c2VjcmV0LW5vdC1hLWtleQ"}, "", 2, "not a 32-byte Fernet key"},
		{"malformed env key", nil, "c2VjcmV0LW5vdC1hLWtleQ", 2, "not a 32-byte Fernet key"},
		{"missing key file", []string{"--key-file", filepath.Join(t.TempDir(), "nope")}, "", 2, "read key file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("OTELAUDIT_KEY", tc.env)
			t.Setenv("OTELAUDIT_KEY_FILE", "")
			r := runCLI(t, append([]string{"show", "--dir", refDir("encrypted"), id}, tc.args...)...)
			assert.Equal(t, tc.code, r.code)
			assert.Empty(t, r.stdout, "nothing is shown with a bad key")
			assert.Contains(t, r.stderr, tc.msg)
			for _, secret := range []string{other, "c2VjcmV0LW5vdC1hLWtleQ", exp.FernetKey} {
				assert.NotContains(t, r.stderr, secret, "keys never appear in errors")
			}
		})
	}
}

// privateCopy copies a fixture key file into a 0600 file: checked-out
// fixtures are 0644, which show refuses.
func privateCopy(t *testing.T, src string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(p, data, 0o600))
	return p
}

func TestShowRefusesKeyFileOthersCanRead(t *testing.T) {
	exp := loadExpected(t)
	re := exp.Datasets["encrypted"].Entries[0]
	keyFile := privateCopy(t, filepath.Join(refRoot, exp.KeyFile))
	require.NoError(t, os.Chmod(keyFile, 0o644))
	t.Setenv("OTELAUDIT_KEY", "")
	t.Setenv("OTELAUDIT_KEY_FILE", "")
	for _, args := range [][]string{
		{"show", "--dir", refDir("encrypted"), re.ID, "--key-file", keyFile},
		{"show", "--dir", refDir("encrypted"), re.ID},
	} {
		if len(args) == 4 {
			t.Setenv("OTELAUDIT_KEY_FILE", keyFile)
		}
		r := runCLI(t, args...)
		assert.Equal(t, 2, r.code)
		assert.Empty(t, r.stdout)
		assert.Contains(t, r.stderr, keyFile+" has mode 0644")
		assert.Contains(t, r.stderr, "allow it explicitly (--allow-insecure-key-file)", "the error names the flag that allows it")
		assert.NotContains(t, r.stderr, exp.FernetKey)
	}
	r := runCLI(t, "show", "--dir", refDir("encrypted"), re.ID, "--key-file", keyFile, "--allow-insecure-key-file")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "input_content:       decrypted\n")
	assert.Contains(t, r.stderr, "0644", "a warning names the mode")
}

// TestKeyErrorsNameTheSource: a key that cannot be used is reported with
// where it came from (the flag, the variable, the file; never the key), and
// without the library's "otelaudit: " prefix after the CLI's own
// "otelaudit CMD: ".
func TestKeyErrorsNameTheSource(t *testing.T) {
	id := loadExpected(t).Datasets["encrypted"].Entries[0].ID
	const bad = "c2VjcmV0LW5vdC1hLWtleQ" // base64, but not a 32-byte key
	dir := t.TempDir()
	keyFile := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		require.NoError(t, os.Chmod(p, mode))
		return p
	}
	badFile := keyFile("bad.key", bad+"\n", 0o600)
	emptyFile := keyFile("empty.key", "# nothing\n", 0o600)
	openFile := keyFile("open.key", mustKey(t)+"\n", 0o644)
	missing := filepath.Join(dir, "missing.key")
	const notFernet = "invalid key: key 1 of 1 is not a 32-byte Fernet key in base64 or hex"
	show := []string{"show", "--dir", refDir("encrypted"), id}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string // the first line of stderr
	}{
		{"--key", append(show, "--key", bad), nil, "otelaudit show: --key: " + notFernet},
		{"OTELAUDIT_KEY", show, map[string]string{"OTELAUDIT_KEY": bad}, "otelaudit show: OTELAUDIT_KEY: " + notFernet},
		{"--key-file", append(show, "--key-file", badFile), nil, "otelaudit show: key file " + badFile + " (--key-file): " + notFernet},
		{"OTELAUDIT_KEY_FILE", show, map[string]string{"OTELAUDIT_KEY_FILE": badFile},
			"otelaudit show: key file " + badFile + " (OTELAUDIT_KEY_FILE): " + notFernet},
		{"empty --key-file", append(show, "--key-file", emptyFile), nil,
			"otelaudit show: --key-file: key file " + emptyFile + ": invalid key: no key found"},
		{"open --key-file", append(show, "--key-file", openFile), nil,
			"otelaudit show: --key-file: key file is accessible to group or others: " + openFile + " has mode 0644; run chmod 600 " +
				openFile + ", or allow it explicitly (--allow-insecure-key-file)"},
		{"missing OTELAUDIT_KEY_FILE", show, map[string]string{"OTELAUDIT_KEY_FILE": missing},
			"otelaudit show: OTELAUDIT_KEY_FILE: read key file: open " + missing + ": no such file or directory"},
		{"empty --checkpoint-key-file", []string{"verify", "--dir", refDir("encrypted"), "--checkpoint-key-file", emptyFile}, nil,
			"otelaudit verify: checkpoint key file: invalid key: key file " + emptyFile + " holds no key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range []string{"OTELAUDIT_KEY", "OTELAUDIT_KEY_FILE", "OTELAUDIT_KEY_SECRET"} {
				t.Setenv(v, tc.env[v])
			}
			r := runCLI(t, tc.args...)
			assert.Equal(t, 2, r.code)
			assert.Empty(t, r.stdout)
			first, _, _ := strings.Cut(r.stderr, "\n")
			assert.Equal(t, tc.want, first)
			assert.NotContains(t, r.stderr, bad, "keys never appear in errors")
		})
	}
}

func TestShowNotFound(t *testing.T) {
	r := runCLI(t, "show", "--dir", refDir("plaintext"), "00000000-0000-0000-0000-000000000000")
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, `no entry with id "00000000-0000-0000-0000-000000000000"`)
}

func TestOutputEscapesControlCharacters(t *testing.T) {
	dir := t.TempDir()
	evil := "gpt\x1b[2J\x1b]0;pwned\x07-\u202emodel\r"
	writeStore(t, dir, []*storage.AuditEntry{{
		ID: "e1", Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), SafetyPassed: false,
		Model: ptr(evil), Provider: ptr("p"), DetectorsTriggered: []string{"x\x1by"},
		InputContent: ptr("line1\nline2\x1b[31m\ttab\r"), InputHash: otelaudit.HashContent("line1\nline2\x1b[31m\ttab\r"),
	}})
	for _, args := range [][]string{
		{"query", "--dir", dir},
		{"show", "--dir", dir, "e1"},
		{"stats", "--dir", dir},
	} {
		r := runCLI(t, args...)
		require.Equal(t, 0, r.code, r.stderr)
		assert.NotContains(t, r.stdout, "\x1b", "%v: raw ESC reached the terminal", args)
		assert.NotContains(t, r.stdout, "\r", "%v", args)
		assert.NotContains(t, r.stdout, "\u202e", "%v", args)
		assert.Contains(t, r.stdout, `gpt\x1b[2J`, "%v", args)
	}
	r := runCLI(t, "show", "--dir", dir, "e1")
	assert.Contains(t, r.stdout, "line1\nline2\\x1b[31m\ttab\\x0d\n")
	r = runCLI(t, "show", "--dir", dir, "e1", "--raw")
	assert.Contains(t, r.stdout, "line1\nline2\x1b[31m\ttab\r\n", "--raw prints content byte for byte")
}

func TestCount(t *testing.T) {
	exp := loadExpected(t)
	for name, ds := range exp.Datasets {
		r := runCLI(t, "count", "--dir", refDir(ds.Dir))
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, itoa(ds.Count)+"\n", r.stdout, name)
	}
}

func TestStats(t *testing.T) {
	// Figures computed by hand from expected.json's plaintext dataset.
	r := runCLI(t, "stats", "--dir", refDir("plaintext"))
	require.Equal(t, 0, r.code, r.stderr)
	out := r.stdout
	assert.Contains(t, out, "Total entries:      10 in store, 10 in range\n")
	assert.Contains(t, out, "First / last entry: 2025-05-31T00:00:00Z / 2025-06-01T23:59:59Z\n")
	// 48 hours from 2025-05-31T00 to 2025-06-01T23; all 10 entries in
	// distinct hours.
	assert.Contains(t, out, "  mean per hour:    0.2 over 48 hours (10 with entries)\n")
	assert.Contains(t, out, "  failures:         2 of 10 (20.00%)\n")
	assert.Regexp(t, `(?m)^  pii\s+1\s+1$`, out)
	assert.Regexp(t, `(?m)^  toxicity\s+1\s+1$`, out)
	// Sorted latencies: 0, 1e-7, 0.3, 0.3, 5, 42, 123.456, 250.5,
	// 99999.999, 1e21: nearest rank p50 = 5th, p95 = p99 = 10th.
	assert.Contains(t, out, "  p50: 5.00  p95: 1e+21  p99: 1e+21  max: 1e+21\n")
	// gpt-4: two entries, input tokens unknown in both, output 17+17.
	assert.Regexp(t, `(?m)^  gpt-4\s+2\s+0\s+34 2/0$`, out)
	// gpt-4o-2024-05-13: 2147483648*2 input, 1+1 output.
	assert.Regexp(t, `(?m)^  gpt-4o-2024-05-13\s+2\s+4294967296\s+2 0/0$`, out)
	// no model: three entries (local x2, null provider), 2^40+17+2^40 in.
	assert.Regexp(t, `(?m)^  \(none\)\s+3\s+2199023255569\s+1099511627776 0/2$`, out)

	r = runCLI(t, "stats", "--dir", refDir("plaintext"), "--from", "2025-06-01", "--to", "2025-06-01T23:59:59.999999Z")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Total entries:      10 in store, 5 in range\n")
	assert.Contains(t, r.stdout, "  last hour:        1 (2025-06-01T22:59:59Z .. 2025-06-01T23:59:59Z)\n")
	assert.Contains(t, r.stdout, "  failures:         1 of 5 (20.00%)\n")
}

func TestCleanup(t *testing.T) {
	dir := copyDir(t, refDir("plaintext"))
	// Now is 2025-06-11T12:00Z: 10 days of retention keep entries at or
	// after 2025-06-01T12:00Z.
	now := time.Date(2025, 6, 11, 12, 0, 0, 0, time.UTC)

	r := runAt(t, now, "cleanup", "--dir", dir, "--retention-days", "10", "--dry-run")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "  2025-05-31  would remove 5 entries\n")
	assert.Contains(t, r.stdout, "  2025-06-01  would remove 2 entries\n")
	assert.Contains(t, r.stdout, "Dry run: would remove 7 entries in 2 days; nothing deleted\n")
	assert.Equal(t, "10\n", runCLI(t, "count", "--dir", dir).stdout)

	r = runAt(t, now, "cleanup", "--dir", dir, "--retention-days", "10")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Removed 7 entries in 2 days\n")
	assert.Equal(t, "3\n", runCLI(t, "count", "--dir", dir).stdout)
	q := runCLI(t, "query", "--dir", dir, "--format", "jsonl")
	assert.Equal(t, []string{"a0415f99-ce7b-45c6-ac49-ab52e5e82948", "545611bc-0003-400a-b416-1f13b044d4c4", "5a07de6c-7c53-4c8f-ae09-29e681b52362"}, jsonlIDs(t, q.stdout))
}

func TestKeygen(t *testing.T) {
	a, b := runCLI(t, "keygen"), runCLI(t, "keygen")
	require.Equal(t, 0, a.code, a.stderr)
	require.Equal(t, 0, b.code, b.stderr)
	assert.Regexp(t, `^[A-Za-z0-9_-]{43}=\n$`, a.stdout)
	assert.NotEqual(t, a.stdout, b.stdout)
	_, err := otelaudit.NewEncryptionManager(strings.TrimSpace(a.stdout))
	assert.NoError(t, err, "keygen prints a usable key")
}

func TestUsageErrors(t *testing.T) {
	dir := refDir("plaintext")
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"no command", nil, "Usage:"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", []string{"query", "--dir", dir, "--colour"}, "flag provided but not defined: -colour"},
		{"no store", []string{"query"}, "no store given"},
		{"bad format", []string{"query", "--dir", dir, "--format", "csv"}, `--format "csv"`},
		{"bad --from", []string{"query", "--dir", dir, "--from", "yesterday"}, `--from "yesterday"`},
		{"bad relative time", []string{"query", "--dir", dir, "--to", "-1y"}, `--to "-1y"`},
		{"from after to", []string{"query", "--dir", dir, "--from", "2025-06-02", "--to", "2025-06-01"}, "is after --to"},
		{"query takes no args", []string{"query", "--dir", dir, "extra"}, `unexpected argument "extra"`},
		{"show without id", []string{"show", "--dir", dir}, "missing entry ID"},
		{"show two ids", []string{"show", "--dir", dir, "a", "b"}, "want one entry ID"},
		{"show two key sources", []string{"show", "--dir", dir, "a", "--key", "k", "--key-file", "f"}, "not both"},
		{"count missing value", []string{"count", "--dir"}, "flag needs an argument"},
		{"cleanup without retention", []string{"cleanup", "--dir", dir}, "--retention-days N is required"},
		{"cleanup zero days", []string{"cleanup", "--dir", dir, "--retention-days", "0"}, "--retention-days must be"},
		{"cleanup bad days", []string{"cleanup", "--dir", dir, "--retention-days", "ten"}, "invalid value"},
		{"keygen extra", []string{"keygen", "now"}, `unexpected argument "now"`},
		{"missing dir", []string{"count", "--dir", filepath.Join(t.TempDir(), "absent")}, "does not exist"},
		{"dir is a file", []string{"count", "--dir", filepath.Join(refRoot, "expected.json")}, "not a directory"},
		{"bad trace id", []string{"query", "--dir", dir, "--trace-id", "xyz"}, `--trace-id "xyz": want 32 hex digits`},
		{"stats bad --to", []string{"stats", "--dir", dir, "--to", "2025-13-01"}, `--to "2025-13-01"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.args...)
			assert.Equal(t, 2, r.code)
			assert.Empty(t, r.stdout)
			assert.Contains(t, r.stderr, tc.msg)
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		r := runCLI(t, args...)
		require.Equal(t, 0, r.code)
		assert.Contains(t, r.stdout, "Exit status:")
		for _, c := range commands {
			assert.Regexp(t, `(?m)^  `+c.name+`\s+\S`, r.stdout)
		}
	}
	for _, c := range commands {
		for _, args := range [][]string{{c.name, "--help"}, {c.name, "-h"}, {"help", c.name}} {
			r := runCLI(t, args...)
			require.Equal(t, 0, r.code, "%v", args)
			assert.True(t, strings.HasPrefix(r.stdout, "Usage: otelaudit "+c.name), "%v: %q", args, r.stdout)
			assert.Contains(t, r.stdout, "Example")
			assert.Contains(t, r.stdout, "\nFlags:\n")
			assert.Empty(t, r.stderr)
		}
	}
	r := runCLI(t, "query", "--help")
	assert.Contains(t, r.stdout, "  --dir DIR ")
	assert.Contains(t, r.stdout, "  --format FORMAT ")
	assert.Contains(t, r.stdout, "(default table)")
}

// TestHelpNamesStoreCommands: the top-level help lists, after "--dir DIR"
// and "--s3-bucket", exactly the commands whose own help has that flag.
func TestHelpNamesStoreCommands(t *testing.T) {
	top := runCLI(t, "--help").stdout
	m := regexp.MustCompile(`an S3 store \(([^)]*)\)`).FindStringSubmatch(top)
	require.NotNil(t, m, top)
	listed := strings.Split(m[1], ", ")
	var want []string
	for _, c := range commands {
		if strings.Contains(runCLI(t, c.name, "--help").stdout, "\n  --s3-bucket BUCKET ") {
			want = append(want, c.name)
		}
	}
	assert.ElementsMatch(t, want, listed, "S3 commands in the top-level help")
}

func TestBrokenLinesAreSkippedAndReported(t *testing.T) {
	dir := copyDir(t, refDir("plaintext"))
	path := filepath.Join(dir, "audit_20250531.jsonl")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.SplitAfter(string(data), "\n")
	// A line that is not JSON between entries 2 and 3, holding "secret"
	// text that must not be echoed.
	broken := strings.Join(lines[:2], "") + "{not json: top secret prompt\n" + strings.Join(lines[2:], "")
	require.NoError(t, os.WriteFile(path, []byte(broken), 0o600))

	for _, cmd := range []string{"query", "stats"} {
		r := runCLI(t, cmd, "--dir", dir)
		require.Equal(t, 0, r.code, "%s: the valid entries were read: %s", cmd, r.stderr)
		assert.Contains(t, r.stderr, "otelaudit "+cmd+": warning: skipped 1 line(s)", cmd)
		assert.Contains(t, r.stderr, "audit_20250531.jsonl", "%s: the warning names the file", cmd)
		assert.NotContains(t, r.stderr+r.stdout, "top secret", cmd)
	}
	r := runCLI(t, "count", "--dir", dir)
	assert.Equal(t, "10\n", r.stdout)
}

func TestReadersWorkNextToALiveWriter(t *testing.T) {
	dir := t.TempDir()
	w, err := filestore.New(dir)
	require.NoError(t, err)
	defer w.Close()
	base := time.Date(2026, 2, 3, 4, 0, 0, 0, time.UTC)
	for i := range 5 {
		require.NoError(t, w.Write(t.Context(), &storage.AuditEntry{
			ID: "live-" + itoa(i), Timestamp: base.Add(time.Duration(i) * time.Minute), SafetyPassed: true,
			Model: ptr("m"), InputHash: otelaudit.HashContent("x"), OutputHash: otelaudit.HashContent("y"),
		}))
	}
	r := runCLI(t, "query", "--dir", dir, "--format", "jsonl")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, []string{"live-0", "live-1", "live-2", "live-3", "live-4"}, jsonlIDs(t, r.stdout))
	r = runCLI(t, "show", "--dir", dir, "live-3")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `chain:\s+writer \S+ seq 4 prev [0-9a-f]{64} hash [0-9a-f]{64}`, r.stdout)

	// cleanup needs the write lock the live writer holds.
	r = runCLI(t, "cleanup", "--dir", dir, "--retention-days", "1")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "locked by another writer")
	// A dry run only reads.
	r = runAt(t, base.Add(48*time.Hour), "cleanup", "--dir", dir, "--retention-days", "1", "--dry-run")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "would remove 5 entries")
}

func TestInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	c := &cli{stdout: &stdout, stderr: &stderr, now: time.Now}
	code := c.main(ctx, []string{"query", "--dir", refDir("plaintext")})
	assert.Equal(t, exitInterrupted, code)
	assert.Contains(t, stderr.String(), "otelaudit query: interrupted")
}

func TestFlagsAnywhere(t *testing.T) {
	exp := loadExpected(t)
	id := exp.Datasets["plaintext"].Entries[0].ID
	dir := refDir("plaintext")
	for _, args := range [][]string{
		{"show", "--dir", dir, id},
		{"show", id, "--dir", dir},
		{"show", "-dir", dir, id},
		{"show", "--dir=" + dir, id},
		{"show", "--dir", dir, "--", id},
	} {
		r := runCLI(t, args...)
		require.Equal(t, 0, r.code, "%v: %s", args, r.stderr)
		assert.Contains(t, r.stdout, "id:                  "+id+"\n", "%v", args)
	}
	// After "--" everything is an argument, even what looks like a flag.
	r := runCLI(t, "show", "--dir", dir, "--", "--key")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `no entry with id "--key"`)
}

func TestCleanupLeavesANonStoreDirectoryAlone(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an audit store"), 0o600))
	r := runCLI(t, "cleanup", "--dir", dir, "--retention-days", "30")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "holds no audit store")
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, des, 1, "cleanup created nothing in a directory without a store")
}

// TestReadingANonStoreDirectoryWarns: query, count and stats of a
// directory that holds no store (a wrong --dir) still answer 0, but say on
// stderr that there is no store there; a real store, even one without
// entries in range, gets no such warning.
func TestReadingANonStoreDirectoryWarns(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an audit store"), 0o600))
	for _, cmd := range []string{"query", "count", "stats"} {
		r := runCLI(t, cmd, "--dir", dir)
		assert.Equal(t, 0, r.code, "%s: %s", cmd, r.stderr)
		assert.Contains(t, r.stderr, "otelaudit "+cmd+": warning: "+dir+" holds no audit store", cmd)
		r = runCLI(t, cmd, "--dir", refDir("plaintext"), "--from", "2000-01-01", "--to", "2000-01-02")
		if cmd == "count" {
			r = runCLI(t, cmd, "--dir", refDir("plaintext"))
		}
		assert.Equal(t, 0, r.code, "%s: %s", cmd, r.stderr)
		assert.NotContains(t, r.stderr, "holds no audit store", cmd)
	}
	r := runCLI(t, "show", "--dir", dir, "01a2349d-8ffb-759a-a548-2e5735fcc4a7")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, dir+": it holds no audit store")
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, des, 1, "reading created nothing")
}

// TestLatencyText: no non-zero latency is shown as 0.0ms (the demo's
// blocked call took 0.03 ms and read "0.0ms" beside "0.00284ms" for a
// faster one).
func TestLatencyText(t *testing.T) {
	for ms, want := range map[float64]string{
		0: "0.0ms", 0.00284: "0.00284ms", 0.03: "0.03ms", 0.0499: "0.0499ms", 0.05: "0.1ms",
		12.329: "12.3ms", 999.0: "999.0ms", 2.5e6: "2.5e+06ms",
	} {
		assert.Equal(t, want, latencyText(ms), "%v", ms)
	}
}
