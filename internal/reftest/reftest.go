// Package reftest holds the test helpers shared by the packages that read
// the stores written by the reference Python implementation
// (testdata/reference-store): the expected entries and a field-by-field
// comparison.
package reftest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/storage"
)

// Dir holds stores written by the reference Python implementation
// and expected.json, which lists every entry's fields exactly.
var Dir = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "reference-store")
}()

// Dataset is one reference store and its expected entries.
type Dataset struct {
	Dir       string            `json:"dir"`
	Encrypted bool              `json:"encrypted"`
	Count     int               `json:"count"`
	Entries   []json.RawMessage `json:"entries"`
}

// Load returns the datasets of expected.json by name.
func Load(t *testing.T) map[string]Dataset {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(Dir, "expected.json"))
	require.NoError(t, err)
	var doc struct {
		Datasets map[string]Dataset `json:"datasets"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	return doc.Datasets
}

// DecodeNumbers decodes a JSON object with numbers as json.Number.
func DecodeNumbers(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	require.NoError(t, dec.Decode(&m))
	return m
}

// ReadLine returns line (1-based) of the file at path.
func ReadLine(t *testing.T, path string, line int) []byte {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if n == line {
			return bytes.Clone(sc.Bytes())
		}
	}
	t.Fatalf("%s has no line %d", path, line)
	return nil
}

func strp(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func intp(v *int64) any {
	if v == nil {
		return nil
	}
	return json.Number(jsonInt(*v))
}

func jsonInt(v int64) string { b, _ := json.Marshal(v); return string(b) }

// AssertMatches checks every field of got against the expected entry want.
func AssertMatches(t *testing.T, want map[string]any, got *storage.AuditEntry) {
	t.Helper()
	id := got.ID
	assert.Equal(t, want["id"], got.ID)
	wantTS, err := time.ParseInLocation("2006-01-02T15:04:05.999999", want["timestamp"].(string), time.UTC)
	require.NoError(t, err)
	assert.True(t, wantTS.Equal(got.Timestamp), "%s timestamp %v != %v", id, got.Timestamp, wantTS)
	assert.Equal(t, time.UTC, got.Timestamp.Location())
	assert.Equal(t, want["input_hash"], got.InputHash, id)
	assert.Equal(t, want["output_hash"], got.OutputHash, id)
	assert.Equal(t, want["input_content"], strp(got.InputContent), id)
	assert.Equal(t, want["output_content"], strp(got.OutputContent), id)
	assert.Equal(t, want["provider"], strp(got.Provider), id)
	assert.Equal(t, want["model"], strp(got.Model), id)
	assert.Equal(t, want["conversation_id"], strp(got.ConversationID), id)
	assert.Equal(t, want["safety_passed"], got.SafetyPassed, id)
	assert.Equal(t, want["block_reason"], strp(got.BlockReason), id)
	assert.Equal(t, toStrings(want["detectors_triggered"]), nonNil(got.DetectorsTriggered), id)
	assert.Equal(t, toStrings(want["alerts"]), nonNil(got.Alerts), id)
	wantLatency, err := want["latency_ms"].(json.Number).Float64()
	require.NoError(t, err)
	assert.Equal(t, wantLatency, got.LatencyMS, id)
	assert.Equal(t, want["input_tokens"], intp(got.InputTokens), id)
	assert.Equal(t, want["output_tokens"], intp(got.OutputTokens), id)
	wantMD, _ := want["metadata"].(map[string]any)
	if len(wantMD) == 0 {
		assert.Empty(t, got.Metadata, id)
	} else {
		assert.Equal(t, wantMD, got.Metadata, id)
	}
	assert.Nil(t, got.Extra, id)
	assert.Nil(t, got.Chain, id)
}

func toStrings(v any) []string {
	out := []string{}
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
