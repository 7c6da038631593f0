package otelaudit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// Log an interaction with encrypted content, read it back and decrypt it.
func ExampleLogger() {
	ctx := context.Background()
	key, _ := otelaudit.GenerateKey()
	ring, _ := otelaudit.NewEncryptionManager(key)
	logger, _ := otelaudit.NewLogger(storage.NewMemoryStorage(0), otelaudit.WithEncryption(ring))

	id, err := logger.Log(ctx, otelaudit.Interaction{
		Input:        "What is our refund policy?",
		Output:       "Refunds within 30 days.",
		Provider:     "openai",
		Model:        "gpt-4o",
		Operation:    "chat",
		Latency:      420 * time.Millisecond,
		InputTokens:  otelaudit.Ptr[int64](7),
		OutputTokens: otelaudit.Ptr[int64](5),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	e, _ := logger.GetEntry(ctx, id)
	in, out, _ := logger.DecryptContent(e)
	fmt.Println(*e.Model, e.LatencyMS, *e.InputTokens, e.SafetyPassed)
	fmt.Println(e.InputHash == otelaudit.HashContent("What is our refund policy?"))
	fmt.Println(in, "->", out)
	// Output:
	// gpt-4o 420 7 true
	// true
	// What is our refund policy? -> Refunds within 30 days.
}

func ExampleHashContent() {
	fmt.Println(otelaudit.HashContent("hello"))
	// Output: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
}
