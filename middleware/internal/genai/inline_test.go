package genai

import "testing"

// TestInlineStorage checks the results whose first items live in the
// Request's or Response's own storage: each parse gets its own, and items
// beyond the room are kept as well as the first ones.
func TestInlineStorage(t *testing.T) {
	reply := func(n int) []byte {
		b := []byte(`{"model":"m","choices":[`)
		for i := range n {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"message":{"role":"assistant","content":"c`+string(rune('0'+i))+`"},"finish_reason":"r`+string(rune('0'+i))+`"}`...)
		}
		return append(b, `],"usage":{"prompt_tokens":1`+string(rune('0'+n))+`,"completion_tokens":2`+string(rune('0'+n))+`}}`...)
	}
	one, err := ParseResponse(APIChatCompletions, reply(1))
	if err != nil {
		t.Fatal(err)
	}
	three, err := ParseResponse(APIChatCompletions, reply(3))
	if err != nil {
		t.Fatal(err)
	}
	check := func(r *Response, n int) {
		t.Helper()
		if len(r.Messages) != n || len(r.FinishReasons) != n {
			t.Fatalf("%d messages, %d reasons, want %d", len(r.Messages), len(r.FinishReasons), n)
		}
		for i := range n {
			d := string(rune('0' + i))
			if got := r.Messages[i].Parts[0].Content; got != "c"+d {
				t.Errorf("message %d: %q", i, got)
			}
			if r.Messages[i].FinishReason != "r"+d || r.FinishReasons[i] != "r"+d {
				t.Errorf("reason %d: %q, %q", i, r.Messages[i].FinishReason, r.FinishReasons[i])
			}
		}
		if *r.InputTokens != int64(10+n) || *r.OutputTokens != int64(20+n) {
			t.Errorf("tokens %d, %d", *r.InputTokens, *r.OutputTokens)
		}
	}
	check(one, 1)
	check(three, 3)

	req := func(n int) *Request {
		b := []byte(`{"model":"m","max_tokens":` + string(rune('0'+n)) + `,"messages":[`)
		for i := range n {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"role":"user","content":"q`+string(rune('0'+i))+`"}`...)
		}
		r, err := ParseRequest(APIChatCompletions, append(b, `]}`...))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	reqs := []*Request{req(2), req(3), req(1)}
	for i, r := range reqs {
		n := len(r.Messages)
		if want := []int{2, 3, 1}[i]; n != want || *r.MaxTokens != int64(want) {
			t.Fatalf("request %d: %d messages, max tokens %d", i, n, *r.MaxTokens)
		}
		for j, m := range r.Messages {
			if got := m.Parts[0].Content; got != "q"+string(rune('0'+j)) {
				t.Errorf("request %d message %d: %q", i, j, got)
			}
		}
		if cap(r.Messages) != n {
			t.Errorf("request %d: capacity %d beyond its %d messages", i, cap(r.Messages), n)
		}
	}
}
