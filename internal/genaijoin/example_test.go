package genaijoin_test

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	auditexporter "github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/genaijoin"
)

// A span without content and the GenAI events of the same call meet by
// trace and span id and are written as one view carrying the content in
// the semconv attributes; a push waits until its calls are written.
func Example() {
	write := func(_ context.Context, views []auditexporter.SpanView) error {
		for _, v := range views {
			for _, kv := range v.Attributes() {
				fmt.Printf("%s=%s\n", kv.Key, kv.Value.String())
			}
		}
		return nil
	}
	j := genaijoin.New(time.Minute, genaijoin.DefaultMaxBytes, time.Second, write)
	defer j.Close()

	tid := trace.TraceID{1}
	sid := trace.SpanID{2}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := j.AddEvents([]genaijoin.Event{
		{Name: "gen_ai.user.message", TraceID: tid, SpanID: sid, Time: at,
			Body: map[string]any{"content": "Capital of France?"}},
		{Name: "gen_ai.choice", TraceID: tid, SpanID: sid, Time: at,
			Body: map[string]any{"message": map[string]any{"content": "Paris."}, "finish_reason": "stop"}},
	})

	span := &genaijoin.View{
		SC:    trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}),
		Start: at, End: at.Add(time.Second),
		Attrs: []attribute.KeyValue{attribute.String("gen_ai.operation.name", "chat")},
	}
	direct, held := j.Split([]*genaijoin.View{span})
	fmt.Println(len(direct), "direct,", len(held), "held")
	ws := j.AddSpans(held) // the events came first: written now

	fmt.Println(genaijoin.Wait(context.Background(), w), genaijoin.Wait(context.Background(), ws))
	fmt.Printf("%+v\n", j.Stats())
	// Output:
	// 0 direct, 1 held
	// gen_ai.operation.name=chat
	// gen_ai.input.messages=[{"role":"user","parts":[{"type":"text","content":"Capital of France?"}]}]
	// gen_ai.output.messages=[{"role":"assistant","parts":[{"type":"text","content":"Paris."}],"finish_reason":"stop"}]
	// <nil> <nil>
	// {Joined:1 SpansWithoutEvents:0 EventsWithoutSpan:0 OverCap:0 Dropped:0 EventsAfterSpan:0}
}
