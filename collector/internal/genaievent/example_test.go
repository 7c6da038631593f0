package genaievent_test

import (
	"fmt"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelaudit/otelaudit-go/collector/internal/genaievent"
)

// The EventName field names the event; the older event.name attribute
// stands in when the field is empty.
func ExampleName() {
	recs := plog.NewLogRecordSlice()
	recs.AppendEmpty().SetEventName("gen_ai.choice")
	recs.AppendEmpty().Attributes().PutStr("event.name", "gen_ai.user.message")
	recs.AppendEmpty().Body().SetStr("not an event")
	for i := range recs.Len() {
		fmt.Printf("%q\n", genaievent.Name(recs.At(i)))
	}
	// Output:
	// "gen_ai.choice"
	// "gen_ai.user.message"
	// ""
}
