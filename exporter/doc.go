// Package exporter turns GenAI spans into audit entries and keeps their
// content away from every other trace exporter.
//
// The pieces:
//
//   - [New] makes an [Exporter] (an sdktrace.SpanExporter) that converts
//     finished GenAI spans (those with gen_ai.operation.name or
//     gen_ai.provider.name, from otelaudit.StartCall or any instrumentation
//     following the GenAI semantic conventions) into audit entries through
//     the Logger's Entry step: hashed, keyed-hashed or encrypted exactly as
//     Logger.Log would, with trace_id and span_id set.
//   - [NewProcessor] is the lossless span processor that feeds it: bounded
//     queue, batching, backpressure or a local spool instead of drops,
//     retries with backoff and no duplicates, ForceFlush and Shutdown that
//     return only when everything is durable (or say how much is not).
//   - [Redact] wraps any other exporter so it never sees content
//     attributes, and [Sampler] wraps a sampler so GenAI spans are recorded
//     for the audit even when the trace is not sampled (such spans are then
//     kept away from other exporters).
//   - [NewTracerProvider] wires all of it in one call; [ProviderOptions]
//     gives the same as options for a TracerProvider the service builds
//     itself (its resource, ID generator, limits).
//
// A typical setup:
//
//	st, _ := filestore.New("./audit-data")
//	logger, _ := otelaudit.NewLogger(st, otelaudit.WithEncryption(ring))
//	otlp, _ := otlptracegrpc.New(ctx)
//	tp, _, err := exporter.NewTracerProvider(logger,
//		exporter.WithExporter(otlp),                                   // gets spans without content
//		exporter.WithSampler(sdktrace.TraceIDRatioBased(0.01)),        // GenAI spans audited anyway
//		exporter.WithProcessorOptions(exporter.WithSpool("./audit-spool")),
//		exporter.WithGlobal())
//	defer tp.Shutdown(ctx) // returns when every audit entry is durable
//
//	ctx, call := otelaudit.StartCall(ctx, otelaudit.Request{Provider: "openai", Model: "gpt-4o",
//		Input: []otelaudit.Message{{Content: prompt}}})
//	call.SetOutput(otelaudit.Message{Content: answer, FinishReason: "stop"})
//	call.End()
//
// # Entry ids and finding entries from a trace
//
// A span from otelaudit.StartCall carries audit.entry_id from its start;
// the entry is stored under that id. Other GenAI spans get the id
// [EntryIDForSpan] derives from their trace and span id, so a retried
// export writes the same id. Every entry also holds the span's trace_id.
//
// # Content
//
// The audited input is the text of gen_ai.system_instructions followed by
// gen_ai.input.messages, the output the text of gen_ai.output.messages;
// [ContentText] gives the exact rule. For a single user message the input
// is that message's text, so its hash equals otelaudit.HashContent(text).
//
// # Metrics
//
// Through the MeterProvider of [WithMeterProvider] (default: global): the
// pipeline counters (see [MetricEntriesWritten] and the other Metric
// names), the queue depth, the backend write latency, and the GenAI
// metrics of semconv v1.41.0 for every audited span, with the bucket
// boundaries the conventions advise: gen_ai.client.operation.duration and
// gen_ai.client.token.usage for client spans, gen_ai.server.request.duration
// for SERVER spans (middleware.Handler's), with gen_ai.operation.name,
// gen_ai.provider.name, gen_ai.request.model, gen_ai.response.model,
// server.address and server.port when the span has them, and error.type on
// the durations of failed calls. The meter reports otelaudit.Version and
// the semconv schema URL. The streaming metrics, which need each chunk's
// arrival time, are recorded where the chunks pass instead:
// gen_ai.client.operation.time_to_first_chunk and time_per_output_chunk by
// otelaudit.Call.RecordChunk (middleware.Transport calls it), and
// gen_ai.server.time_to_first_token and time_per_output_token by
// middleware.Handler.
package exporter
