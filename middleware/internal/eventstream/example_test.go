package eventstream_test

import (
	"bytes"
	"errors"
	"fmt"

	aws "github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/otelaudit/otelaudit-go/middleware/internal/eventstream"
)

// Two messages framed by the AWS SDK's encoder, fed a few bytes at a time,
// reach the callback with their headers and payload; a flipped payload
// byte in the next one fails its checksum and stops decoding.
func Example() {
	var stream bytes.Buffer
	enc := aws.NewEncoder()
	for _, ev := range []struct{ typ, payload string }{
		{"messageStart", `{"role":"assistant"}`},
		{"contentBlockDelta", `{"delta":{"text":"Hi"}}`},
		{"messageStop", `{"stopReason":"end_turn"}`},
	} {
		var h aws.Headers
		h.Set(":message-type", aws.StringValue("event"))
		h.Set(":event-type", aws.StringValue(ev.typ))
		if err := enc.Encode(&stream, aws.Message{Headers: h, Payload: []byte(ev.payload)}); err != nil {
			panic(err)
		}
	}
	b := stream.Bytes()
	b[len(b)-6] ^= 1 // inside the last message's payload

	d := eventstream.New(0, func(m eventstream.Message) {
		fmt.Printf("%s %s %s\n", m.MessageType, m.EventType, m.Payload)
	})
	for i := 0; i < len(b); i += 7 {
		d.Write(b[i:min(i+7, len(b))])
	}
	fmt.Println(d.Messages(), errors.Is(d.Err(), eventstream.ErrCorrupt))
	// Output:
	// event messageStart {"role":"assistant"}
	// event contentBlockDelta {"delta":{"text":"Hi"}}
	// 2 true
}
