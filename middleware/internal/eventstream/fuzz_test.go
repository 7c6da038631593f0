package eventstream

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	aws "github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// FuzzDecoder checks the decoder against the AWS SDK's: on any input it
// never panics, and every message it delivers is the message the SDK's
// decoder reads at the same place (same headers, same payload), whatever
// the sizes of the pieces the input is fed in.
func FuzzDecoder(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.bin")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(7))
	}
	f.Add(encode(f, event("messageStart", `{"role":"assistant"}`), event("metadata", `{"usage":{}}`)), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, piece uint8) {
		var ours []Message
		d := New(1<<16, func(m Message) {
			m.Payload = bytes.Clone(m.Payload)
			ours = append(ours, m)
		})
		step := int(piece) + 1
		for b := data; len(b) > 0; b = b[min(step, len(b)):] {
			d.Write(b[:min(step, len(b))])
		}
		if d.Skipped() > 0 {
			return // the SDK has no such limit: positions differ from here on
		}
		r := bytes.NewReader(data)
		dec := aws.NewDecoder()
		for i, m := range ours {
			want, err := dec.Decode(r, nil)
			if err != nil {
				t.Fatalf("message %d: ours decoded %+v, the SDK failed: %v", i, m, err)
			}
			str := func(name string) string {
				if v, ok := want.Headers.Get(name).(aws.StringValue); ok {
					return string(v)
				}
				return ""
			}
			if m.MessageType != str(":message-type") || m.EventType != str(":event-type") ||
				m.ExceptionType != str(":exception-type") || m.ErrorCode != str(":error-code") ||
				!bytes.Equal(m.Payload, want.Payload) {
				t.Fatalf("message %d: ours %+v, SDK %+v", i, m, want)
			}
		}
	})
}
