// Package otelaudit is the heart of the audit trail: content protection
// (hashes, keyed hashes, a Fernet key ring), the [Logger] that turns an
// [Interaction] into a stored audit entry, and the GenAI span API with its
// attribute names.
//
// Content is protected in one of three ways: hash only (the default; the
// entry holds SHA-256 of input and output), keyed hash ([WithHashKey]:
// HMAC-SHA256 so guessed prompts cannot be confirmed), and stored content,
// plaintext ([WithStoreContent]) or encrypted ([WithEncryption]).
//
//	st, _ := filestore.New("./audit-data")
//	key, _ := otelaudit.GenerateKey()
//	ring, _ := otelaudit.NewEncryptionManager(key)
//	logger, _ := otelaudit.NewLogger(st, otelaudit.WithEncryption(ring))
//	id, err := logger.Log(ctx, otelaudit.Interaction{Input: prompt, Output: answer, Model: "gpt-4o"})
package otelaudit
