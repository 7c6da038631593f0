package otelauditredactprocessor

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"

	"github.com/otelaudit/otelaudit-go/collector/internal/genaievent"
	"github.com/otelaudit/otelaudit-go/exporter"
)

// RedactTraces removes content from td in place (see the package doc).
func RedactTraces(td ptrace.Traces) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		redactMap("", rs.Resource().Attributes())
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			redactMap("", ss.Scope().Attributes())
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				s := spans.At(k)
				redactMap("", s.Attributes())
				evs := s.Events()
				for e := 0; e < evs.Len(); e++ {
					ev := evs.At(e)
					redactMap(ev.Name(), ev.Attributes())
				}
				links := s.Links()
				for l := 0; l < links.Len(); l++ {
					redactMap("", links.At(l).Attributes())
				}
			}
		}
	}
}

// RedactLogs removes content from ld in place (see the package doc).
func RedactLogs(ld plog.Logs) {
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		redactMap("", rl.Resource().Attributes())
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			redactMap("", sl.Scope().Attributes())
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				name := genaievent.Name(lr)
				redactMap(name, lr.Attributes())
				if strings.HasPrefix(name, "gen_ai.") {
					pcommon.NewValueEmpty().CopyTo(lr.Body())
				}
			}
		}
	}
}

func redactMap(event string, m pcommon.Map) {
	m.RemoveIf(func(k string, _ pcommon.Value) bool {
		return exporter.IsContentAttribute(event, attribute.Key(k))
	})
}
