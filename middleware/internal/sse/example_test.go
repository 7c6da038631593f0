package sse_test

import (
	"fmt"

	"github.com/otelaudit/otelaudit-go/middleware/internal/sse"
)

// A stream fed in pieces that split lines and events anywhere: every
// complete event reaches the callback once, multi-line data joined with
// "\n", comments ignored, and a cut final event is reported as pending.
func Example() {
	stream := ": keep-alive\n" +
		"event: message_start\ndata: {\"a\":1}\n\n" +
		"data: line one\r\ndata: line two\r\n\r\n" +
		"id: 7\ndata: [DONE]\n\n" +
		"data: cut"
	p := sse.New(0, func(e sse.Event) {
		fmt.Printf("type=%q id=%q data=%q\n", e.Type, e.ID, e.Data)
	})
	for i := 0; i < len(stream); i += 5 {
		p.Write([]byte(stream[i:min(i+5, len(stream))]))
	}
	fmt.Println(p.Events(), "events, pending:", p.Pending())
	// Output:
	// type="message_start" id="" data="{\"a\":1}"
	// type="" id="" data="line one\nline two"
	// type="" id="7" data="[DONE]"
	// 3 events, pending: true
}
