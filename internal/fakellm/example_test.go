package fakellm_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/otelaudit/otelaudit-go/internal/fakellm"
)

// The fake serves one OpenAI chat completion on a loopback port, with the
// configured reply and usage, and records the request it received.
func Example() {
	srv := fakellm.Start(fakellm.WithReply("Paris."), fakellm.WithUsage(12, 2))
	defer srv.Close()

	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Capital of France?"}]}`
	resp, err := http.Post(srv.OpenAIBaseURL()+"chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var out struct {
		Model   string `json:"model"`
		Choices []struct {
			Message struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.StatusCode, out.Model)
	fmt.Println(out.Choices[0].Message.Role, out.Choices[0].Message.Content, out.Choices[0].FinishReason)
	fmt.Println(out.Usage.PromptTokens, out.Usage.CompletionTokens)
	reqs := srv.Requests()
	fmt.Println(len(reqs), reqs[0].Method, reqs[0].Path)
	// Output:
	// 200 gpt-4o-mini
	// assistant Paris. stop
	// 12 2
	// 1 POST /v1/chat/completions
}
