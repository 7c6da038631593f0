package storage

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

// FuzzParseEntry feeds arbitrary lines to the entry line parser (what the
// file backend runs on every stored line). It must never panic; a line it
// accepts must encode again, and that encoding must parse to the same entry
// and encode to the same bytes (the wire form is a fixed point). The chain
// split used by verification must agree with the encoder too.
// Seeds: every reference line (testdata/fuzz/FuzzParseEntry) plus the lines
// below.
func FuzzParseEntry(f *testing.F) {
	ts := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	e := &AuditEntry{ID: NewEntryID(), Timestamp: ts, InputHash: "a", OutputHash: "b", Metadata: map[string]any{"k": "v"}}
	c := NewChainer("0123456789abcdef")
	b, _ := e.AppendPrefix(nil)
	f.Add(c.AppendLine(nil, b))
	f.Add([]byte(`{"id":"x","timestamp":"2024-02-28T19:30:40","extra":{"chain":{"w":"a"}},"chain":{"w":"a","n":1,"p":"","h":"b"}}`))
	f.Add([]byte(`{"id":"x","timestamp":"2024-02-28","metadata":{"n":1e400,"s":"\ud800"}}`))
	f.Add([]byte(`{"id":"x","timestamp":"0000-01-01T00:00:00+01:00"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		prefix, ch, ok := SplitChain(line)
		if ok && (len(prefix) > len(line) || ch.Writer == "" && !bytes.Contains(line, []byte(`"w":""`))) {
			t.Fatalf("splitChain returned an inconsistent result")
		}
		e, err := ParseEntry(line)
		checkDecoder(t, line, e, err)
		if err != nil {
			return
		}
		if d, ok := EncodedDay(line); ok && d != e.Timestamp.UTC().Format(time.DateOnly) {
			t.Fatalf("EncodedDay says %s, ParseEntry %v", d, e.Timestamp)
		}
		if id, ts, ok := EncodedKey(line); ok && (string(id) != e.ID || !ts.Equal(e.Timestamp)) {
			t.Fatalf("EncodedKey says %q %v, ParseEntry %q %v", id, ts, e.ID, e.Timestamp)
		}
		enc, err := e.AppendJSON(nil)
		if err != nil {
			t.Fatalf("accepted line does not encode: %v", err)
		}
		again, err := ParseEntry(enc)
		if err != nil {
			t.Fatalf("own encoding does not parse: %v\n%s", err, enc)
		}
		if !reflect.DeepEqual(e, again) {
			t.Fatalf("round trip changed the entry:\n%#v\n%#v", e, again)
		}
		enc2, err := again.AppendJSON(nil)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not a fixed point:\n%s\n%s", enc, enc2)
		}
		if e.Chain != nil {
			p, c2, ok := SplitChain(enc)
			if !ok || c2 != *e.Chain {
				if !bytes.ContainsAny([]byte(e.Chain.Writer+e.Chain.Prev+e.Chain.Hash), "\"\\\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\u2028\u2029") && validUTF8All(e.Chain) {
					t.Fatalf("splitChain disagrees with the encoder: %+v vs %+v", c2, e.Chain)
				}
			} else if !bytes.HasPrefix(enc, p) {
				t.Fatalf("chain prefix is not a prefix")
			}
		}
	})
}

// fuzzDecoder is reused across FuzzParseEntry's inputs (run one after the
// other in a process), so that each input is decoded after others, as in
// a scan, sharing strings with them.
var fuzzDecoder Decoder

// checkDecoder: a Decoder accepts and rejects line exactly as ParseEntry
// did (want, wantErr), with the same error, and its entry does not share
// the memory of the buffer it was decoded from.
func checkDecoder(t *testing.T, line []byte, want *AuditEntry, wantErr error) {
	t.Helper()
	buf := bytes.Clone(line)
	got, err := fuzzDecoder.Decode(buf)
	for i := range buf {
		buf[i] = 0xff
	}
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("Decoder: %v; ParseEntry: %v", err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("Decoder and ParseEntry disagree:\n%#v\n%#v", got, want)
	}
}

func validUTF8All(c *Chain) bool {
	return bytes.Equal([]byte(c.Writer), bytes.ToValidUTF8([]byte(c.Writer), nil)) &&
		bytes.Equal([]byte(c.Prev), bytes.ToValidUTF8([]byte(c.Prev), nil)) &&
		bytes.Equal([]byte(c.Hash), bytes.ToValidUTF8([]byte(c.Hash), nil))
}

// FuzzParseTimestamp: the fast path for the written form agrees with
// ParseTimestamp (time.Parse) on every input: same instant, and an error
// exactly when ParseTimestamp gives one.
func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{
		"2025-01-01T23:15:25.200000000Z", "2024-02-29T00:00:00.000000000Z", "2023-02-29T00:00:00.000000000Z",
		"2100-02-29T00:00:00.000000000Z", "2000-02-29T12:00:00.000000001Z", "0000-01-01T00:00:00.000000000Z",
		"9999-12-31T23:59:59.999999999Z", "2025-04-31T00:00:00.000000000Z", "2025-01-01T24:00:00.000000000Z",
		"2025-01-01T23:60:00.000000000Z", "2025-01-01T23:59:60.000000000Z", "2025-00-01T00:00:00.000000000Z",
		"2025-13-01T00:00:00.000000000Z", "2025-01-00T00:00:00.000000000Z", "2025-01-01T00:00:00.00000000+Z",
		"2025-01-01T00:00:00.-00000000Z", "2025-01-01T00:00:00Z", "2025-01-01",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, gerr := parseTimestamp(s)
		want, werr := ParseTimestamp(s)
		if (gerr == nil) != (werr == nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: fast path %v, %v; ParseTimestamp %v, %v", s, got, gerr, want, werr)
		}
	})
}
