// Package otelauditredactprocessor is the Collector processor
// "otelauditredact": it removes GenAI content (prompts, answers, tool
// arguments and results, evaluation explanations, caller metadata) from
// traces and logs on their way to ordinary backends, with the very rule the
// Go SDK's exporter.Redact uses ([exporter.IsContentAttribute]), so the two
// can never disagree.
//
// Put it in every pipeline that does not end in the otelaudit exporter:
//
//	service:
//	  pipelines:
//	    traces/audit:    {receivers: [otlp], exporters: [otelaudit]}
//	    traces/ordinary: {receivers: [otlp], processors: [otelauditredact, batch], exporters: [otlphttp]}
//	    logs/ordinary:   {receivers: [otlp], processors: [otelauditredact, batch], exporters: [otlphttp]}
//
// What is removed: on spans, their events and links, resources, scopes and
// log records, every attribute the rule reports as content; on span events
// and log records named gen_ai.* (the semconv content events), every
// attribute that is not a non-content gen_ai.* key, and the log record's
// body, which holds the message. Nothing else changes. It has no settings.
//
// [exporter.IsContentAttribute]: https://pkg.go.dev/github.com/otelaudit/otelaudit-go/exporter#IsContentAttribute
package otelauditredactprocessor
