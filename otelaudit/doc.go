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
//	ring, _ := otelaudit.LoadEncryptionManager("./audit-data.key") // made once: (umask 077 && otelaudit keygen > audit-data.key)
//	logger, _ := otelaudit.NewLogger(st, otelaudit.WithEncryption(ring))
//	id, err := logger.Log(ctx, otelaudit.Interaction{Input: prompt, Output: answer, Model: "gpt-4o"})
//
// The key is loaded, not made: content encrypted under a key that is lost
// can never be decrypted, so keep it in a file (outside the store
// directory; [KeyFile] refuses one that group or others can access) or a
// secret manager, and give it through [LoadEncryptionManager], or
// [NewKeyRing] with a [KeySource] to reread it as it rotates.
// [GenerateKey] returns a new key in memory only: for tests, or for a
// program that saves it itself.
package otelaudit
