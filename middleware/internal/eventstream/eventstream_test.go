package eventstream

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	aws "github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// encode frames msgs with the AWS SDK's own encoder.
func encode(t testing.TB, msgs ...aws.Message) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := aws.NewEncoder()
	for _, m := range msgs {
		if err := enc.Encode(&b, m); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func event(typ, payload string) aws.Message {
	var h aws.Headers
	h.Set(":message-type", aws.StringValue("event"))
	h.Set(":event-type", aws.StringValue(typ))
	h.Set(":content-type", aws.StringValue("application/json"))
	// Values of every other type, which the decoder must step over.
	h.Set("flag", aws.BoolValue(true))
	h.Set("off", aws.BoolValue(false))
	h.Set("i8", aws.Int8Value(1))
	h.Set("i16", aws.Int16Value(2))
	h.Set("i32", aws.Int32Value(3))
	h.Set("i64", aws.Int64Value(4))
	h.Set("raw", aws.BytesValue([]byte{0, 1, 2}))
	h.Set("uuid", aws.UUIDValue{1, 2, 3})
	return aws.Message{Headers: h, Payload: []byte(payload)}
}

type got struct{ typ, payload string }

func collect(d *[]got) func(Message) {
	return func(m Message) {
		k := m.EventType
		if m.MessageType != "event" {
			k = m.MessageType + ":" + m.ExceptionType + m.ErrorCode
		}
		*d = append(*d, got{k, string(m.Payload)})
	}
}

func TestDecodeInPiecesOfAnySize(t *testing.T) {
	var exc aws.Headers
	exc.Set(":message-type", aws.StringValue("exception"))
	exc.Set(":exception-type", aws.StringValue("throttlingException"))
	stream := encode(t,
		event("messageStart", `{"role":"assistant"}`),
		event("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hello"}}`),
		event("messageStop", ``),
		aws.Message{Headers: exc, Payload: []byte(`{"message":"slow down"}`)},
	)
	want := []got{
		{"messageStart", `{"role":"assistant"}`},
		{"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hello"}}`},
		{"messageStop", ``},
		{"exception:throttlingException", `{"message":"slow down"}`},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, piece := range []int{0, 1, 2, 5, 11, 12, 13, 40} {
		var out []got
		d := New(0, collect(&out))
		for b := stream; len(b) > 0; {
			n := piece
			if n == 0 {
				n = 1 + rng.IntN(30)
			}
			n = min(n, len(b))
			d.Write(b[:n])
			b = b[n:]
		}
		if d.Err() != nil || d.Pending() || len(out) != len(want) {
			t.Fatalf("piece %d: err %v pending %v got %v", piece, d.Err(), d.Pending(), out)
		}
		for i := range want {
			if out[i] != want[i] {
				t.Fatalf("piece %d: message %d = %v, want %v", piece, i, out[i], want[i])
			}
		}
	}
}

func TestCutMidMessageIsPending(t *testing.T) {
	stream := encode(t, event("a", `{}`), event("b", `{"x":1}`))
	var out []got
	d := New(0, collect(&out))
	d.Write(stream[:len(stream)-3])
	if len(out) != 1 || !d.Pending() || d.Err() != nil {
		t.Fatalf("got %v pending %v err %v", out, d.Pending(), d.Err())
	}
}

func TestCorruptionStopsDecoding(t *testing.T) {
	one := encode(t, event("a", `{"n":1}`))
	// Each mutation hits the first of two copies: nothing is delivered,
	// not even the intact second one, which can no longer be framed
	// with certainty.
	for name, mut := range map[string]func([]byte){
		"prelude crc":  func(b []byte) { b[9] ^= 1 },
		"message crc":  func(b []byte) { b[len(b)/2-1] ^= 1 },
		"payload byte": func(b []byte) { b[len(b)/2-6] ^= 1 },
		"length":       func(b []byte) { b[3] ^= 4 },
	} {
		t.Run(name, func(t *testing.T) {
			b := append(append([]byte(nil), one...), one...)
			mut(b)
			var out []got
			d := New(0, collect(&out))
			d.Write(b)
			if !errors.Is(d.Err(), ErrCorrupt) || len(out) != 0 {
				t.Fatalf("err %v, got %v", d.Err(), out)
			}
			if d.Pending() {
				t.Fatal("a stopped decoder has nothing pending")
			}
		})
	}
}

func TestOversizedMessageSkippedUnbuffered(t *testing.T) {
	big := string(bytes.Repeat([]byte("x"), 5000))
	stream := encode(t, event("a", `1`), event("big", big), event("c", `3`))
	for _, piece := range []int{len(stream), 7} {
		var out []got
		d := New(1000, collect(&out))
		for b := stream; len(b) > 0; b = b[min(piece, len(b)):] {
			d.Write(b[:min(piece, len(b))])
		}
		if len(out) != 2 || out[0].payload != "1" || out[1].payload != "3" || d.Skipped() != 1 || d.Err() != nil {
			t.Fatalf("piece %d: got %v skipped %d err %v", piece, out, d.Skipped(), d.Err())
		}
		if cap(d.buf) > 1000 {
			t.Fatalf("buffered %d bytes", cap(d.buf))
		}
	}
}
