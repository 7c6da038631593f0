package otelauditexporter

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	auditexporter "github.com/otelaudit/otelaudit-go/exporter"
)

// spanView adapts a pdata span to exporter.SpanView, so that OTLP spans go
// through the SDK exporter's conversion. Only the span's own attributes
// matter to the conversion (resource and scope attributes do not, as in
// the SDK exporter).
type spanView struct {
	sc         trace.SpanContext
	start, end time.Time
	attrs      []attribute.KeyValue
}

var _ auditexporter.SpanView = (*spanView)(nil)

func (v *spanView) SpanContext() trace.SpanContext   { return v.sc }
func (v *spanView) StartTime() time.Time             { return v.start }
func (v *spanView) EndTime() time.Time               { return v.end }
func (v *spanView) Attributes() []attribute.KeyValue { return v.attrs }

// spanViews returns a view of every GenAI span in td. Other spans are
// skipped before their attributes are converted: a key lookup each.
func spanViews(td ptrace.Traces) []auditexporter.SpanView {
	var out []auditexporter.SpanView
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

func isGenAI(m pcommon.Map) bool {
	for _, k := range genAIKeys {
		if _, ok := m.Get(k); ok {
			return true
		}
	}
	return false
}

func newSpanView(s ptrace.Span) *spanView {
	v := &spanView{
		sc: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    trace.TraceID(s.TraceID()),
			SpanID:     trace.SpanID(s.SpanID()),
			TraceFlags: trace.TraceFlags(byte(s.Flags())),
		}),
		start: s.StartTimestamp().AsTime(),
		end:   s.EndTimestamp().AsTime(),
		attrs: attributes(s.Attributes()),
	}
	return v
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
