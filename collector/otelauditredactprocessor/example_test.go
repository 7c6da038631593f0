package otelauditredactprocessor_test

import (
	"fmt"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelaudit/otelaudit-go/collector/otelauditredactprocessor"
)

// RedactTraces keeps a GenAI span's metadata and removes its prompt and
// answer, as the otelauditredact processor does before an ordinary
// backend sees the span.
func ExampleRedactTraces() {
	td := ptrace.NewTraces()
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.Attributes().PutStr("gen_ai.request.model", "gpt-4o")
	span.Attributes().PutInt("gen_ai.usage.input_tokens", 12)
	span.Attributes().PutStr("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"my secret"}]}]`)

	otelauditredactprocessor.RedactTraces(td)

	fmt.Println(span.Attributes().AsRaw())
	// Output:
	// map[gen_ai.request.model:gpt-4o gen_ai.usage.input_tokens:12]
}

// RedactLogs empties the body of GenAI events (the message) and keeps
// their gen_ai.* metadata; other log records pass unchanged.
func ExampleRedactLogs() {
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName("gen_ai.user.message")
	lr.Body().SetEmptyMap().PutStr("content", "my secret")
	lr.Attributes().PutStr("gen_ai.system", "openai")

	otelauditredactprocessor.RedactLogs(ld)

	fmt.Println(lr.Body().AsRaw(), lr.Attributes().AsRaw())
	// Output:
	// <nil> map[gen_ai.system:openai]
}
