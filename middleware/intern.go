package middleware

import (
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
)

// interner returns copies of strings that repeat from call to call (model
// names): each of the last few distinct values is copied once and then
// shared, instead of copied out of every body. Its zero value is ready to
// use; safe for concurrent use.
type interner struct {
	slots [4]atomic.Pointer[string]
	next  atomic.Uint32
}

// get returns a string equal to s that shares no memory with it (s may
// point into a recycled capture buffer).
func (n *interner) get(s string) string {
	if s == "" {
		return ""
	}
	for i := range n.slots {
		if p := n.slots[i].Load(); p != nil && *p == s {
			return *p
		}
	}
	c := strings.Clone(s)
	n.slots[n.next.Add(1)%uint32(len(n.slots))].Store(&c)
	return c
}

// join returns a + " " + b, shared like get's strings: a span name
// "{operation} {model}" is made once per model, not once per call.
func (n *interner) join(a, b string) string {
	for i := range n.slots {
		if p := n.slots[i].Load(); p != nil && len(*p) == len(a)+1+len(b) &&
			(*p)[len(a)] == ' ' && strings.HasPrefix(*p, a) && (*p)[len(a)+1:] == b {
			return *p
		}
	}
	c := a + " " + b
	n.slots[n.next.Add(1)%uint32(len(n.slots))].Store(&c)
	return c
}

// commonFinishReasons are the gen_ai.response.finish_reasons attributes of
// a reply with one choice, for the reasons the supported APIs give most:
// shared, as attribute values are immutable, instead of built per call.
var commonFinishReasons = func() map[string]attribute.KeyValue {
	m := map[string]attribute.KeyValue{}
	for _, r := range []string{
		"stop", "length", "tool_calls", "content_filter", "function_call", // OpenAI
		"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal", // Anthropic, Bedrock
		"STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "OTHER", // Gemini
		"guardrail_intervened", "content_filtered", // Bedrock
	} {
		m[r] = semconv.GenAIResponseFinishReasonsKey.StringSlice([]string{r})
	}
	return m
}()

// finishReasonsAttr is the gen_ai.response.finish_reasons attribute of
// reasons, with copies of them (they may point into a recycled capture
// buffer).
func finishReasonsAttr(reasons []string) attribute.KeyValue {
	if len(reasons) == 1 {
		if kv, ok := commonFinishReasons[reasons[0]]; ok {
			return kv
		}
	}
	c := make([]string, len(reasons))
	for i, r := range reasons {
		c[i] = strings.Clone(r)
	}
	return semconv.GenAIResponseFinishReasonsKey.StringSlice(c)
}
