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
	// A key made here is lost with the process, as is this in-memory
	// store: a service loads a key it keeps (LoadEncryptionManager, NewKeyRing).
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

// A key ring loaded from a key source and reloaded every minute, so that a
// rotated key reaches the running Logger. Ciphertext names its key.
func ExampleNewKeyRing() {
	ctx := context.Background()
	// In production: otelaudit.KeyFile{Path: "/etc/otelaudit/keys"} (mode
	// 0600), otelaudit.KeyEnv{}, or awskeys.SecretsManager.
	src := otelaudit.StaticKeys{"0XSG7sw-bLJ167sCwZbXGLhdRH1ImFol7V7f5O5Me9w="}
	ring, err := otelaudit.NewKeyRing(ctx, src, otelaudit.WithRefreshInterval(time.Minute))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ring.Close()
	logger, _ := otelaudit.NewLogger(storage.NewMemoryStorage(0), otelaudit.WithCipher(ring))
	id, _ := logger.Log(ctx, otelaudit.Interaction{Input: "hello", Output: "hi"})
	e, _ := logger.GetEntry(ctx, id)
	fmt.Println(ring.KeyIDs())
	fmt.Println((*e.InputContent)[:16])
	in, out, _ := logger.DecryptContent(e)
	fmt.Println(in, out)
	// Output:
	// [378d166d]
	// fernet:378d166d:
	// hello hi
}

// ParseNamedKey reads the ID:HEX lines of hash and checkpoint key files;
// KeyFile.NamedKeys reads a whole file with the permission check.
func ExampleParseNamedKey() {
	k, err := otelaudit.ParseNamedKey("ops-2026:00112233445566778899aabbccddeeff")
	fmt.Println(k.ID, len(k.Key), err)
	k, _ = otelaudit.ParseNamedKey("00112233445566778899aabbccddeeff")
	fmt.Println(k.ID)
	_, err = otelaudit.ParseNamedKey("ops:0011")
	fmt.Println(err)
	// Output:
	// ops-2026 16 <nil>
	// local
	// otelaudit: invalid key: the key is 2 bytes, want at least 16
}

// Encrypt two contents into one buffer, as a Logger does for the file and
// S3 stores: each ciphertext is what Encrypt would return, appended.
func ExampleEncryptionManager_AppendEncrypt() {
	key, _ := otelaudit.GenerateKey()
	ring, _ := otelaudit.NewEncryptionManager(key)

	buf, _ := ring.AppendEncrypt(nil, "What is our refund policy?")
	n := len(buf)
	buf, _ = ring.AppendEncrypt(buf, "Refunds within 30 days.")

	in, _ := ring.Decrypt(string(buf[:n]))
	out, _ := ring.Decrypt(string(buf[n:]))
	fmt.Println(in)
	fmt.Println(out)
	// Output:
	// What is our refund policy?
	// Refunds within 30 days.
}
