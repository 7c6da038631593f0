package storage

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/otelaudit/otelaudit-go/internal/jsontext"
)

// chainTestPrefix returns the prefix of a small entry (seq picks its id).
func chainTestPrefix(t testing.TB, seq int) []byte {
	t.Helper()
	model := "gpt-test"
	e := &AuditEntry{ID: "0190a000-0000-7000-8000-" + strings.Repeat("0", 11) + string(rune('a'+seq%26)),
		Timestamp: time.Date(2025, 9, 10, 1, 2, 3, seq, time.UTC), InputHash: strings.Repeat("a", 64),
		OutputHash: strings.Repeat("b", 64), Model: &model, SafetyPassed: true, LatencyMS: 12.5}
	p, err := e.AppendPrefix(nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// appendLineV1 is what Chainer.AppendLine wrote before chain format 2:
// the format-1 chain key, hashing the whole prefix at the position.
// Tests only: nothing writes format 1 any more.
func appendLineV1(c *Chainer, dst, prefix []byte) []byte {
	c.seq++
	var h ChainHasher
	hsh := string(h.digestV1(c.writer, c.seq, c.head, prefix))
	dst = append(dst, prefix...)
	dst = appendChain(dst, Chain{Writer: c.writer, Seq: c.seq, Prev: c.head, Hash: hsh})
	c.head = hsh
	return append(dst, '}')
}

// verifies reports whether a stored line (without '\n') passes the
// per-line check every verifier makes: a well-formed chain key whose hash
// matches the bytes.
func verifies(line []byte) bool {
	prefix, c, ok := SplitChain(line)
	if !ok {
		return false
	}
	var h ChainHasher
	return h.Matches(prefix, c)
}

// TestChainFormats: lines of both formats verify, say their format, and
// fail when any byte of the prefix or a field the hash covers changes, or
// when a line claims the other format than its hash was made in.
func TestChainFormats(t *testing.T) {
	ch := NewChainer("0123456789abcdef")
	ch.AppendLine(nil, chainTestPrefix(t, 0)) // a prev to cover
	v2 := bytes.TrimSuffix(ch.AppendLine(nil, chainTestPrefix(t, 1)), []byte("\n"))
	c1 := NewChainer("0123456789abcdef")
	appendLineV1(&c1, nil, chainTestPrefix(t, 0))
	v1 := appendLineV1(&c1, nil, chainTestPrefix(t, 1))

	if !bytes.Contains(v2, []byte(`,"chain":{"v":2,"w":"0123456789abcdef","n":2,"p":"`)) {
		t.Fatalf("format 2 line does not say its format: %s", v2)
	}
	if bytes.Contains(v1, []byte(`"v":`)) {
		t.Fatalf("format 1 line has a v: %s", v1)
	}
	for _, tc := range []struct {
		name    string
		line    []byte
		version int
	}{{"v1", v1, 0}, {"v2", v2, ChainVersion}} {
		_, c, ok := SplitChain(tc.line)
		if !ok || c.Version != tc.version || c.Seq != 2 || c.Prev == "" {
			t.Fatalf("%s: SplitChain = %+v, %v", tc.name, c, ok)
		}
		if !verifies(tc.line) {
			t.Fatalf("%s: intact line does not verify", tc.name)
		}
		e, err := ParseEntry(tc.line)
		if err != nil || *e.Chain != c {
			t.Fatalf("%s: ParseEntry chain %+v, %v; SplitChain %+v", tc.name, e.Chain, err, c)
		}
		if enc, err := e.AppendJSON(nil); err != nil || !bytes.Equal(enc, tc.line) {
			t.Fatalf("%s: decoded entry encodes to\n%s\nnot\n%s (%v)", tc.name, enc, tc.line, err)
		}
		// Every single-byte change fails: the hash covers the prefix and
		// the position, and the chain object has one accepted form.
		for i := range tc.line {
			for _, x := range []byte{1, 0x20} {
				b := bytes.Clone(tc.line)
				b[i] ^= x
				if verifies(b) {
					t.Fatalf("%s: byte %d (%q) ^ %#x still verifies", tc.name, i, tc.line[i], x)
				}
			}
		}
	}

	edit := func(line []byte, old, new string) []byte {
		if !bytes.Contains(line, []byte(old)) {
			t.Fatalf("%q not in %s", old, line)
		}
		return bytes.Replace(bytes.Clone(line), []byte(old), []byte(new), 1)
	}
	_, c2, _ := SplitChain(v2)
	_, c1c, _ := SplitChain(v1)
	rechain := func(prefix []byte, c Chain) []byte { return append(appendChain(bytes.Clone(prefix), c), '}') }
	p2, _, _ := SplitChain(v2)
	var h ChainHasher
	v1Hash := string(h.digestV1(c2.Writer, c2.Seq, c2.Prev, p2))
	d := PrefixDigest(p2)
	v2Hash := string(h.digestV2(c2.Writer, c2.Seq, c2.Prev, &d))
	for _, tc := range []struct {
		name string
		line []byte
	}{
		{"v2: changed byte inside the prefix", edit(v2, `"latency_ms":12.5`, `"latency_ms":12.6`)},
		{"v2: byte appended to the prefix", edit(v2, `,"chain":{`, ` ,"chain":{`)},
		{"v2: other writer", edit(v2, `"w":"0123456789abcdef"`, `"w":"0123456789abcdee"`)},
		{"v2: other seq", edit(v2, `"n":2`, `"n":3`)},
		{"v2: seq with a leading zero", edit(v2, `"n":2`, `"n":02`)},
		{"v2: other prev", edit(v2, `"p":"`+c2.Prev[:8], `"p":"`+strings.Repeat("0", 8))},
		{"v2: other hash", edit(v2, `"h":"`+c2.Hash[:8], `"h":"`+strings.Repeat("0", 8))},
		{"v2: version removed (claims v1 with a v2 hash)", edit(v2, `"v":2,`, ``)},
		{"v2: version 3", edit(v2, `"v":2,`, `"v":3,`)},
		{"v2: version 1 spelled out", edit(v2, `"v":2,`, `"v":1,`)},
		{"v2: version after the fields", edit(edit(v2, `"v":2,`, ``), `"}}`, `","v":2}}`)},
		{"claims v2 with a v1 hash", rechain(p2, Chain{Version: ChainVersion, Writer: c2.Writer, Seq: c2.Seq, Prev: c2.Prev, Hash: v1Hash})},
		{"claims v1 with a v2 hash", rechain(p2, Chain{Writer: c2.Writer, Seq: c2.Seq, Prev: c2.Prev, Hash: v2Hash})},
		{"v1: changed byte inside the prefix", edit(v1, `"latency_ms":12.5`, `"latency_ms":12.6`)},
		{"v1: version added", edit(v1, `"chain":{`, `"chain":{"v":2,`)},
		{"v1: other seq", edit(v1, `"n":2`, `"n":1`)},
		{"v1: other prev", edit(v1, `"p":"`+c1c.Prev[:8], `"p":"`+strings.Repeat("f", 8))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if verifies(tc.line) {
				t.Fatalf("still verifies: %s", tc.line)
			}
		})
	}
	if !verifies(rechain(p2, Chain{Version: ChainVersion, Writer: c2.Writer, Seq: c2.Seq, Prev: c2.Prev, Hash: v2Hash})) ||
		!verifies(rechain(p2, Chain{Writer: c2.Writer, Seq: c2.Seq, Prev: c2.Prev, Hash: v1Hash})) {
		t.Fatal("rechain does not reproduce valid lines: the cases above prove nothing")
	}
}

// TestChainV1ContinuedByV2: a format-1 chain resumed by this version
// (ResumeChainer) goes on in format 2, every line linking to the one
// before; each verifies in its own format.
func TestChainV1ContinuedByV2(t *testing.T) {
	c1 := NewChainer("aaaa")
	var lines [][]byte
	for i := range 3 {
		lines = append(lines, appendLineV1(&c1, nil, chainTestPrefix(t, i)))
	}
	_, last, _ := SplitChain(lines[2])
	c2 := ResumeChainer(last)
	for i := 3; i < 6; i++ {
		lines = append(lines, bytes.TrimSuffix(c2.AppendLine(nil, chainTestPrefix(t, i)), []byte("\n")))
	}
	prev := ""
	for i, l := range lines {
		_, c, ok := SplitChain(l)
		want := 0
		if i >= 3 {
			want = ChainVersion
		}
		if !ok || !verifies(l) || c.Version != want || c.Seq != uint64(i+1) || c.Prev != prev || c.Writer != "aaaa" {
			t.Fatalf("line %d: %+v ok=%v verifies=%v", i+1, c, ok, verifies(l))
		}
		prev = c.Hash
	}
}

// TestAppendLineDigestEqualsAppendLine: the two write paths make the same
// line, and a wrong digest makes a line that fails verification.
func TestAppendLineDigestEqualsAppendLine(t *testing.T) {
	a, b := NewChainer("w"), NewChainer("w")
	for i := range 4 {
		p := chainTestPrefix(t, i)
		d := PrefixDigest(p)
		la, lb := a.AppendLine(nil, p), b.AppendLineDigest(nil, p, &d)
		if !bytes.Equal(la, lb) {
			t.Fatalf("entry %d:\n%s\n%s", i, la, lb)
		}
	}
	p := chainTestPrefix(t, 9)
	d := PrefixDigest(chainTestPrefix(t, 8))
	if verifies(bytes.TrimSuffix(b.AppendLineDigest(nil, p, &d), []byte("\n"))) {
		t.Fatal("a line chained with another entry's digest verifies")
	}
}

// TestAppendJSONRejectsUnknownChainFormat: an entry whose chain names a
// format this version cannot verify is not encoded.
func TestAppendJSONRejectsUnknownChainFormat(t *testing.T) {
	e := &AuditEntry{ID: "x", Timestamp: time.Unix(0, 0), Chain: &Chain{Version: 3, Writer: "w", Seq: 1, Hash: "h"}}
	if _, err := e.AppendJSON(nil); err == nil {
		t.Fatal("chain format 3 encoded")
	}
}

// FuzzSplitChain: SplitChain never panics, and a chain key it accepts is
// the one form the codec writes for that chain (appendChain gives back
// the same bytes), so no second spelling of a chain object verifies.
// Seeds: testdata/fuzz/FuzzSplitChain plus the lines below.
func FuzzSplitChain(f *testing.F) {
	ch := NewChainer("0123456789abcdef")
	p := []byte(`{"id":"x","timestamp":"2025-01-01T00:00:00.000000000Z"`)
	f.Add(bytes.TrimSuffix(ch.AppendLine(nil, p), []byte("\n")))
	f.Add(bytes.TrimSuffix(ch.AppendLine(nil, p), []byte("\n")))
	c1 := NewChainer("0123456789abcdef")
	f.Add(appendLineV1(&c1, nil, p))
	f.Add([]byte(`{"a":1,"chain":{"v":2,"w":"a","n":0,"p":"","h":""}}`))
	f.Add([]byte(`{"a":1,"chain":{"v":2,"w":"a","n":01,"p":"","h":""}}`))
	f.Add([]byte(`{"a":1,"chain":{"v":20,"w":"a","n":1,"p":"","h":""}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		prefix, c, ok := SplitChain(line)
		if !ok {
			return
		}
		if !bytes.HasPrefix(line, prefix) {
			t.Fatal("prefix is not a prefix of the line")
		}
		if c.Version != 0 && c.Version != ChainVersion {
			t.Fatalf("unknown format %d accepted", c.Version)
		}
		for _, s := range []string{c.Writer, c.Prev, c.Hash} {
			if string(jsontext.AppendString(nil, s)) != `"`+s+`"` {
				return // a string the encoder would escape: never written
			}
		}
		if again := append(appendChain(bytes.Clone(prefix), c), '}'); !bytes.Equal(again, line) {
			t.Fatalf("accepted a chain key the codec does not write:\n%s\n%s", line, again)
		}
		var h ChainHasher
		h.Matches(prefix, c) // must not panic either
	})
}

// BenchmarkChainSerial measures, for a line of the size of an encrypted
// entry (3.7 KB, Fernet), what a store does per entry in the section its
// lock serialises: ns/op of "append-line" is the chain step as
// it was before format 2 (the whole line hashed at its position: format
// 1 hashed it once, Chainer.AppendLine now hashes it and then the outer
// input), of "append-line-digest" the step as the file and S3 stores run
// it now (Chainer.AppendLineDigest: the outer hash and the copy), and
// "prefix-digest" the part that moved out of the lock (PrefixDigest, run
// by each writer on its own). CPU-bound: compare the three within a run.
func BenchmarkChainSerial(b *testing.B) {
	prefix := bytes.Repeat([]byte("x"), 3707-MaxChainSuffix("0123456789abcdef"))
	d := PrefixDigest(prefix)
	buf := make([]byte, 0, 8192)
	for _, bc := range []struct {
		name string
		step func(c *Chainer)
	}{
		{"append-line", func(c *Chainer) { buf = c.AppendLine(buf[:0], prefix) }},
		{"append-line-digest", func(c *Chainer) { buf = c.AppendLineDigest(buf[:0], prefix, &d) }},
		{"prefix-digest", func(*Chainer) { d = PrefixDigest(prefix) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := NewChainer("0123456789abcdef")
			b.SetBytes(int64(len(prefix)))
			b.ReportAllocs()
			for b.Loop() {
				bc.step(&c)
			}
		})
	}
}

// TestMatchesReader: the streaming form agrees with Matches on lines of
// both formats, intact and with any byte of the prefix changed.
func TestMatchesReader(t *testing.T) {
	ch := NewChainer("0123456789abcdef")
	ch.AppendLine(nil, chainTestPrefix(t, 0))
	v2 := bytes.TrimSuffix(ch.AppendLine(nil, chainTestPrefix(t, 1)), []byte("\n"))
	c1 := NewChainer("0123456789abcdef")
	appendLineV1(&c1, nil, chainTestPrefix(t, 0))
	v1 := appendLineV1(&c1, nil, chainTestPrefix(t, 1))
	var h ChainHasher
	for name, line := range map[string][]byte{"v1": v1, "v2": v2} {
		prefix, c, ok := SplitChain(line)
		if !ok {
			t.Fatalf("%s: no chain", name)
		}
		for i := -1; i < len(prefix); i++ {
			p := bytes.Clone(prefix)
			if i >= 0 {
				p[i] ^= 1
			}
			got, err := h.MatchesReader(bytes.NewReader(p), c)
			if want := h.Matches(p, c); err != nil || got != want || got != (i < 0) {
				t.Fatalf("%s: byte %d changed: MatchesReader %v (%v), Matches %v", name, i, got, err, want)
			}
		}
	}
	if ok, _ := h.MatchesReader(bytes.NewReader(nil), Chain{Version: 7}); ok {
		t.Fatal("an unknown format matched")
	}
}

// NoteKeyID reads the key id of a signed note line without the key; an id
// over 64 bytes (the line is not trusted) comes back cut, and a line that
// is no signed note gives ok false.
func TestNoteKeyID(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{"ops-2026", "ops-2026"},
		{strings.Repeat("k", 64), strings.Repeat("k", 64)},
		{strings.Repeat("k", 100), strings.Repeat("k", 64) + "..."},
	} {
		signer, err := NewHMACSigner(tc.id, bytes.Repeat([]byte{7}, 32))
		if err != nil {
			t.Fatal(err)
		}
		line, err := EncodeNote(&Note{Type: NoteOpen, Writer: "0123456789abcdef", Time: "2026-12-02T00:00:00Z"}, signer)
		if err != nil {
			t.Fatal(err)
		}
		if kid, ok := NoteKeyID(bytes.TrimSuffix(line, []byte("\n"))); !ok || kid != tc.want {
			t.Errorf("NoteKeyID of a note signed by %d-byte id = %q, %v; want %q", len(tc.id), kid, ok, tc.want)
		}
	}
	if kid, ok := NoteKeyID([]byte(`{"type":"open","w":"0123456789abcdef"}`)); ok || kid != "" {
		t.Errorf("unsigned line: %q, %v", kid, ok)
	}
}

// TestSignerSigned: a signer recognises the notes it signed, and no note
// signed with another key: another id, another key under its id, or a key
// of the other kind under its id; an altered note and a line that is no
// signed note are not its either.
func TestSignerSigned(t *testing.T) {
	mustHMAC := func(id string, b byte) Signer {
		s, err := NewHMACSigner(id, bytes.Repeat([]byte{b}, 32))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	mustEd := func(id string, b byte) Signer {
		s, err := NewEd25519Signer(id, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, 32)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	note := func(s Signer) []byte {
		line, err := EncodeNote(&Note{Type: NoteOpen, Writer: "0123456789abcdef", Time: "2026-12-02T00:00:00Z"}, s)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.TrimSuffix(line, []byte("\n"))
	}
	for _, tc := range []struct {
		name         string
		signer, want Signer
		ok           bool
	}{
		{"same HMAC key", mustHMAC("k1", 1), mustHMAC("k1", 1), true},
		{"same Ed25519 key", mustEd("k1", 1), mustEd("k1", 1), true},
		{"HMAC key under another id", mustHMAC("k1", 1), mustHMAC("k2", 1), false},
		{"another HMAC key under the id", mustHMAC("k1", 1), mustHMAC("k1", 2), false},
		{"another Ed25519 key under the id", mustEd("k1", 1), mustEd("k1", 2), false},
		{"HMAC key for an Ed25519 note", mustEd("k1", 1), mustHMAC("k1", 1), false},
		{"Ed25519 key for an HMAC note", mustHMAC("k1", 1), mustEd("k1", 1), false},
		{"zero signer", mustHMAC("k1", 1), Signer{}, false},
	} {
		if got := tc.want.Signed(note(tc.signer)); got != tc.ok {
			t.Errorf("%s: Signed = %v, want %v", tc.name, got, tc.ok)
		}
	}
	s := mustHMAC("k1", 1)
	altered := bytes.Replace(note(s), []byte("2026-12-02"), []byte("2026-12-03"), 1)
	if s.Signed(altered) {
		t.Error("an altered note is taken as signed")
	}
	if s.Signed([]byte(`{"type":"open","w":"0123456789abcdef"}`)) {
		t.Error("an unsigned line is taken as signed")
	}
}

// TestKeyRingSameID: a ring holding several keys under one key id accepts
// a note signed by any of them (a store whose "local" key was replaced
// holds notes of both), still rejects a key that is not in the ring, and
// counts a key added twice once.
func TestKeyRingSameID(t *testing.T) {
	oldKey, newKey, other := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	note := func(key []byte) []byte {
		t.Helper()
		signer, err := NewHMACSigner("local", key)
		if err != nil {
			t.Fatal(err)
		}
		line, err := EncodeNote(&Note{Type: NoteOpen, Writer: "0123456789abcdef", Time: "2026-12-02T00:00:00Z"}, signer)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.TrimSuffix(line, []byte("\n"))
	}
	var ring KeyRing
	for _, k := range [][]byte{oldKey, newKey, oldKey} {
		if err := ring.AddHMAC("local", k); err != nil {
			t.Fatal(err)
		}
	}
	if ring.Len() != 2 {
		t.Errorf("Len = %d after adding two keys (one twice), want 2", ring.Len())
	}
	for name, key := range map[string][]byte{"first": oldKey, "second": newKey} {
		if _, err := ParseNote(note(key), &ring); err != nil {
			t.Errorf("note signed with the %s key of the id: %v", name, err)
		}
	}
	if _, err := ParseNote(note(other), &ring); !errors.Is(err, ErrBadNote) {
		t.Errorf("note signed with a key not in the ring: err = %v, want ErrBadNote", err)
	}
}
