package exporter

import (
	"cmp"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/otelaudit/otelaudit-go/internal/contentkeys"
	"github.com/otelaudit/otelaudit-go/internal/jsontext"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// OpenInference (Arize's conventions, written by the
// openinference-instrumentation-* packages that Phoenix users run) names a
// span's kind in openinference.span.kind and records a model call under
// llm.* keys, not gen_ai.*. Spans of the kinds below are audited like
// GenAI spans; their content keys are content for the redaction rule
// (otelaudit.IsContentKey).
const oiSpanKindKey = attribute.Key(contentkeys.OpenInferenceKindKey)

// oiOperation is the GenAI operation an audited OpenInference span kind
// is, "" for a kind that is not audited (chains, rerankers and the like
// describe steps around model calls, not calls). An agent's run is
// audited as the conventions' invoke_agent spans are (the request it was
// given and the answer it gave), a retriever's query as their retrieval
// spans are (the query and the documents found).
func oiOperation(kind string) string {
	switch kind {
	case "LLM":
		return "chat"
	case "EMBEDDING":
		return "embeddings"
	case "TOOL":
		return "execute_tool"
	case "AGENT":
		return "invoke_agent"
	case "RETRIEVER":
		return "retrieval"
	}
	return ""
}

// isOpenInferenceCall reports whether v, the value of
// openinference.span.kind, is a kind that is audited.
func isOpenInferenceCall(v attribute.Value) bool {
	return v.Type() == attribute.STRING && oiOperation(v.AsString()) != ""
}

// oiFunctionCall is the tool call index given to a message's legacy
// OpenAI function call (message.function_call_name and
// message.function_call_arguments_json): after any tool_calls.<j>.
const oiFunctionCall = 1 << 20

// openInference collects what an OpenInference span says of its call,
// for the conversion to use where the span has no gen_ai.* attribute
// saying it.
type openInference struct {
	kind                       string
	provider, system           string
	model, reqModel, respModel string
	tokIn, tokOut              int64
	haveTokIn, haveTokOut      bool
	inputValue, outputValue    string
	haveInValue, haveOutValue  bool
	finishReason, session      string
	toolName, toolID, toolCall string
	agentName                  string
	input, output              []legacyPart
	completionPrompts          bool // input from llm.prompts
}

// add takes kv when it is an OpenInference key the conversion reads.
func (o *openInference) add(kv attribute.KeyValue) {
	k := string(kv.Key)
	switch kv.Key {
	case oiSpanKindKey:
		o.kind = kv.Value.String()
	case "llm.provider":
		o.provider = kv.Value.String()
	case "llm.system":
		o.system = kv.Value.String()
	case "llm.model_name", "embedding.model_name":
		o.model = kv.Value.String()
	case "llm.request.model_name":
		o.reqModel = kv.Value.String()
	case "llm.response.model_name":
		o.respModel = kv.Value.String()
	case "llm.token_count.prompt":
		o.tokIn, o.haveTokIn = intValue(kv.Value)
	case "llm.token_count.completion":
		o.tokOut, o.haveTokOut = intValue(kv.Value)
	case "input.value":
		o.inputValue, o.haveInValue = kv.Value.String(), true
	case "output.value":
		o.outputValue, o.haveOutValue = kv.Value.String(), true
	case "llm.finish_reason":
		o.finishReason = kv.Value.String()
	case "session.id":
		o.session = kv.Value.String()
	case "tool.name":
		o.toolName = kv.Value.String()
	case "tool.id":
		o.toolID = kv.Value.String()
	case "tool_call.id":
		o.toolCall = kv.Value.String()
	case "agent.name":
		o.agentName = kv.Value.String()
	case "llm.prompts":
		// The older form: a list of prompt strings.
		if kv.Value.Type() == attribute.STRINGSLICE {
			for i, s := range kv.Value.AsStringSlice() {
				o.input = append(o.input, legacyPart{msg: i, call: -1, field: "content", text: s})
			}
			o.completionPrompts = true
		}
	default:
		if kv.Value.Type() != attribute.STRING {
			return
		}
		p, out, ok := parseOpenInferenceKey(k)
		if !ok {
			return
		}
		p.text = kv.Value.AsString()
		if p.field == oiImageField {
			p.field, p.text = "content", oiImagePart(p.text)
		}
		switch {
		case out:
			o.output = append(o.output, p)
		default:
			o.input = append(o.input, p)
			o.completionPrompts = o.completionPrompts || strings.HasPrefix(k, "llm.prompts.")
		}
	}
}

// parseOpenInferenceKey reports whether k names a piece of a call's
// content in OpenInference's flattened lists, of the output or the
// input, and which message, part or tool call field it is:
//
//	llm.{input,output}_messages.<i>.message.content
//	llm.{input,output}_messages.<i>.message.contents.<j>.message_content.text
//	llm.{input,output}_messages.<i>.message.contents.<j>.message_content.image.image.url
//	llm.{input,output}_messages.<i>.message.tool_calls.<j>.tool_call.{id,function.name,function.arguments}
//	llm.{input,output}_messages.<i>.message.function_call_{name,arguments_json}
//	llm.prompts.<i>.prompt.text, llm.choices.<i>.completion.text
//	embedding.embeddings.<i>.embedding.text
//	retrieval.documents.<i>.document.content
func parseOpenInferenceKey(k string) (p legacyPart, out, ok bool) {
	for _, l := range contentkeys.OpenInferenceLists {
		rest, found := strings.CutPrefix(k, l.Prefix)
		if !found {
			continue
		}
		if p.msg, rest, ok = cutIndex(rest); !ok {
			return p, false, false
		}
		if l.Text != "" {
			p.call, p.part, p.field = -1, 0, "content"
			return p, l.Output, rest == l.Text
		}
		p, ok = parseOIMessage(p.msg, rest)
		return p, l.Output, ok
	}
	return p, false, false
}

// parseOIMessage reads the rest of a message item's key (after
// "llm.*_messages.<i>.").
func parseOIMessage(msg int, rest string) (p legacyPart, ok bool) {
	p.msg = msg
	if rest, ok = strings.CutPrefix(rest, "message."); !ok {
		return p, false
	}
	switch rest {
	case "content":
		p.call, p.part, p.field = -1, -1, "content"
		return p, true
	case "function_call_name":
		p.call, p.field = oiFunctionCall, "name"
		return p, true
	case "function_call_arguments_json":
		p.call, p.field = oiFunctionCall, "arguments"
		return p, true
	}
	if r, found := strings.CutPrefix(rest, "contents."); found {
		if p.part, r, ok = cutIndex(r); !ok {
			return p, false
		}
		switch r {
		case "message_content.text":
			p.call, p.field = -1, "content"
			return p, true
		case "message_content.image.image.url":
			p.call, p.field = -1, oiImageField
			return p, true
		}
		return p, false
	}
	if rest, ok = strings.CutPrefix(rest, "tool_calls."); !ok {
		return p, false
	}
	if p.call, rest, ok = cutIndex(rest); !ok {
		return p, false
	}
	switch rest {
	case "tool_call.id":
		p.field = "id"
	case "tool_call.function.name":
		p.field = "name"
	case "tool_call.function.arguments":
		p.field = "arguments"
	default:
		return p, false
	}
	return p, true
}

// oiImageField marks a message's image item (its URL) until add makes it
// a content part.
const oiImageField = "image"

// oiImagePart is the content text of an image a message sent: the
// canonical JSON (jsontext.AppendCompact) of the semconv part the
// middleware records for the same image, a blob for a data: URL
// ({"content":..,"mime_type":..,"modality":"image","type":"blob"}) and a
// uri part otherwise, so the image hashes the same whichever
// instrumentation recorded it and is never left out of the audit.
func oiImagePart(url string) string {
	b := make([]byte, 0, len(url)+64)
	if rest, ok := strings.CutPrefix(url, "data:"); ok {
		mime, data, _ := strings.Cut(rest, ",")
		b = append(b, `{"type":"blob","modality":"image","mime_type":`...)
		b = jsontext.AppendString(b, strings.TrimSuffix(mime, ";base64"))
		b = append(b, `,"content":`...)
		b = jsontext.AppendString(b, data)
	} else {
		b = append(b, `{"type":"uri","modality":"image","uri":`...)
		b = jsontext.AppendString(b, url)
	}
	b = append(b, '}')
	if c, ok := jsontext.AppendCompact(nil, b); ok {
		return string(c)
	}
	return string(b)
}

// mightBeOpenInference is a cheap first test of a key for
// openInference.add: the first bytes of every key it reads.
func mightBeOpenInference(k attribute.Key) bool {
	if len(k) < 4 {
		return false
	}
	switch k[:4] {
	case "llm.", "open", "inpu", "outp", "sess", "tool", "embe", "agen", "retr":
		return true
	}
	return false
}

// apply fills what the span's gen_ai.* attributes left empty in in (its
// operation, provider, model, conversation, token counts, input and
// output) from what an audited OpenInference span says, and sets the
// response model, finish reason and tool metadata it gives; it does
// nothing for other spans. parts is the conversion's buffer for content
// parts.
func (o *openInference) apply(in *otelaudit.Interaction, setMD func(string, any), parts []string) {
	op := oiOperation(o.kind)
	if op == "" {
		return
	}
	if o.completionPrompts && op == "chat" {
		op = "text_completion"
	}
	// A span that names its operation in gen_ai.operation.name is a
	// semconv span first: its metadata, set before, is not overwritten.
	semconvSpan := in.Operation != ""
	if !semconvSpan {
		in.Operation = op
	}
	if in.Provider == "" {
		in.Provider = cmp.Or(o.provider, o.system)
	}
	if in.Model == "" {
		in.Model = cmp.Or(o.reqModel, o.model, o.respModel)
	}
	if in.ConversationID == "" {
		in.ConversationID = o.session
	}
	if in.InputTokens == nil && o.haveTokIn {
		in.InputTokens = otelaudit.Ptr(o.tokIn)
	}
	if in.OutputTokens == nil && o.haveTokOut {
		in.OutputTokens = otelaudit.Ptr(o.tokOut)
	}
	if o.respModel != "" {
		setMD(string(semconv.GenAIResponseModelKey), o.respModel)
	}
	if o.finishReason != "" {
		setMD(string(semconv.GenAIResponseFinishReasonsKey), []any{boxedReason(o.finishReason)})
	}
	if op == "execute_tool" && !semconvSpan {
		if o.toolName != "" {
			setMD(string(semconv.GenAIToolNameKey), o.toolName)
		}
		if id := cmp.Or(o.toolID, o.toolCall); id != "" {
			setMD(string(semconv.GenAIToolCallIDKey), id)
		}
	}
	if op == "invoke_agent" && !semconvSpan && o.agentName != "" {
		setMD(string(semconv.GenAIAgentNameKey), o.agentName)
	}
	// Structured content first (it is the call's messages); input.value
	// and output.value, often the whole request or reply body, otherwise.
	if in.Input == "" {
		switch {
		case len(o.input) > 0:
			in.Input = strings.Join(appendLegacy(parts[:0], o.input), "\n")
		case o.haveInValue:
			in.Input = o.inputValue
		}
	}
	if in.Output == "" {
		switch {
		case len(o.output) > 0:
			in.Output = strings.Join(appendLegacy(parts[:0], o.output), "\n")
		case o.haveOutValue && op != "embeddings": // an embedding's output is its vectors
			in.Output = o.outputValue
		}
	}
}
