package sse

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type got struct {
	Type, Data, ID string
	Truncated      bool
}

func parseAll(t testing.TB, max int, chunks ...string) ([]got, *Parser) {
	var evs []got
	p := New(max, func(e Event) {
		evs = append(evs, got{e.Type, string(e.Data), e.ID, e.Truncated})
	})
	for _, c := range chunks {
		n, err := p.Write([]byte(c))
		require.NoError(t, err)
		require.Equal(t, len(c), n)
	}
	return evs, p
}

func TestParser(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		max     int
		want    []got
		pending bool
	}{
		{name: "openai chunks", in: "data: {\"a\":1}\n\ndata: [DONE]\n\n",
			want: []got{{Data: `{"a":1}`}, {Data: "[DONE]"}}},
		{name: "event types", in: "event: message_start\ndata: {}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n",
			want: []got{{Type: "message_start", Data: "{}"}, {Type: "ping", Data: `{"type": "ping"}`}}},
		{name: "crlf", in: "event: x\r\ndata: 1\r\n\r\n", want: []got{{Type: "x", Data: "1"}}},
		{name: "cr only", in: "data: 1\r\rdata: 2\r\r", want: []got{{Data: "1"}, {Data: "2"}}},
		{name: "multi-line data", in: "data: a\ndata: b\ndata:c\n\n", want: []got{{Data: "a\nb\nc"}}},
		{name: "comments and unknown fields", in: ": keep-alive\nretry: 10\nfoo\ndata: x\n\n", want: []got{{Data: "x"}}},
		{name: "id", in: "id: 7\ndata: x\n\n", want: []got{{Data: "x", ID: "7"}}},
		{name: "no data no dispatch", in: "event: x\n\n", want: nil},
		{name: "empty data dispatches", in: "data\n\n", want: []got{{Data: ""}}},
		{name: "cut mid event", in: "data: 1\n\ndata: {\"id\":\"cu", want: []got{{Data: "1"}}, pending: true},
		{name: "fields without blank line", in: "data: 1\n", want: nil, pending: true},
		{name: "truncated data", in: "data: 0123456789\n\ndata: ok\n\n", max: 6,
			want: []got{{Data: "012345", Truncated: true}, {Data: "ok"}}},
		{name: "truncated multi-line", in: "data: abcd\ndata: efgh\n\n", max: 6,
			want: []got{{Data: "abcd\ne", Truncated: true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, p := parseAll(t, tc.max, tc.in)
			assert.Equal(t, tc.want, evs)
			assert.Equal(t, tc.pending, p.Pending())
			// Byte by byte must give the same result.
			one := make([]string, len(tc.in))
			for i := range tc.in {
				one[i] = tc.in[i : i+1]
			}
			evs2, p2 := parseAll(t, tc.max, one...)
			assert.Equal(t, tc.want, evs2, "byte by byte")
			assert.Equal(t, tc.pending, p2.Pending())
		})
	}
}

func TestCRLFSplitAcrossWrites(t *testing.T) {
	evs, p := parseAll(t, 0, "data: 1\r", "\n\r", "\ndata: 2\r\n\r\n")
	assert.Equal(t, []got{{Data: "1"}, {Data: "2"}}, evs)
	assert.False(t, p.Pending())
	assert.Equal(t, 2, p.Events())
}

func TestBoundedMemory(t *testing.T) {
	p := New(1024, func(Event) {})
	big := strings.Repeat("x", 64<<10)
	for range 16 {
		_, _ = p.Write([]byte("data: " + big))
	}
	assert.LessOrEqual(t, cap(p.line), 4096)
	_, _ = p.Write([]byte("\n\n"))
	assert.LessOrEqual(t, cap(p.data), 4096)
}

func FuzzParser(f *testing.F) {
	for _, s := range []string{
		"data: {\"a\":1}\n\ndata: [DONE]\n\n",
		"event: message_start\r\ndata: {}\r\n\r\n",
		": c\nid: 1\nretry: x\ndata\n\n",
		"data: a\rdata: b\r\r",
	} {
		f.Add([]byte(s), uint8(3), uint16(0))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint8, max uint16) {
		// Whole input and the same input in pieces must give the same events.
		collect := func(step int) []got {
			var evs []got
			p := New(int(max), func(e Event) {
				if e.Truncated && len(e.Data) > int(max) && max > 0 {
					t.Fatalf("data %d over limit %d", len(e.Data), max)
				}
				evs = append(evs, got{e.Type, string(e.Data), e.ID, e.Truncated})
			})
			for i := 0; i < len(in); i += step {
				_, _ = p.Write(in[i:min(i+step, len(in))])
			}
			return evs
		}
		whole := collect(max2(len(in), 1))
		pieces := collect(int(split%16) + 1)
		if len(whole) != len(pieces) {
			t.Fatalf("whole %d events, pieces %d", len(whole), len(pieces))
		}
		for i := range whole {
			if whole[i] != pieces[i] {
				t.Fatalf("event %d differs: %+v vs %+v", i, whole[i], pieces[i])
			}
		}
	})
}

func max2(a, b int) int {
	if a > b {
		return a
	}
	return b
}
