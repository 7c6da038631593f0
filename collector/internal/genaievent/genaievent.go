// Package genaievent names the GenAI events of OTLP logs, for the
// collector module's exporter (which joins them to their spans) and its
// redaction processor (which strips their content).
package genaievent

import "go.opentelemetry.io/collector/pdata/plog"

// Name is a log record's event name: its EventName field, or the older
// "event.name" attribute that instrumentations used before the field
// existed.
func Name(lr plog.LogRecord) string {
	if n := lr.EventName(); n != "" {
		return n
	}
	if v, ok := lr.Attributes().Get("event.name"); ok {
		return v.AsString()
	}
	return ""
}
