package otelauditexporter

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/collector/internal/genaievent"
	auditexporter "github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/contentkeys"
	"github.com/otelaudit/otelaudit-go/internal/genaijoin"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// spanViews returns a view of every GenAI span in td. Other spans are
// skipped before their attributes are converted: a key lookup each.
func spanViews(td ptrace.Traces) []*genaijoin.View {
	var out []*genaijoin.View
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				s := spans.At(k)
				if !isGenAI(s.Attributes()) {
					continue
				}
				out = append(out, newSpanView(s))
			}
		}
	}
	return out
}

// genAIKeys are the keys exporter.IsGenAI looks for; checking them on the
// pdata map avoids converting the attributes of other spans.
var genAIKeys = []string{"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system"}

// isGenAI is exporter.IsGenAI on a pdata map.
func isGenAI(m pcommon.Map) bool {
	for _, k := range genAIKeys {
		if _, ok := m.Get(k); ok {
			return true
		}
	}
	// Spans whose kind another convention names in a value: ask the
	// exporter's rule about those attributes alone.
	var kinds [len(contentkeys.KindKeys)]attribute.KeyValue
	n := 0
	for _, k := range contentkeys.KindKeys {
		if v, ok := m.Get(k); ok && v.Type() == pcommon.ValueTypeStr {
			kinds[n] = attribute.String(k, v.Str())
			n++
		}
	}
	return n > 0 && auditexporter.IsGenAI(kinds[:n])
}

// newSpanView adapts a pdata span to the view the conversion reads (an
// exporter.SpanView), so that OTLP spans go through the SDK exporter's
// conversion. The conversion reads the span's own attributes and its
// evaluation events (resource and scope attributes do not matter, as in
// the SDK exporter); other events are not converted.
func newSpanView(s ptrace.Span) *genaijoin.View {
	return &genaijoin.View{
		SC: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    trace.TraceID(s.TraceID()),
			SpanID:     trace.SpanID(s.SpanID()),
			TraceFlags: trace.TraceFlags(byte(s.Flags())),
		}),
		Start:      s.StartTimestamp().AsTime(),
		End:        s.EndTimestamp().AsTime(),
		Attrs:      attributes(s.Attributes()),
		SpanEvents: evaluationEvents(s.Events()),
	}
}

// evaluationEvents converts the gen_ai.evaluation.result events of a span,
// which the conversion turns into metadata and alerts; nil when it has none.
func evaluationEvents(evs ptrace.SpanEventSlice) []sdktrace.Event {
	var out []sdktrace.Event
	for i := 0; i < evs.Len(); i++ {
		ev := evs.At(i)
		if ev.Name() != otelaudit.EvaluationEventName {
			continue
		}
		out = append(out, sdktrace.Event{Name: ev.Name(), Time: ev.Timestamp().AsTime(), Attributes: attributes(ev.Attributes())})
	}
	return out
}

// events returns the GenAI content events of ld (genaijoin.IsContentEvent)
// for the join, their body and attributes as raw values.
func events(ld plog.Logs) []genaijoin.Event {
	var out []genaijoin.Event
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for k := 0; k < sls.Len(); k++ {
			lrs := sls.At(k).LogRecords()
			for l := 0; l < lrs.Len(); l++ {
				lr := lrs.At(l)
				name := genaievent.Name(lr)
				if !genaijoin.IsContentEvent(name) {
					continue
				}
				ev := genaijoin.Event{Name: name, TraceID: trace.TraceID(lr.TraceID()), SpanID: trace.SpanID(lr.SpanID()),
					Time: lr.Timestamp().AsTime(), Body: lr.Body().AsRaw(), Attrs: lr.Attributes().AsRaw()}
				if lr.Timestamp() == 0 {
					ev.Time = lr.ObservedTimestamp().AsTime()
				}
				out = append(out, ev)
			}
		}
	}
	return out
}

// attributes converts an OTLP attribute map to the SDK's key-values with
// the types the OTLP exporters of the SDKs started from: a homogeneous
// array of strings, ints, doubles or bools becomes the typed slice (an
// empty array a string slice), other arrays and maps the structured
// SLICE and MAP values, bytes a string.
func attributes(m pcommon.Map) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, m.Len())
	for k, val := range m.All() {
		out = append(out, attribute.KeyValue{Key: attribute.Key(k), Value: value(val)})
	}
	return out
}

func value(v pcommon.Value) attribute.Value {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return attribute.StringValue(v.Str())
	case pcommon.ValueTypeInt:
		return attribute.Int64Value(v.Int())
	case pcommon.ValueTypeDouble:
		return attribute.Float64Value(v.Double())
	case pcommon.ValueTypeBool:
		return attribute.BoolValue(v.Bool())
	case pcommon.ValueTypeBytes:
		return attribute.StringValue(v.AsString())
	case pcommon.ValueTypeSlice:
		return sliceValue(v.Slice())
	case pcommon.ValueTypeMap:
		m := v.Map()
		kvs := make([]attribute.KeyValue, 0, m.Len())
		for k, e := range m.All() {
			kvs = append(kvs, attribute.KeyValue{Key: attribute.Key(k), Value: value(e)})
		}
		return attribute.MapValue(kvs...)
	default:
		return attribute.Value{}
	}
}

func sliceValue(s pcommon.Slice) attribute.Value {
	n := s.Len()
	if n == 0 {
		return attribute.StringSliceValue(nil)
	}
	t := s.At(0).Type()
	for i := 1; i < n; i++ {
		if s.At(i).Type() != t {
			t = pcommon.ValueTypeEmpty
			break
		}
	}
	switch t {
	case pcommon.ValueTypeStr:
		xs := make([]string, n)
		for i := range n {
			xs[i] = s.At(i).Str()
		}
		return attribute.StringSliceValue(xs)
	case pcommon.ValueTypeInt:
		xs := make([]int64, n)
		for i := range n {
			xs[i] = s.At(i).Int()
		}
		return attribute.Int64SliceValue(xs)
	case pcommon.ValueTypeDouble:
		xs := make([]float64, n)
		for i := range n {
			xs[i] = s.At(i).Double()
		}
		return attribute.Float64SliceValue(xs)
	case pcommon.ValueTypeBool:
		xs := make([]bool, n)
		for i := range n {
			xs[i] = s.At(i).Bool()
		}
		return attribute.BoolSliceValue(xs)
	}
	vs := make([]attribute.Value, n)
	for i := range n {
		vs[i] = value(s.At(i))
	}
	return attribute.SliceValue(vs...)
}
