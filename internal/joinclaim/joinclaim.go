// Package joinclaim lets exporter/logaudit's Auditor take the GenAI spans
// it writes (joined with their log events) from the audit processor
// (exporter.NewProcessor) beside it in the same TracerProvider, which
// would otherwise write each of them too, without the content the events
// carry, under the same entry id: two entries for one call, one of them
// claiming the call had no prompt. The Auditor takes a span in OnStart
// and gives it back in OnEnd; the processor, whose OnEnd may run before
// the Auditor's, leaves a span that is taken (unless it paired it with
// another layer of its call, see exporter.AuditSameCallKey, which the
// Auditor then leaves). A span belongs to one provider, so one set serves
// the process; while no span is taken a look costs one atomic load.
package joinclaim

import (
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/trace"
)

type key struct {
	t trace.TraceID
	s trace.SpanID
}

var (
	n     atomic.Int64 // spans taken
	spans sync.Map     // key -> struct{}
)

// Take marks the span sc as the Auditor's to write.
func Take(sc trace.SpanContext) {
	if _, loaded := spans.LoadOrStore(key{sc.TraceID(), sc.SpanID()}, struct{}{}); !loaded {
		n.Add(1)
	}
}

// Taken reports whether the span sc was taken and not given back.
func Taken(sc trace.SpanContext) bool {
	if n.Load() == 0 {
		return false
	}
	_, ok := spans.Load(key{sc.TraceID(), sc.SpanID()})
	return ok
}

// Release gives the span sc back (it ended); a span not taken is ignored.
func Release(sc trace.SpanContext) {
	if n.Load() == 0 {
		return
	}
	if _, ok := spans.LoadAndDelete(key{sc.TraceID(), sc.SpanID()}); ok {
		n.Add(-1)
	}
}
