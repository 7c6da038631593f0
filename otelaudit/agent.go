package otelaudit

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
)

// Operation names (gen_ai.operation.name) of the agent and tool spans.
const (
	OperationExecuteTool = "execute_tool"
	OperationInvokeAgent = "invoke_agent"
	OperationCreateAgent = "create_agent"
)

// Tool describes one execution of a tool (a function the model asked for).
// Zero fields are not recorded.
type Tool struct {
	// Name is gen_ai.tool.name; it names the span "execute_tool {Name}".
	Name string
	// CallID is gen_ai.tool.call.id, the id of the model's tool call, which
	// ties the execution to the chat call that asked for it.
	CallID string
	// Type is gen_ai.tool.type: "function", "extension" or "datastore".
	Type string
	// Description is gen_ai.tool.description.
	Description string
	// Arguments is gen_ai.tool.call.arguments, usually JSON text. It is
	// content: it reaches the audit (as the entry's input) the way a call's
	// messages do.
	Arguments string
}

// StartTool starts the span of a tool execution, named "execute_tool
// {tool name}", of kind INTERNAL, with gen_ai.operation.name execute_tool
// and the tool's attributes. Record the result with [Call.SetToolResult]
// (or a failure with [Call.SetError]) and End it. The audit entry has
// operation execute_tool, the arguments as input and the result as output;
// it carries the trace and span ids, so it sits in the same trace as the
// chat calls before and after it. Options are those of [StartCall].
func StartTool(ctx context.Context, t Tool, opts ...CallOption) (context.Context, *Call) {
	name := OperationExecuteTool
	if t.Name != "" {
		name += " " + t.Name
	}
	extra := make([]attribute.KeyValue, 0, 4)
	if t.Name != "" {
		extra = append(extra, semconv.GenAIToolNameKey.String(t.Name))
	}
	if t.CallID != "" {
		extra = append(extra, semconv.GenAIToolCallIDKey.String(t.CallID))
	}
	if t.Type != "" {
		extra = append(extra, semconv.GenAIToolTypeKey.String(t.Type))
	}
	if t.Description != "" {
		extra = append(extra, semconv.GenAIToolDescriptionKey.String(t.Description))
	}
	ctx, c := startSpan(ctx, new(Call), nil, Request{}, OperationExecuteTool, name, internalKind, extra, opts)
	if t.Arguments != "" && c.ContentWanted() {
		c.SetContentAttributes(semconv.GenAIToolCallArgumentsKey.String(t.Arguments))
	}
	return ctx, c
}

// SetToolResult records gen_ai.tool.call.result, the tool's answer (usually
// JSON text), as content: it becomes the audit entry's output. Nothing is
// recorded with WithContent(false).
func (c *Call) SetToolResult(result string) {
	if c == nil || !c.ContentWanted() {
		return
	}
	c.SetContentAttributes(semconv.GenAIToolCallResultKey.String(result))
}

// Agent describes an agent being invoked or created. Zero fields are not
// recorded.
type Agent struct {
	// Name is gen_ai.agent.name; it names the span "invoke_agent {Name}"
	// (or "create_agent {Name}").
	Name string
	// ID is gen_ai.agent.id; Description gen_ai.agent.description.
	ID, Description string
	// Provider, Model and ConversationID are as in [Request].
	Provider, Model, ConversationID string
	// SystemInstructions and Input are the agent's instructions and the
	// input it is given; content, as in [Request].
	SystemInstructions string
	Input              []Message
	// Remote says the agent runs in another service (an agent API): the
	// span is of kind CLIENT. Otherwise it runs in this process and the
	// span is INTERNAL, as the conventions ask.
	Remote bool
}

// StartAgent starts the span of an agent invocation: "invoke_agent {name}",
// gen_ai.operation.name invoke_agent, with the agent's attributes. Start
// the model calls and tool executions the agent makes with the returned
// context, so they are its children in the trace; record the agent's
// answer with [Call.SetOutput] and End it. The audit entry has the agent's
// input and output. Options are those of [StartCall].
func StartAgent(ctx context.Context, a Agent, opts ...CallOption) (context.Context, *Call) {
	kind := internalKind
	if a.Remote {
		kind = clientKind
	}
	return startAgent(ctx, a, OperationInvokeAgent, kind, opts)
}

// StartCreateAgent starts the span of an agent's creation (an agent API
// call that defines an agent): "create_agent {name}", kind CLIENT,
// gen_ai.operation.name create_agent. Its audit entry records the
// instructions the agent was created with as input.
func StartCreateAgent(ctx context.Context, a Agent, opts ...CallOption) (context.Context, *Call) {
	return startAgent(ctx, a, OperationCreateAgent, clientKind, opts)
}

func startAgent(ctx context.Context, a Agent, op string, kind trace.SpanStartOption, opts []CallOption) (context.Context, *Call) {
	name := op
	if a.Name != "" {
		name += " " + a.Name
	}
	extra := make([]attribute.KeyValue, 0, 3)
	if a.Name != "" {
		extra = append(extra, semconv.GenAIAgentNameKey.String(a.Name))
	}
	if a.ID != "" {
		extra = append(extra, semconv.GenAIAgentIDKey.String(a.ID))
	}
	if a.Description != "" {
		extra = append(extra, semconv.GenAIAgentDescriptionKey.String(a.Description))
	}
	req := Request{Operation: op, Provider: a.Provider, Model: a.Model, ConversationID: a.ConversationID,
		SystemInstructions: a.SystemInstructions, Input: a.Input}
	return startSpan(ctx, new(Call), nil, req, op, name, kind, extra, opts)
}

// internalKind is the span kind option of tool executions and in-process
// agents.
var internalKind = trace.WithSpanKind(trace.SpanKindInternal)

// EvaluationEventName is the name of the span event that carries one
// evaluation of a call's output (a guardrail verdict, an eval score), as
// the GenAI semantic conventions define it.
const EvaluationEventName = "gen_ai.evaluation.result"

// Evaluation is one evaluation of a call's output. Zero fields are not
// recorded; Score nil means no score.
type Evaluation struct {
	// Name is gen_ai.evaluation.name, e.g. "relevance" or "toxicity".
	Name string
	// Score is gen_ai.evaluation.score.value.
	Score *float64
	// Label is gen_ai.evaluation.score.label, e.g. "pass" or "fail".
	Label string
	// Explanation is gen_ai.evaluation.explanation. It may quote the
	// content evaluated, so it is content: it is recorded, on the event,
	// only when the call's content goes on the span ([WithContentOnSpan],
	// where exporter.Redact removes it) and otherwise nowhere. The audit
	// entry never copies it (entry metadata is stored in plaintext).
	Explanation string
}

// RecordEvaluation adds a gen_ai.evaluation.result event to the call's
// span, with the evaluation's name, score and label; the explanation only
// with [WithContentOnSpan] (and not with WithContent(false)), see
// [Evaluation]. The audit entry lists the evaluation in
// metadata["gen_ai.evaluation.results"] (name, score, label) and adds the
// alert "evaluation:{name}={label}" (or "={score}" when there is no
// label), so guardrail and eval results travel with the audit record.
func (c *Call) RecordEvaluation(e Evaluation) {
	if c == nil {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 4)
	if e.Name != "" {
		attrs = append(attrs, semconv.GenAIEvaluationNameKey.String(e.Name))
	}
	if e.Score != nil {
		attrs = append(attrs, semconv.GenAIEvaluationScoreValueKey.Float64(*e.Score))
	}
	if e.Label != "" {
		attrs = append(attrs, semconv.GenAIEvaluationScoreLabelKey.String(e.Label))
	}
	// The explanation is content (IsContentKey): on the span only by the
	// user's opt-in. It is not handed to the audit processor either, which
	// would have nowhere but the plaintext metadata to put it.
	if e.Explanation != "" && !c.noContent && c.content.OnSpan() {
		attrs = append(attrs, semconv.GenAIEvaluationExplanationKey.String(e.Explanation))
	}
	c.span.AddEvent(EvaluationEventName, trace.WithAttributes(attrs...))
}
