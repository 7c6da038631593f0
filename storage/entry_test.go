package storage

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEntryBigIntegerMetadataExact(t *testing.T) {
	line := []byte(`{"id":"x","timestamp":"2024-02-28T19:30:40","input_hash":"h","output_hash":"h","metadata":{"big":9007199254740993,"f":1e-10}}`)
	e, err := ParseEntry(line)
	require.NoError(t, err)
	assert.Equal(t, json.Number("9007199254740993"), e.Metadata["big"])
	b, err := e.MarshalJSON()
	require.NoError(t, err)
	assert.Contains(t, string(b), `"big":9007199254740993`)
	assert.Contains(t, string(b), `"f":1e-10`)
	assert.True(t, e.SafetyPassed, "safety_passed defaults to true when absent")
	assert.Nil(t, e.InputTokens, "absent token count stays null")
}

func TestEntryUnknownKeysSurvive(t *testing.T) {
	line := []byte(`{"id":"x","timestamp":"2025-01-01T00:00:00Z","input_hash":"a","output_hash":"b","future_field":{"k":[1,2]},"zz":"v"}`)
	e, err := ParseEntry(line)
	require.NoError(t, err)
	require.Len(t, e.Extra, 2)
	b, err := e.MarshalJSON()
	require.NoError(t, err)
	assert.Contains(t, string(b), `"future_field":{"k":[1,2]}`)
	assert.Contains(t, string(b), `"zz":"v"`)
	again, err := ParseEntry(b)
	require.NoError(t, err)
	assert.Equal(t, e, again)
}

func TestEntryRejectsNonFinite(t *testing.T) {
	for name, e := range map[string]*AuditEntry{
		"latency NaN":  {ID: "a", Timestamp: time.Now(), LatencyMS: math.NaN()},
		"latency +Inf": {ID: "a", Timestamp: time.Now(), LatencyMS: math.Inf(1)},
		"metadata NaN": {ID: "a", Timestamp: time.Now(), Metadata: map[string]any{"x": math.NaN()}},
		"metadata Inf": {ID: "a", Timestamp: time.Now(), Metadata: map[string]any{"x": []any{math.Inf(-1)}}},
		"no id":        {Timestamp: time.Now()},
		"no timestamp": {ID: "a"},
		"extra clash":  {ID: "a", Timestamp: time.Now(), Extra: map[string]json.RawMessage{"id": json.RawMessage(`"b"`)}},
		"extra bad":    {ID: "a", Timestamp: time.Now(), Extra: map[string]json.RawMessage{"x": json.RawMessage(`{`)}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.MarshalJSON()
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvalidEntry), err)
		})
	}
}

func TestEntryWritesUTCNanoseconds(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	e := &AuditEntry{ID: "a", Timestamp: time.Date(2025, 3, 1, 0, 30, 0, 5, loc)}
	b, err := e.MarshalJSON()
	require.NoError(t, err)
	assert.Contains(t, string(b), `"timestamp":"2025-02-28T23:30:00.000000005Z"`)
	assert.Contains(t, string(b), `"input_tokens":null`)
	assert.Contains(t, string(b), `"detectors_triggered":[]`)
	assert.Contains(t, string(b), `"trace_id":null`)
}

func TestParseEntryBadInput(t *testing.T) {
	for _, line := range []string{"", "{", "[]", "null", `{"id":1}`, `{"id":"a"}`, `{"id":"a","timestamp":"yesterday"}`,
		`{"id":"a","timestamp":"2025-01-01","latency_ms":"x"}`, `{"id":"a","timestamp":"2025-01-01","input_tokens":1.5}`,
		`{"id":"a","timestamp":"2025-01-01","metadata":[1]}`, `{"id":"a","timestamp":"2025-01-01","latency_ms":1e999}`} {
		_, err := ParseEntry([]byte(line))
		assert.ErrorIs(t, err, ErrInvalidEntry, "line %q", line)
	}
}

func BenchmarkParseEntry(b *testing.B) {
	e := &AuditEntry{ID: NewEntryID(), Timestamp: time.Now(), InputHash: "a", OutputHash: "b",
		Metadata: map[string]any{"tenant": "acme", "n": 3}, TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331"}
	line, err := e.MarshalJSON()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseEntry(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseEntryStored parses a line as the file store keeps it: a
// chained ~1.4 KiB entry with a model, token count and a 700-byte metadata
// value, the shape of the lines BenchmarkFileScan1M reads. allocs/op is
// the figure to watch: it does not depend on the machine's load.
func BenchmarkParseEntryStored(b *testing.B) {
	model, in := "gpt-test", int64(12)
	e := &AuditEntry{ID: NewEntryID(), Timestamp: time.Date(2025, 1, 1, 23, 15, 25, 2e8, time.UTC),
		InputHash: strings.Repeat("a", 64), OutputHash: strings.Repeat("b", 64), Model: &model,
		SafetyPassed: true, LatencyMS: 12.5, InputTokens: &in, Metadata: map[string]any{"pad": strings.Repeat("p", 700)}}
	prefix, err := e.AppendPrefix(nil)
	if err != nil {
		b.Fatal(err)
	}
	c := NewChainer("978cbf04a4652cb3")
	line := c.AppendLine(nil, prefix)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseEntry(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecoderStored is BenchmarkParseEntryStored through one
// Decoder, as a file store's scans decode: B/op is what each kept entry
// holds (its strings packed into shared blocks), load-independent.
func BenchmarkDecoderStored(b *testing.B) {
	model, in := "gpt-test", int64(12)
	c := NewChainer("978cbf04a4652cb3")
	var lines [][]byte
	for i := range 64 { // a chain, so that each Prev is the Hash before
		e := &AuditEntry{ID: NewEntryID(), Timestamp: time.Date(2025, 1, 1, 23, 15, 25, i, time.UTC),
			InputHash: strings.Repeat("a", 64), OutputHash: strings.Repeat("b", 64), Model: &model,
			SafetyPassed: true, LatencyMS: 12.5, InputTokens: &in, Metadata: map[string]any{"pad": strings.Repeat("p", 700)}}
		prefix, err := e.AppendPrefix(nil)
		if err != nil {
			b.Fatal(err)
		}
		lines = append(lines, c.AppendLine(nil, prefix))
	}
	b.SetBytes(int64(len(lines[0])))
	b.ReportAllocs()
	var dec Decoder
	i := 0
	for b.Loop() {
		if _, err := dec.Decode(lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// TestParseEntryStrict: keys match exactly (encoding/json's case-folded
// match would let "Safety_Passed" override safety_passed), and a line that
// could not be written back as it reads is rejected.
func TestParseEntryStrict(t *testing.T) {
	const head = `{"id":"a","timestamp":"2025-01-01T00:00:00Z"`
	e, err := ParseEntry([]byte(head + `,"safety_passed":false,"meta\u0064ata":{"k":1}}`))
	require.NoError(t, err)
	assert.False(t, e.SafetyPassed)
	assert.Equal(t, json.Number("1"), e.Metadata["k"], "an escaped key is the key it decodes to")
	assert.Nil(t, e.Extra)
	for name, line := range map[string]string{
		"repeated field":        head + `,"model":"a","model":"b"}`,
		"repeated unknown key":  head + `,"x":1,"x":2}`,
		"case-folded key alone": head + `,"MODEL":"b"}`,
		"case-folded key":       head + `,"safety_passed":false,"Safety_Passed":true}`,
		"invalid UTF-8 string":  head + ",\"model\":\"\xff\"}",
		"invalid UTF-8 key":     head + ",\"\xff\":1}",
		"wrong type":            head + `,"safety_passed":"yes"}`,
		"list of non-strings":   head + `,"alerts":[1]}`,
		"chain with extra key":  head + `,"chain":{"w":"w","n":1,"p":"","h":"h","x":1}}`,
		"year 10000 by offset":  `{"id":"a","timestamp":"9999-12-31T23:00:00-02:00"}`,
		"too deep":              head + `,"x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + "}",
		"not an object":         `[1]`,
		"null id":               `{"id":null,"timestamp":"2025-01-01T00:00:00Z"}`,
	} {
		_, err := ParseEntry([]byte(line))
		assert.ErrorIs(t, err, ErrInvalidEntry, name)
	}
}

// TestValidateRejectsWhatCannotReadBack: Write-side rules of the codec.
func TestValidateRejectsWhatCannotReadBack(t *testing.T) {
	base := func() *AuditEntry {
		return &AuditEntry{ID: "a", Timestamp: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	}
	deep := any("x")
	for range MaxNesting + 1 {
		deep = []any{deep}
	}
	for name, fn := range map[string]func(e *AuditEntry){
		"year 10000":          func(e *AuditEntry) { e.Timestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"year -1":             func(e *AuditEntry) { e.Timestamp = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) },
		"invalid UTF-8 id":    func(e *AuditEntry) { e.ID = "\xff" },
		"invalid UTF-8 alert": func(e *AuditEntry) { e.Alerts = []string{"\xff"} },
		"invalid UTF-8 deep in long content": func(e *AuditEntry) {
			e.OutputContent = new(strings.Repeat("QUJD", 100) + "\xc3" + strings.Repeat("QUJD", 100))
		},
		"invalid UTF-8 trace id":     func(e *AuditEntry) { e.TraceID = "0af7\xe2\x80" },
		"invalid UTF-8 metadata key": func(e *AuditEntry) { e.Metadata = map[string]any{"ok": 1, "k\xff": 1} },
		"invalid UTF-8 chain":        func(e *AuditEntry) { e.Chain = &Chain{Writer: "w", Seq: 1, Hash: "\xff"} },
		"invalid UTF-8 meta":         func(e *AuditEntry) { e.Metadata = map[string]any{"k": []any{"\xff"}} },
		"invalid UTF-8 struct": func(e *AuditEntry) {
			e.Metadata = map[string]any{"k": struct{ S string }{"\xff"}}
		},
		"case-folded extra": func(e *AuditEntry) { e.Extra = map[string]json.RawMessage{"Safety_Passed": json.RawMessage(`true`)} },
		"known extra":       func(e *AuditEntry) { e.Extra = map[string]json.RawMessage{"model": json.RawMessage(`"m"`)} },
		"deep metadata":     func(e *AuditEntry) { e.Metadata = map[string]any{"k": deep} },
		"deep extra": func(e *AuditEntry) {
			e.Extra = map[string]json.RawMessage{"x": json.RawMessage(strings.Repeat("[", MaxNesting+1) + strings.Repeat("]", MaxNesting+1))}
		},
		"bad json.Number": func(e *AuditEntry) { e.Metadata = map[string]any{"n": json.Number("1x")} },
	} {
		e := base()
		fn(e)
		assert.ErrorIs(t, e.Validate(), ErrInvalidEntry, name)
		_, err := e.AppendJSON(nil)
		assert.ErrorIs(t, err, ErrInvalidEntry, name)
	}
	// The encoder checks UTF-8 as it escapes; its error still names the
	// field, and the buffer it was given comes back unchanged.
	e := base()
	e.InputContent = new(strings.Repeat("QUJD", 100) + "\xff")
	dst := []byte("kept")
	out, err := e.AppendJSON(dst)
	assert.ErrorContains(t, err, "input_content is not valid UTF-8")
	assert.Equal(t, "kept", string(out))
	// A real U+FFFD is content, not damage.
	e = base()
	e.Metadata = map[string]any{"k": struct{ S string }{"\ufffd"}}
	assert.NoError(t, e.Validate())
}

// TestEncodedDay: the day verification reads off a chained line without
// parsing it is the day ParseEntry gives, and only lines in the encoder's
// own form are read that way.
func TestEncodedDay(t *testing.T) {
	e := &AuditEntry{ID: "we\"ird\\id", Timestamp: time.Date(2025, 12, 31, 23, 59, 59, 0, time.FixedZone("X", -3600))}
	b, err := e.AppendJSON(nil)
	require.NoError(t, err)
	d, ok := EncodedDay(b)
	assert.True(t, ok)
	assert.Equal(t, "2026-01-01", d)
	for _, line := range []string{
		`{"timestamp":"2025-01-01T00:00:00.000000000Z","id":"a"}`,
		`{"id":"a","timestamp":"2025-01-01T00:00:00.000000000+01:00"}`,
		`{"id":"a","timestamp":"2025-01-01T00:00:00"}`,
		`{"id":"a`,
		`{ "id": "a", "timestamp": "2025-01-01T00:00:00.000000000Z"}`,
	} {
		_, ok := EncodedDay([]byte(line))
		assert.False(t, ok, line)
	}
}

// TestEncodedKey: the id and timestamp an index check reads off a line
// without parsing it are the ones EntryKey gives, and only lines in the
// encoder's own form, with an id without escapes, are read that way.
func TestEncodedKey(t *testing.T) {
	e := &AuditEntry{ID: "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Timestamp: time.Date(2025, 12, 31, 23, 59, 59, 123, time.FixedZone("X", -3600))}
	b, err := e.AppendJSON(nil)
	require.NoError(t, err)
	id, ts, ok := EncodedKey(b)
	require.True(t, ok)
	wantID, wantTS, err := EntryKey(b)
	require.NoError(t, err)
	assert.Equal(t, wantID, string(id))
	assert.True(t, wantTS.Equal(ts), "%v != %v", ts, wantTS)
	e.ID = "we\"ird"
	b, err = e.AppendJSON(nil)
	require.NoError(t, err)
	_, _, ok = EncodedKey(b)
	assert.False(t, ok, "an escaped id is left to EntryKey")
	for _, line := range []string{
		`{"timestamp":"2025-01-01T00:00:00.000000000Z","id":"a"}`,
		`{"id":"a","timestamp":"2025-01-01T00:00:00.000000000+01:00"}`,
		`{"id":"a","timestamp":"2025-01-01T00:00:00"}`,
		`{"id":"a","timestamp":"2025-02-30T00:00:00.000000000Z"}`,
		`{"id":"","timestamp":"2025-01-01T00:00:00.000000000Z"}`,
		`{"id":"a`,
	} {
		_, _, ok := EncodedKey([]byte(line))
		assert.False(t, ok, line)
	}
}

// BenchmarkAppendPrefix measures the encoder on the write path (what
// filestore and s3store call per entry) and Validate (what the Logger
// calls per entry): hash-only, and with contents the size of a KMS
// envelope of 1 KiB (1.7 KiB of base64url each) and of 1 KiB of prose.
func BenchmarkAppendPrefix(b *testing.B) {
	base := AuditEntry{ID: NewEntryID(), Timestamp: time.Now(), InputHash: strings.Repeat("a", 64), OutputHash: strings.Repeat("b", 64),
		Provider: new("openai"), Model: new("gpt-4o"), SafetyPassed: true, LatencyMS: 850, InputTokens: new(int64), OutputTokens: new(int64),
		Metadata: map[string]any{"tenant": "acme"}, TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331", Operation: "chat"}
	cipher := "kms:arn:aws:kms:us-east-1:123456789012:key/0b2a4bd5-1a36-4b5c-9a1e-6d0e5a1e2b3c:" + strings.Repeat("AQIDAHh-_9z", 22) + ":" + strings.Repeat("Zm9vYmFyYmF6cXV4", 88)
	prose := strings.Repeat("Summarise the quarterly report. ", 32)
	for _, bc := range []struct {
		name    string
		content *string
	}{{"hash-only", nil}, {"kms-sized", &cipher}, {"prose", &prose}} {
		e := base
		e.InputContent, e.OutputContent = bc.content, bc.content
		buf := make([]byte, 0, 8192)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = e.AppendPrefix(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
		b.Run(bc.name+"/validate", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := e.Validate(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAppendTimestampMatchesLayout checks the encoder's digit-by-digit
// timestamp against time.Time.AppendFormat with TimestampLayout over the
// whole wire range of years, in and out of UTC, and through AppendJSON.
func TestAppendTimestampMatchesLayout(t *testing.T) {
	east := time.FixedZone("east", 5*3600+30*60)
	times := []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2024, 2, 29, 12, 34, 56, 1, time.UTC),
		time.Date(2026, 1, 1, 3, 0, 0, 100, east), // the previous UTC day
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.Local),
	}
	step := time.Duration(7777777777777777) // about 90 days and odd nanoseconds
	for ts := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC); ts.Year() < 9999; ts = ts.Add(step) {
		times = append(times, ts, ts.In(east))
	}
	for _, ts := range times {
		want := ts.UTC().AppendFormat(nil, TimestampLayout)
		if got := appendTimestamp([]byte("x"), ts); string(got) != "x"+string(want) {
			t.Fatalf("appendTimestamp(%v) = %q, want x%q", ts, got, want)
		}
	}
	e := &AuditEntry{ID: "a", Timestamp: times[3], InputHash: "h", OutputHash: "h"}
	line, err := e.MarshalJSON()
	require.NoError(t, err)
	assert.Contains(t, string(line), `"timestamp":"2025-12-31T21:30:00.000000100Z"`)
}

// TestInvalidMetadataErrorQuotesNoValue: metadata may hold anything, so
// the errors of Validate and AppendJSON about a metadata value name the
// problem and its key path, never the value ("errors never quote
// content").
func TestInvalidMetadataErrorQuotesNoValue(t *testing.T) {
	const secret = "SECRET-PROMPT-7f3a"
	e := &AuditEntry{ID: "a", Timestamp: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		Metadata: map[string]any{"ok": 1, "note": map[string]any{"deep": []any{json.Number(secret)}}}}
	verr := e.Validate()
	_, aerr := e.AppendJSON(nil)
	for _, err := range []error{verr, aerr} {
		require.ErrorIs(t, err, ErrInvalidEntry)
		assert.NotContains(t, err.Error(), secret)
		assert.Contains(t, err.Error(), `metadata: at ["note"]["deep"][0]: `)
	}
}
