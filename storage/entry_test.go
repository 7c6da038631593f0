package storage

import (
	"encoding/json"
	"errors"
	"math"
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

func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, 5, 0.30000000000000004, 1e-7, 1e21, 99999.999, 1.5e300, -2.5e-9, 123456789} {
		want, _ := json.Marshal(f)
		assert.Equal(t, string(want), string(appendFloat(nil, f)))
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

func TestHasUnknownKey(t *testing.T) {
	for line, want := range map[string]bool{
		`{"id":"a","timestamp":"t"}`:                     false,
		`{"id":"a","metadata":{"zzz":{"q":[1,"x\"y"]}}}`: false,
		`{"id":"a","x":1}`:                               true,
		`{ "id" : "a" , "alerts" : ["id","x"] }`:         false,
		`{"id":"a","meta\u0064ata":{}}`:                  true, // escaped key: decided by the slow path
		`{"input_content":"{\"evil\":1}","id":"a"}`:      false,
		`{"a\"b":1}`: true,
		`{"id":"a","chain":{"w":"x","n":1,"p":"","h":"h"}}`: false,
	} {
		assert.Equal(t, want, hasUnknownKey([]byte(line)), line)
	}
}
