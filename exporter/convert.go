package exporter

import (
	"cmp"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/internal/contentkeys"
	"github.com/otelaudit/otelaudit-go/internal/entryid"
	"github.com/otelaudit/otelaudit-go/internal/handoff"
	"github.com/otelaudit/otelaudit-go/internal/jsontext"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// Legacy GenAI keys (semconv before 1.37) still emitted by some
// instrumentations; read as fallbacks.
const (
	legacySystemKey       = attribute.Key("gen_ai.system")
	legacyPromptTokens    = attribute.Key("gen_ai.usage.prompt_tokens")
	legacyCompletionToken = attribute.Key("gen_ai.usage.completion_tokens")
)

// legacyPart is one legacy indexed content attribute of a message
// (semconv before 1.37): gen_ai.prompt.<i>.content or
// gen_ai.completion.<i>.content (call -1), or one field of tool call
// <call> of the message, gen_ai.{prompt,completion}.<i>.tool_calls.<call>.
// {id,name,arguments}.
type legacyPart struct {
	msg, call int
	// part orders the content pieces of one message (call -1): 0 for a
	// legacy message's content; OpenInference's message.content is -1,
	// its message.contents.<j> j.
	part  int
	field string // "content", "id", "name" or "arguments"
	text  string
}

// parseLegacyKey reports whether k is a legacy indexed content key (one of
// contentkeys.LegacyLists), of the output (gen_ai.completion.*,
// llm.completions.*) or the input (gen_ai.prompt.*, llm.prompts.*), and
// which message, tool call and field it names.
func parseLegacyKey(k attribute.Key) (p legacyPart, out, ok bool) {
	var rest string
	for _, l := range contentkeys.LegacyLists {
		if rest, ok = strings.CutPrefix(string(k), l.Prefix); ok {
			out = l.Output
			break
		}
	}
	if !ok {
		return p, false, false
	}
	if p.msg, rest, ok = cutIndex(rest); !ok {
		return p, false, false
	}
	if rest == "content" {
		p.call, p.field = -1, rest
		return p, out, true
	}
	if rest, ok = strings.CutPrefix(rest, "tool_calls."); !ok {
		return p, false, false
	}
	if p.call, rest, ok = cutIndex(rest); !ok {
		return p, false, false
	}
	switch rest {
	case "id", "name", "arguments":
		p.field = rest
		return p, out, true
	}
	return p, false, false
}

// cutIndex cuts a decimal index of up to six digits and the '.' after it
// off the front of s.
func cutIndex(s string) (i int, rest string, ok bool) {
	num, rest, found := strings.Cut(s, ".")
	if !found || num == "" || len(num) > 6 {
		return 0, "", false
	}
	for _, c := range []byte(num) {
		if c < '0' || c > '9' {
			return 0, "", false
		}
		i = i*10 + int(c-'0')
	}
	return i, rest, true
}

// appendLegacy appends the contributions of the legacy parts ps to parts,
// message by message in index order: a message's content verbatim, then
// each of its tool calls as [ContentText] renders a semconv tool_call part
// (see legacyToolCall), so that no tool call sent or received is left out
// of the hash.
func appendLegacy(parts []string, ps []legacyPart) []string {
	slices.SortStableFunc(ps, func(a, b legacyPart) int {
		if c := cmp.Compare(a.msg, b.msg); c != 0 {
			return c
		}
		if c := cmp.Compare(a.call, b.call); c != 0 {
			return c
		}
		return cmp.Compare(a.part, b.part)
	})
	for len(ps) > 0 {
		p := ps[0]
		if p.call < 0 {
			parts = append(parts, p.text)
			ps = ps[1:]
			continue
		}
		n := 1
		for n < len(ps) && ps[n].msg == p.msg && ps[n].call == p.call {
			n++
		}
		var id, name, args string
		for _, f := range ps[:n] {
			switch f.field {
			case "id":
				id = f.text
			case "name":
				name = f.text
			case "arguments":
				args = f.text
			}
		}
		parts = append(parts, legacyToolCall(id, name, args))
		ps = ps[n:]
	}
	return parts
}

// legacyToolCall is the content text of a legacy indexed tool call: the
// canonical JSON ([jsontext.AppendCompact]) of the semconv tool_call part
// {"arguments":..,"id":..,"name":..,"type":"tool_call"}, with arguments
// that are JSON text kept as JSON (as the middleware and the Collector's
// event join record them) and other arguments as a string. The same call
// so hashes the same whether its instrumentation wrote indexed attributes,
// gen_ai.input.messages or events. The keys are written in sorted order.
func legacyToolCall(id, name, args string) string {
	b := append(make([]byte, 0, 48+len(id)+len(name)+len(args)), '{')
	if args != "" {
		b = append(b, `"arguments":`...)
		if out, ok := jsontext.AppendCompact(b, []byte(args)); ok {
			b = out
		} else {
			b = jsontext.AppendString(b, args)
		}
		b = append(b, ',')
	}
	if id != "" {
		b = append(jsontext.AppendString(append(b, `"id":`...), id), ',')
	}
	if name != "" {
		b = append(jsontext.AppendString(append(b, `"name":`...), name), ',')
	}
	return string(append(b, `"type":"tool_call"}`...))
}

// IsGenAI reports whether attrs mark a GenAI span: they hold
// gen_ai.operation.name or gen_ai.provider.name (or the legacy
// gen_ai.system), or they are an OpenInference span of kind LLM,
// EMBEDDING, TOOL, AGENT or RETRIEVER (openinference.span.kind), or a Vercel AI SDK
// span of one model or tool call (ai.operationId
// ai.generateText.doGenerate, ai.streamText.doStream,
// ai.generateObject.doGenerate, ai.streamObject.doStream,
// ai.embed.doEmbed, ai.embedMany.doEmbed or ai.toolCall; its embedding
// and tool spans carry no gen_ai.* attribute), or a Firebase Genkit
// action of a model, an embedder or a tool (genkit:metadata:subtype model,
// embedder or tool), or an OpenLLMetry span of a call (llm.request.type
// chat, completion or embedding: its Go SDK and its first versions set no
// gen_ai.* key). It is what the processor,
// the exporter and [Sampler] use to pick the spans to audit; it compares
// keys and that one value, so it is cheap.
func IsGenAI(attrs []attribute.KeyValue) bool {
	for i := range attrs {
		switch attrs[i].Key {
		case semconv.GenAIOperationNameKey, semconv.GenAIProviderNameKey, legacySystemKey:
			return true
		case oiSpanKindKey:
			if isOpenInferenceCall(attrs[i].Value) {
				return true
			}
		case vercelOperationKey, genkitSubtypeKey, llmRequestTypeKey:
			if kindOperation(attrs[i]) != "" {
				return true
			}
		}
	}
	return false
}

// EntryIDForSpan returns the entry id the exporter uses for a GenAI span
// that carries no audit.entry_id: a UUIDv7 whose 48-bit time field is the
// span's start time (Unix milliseconds) and whose 74 random bits are taken
// from SHA-256("otelaudit-entry" | trace id | span id). It is deterministic,
// so an export retried after a failure writes the same id, and an auditor
// can compute it from the trace; ids still sort by time like UUIDv7s made
// by [storage.NewEntryID].
func EntryIDForSpan(sc trace.SpanContext, start time.Time) string {
	return entryid.Derive(entryid.Span, sc, start)
}

// EntryID returns the id of the entry the conversion ([InteractionFromSpan])
// makes of s when no content handed over beside the span names one: the
// last string audit.entry_id attribute of s when it is not empty, else
// [EntryIDForSpan] of its span context and start. A receiver of spans
// from elsewhere (the Collector exporter) uses it to tell a span delivered
// twice, and two spans that claim one id.
func EntryID(s SpanView) string {
	if id := givenEntryID(s.Attributes()); id != "" {
		return id
	}
	return EntryIDForSpan(s.SpanContext(), s.StartTime())
}

// givenEntryID returns the last string audit.entry_id of attrs, "" when
// there is none or it is empty.
func givenEntryID(attrs []attribute.KeyValue) string {
	for i := len(attrs) - 1; i >= 0; i-- {
		if kv := attrs[i]; kv.Key == otelaudit.AuditEntryIDKey && kv.Value.Type() == attribute.STRING {
			return kv.Value.AsString()
		}
	}
	return ""
}

// SpanView is the read-only view of a finished span that the conversion to
// an audit interaction reads: its ids, start and end, and attributes. It is
// the one input of [InteractionFromSpan], so every source of spans goes
// through the same mapping. sdktrace.ReadOnlySpan satisfies it as it is;
// the Collector exporter (collector/otelauditexporter) adapts pdata spans
// to it.
//
// Attributes is called once per conversion; the conversion does not keep
// or modify the slice.
type SpanView interface {
	SpanContext() trace.SpanContext
	StartTime() time.Time
	EndTime() time.Time
	Attributes() []attribute.KeyValue
}

var _ SpanView = sdktrace.ReadOnlySpan(nil)

// InteractionFromSpan turns a finished GenAI span into the interaction the
// Logger stores; the [Exporter] and the Collector exporter both use it, so
// an entry written from OTLP equals the one written from the Go SDK for
// the same span. The mapping:
//
//   - ID: audit.entry_id when it is a non-empty string, else [EntryIDForSpan].
//   - Timestamp: span start; Latency: end - start.
//   - Provider: gen_ai.provider.name (legacy gen_ai.system as fallback).
//   - Model: gen_ai.request.model, else gen_ai.response.model.
//   - Operation, ConversationID: gen_ai.operation.name, gen_ai.conversation.id.
//   - Input: the text of gen_ai.system_instructions then of
//     gen_ai.input.messages, then gen_ai.tool.definitions (recorded only
//     when the instrumentation opted in) as its JSON; Output: the text of
//     gen_ai.output.messages (see [ContentText] for the exact rule). A
//     tool execution (execute_tool)
//     without messages has gen_ai.tool.call.arguments as input and
//     gen_ai.tool.call.result as output, verbatim; a retrieval without
//     them, gen_ai.retrieval.query.text as input and
//     gen_ai.retrieval.documents as output (a string verbatim, a
//     structured value as its JSON). Without
//     gen_ai.input.messages / gen_ai.output.messages, the legacy indexed
//     attributes of instrumentations older than semconv 1.37 (OpenLLMetry
//     and others) give the content: gen_ai.prompt.<i>.* as input and
//     gen_ai.completion.<i>.* as output, message by message in index
//     order, each message's content then its tool calls
//     (tool_calls.<j>.{id,name,arguments}) as tool_call parts' JSON; and
//     so do OpenLLMetry's first names, which its Go SDK still writes:
//     llm.prompts.<i>.* and llm.completions.<i>.*, with llm.vendor as the
//     provider, llm.request.model (else llm.response.model) as the model
//     and llm.usage.prompt_tokens / completion_tokens, where the gen_ai.*
//     keys give none.
//   - Tokens: gen_ai.usage.input_tokens / output_tokens (legacy
//     prompt_tokens / completion_tokens as fallback); absent stays unknown.
//   - Safety: audit.safety_passed, audit.detectors_triggered,
//     audit.block_reason, audit.alerts.
//   - Metadata: every audit.metadata.<key> as metadata[key], plus, when
//     present, "gen_ai.response.id", "gen_ai.response.model",
//     "gen_ai.response.finish_reasons", "error.type", "gen_ai.tool.name",
//     "gen_ai.tool.call.id", "gen_ai.agent.name" and "gen_ai.agent.id"
//     under those names.
//   - Streams: gen_ai.request.stream true gives metadata["stream"] = true.
//   - Evaluations: each gen_ai.evaluation.result event (when the view has
//     Events, as SDK spans do) adds {"name","score","label"} to
//     metadata["gen_ai.evaluation.results"] and the alert
//     "evaluation:{name}={label}" ("={score}" without a label); the
//     explanation, which may quote content, is not copied.
//   - TraceID, SpanID: the span's ids in W3C hex.
//   - Content not captured: audit.content_unavailable true
//     (otelaudit.AuditContentUnavailableKey, set by this module's
//     instrumentations when no audit processor took their content) gives
//     metadata[MetadataContentUnavailable] = true, so that the hashes of
//     the empty input and output are not taken for the call's.
//   - OpenInference spans of kind LLM, EMBEDDING, TOOL, AGENT or RETRIEVER
//     (openinference.span.kind) give what their gen_ai.* attributes do
//     not: the operation (chat, or text_completion with llm.prompts;
//     embeddings; execute_tool; invoke_agent; retrieval), llm.provider (else llm.system), the model
//     (llm.request.model_name, llm.model_name or embedding.model_name,
//     llm.response.model_name), session.id as the conversation,
//     llm.token_count.prompt / completion, and as content the items of
//     llm.input_messages / llm.output_messages in index order (each
//     message's content, its text and image contents, an image as the
//     canonical JSON of the semconv blob or uri part, then its tool calls
//     as tool_call parts' JSON, as for the legacy attributes), llm.prompts,
//     llm.choices, embedding.embeddings or (as output)
//     retrieval.documents texts, else input.value /
//     output.value verbatim (not an embedding's output). Metadata gets
//     llm.response.model_name, llm.finish_reason, a tool span's
//     tool.name and tool.id and an agent span's agent.name under the
//     gen_ai.* names above.
//   - Other instrumentations' content keys, for an input or output none of
//     the above gives: Google ADK's gcp.vertex.agent.llm_request (else
//     .tool_call_args) and .llm_response (else .tool_response), the Vercel
//     AI SDK's ai.prompt.messages, ai.prompt, ai.toolCall.args, ai.values
//     and ai.response.text, .toolCalls, .object (or ai.result.*),
//     ai.toolCall.result, Langfuse's langfuse.observation.input / .output,
//     OpenLLMetry's traceloop.entity.input / .output, MLflow's
//     mlflow.spanInputs / .spanOutputs, Pydantic AI's
//     pydantic_ai.all_messages and final_result, Logfire's request_data
//     and response_data: each value verbatim (they are JSON of each
//     instrumentation's own shape), several joined by "\n" in attribute
//     order; an empty value or "{}" (ADK's when content capture is off)
//     is none. Where gen_ai.operation.name is absent, the operation is
//     generate_content for ADK's model call (its llm_request) and, from
//     the Vercel AI SDK's ai.operationId, chat (doGenerate, doStream),
//     embeddings (doEmbed) or execute_tool (toolCall), and from Genkit's
//     genkit:metadata:subtype chat (model), embeddings (embedder) or
//     execute_tool (tool), and from OpenLLMetry's llm.request.type chat,
//     text_completion (completion) or embeddings (embedding); a Genkit
//     model's or embedder's name
//     ("googleai/gemini-2.5-flash") gives its provider and model, and its
//     genkit:input / genkit:output (the request and response as JSON) its
//     content.
func InteractionFromSpan(s SpanView) otelaudit.Interaction {
	in, _, _ := interactionFromSpan(s, nil)
	return in
}

// interactionFromSpan is [InteractionFromSpan]; mdChecked reports that
// every metadata key and value it made passes the store's metadata rules
// (jsontext.CheckAny one level below the metadata object, as
// storage.AuditEntry.Validate applies them), so that the entry's
// validation need not walk the metadata again (internal/logentry), and
// unavailable that the span says its content was not captured
// (otelaudit.AuditContentUnavailableKey; the metadata then says
// [MetadataContentUnavailable]). The metadata goes into md when it is not
// nil (an empty map to reuse, see mdLoan), else into a map made for it;
// an interaction without metadata has none (nil) either way.
func interactionFromSpan(s SpanView, md map[string]any) (_ otelaudit.Interaction, mdChecked, unavailable bool) {
	sc := s.SpanContext()
	// Both ids in W3C hex, in one string, the two token counts and the
	// usual single finish reason share one allocation. Nothing writes to
	// ids after the encoding.
	tid, sid := sc.TraceID(), sc.SpanID()
	blk := new(struct {
		ids     [2*len(tid) + 2*len(sid)]byte
		tok     [2]int64
		reasons [1]any
	})
	hex.Encode(blk.ids[:2*len(tid)], tid[:])
	hex.Encode(blk.ids[2*len(tid):], sid[:])
	ids := unsafe.String(&blk.ids[0], len(blk.ids))
	in := otelaudit.Interaction{
		Timestamp: s.StartTime(),
		TraceID:   ids[:2*len(tid)],
		SpanID:    ids[2*len(tid):],
	}
	if end := s.EndTime(); !end.IsZero() && end.After(in.Timestamp) {
		in.Latency = end.Sub(in.Timestamp)
	}
	var (
		sys, input, output     contentValue
		haveSys, haveIn        bool
		haveOut                bool
		toolArgs, toolResult   attribute.Value
		haveArgs, haveResult   bool
		toolDefs               attribute.Value
		haveToolDefs           bool
		retrievalQuery         string
		retrievalDocs          attribute.Value
		haveQuery, haveDocs    bool
		reqModel, respModel    string
		legacySystem           string
		tokIn, tokOut          int64
		legacyIn, legacyOut    int64
		haveTokIn, haveTokOut  bool
		haveLegacyIn           bool
		haveLegacyOut          bool
		respID, errType        string
		finishReasons          attribute.Value
		haveFinish, haveRespMd bool
		// gen_ai.prompt.<i>.content and gen_ai.completion.<i>.content
		legacyInput, legacyOutput []legacyPart
		oi                        openInference
		other                     otherContent
	)
	// Each metadata value is checked by the store's rules as it is set
	// (the keys are this package's constants but for audit.metadata.*,
	// checked there), so that the entry's validation need not walk the
	// metadata again.
	mdChecked = true
	setMD := func(k string, v any) {
		if md == nil {
			md = make(map[string]any)
		}
		md[k] = v
		mdChecked = mdChecked && jsontext.CheckAny(v, 2, storage.MaxNesting) == nil
	}
	// In the order they count: the span's attributes, the content handed
	// over beside it as text parts, then as attributes.
	own, texts, handed := spanContent(s)
	var otherTexts []attribute.KeyValue // text parts of other keys (none from this module)
	for i := range texts {
		if !isMessagesKey(texts[i].Key) {
			otherTexts = append(otherTexts, texts[i].KeyValue())
		}
	}
	for li, list := range [3][]attribute.KeyValue{own, otherTexts, handed} {
		if li == 1 {
			for i := range texts {
				switch t := &texts[i]; t.Key {
				case semconv.GenAISystemInstructionsKey:
					sys, haveSys = contentValue{text: t}, true
				case semconv.GenAIInputMessagesKey:
					input, haveIn = contentValue{text: t}, true
				case semconv.GenAIOutputMessagesKey:
					output, haveOut = contentValue{text: t}, true
				}
			}
		}
		for _, kv := range list {
			switch kv.Key {
			case otelaudit.AuditEntryIDKey:
				if kv.Value.Type() == attribute.STRING {
					in.ID = kv.Value.AsString()
				}
			case otelaudit.AuditContentUnavailableKey:
				unavailable = kv.Value.Type() == attribute.BOOL && kv.Value.AsBool()
			case semconv.GenAIOperationNameKey:
				in.Operation = kv.Value.String()
			case semconv.GenAIProviderNameKey:
				in.Provider = kv.Value.String()
			case legacySystemKey:
				legacySystem = kv.Value.String()
			case semconv.GenAIRequestModelKey:
				reqModel = kv.Value.String()
			case semconv.GenAIResponseModelKey:
				respModel = kv.Value.String()
				haveRespMd = true
			case semconv.GenAIConversationIDKey:
				in.ConversationID = kv.Value.String()
			case semconv.GenAIResponseIDKey:
				respID = kv.Value.String()
			case semconv.ErrorTypeKey:
				errType = kv.Value.String()
			case semconv.GenAIResponseFinishReasonsKey:
				finishReasons, haveFinish = kv.Value, true
			case semconv.GenAISystemInstructionsKey:
				sys, haveSys = contentValue{v: kv.Value}, true
			case semconv.GenAIInputMessagesKey:
				input, haveIn = contentValue{v: kv.Value}, true
			case semconv.GenAIOutputMessagesKey:
				output, haveOut = contentValue{v: kv.Value}, true
			case semconv.GenAIRequestStreamKey:
				if kv.Value.Type() == attribute.BOOL && kv.Value.AsBool() {
					setMD(streamKey, true)
				}
			case semconv.GenAIToolCallArgumentsKey:
				toolArgs, haveArgs = kv.Value, true
			case semconv.GenAIToolCallResultKey:
				toolResult, haveResult = kv.Value, true
			case semconv.GenAIToolDefinitionsKey:
				toolDefs, haveToolDefs = kv.Value, true
			case semconv.GenAIRetrievalQueryTextKey:
				retrievalQuery, haveQuery = kv.Value.String(), true
			case semconv.GenAIRetrievalDocumentsKey:
				retrievalDocs, haveDocs = kv.Value, true
			case semconv.GenAIToolNameKey, semconv.GenAIToolCallIDKey, semconv.GenAIAgentNameKey, semconv.GenAIAgentIDKey:
				if kv.Value.Type() == attribute.STRING && kv.Value.AsString() != "" {
					setMD(string(kv.Key), kv.Value.AsString())
				}
			case semconv.GenAIUsageInputTokensKey:
				tokIn, haveTokIn = intValue(kv.Value)
			case semconv.GenAIUsageOutputTokensKey:
				tokOut, haveTokOut = intValue(kv.Value)
			case legacyPromptTokens:
				legacyIn, haveLegacyIn = intValue(kv.Value)
			case legacyCompletionToken:
				legacyOut, haveLegacyOut = intValue(kv.Value)
			case otelaudit.AuditSafetyPassedKey:
				if kv.Value.Type() == attribute.BOOL {
					in.SafetyPassed = otelaudit.Ptr(kv.Value.AsBool())
				} else if kv.Value.Type() == attribute.STRING {
					in.SafetyPassed = otelaudit.Ptr(!strings.EqualFold(kv.Value.AsString(), "false"))
				}
			case otelaudit.AuditDetectorsTriggeredKey:
				in.DetectorsTriggered = stringList(kv.Value)
			case otelaudit.AuditBlockReasonKey:
				in.BlockReason = kv.Value.String()
			case otelaudit.AuditAlertsKey:
				in.Alerts = stringList(kv.Value)
			default:
				if k, ok := strings.CutPrefix(string(kv.Key), otelaudit.AuditMetadataPrefix); ok && k != "" {
					setMD(k, jsonValue(kv.Value))
					mdChecked = mdChecked && utf8.ValidString(k)
				} else if p, out, ok := parseLegacyKey(kv.Key); ok && kv.Value.Type() == attribute.STRING {
					p.text = kv.Value.AsString()
					if out {
						legacyOutput = append(legacyOutput, p)
					} else {
						legacyInput = append(legacyInput, p)
					}
				} else if !other.add(kv) && mightBeOpenInference(kv.Key) {
					oi.add(kv)
				}
			}
		}
	}
	if in.ID == "" {
		in.ID = EntryIDForSpan(sc, in.Timestamp)
	}
	if in.Provider == "" {
		in.Provider = legacySystem
	}
	in.Model = reqModel
	if in.Model == "" {
		in.Model = respModel
	}
	if !haveTokIn {
		tokIn, haveTokIn = legacyIn, haveLegacyIn
	}
	if !haveTokOut {
		tokOut, haveTokOut = legacyOut, haveLegacyOut
	}
	if haveTokIn {
		blk.tok[0] = tokIn
		in.InputTokens = &blk.tok[0]
	}
	if haveTokOut {
		blk.tok[1] = tokOut
		in.OutputTokens = &blk.tok[1]
	}
	// Most calls have a few content parts: collect them in a stack buffer.
	var partsBuf [8]string
	parts := partsBuf[:0]
	if haveSys {
		parts = sys.appendTo(parts)
	}
	if haveIn {
		parts = input.appendTo(parts)
	} else {
		parts = appendLegacy(parts, legacyInput)
	}
	if !haveIn && len(legacyInput) == 0 && haveArgs {
		parts = append(parts, toolText(toolArgs))
	}
	if haveToolDefs {
		parts = append(parts, toolText(toolDefs))
	}
	in.Input = strings.Join(parts, "\n")
	switch {
	case haveOut:
		in.Output = strings.Join(output.appendTo(partsBuf[:0]), "\n")
	case len(legacyOutput) > 0:
		in.Output = strings.Join(appendLegacy(partsBuf[:0], legacyOutput), "\n")
	case haveResult:
		in.Output = toolText(toolResult)
	}
	// A retrieval's query and the documents it found, where the span has
	// no messages.
	if in.Input == "" && haveQuery {
		in.Input = retrievalQuery
	}
	if in.Output == "" && haveDocs {
		in.Output = toolText(retrievalDocs)
	}
	// Before the gen_ai.* metadata, which wins where both say something.
	oi.apply(&in, setMD, partsBuf[:0])
	other.apply(&in)
	if respID != "" {
		setMD(string(semconv.GenAIResponseIDKey), respID)
	}
	if haveRespMd && respModel != "" {
		setMD(string(semconv.GenAIResponseModelKey), respModel)
	}
	if haveFinish {
		setMD(string(semconv.GenAIResponseFinishReasonsKey), reasonList(finishReasons, blk.reasons[:]))
	}
	if errType != "" {
		setMD(string(semconv.ErrorTypeKey), errType)
	}
	if evs, ok := s.(interface{ Events() []sdktrace.Event }); ok {
		if results, alerts := evaluations(evs.Events()); len(results) > 0 {
			setMD(evaluationResultsKey, results)
			in.Alerts = append(slices.Clip(in.Alerts), alerts...)
		}
	}
	if unavailable {
		// The entry's input and output are empty because nothing was
		// captured, not because the call had none: say so in the entry
		// itself, inside what its hash chain covers.
		setMD(MetadataContentUnavailable, true)
	}
	if len(md) > 0 {
		in.Metadata = md
	}
	return in, mdChecked, unavailable
}

// reasonList is gen_ai.response.finish_reasons as a metadata value: a
// list of strings held as []any, the type a stored entry reads back with.
// It is made in buf when the reasons fit (the list is then buf[:n:n]).
func reasonList(v attribute.Value, buf []any) []any {
	rs := stringList(v)
	var l []any
	if len(rs) <= len(buf) {
		l = buf[:len(rs):len(rs)]
	} else {
		l = make([]any, len(rs))
	}
	for i, r := range rs {
		l[i] = boxedReason(r)
	}
	return l
}

// commonReasons are the finish reasons providers send most, each boxed
// once, so that a list of them costs no allocation per reason; entries may
// share them since strings are immutable.
var commonReasons = [...]any{
	"stop", "length", "tool_calls", "content_filter", "unknown", "error",
	"end_turn", "max_tokens", "tool_use", "stop_sequence", "STOP", "MAX_TOKENS", "SAFETY",
}

// boxedReason is r as an any: one of commonReasons when it is one.
func boxedReason(r string) any {
	for _, c := range commonReasons {
		if c.(string) == r {
			return c
		}
	}
	return r
}

// contentValue is the value of a content attribute (system instructions,
// input or output messages), or the text parts handed over in its place.
type contentValue struct {
	v    attribute.Value
	text *handoff.Text
}

// appendTo appends the content's parts (see [ContentText]) to dst.
func (c contentValue) appendTo(dst []string) []string {
	if c.text != nil {
		return c.text.AppendParts(dst)
	}
	return appendContent(dst, c.v)
}

// isMessagesKey reports whether k is one of the keys [ContentText] reads.
func isMessagesKey(k attribute.Key) bool {
	switch k {
	case semconv.GenAISystemInstructionsKey, semconv.GenAIInputMessagesKey, semconv.GenAIOutputMessagesKey:
		return true
	}
	return false
}

// streamKey is the metadata key of a streamed call (gen_ai.request.stream
// true), as the middleware's entries have always had it.
const streamKey = "stream"

// evaluationResultsKey is the metadata key of a span's evaluation results.
const evaluationResultsKey = "gen_ai.evaluation.results"

// evaluations reads the gen_ai.evaluation.result events of a span: for
// each, {"name","score","label"} (the ones it has; the explanation, which
// may quote content, is left out) and the alert
// "evaluation:{name}={label}", or "={score}" without a label.
func evaluations(events []sdktrace.Event) (results []any, alerts []string) {
	for _, ev := range events {
		if ev.Name != otelaudit.EvaluationEventName {
			continue
		}
		r := map[string]any{}
		var name, verdict string
		for _, kv := range ev.Attributes {
			switch kv.Key {
			case semconv.GenAIEvaluationNameKey:
				name = kv.Value.String()
				r["name"] = name
			case semconv.GenAIEvaluationScoreLabelKey:
				verdict = kv.Value.String()
				r["label"] = verdict
			case semconv.GenAIEvaluationScoreValueKey:
				if kv.Value.Type() == attribute.FLOAT64 || kv.Value.Type() == attribute.INT64 {
					r["score"] = jsonValue(kv.Value)
					if verdict == "" {
						verdict = kv.Value.String()
					}
				}
			}
		}
		if l, ok := r["label"].(string); ok {
			verdict = l
		}
		results = append(results, r)
		alerts = append(alerts, "evaluation:"+name+"="+verdict)
	}
	return results, alerts
}

// toolText is the audit content of gen_ai.tool.call.arguments or
// gen_ai.tool.call.result: a string verbatim, a structured value as its
// JSON.
func toolText(v attribute.Value) string {
	if v.Type() == attribute.STRING {
		return v.AsString()
	}
	return v.String()
}

// ContentText returns the audit content of one semconv content attribute
// value (gen_ai.system_instructions, gen_ai.input.messages or
// gen_ai.output.messages): the content that is hashed, and stored or
// encrypted when the Logger keeps content. The rule:
//
//   - The value is parsed as the semconv JSON: an array of messages
//     {"role":..,"parts":[..]} or, for system instructions, of parts.
//   - Each text part ({"type":"text","content":S}) contributes S verbatim;
//     every other part (tool_call, tool_call_response, blob, uri, reasoning,
//     ...) contributes its JSON in one canonical text (no space, object
//     keys sorted, strings unescaped where JSON allows: see
//     internal/jsontext.AppendCompact), so nothing sent to the model is
//     left out of the hash, and a part hashes the same whichever
//     instrumentation wrote it and however its JSON encoder escaped or
//     ordered it. A message without "parts" but with a string
//     "content" (the older OpenAI-like shape) contributes that string.
//   - The contributions are joined with "\n", in order. The audit input is
//     the system instructions' contributions followed by the input
//     messages', joined the same way.
//   - A value that is not such JSON is taken verbatim; a string slice is
//     joined with "\n".
//
// So a call with one user message "hi" and no system instructions has
// input "hi", and its input_hash is HashContent("hi"), exactly as when
// Logger.Log is given Input: "hi". Roles are not part of the content.
func ContentText(v attribute.Value) string {
	return strings.Join(appendContent(nil, v), "\n")
}

func appendContent(dst []string, v attribute.Value) []string {
	switch v.Type() {
	case attribute.STRING:
		return appendMessagesText(dst, v.AsString())
	case attribute.STRINGSLICE:
		return append(dst, v.AsStringSlice()...)
	case attribute.SLICE, attribute.MAP:
		// Structured form (the semconv preference): v.String() is its JSON.
		return appendMessagesText(dst, v.String())
	case attribute.EMPTY:
		return dst
	default:
		return append(dst, v.String())
	}
}

type wireMessage struct {
	Type    string            `json:"type"`
	Parts   []json.RawMessage `json:"parts"`
	Content json.RawMessage   `json:"content"`
}

func appendMessagesText(dst []string, raw string) []string {
	if out, ok := fastMessagesText(dst, raw); ok {
		return out
	}
	return slowMessagesText(dst, raw)
}

// slowMessagesText is the general parser behind [ContentText].
func slowMessagesText(dst []string, raw string) []string {
	t := strings.TrimSpace(raw)
	if len(t) == 0 || t[0] != '[' {
		return append(dst, raw)
	}
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(t), &items); err != nil {
		return append(dst, raw)
	}
	for _, it := range items {
		var m wireMessage
		if err := json.Unmarshal(it, &m); err != nil {
			dst = append(dst, compactJSON(it))
			continue
		}
		switch {
		case m.Parts != nil:
			for _, p := range m.Parts {
				dst = append(dst, partText(p))
			}
		case m.Type != "":
			dst = append(dst, partText(it)) // a part (system instructions)
		case isJSONString(m.Content):
			var s string
			_ = json.Unmarshal(m.Content, &s)
			dst = append(dst, s)
		default:
			dst = append(dst, compactJSON(it))
		}
	}
	return dst
}

func partText(p json.RawMessage) string {
	var part struct {
		Type    string          `json:"type"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(p, &part); err == nil && part.Type == "text" && isJSONString(part.Content) {
		var s string
		if json.Unmarshal(part.Content, &s) == nil {
			return s
		}
	}
	return compactJSON(p)
}

func isJSONString(b json.RawMessage) bool {
	return len(b) > 0 && b[0] == '"'
}

// compactJSON is the audit content of a part that is not text: its JSON
// in the one canonical text of [jsontext.AppendCompact], so that the part
// hashes the same however its instrumentation escaped it.
func compactJSON(b []byte) string {
	out, ok := jsontext.AppendCompact(make([]byte, 0, len(b)), b)
	if !ok {
		return string(b)
	}
	return string(out)
}

func stringList(v attribute.Value) []string {
	switch v.Type() {
	case attribute.STRINGSLICE:
		return v.AsStringSlice()
	case attribute.EMPTY:
		return nil
	case attribute.STRING:
		if v.AsString() == "" {
			return nil
		}
		return []string{v.AsString()}
	default:
		return []string{v.String()}
	}
}

// intValue is v as a token count; ok is false when v is not one.
func intValue(v attribute.Value) (int64, bool) {
	switch v.Type() {
	case attribute.INT64:
		return v.AsInt64(), true
	case attribute.FLOAT64:
		f := v.AsFloat64()
		if f >= 0 && f == math.Trunc(f) && f < 1<<53 {
			return int64(f), true
		}
	case attribute.STRING:
		var n int64
		if _, err := fmt.Sscan(v.AsString(), &n); err == nil {
			return n, true
		}
	}
	return 0, false
}

// jsonValue converts an attribute value to a JSON-encodable metadata value;
// non-finite floats become their string form (the store rejects NaN/Inf).
func jsonValue(v attribute.Value) any {
	finite := func(f float64) any {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Sprint(f)
		}
		return f
	}
	switch v.Type() {
	case attribute.BOOL:
		return v.AsBool()
	case attribute.INT64:
		return v.AsInt64()
	case attribute.FLOAT64:
		return finite(v.AsFloat64())
	case attribute.STRING:
		return v.AsString()
	case attribute.BOOLSLICE:
		return toAny(v.AsBoolSlice(), func(b bool) any { return b })
	case attribute.INT64SLICE:
		return toAny(v.AsInt64Slice(), func(n int64) any { return n })
	case attribute.FLOAT64SLICE:
		return toAny(v.AsFloat64Slice(), finite)
	case attribute.STRINGSLICE:
		return toAny(v.AsStringSlice(), func(s string) any { return s })
	case attribute.SLICE, attribute.MAP:
		dec := json.NewDecoder(strings.NewReader(v.String()))
		dec.UseNumber()
		var x any
		if dec.Decode(&x) == nil {
			return x
		}
		return v.String()
	default:
		return v.String()
	}
}

func toAny[T any](xs []T, f func(T) any) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// fastMessagesText parses the exact shape otelaudit.MessagesJSON and
// otelaudit.SystemInstructionsJSON write (text parts only, keys in that
// order, no whitespace) without reflection. ok is false for anything else;
// the caller then uses the general parser, which gives the same result for
// this shape.
func fastMessagesText(dst []string, s string) (_ []string, ok bool) {
	const (
		msgHead  = `{"role":`
		partsKey = `,"parts":[`
		textHead = `{"type":"text","content":`
		finish   = `,"finish_reason":`
	)
	if len(s) < 2 || s[0] != '[' {
		return dst, false
	}
	s = s[1:]
	if s == "]" {
		return dst, true
	}
	for {
		var str string
		switch {
		case strings.HasPrefix(s, msgHead):
			s = s[len(msgHead):]
			if _, s, ok = cutJSONString(s); !ok || !strings.HasPrefix(s, partsKey) {
				return dst, false
			}
			s = s[len(partsKey):]
			for {
				if !strings.HasPrefix(s, textHead) {
					return dst, false
				}
				if str, s, ok = cutJSONString(s[len(textHead):]); !ok || len(s) == 0 || s[0] != '}' {
					return dst, false
				}
				dst = append(dst, str)
				s = s[1:]
				if len(s) > 0 && s[0] == ',' {
					s = s[1:]
					continue
				}
				break
			}
			if len(s) == 0 || s[0] != ']' {
				return dst, false
			}
			s = s[1:]
			if strings.HasPrefix(s, finish) {
				if _, s, ok = cutJSONString(s[len(finish):]); !ok {
					return dst, false
				}
			}
			if len(s) == 0 || s[0] != '}' {
				return dst, false
			}
			s = s[1:]
		case strings.HasPrefix(s, textHead):
			if str, s, ok = cutJSONString(s[len(textHead):]); !ok || len(s) == 0 || s[0] != '}' {
				return dst, false
			}
			dst = append(dst, str)
			s = s[1:]
		default:
			return dst, false
		}
		switch {
		case s == "]":
			return dst, true
		case len(s) > 0 && s[0] == ',':
			s = s[1:]
		default:
			return dst, false
		}
	}
}

// cutJSONString reads the JSON string literal at the start of s and returns
// its value and the rest of s.
func cutJSONString(s string) (val, rest string, ok bool) {
	if len(s) == 0 || s[0] != '"' {
		return "", s, false
	}
	escaped := false
	// Plain text (most of a message) is skipped a word at a time.
	for i := 1 + jsontext.PlainPrefix(s[1:]); i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			escaped = true
			i++ // skip the escaped byte
		case c == '"':
			if !escaped && utf8.ValidString(s[1:i]) {
				return s[1:i], s[i+1:], true
			}
			var v string
			if err := json.Unmarshal([]byte(s[:i+1]), &v); err != nil {
				return "", s, false
			}
			return v, s[i+1:], true
		case c < 0x20:
			return "", s, false
		}
	}
	return "", s, false
}
