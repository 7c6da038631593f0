package storage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decoderTestLines returns n chained lines whose entries use every field
// (escapes, nested metadata, an unknown key), with strings of sizes
// around a Decoder's 16 KiB block.
func decoderTestLines(t *testing.T, n int) [][]byte {
	t.Helper()
	c := NewChainer("writer-1")
	var lines [][]byte
	for i := range n {
		in, out := int64(i), int64(2*i)
		e := &AuditEntry{
			ID: NewEntryID(), Timestamp: time.Date(2025, 1, 2, 3, 4, 5, i, time.UTC),
			InputHash: fmt.Sprintf("%064x", i), OutputHash: fmt.Sprintf("%064x", i+1),
			InputContent:  Ptr(strings.Repeat("é\"\n", i*997%(24<<10)/4)),
			OutputContent: Ptr("out\u2028" + strings.Repeat("x", i*5003%(40<<10))),
			Provider:      Ptr("openai"), Model: Ptr(fmt.Sprintf("gpt-%d", i/2)), ConversationID: Ptr("c"),
			DetectorsTriggered: []string{"pii", "jailbreak\t"}, BlockReason: Ptr("blocked"), Alerts: []string{"a"},
			LatencyMS: 1.5, InputTokens: &in, OutputTokens: &out,
			Metadata: map[string]any{"nested": map[string]any{"l": []any{"x\n", json.Number("12345678901234567890"), nil, true}}, "k\\": "v"},
			TraceID:  "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331", Operation: "chat",
			Extra: map[string]json.RawMessage{"x_custom": json.RawMessage(`{"y":[1,"z"]}`)},
		}
		prefix, err := e.AppendPrefix(nil)
		require.NoError(t, err)
		lines = append(lines, c.AppendLine(nil, prefix))
	}
	return lines
}

// Ptr returns a pointer to v.
func Ptr[T any](v T) *T { return &v }

// TestDecoderMatchesParseEntry: entries a Decoder returns equal
// ParseEntry's for the same line, even after the buffer each line was
// decoded from was reused for the next lines and then overwritten, and a
// rejected line gets the same error and does not disturb what follows.
func TestDecoderMatchesParseEntry(t *testing.T) {
	lines := decoderTestLines(t, 40)
	bad := [][]byte{
		[]byte(`{"id":"a","timestamp":"2025-01-01T00:00:00Z","model":"a","model":"b"}`),
		[]byte("{\"id\":\"a\",\"timestamp\":\"2025-01-01T00:00:00Z\",\"model\":\"\xff\"}"),
		[]byte(`{"id":"a","timestamp":"2025-01-01T00:00:00Z","Safety_Passed":true}`),
		[]byte(`{"id":"a","timestamp":"2025-01-01T00:00:00Z","chain":{"w":"w","n":1,"p":"","h":"h","x":1}}`),
		[]byte(`not json`),
	}
	var dec Decoder
	var buf []byte
	var got []*AuditEntry
	for i, line := range lines {
		buf = append(buf[:0], line...)
		e, err := dec.Decode(buf)
		require.NoError(t, err, "line %d", i)
		got = append(got, e)
		b := bad[i%len(bad)]
		buf = append(buf[:0], b...)
		_, err = dec.Decode(buf)
		_, want := ParseEntry(b)
		require.Error(t, err)
		assert.Equal(t, want.Error(), err.Error())
		assert.ErrorIs(t, err, ErrInvalidEntry)
	}
	for i := range buf {
		buf[i] = '#'
	}
	for i, line := range lines {
		want, err := ParseEntry(line)
		require.NoError(t, err)
		require.Equal(t, want, got[i], "line %d", i)
	}
}

// TestDecoderShares: a Decoder keeps one copy of what consecutive entries
// repeat (the chain's writer, a Prev equal to the previous Hash, the model
// when it is the same), and separate copies otherwise.
func TestDecoderShares(t *testing.T) {
	lines := decoderTestLines(t, 4)
	var dec Decoder
	var es []*AuditEntry
	for _, line := range lines {
		e, err := dec.Decode(bytes.Clone(line))
		require.NoError(t, err)
		es = append(es, e)
	}
	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
	for i := 1; i < len(es); i++ {
		assert.True(t, same(es[i].Chain.Prev, es[i-1].Chain.Hash), "entry %d: Prev not shared", i)
		assert.True(t, same(es[i].Chain.Writer, es[0].Chain.Writer), "entry %d: writer not shared", i)
		assert.True(t, same(*es[i].Provider, *es[0].Provider), "entry %d: provider not shared", i)
		assert.False(t, same(es[i].ID, es[i-1].ID))
	}
	assert.True(t, same(*es[1].Model, *es[0].Model), "gpt-0 twice")
	assert.False(t, same(*es[2].Model, *es[1].Model), "gpt-1 after gpt-0")
}
