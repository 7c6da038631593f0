package genai_test

import (
	"fmt"

	"github.com/otelaudit/otelaudit-go/middleware/internal/genai"
)

// Detect recognises an OpenAI Chat Completions call by its host and path;
// ParseRequest takes the model, parameters and messages from its body, in
// the GenAI semantic-convention shape (a system message of Chat Completions
// stays among the messages, in its place; System holds only the separate
// system fields of the APIs that have one, such as Anthropic's).
func Example() {
	t := genai.Detect("api.openai.com", "/v1/chat/completions")
	fmt.Println(t.API == genai.APIChatCompletions, t.Provider, t.Operation)

	body := []byte(`{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},
		"temperature":0.2,"max_tokens":64,
		"messages":[{"role":"system","content":"Be brief."},
		            {"role":"user","content":"Capital of France?"}]}`)
	r, err := genai.ParseRequest(t.API, body)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Model, r.Stream, r.IncludeUsage, *r.Temperature, *r.MaxTokens)
	fmt.Println(len(r.System))
	fmt.Println(genai.MessagesJSON(r.Messages))

	_, err = genai.ParseRequest(t.API, []byte(`["not an object"]`))
	fmt.Println(err != nil)
	// Output:
	// true openai chat
	// gpt-4o-mini true true 0.2 64
	// 0
	// [{"role":"system","parts":[{"type":"text","content":"Be brief."}]},{"role":"user","parts":[{"type":"text","content":"Capital of France?"}]}]
	// true
}
