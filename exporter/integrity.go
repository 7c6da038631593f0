package exporter

import (
	"fmt"
	"os"
	"strconv"
	"unicode/utf8"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otelaudit/otelaudit-go/internal/handoff"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// Metadata keys the exporter sets on an entry whose content is not the
// call's whole content. Each holds true; an entry without them holds what
// its span (and the content handed over beside it) held.
const (
	// MetadataContentUnavailable marks an entry whose content was never
	// captured: its span says so (otelaudit.AuditContentUnavailableKey),
	// because its instrumentation (otelaudit.StartCall, StartTool,
	// StartAgent, the middleware) hands content over beside the span and
	// no audit processor took it, as when the Exporter runs behind the
	// SDK's BatchSpanProcessor instead of [NewProcessor]. The entry's
	// input_hash and output_hash are then those of empty content, which
	// the call did not necessarily have; its ids, model, tokens and
	// timing are the call's.
	MetadataContentUnavailable = "content_unavailable"
	// MetadataContentTruncated marks an entry of an SDK span a content
	// attribute of which is exactly as long as the span attribute value
	// length limit the environment sets (OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
	// else OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, read when the Exporter is made,
	// as the SDK reads them for a provider): the SDK most likely cut the
	// value to that length, so the entry hashes the cut text. Content
	// handed over beside the span is whole and never marked. A limit set
	// with sdktrace.WithSpanLimits in code is not seen.
	MetadataContentTruncated = "content_truncated"
	// MetadataUnendedAtShutdown marks an entry of a pair of spans of one
	// call ([AuditSameCallKey]) written at Shutdown while one of the two
	// had not ended, as when a caller never ended its otelaudit.StartCall
	// span around the middleware.Transport span of its model call: the
	// entry holds what the ended span recorded (the Transport's request
	// and reply) under the pair's id (the caller's otelaudit.Call.EntryID)
	// with what the caller had told the audit on the unended span by then
	// (audit.* attributes and metadata, the conversation id); what that
	// span would have recorded later is in no entry.
	MetadataUnendedAtShutdown = "unended_at_shutdown"
)

// spanValueLengthLimit returns the span attribute value length limit the
// environment sets, as the SDK's NewSpanLimits reads it: the first of
// OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT and
// OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT that is set, -1 (no limit) when
// neither is or the first set is not an integer.
func spanValueLengthLimit() int {
	for _, k := range [...]string{"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"} {
		v := os.Getenv(k)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return -1
		}
		return n
	}
	return -1
}

// cutContentKey returns the key of the first content attribute
// (otelaudit.IsContentKey) among s's own attributes whose value, or an
// element of whose string slice, is limit characters long (the SDK counts
// characters, not bytes, and cuts to exactly limit), unless the same key
// was handed over beside the span, whose copy the conversion reads.
func cutContentKey(s SpanView, limit int) (attribute.Key, bool) {
	own, texts, handed := spanContent(s)
	for _, kv := range own {
		if !atLimit(kv.Value, limit) || !otelaudit.IsContentKey(kv.Key) || handedOver(kv.Key, texts, handed) {
			continue
		}
		return kv.Key, true
	}
	return "", false
}

// atLimit reports whether v is a string, or a string slice with an
// element, exactly limit characters long.
func atLimit(v attribute.Value, limit int) bool {
	at := func(s string) bool { return len(s) >= limit && utf8.RuneCountInString(s) == limit }
	switch v.Type() {
	case attribute.STRING:
		return at(v.AsString())
	case attribute.STRINGSLICE:
		for _, s := range v.AsStringSlice() {
			if at(s) {
				return true
			}
		}
	}
	return false
}

// handedOver reports whether key is among the content handed over beside
// the span.
func handedOver(key attribute.Key, texts []handoff.Text, handed []attribute.KeyValue) bool {
	for i := range texts {
		if texts[i].Key == key {
			return true
		}
	}
	for i := range handed {
		if handed[i].Key == key {
			return true
		}
	}
	return false
}

// checkCut marks in (metadata [MetadataContentTruncated]) when s is a span
// of the Go SDK in this process, the environment sets a span attribute
// value length limit and a content attribute of s is that long; it
// reports whether it did, and the key. Spans from elsewhere (the
// Collector's) were limited by their sender, whose limit is not known
// here.
func (e *Exporter) checkCut(s SpanView, in *otelaudit.Interaction) (attribute.Key, bool) {
	if e.cfg.valueLimit < 0 {
		return "", false
	}
	if _, sdk := s.(sdktrace.ReadOnlySpan); !sdk {
		return "", false
	}
	key, cut := cutContentKey(s, e.cfg.valueLimit)
	if !cut {
		return "", false
	}
	if in.Metadata == nil {
		in.Metadata = make(map[string]any, 1)
	}
	in.Metadata[MetadataContentTruncated] = true
	return key, true
}

// noteIncomplete counts an entry written without its whole content and
// reports the first of each kind through otel.Handle, by span ids and
// attribute key, never content.
func (e *Exporter) noteIncomplete(in *otelaudit.Interaction, unavailable bool, cutKey attribute.Key, cut bool) {
	if unavailable {
		e.contentUnavailable.Add(1)
		if e.warnedUnavailable.CompareAndSwap(false, true) {
			otel.Handle(fmt.Errorf("exporter: span %s/%s handed its content to no audit processor, so its audit entry "+
				"is written without content and marked %s (Stats().ContentUnavailable counts them): the Exporter "+
				"runs behind another span processor (sdktrace.WithBatcher, WithSyncer); give it to exporter.NewProcessor, "+
				"or build the provider with exporter.ProviderOptions or exporter.NewTracerProvider; reported once",
				in.TraceID, in.SpanID, MetadataContentUnavailable))
		}
	}
	if cut {
		e.contentTruncated.Add(1)
		if e.warnedTruncated.CompareAndSwap(false, true) {
			otel.Handle(fmt.Errorf("exporter: span %s/%s: content attribute %s is exactly %d characters long, the span "+
				"attribute value length limit (OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT / OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT), "+
				"so the SDK most likely cut it: its audit entry hashes the cut text and is marked %s "+
				"(Stats().ContentTruncated counts them); raise or unset the limit, or let the instrumentation hand its "+
				"content to the audit processor beside the span; reported once",
				in.TraceID, in.SpanID, cutKey, e.cfg.valueLimit, MetadataContentTruncated))
		}
	}
}
