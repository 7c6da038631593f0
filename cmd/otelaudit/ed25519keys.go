package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"

	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// publicKey is an Ed25519 public key and its key id, read from a
// --checkpoint-public-key-file.
type publicKey struct {
	id  string
	pub ed25519.PublicKey
}

// readPublicKeyFile reads Ed25519 public keys from path, one ID:HEX (or
// bare HEX for key id "local") per line, with blank and '#' lines
// ignored: the format and reader of checkpoint key files. A public key
// is not secret, so the file is not refused when group or others can read
// it. Errors name the file and never a key; a 64-byte key (a private key
// given by mistake) is refused.
func readPublicKeyFile(ctx context.Context, path string) ([]publicKey, error) {
	f := otelaudit.KeyFile{Path: path, AllowInsecure: true, Logger: slog.New(slog.DiscardHandler)}
	keys, err := f.NamedKeys(ctx)
	switch {
	case errors.Is(err, otelaudit.ErrInvalidKey):
		return nil, usageErrorf("%w", cliError("checkpoint public key file", err))
	case err != nil:
		return nil, ioError(cliError("read checkpoint public key file", err))
	}
	out := make([]publicKey, 0, len(keys))
	for i, k := range keys {
		switch len(k.Key) {
		case ed25519.PublicKeySize:
			out = append(out, publicKey{id: k.ID, pub: ed25519.PublicKey(k.Key)})
		case ed25519.PrivateKeySize:
			return nil, usageErrorf("checkpoint public key file %s: key %d (id %q) is %d bytes, an Ed25519 private key: "+
				"give verify the public key (the line \"otelaudit keygen --ed25519\" prints on stderr), and keep the private key from auditors",
				path, i+1, sanitize(k.ID), len(k.Key))
		default:
			return nil, usageErrorf("checkpoint public key file %s: key %d (id %q) is %d bytes, want a %d-byte Ed25519 public key",
				path, i+1, sanitize(k.ID), len(k.Key), ed25519.PublicKeySize)
		}
	}
	return out, nil
}

// readSignerKeyFile reads the Ed25519 private key to sign with from the
// first key line of path: ID:HEX of a 32-byte seed or of a 64-byte
// private key (seed and public key, Go's ed25519.PrivateKey, which
// "otelaudit keygen --ed25519" prints). The file gets the permission
// check of every secret key file (refused when group or others can
// access it unless allowInsecure). A 64-byte key whose public half does
// not belong to its seed is refused: it is no key pair, and notes signed
// with it would not verify.
func readSignerKeyFile(ctx context.Context, c *cli, path string, allowInsecure bool) (string, ed25519.PrivateKey, error) {
	f := otelaudit.KeyFile{Path: path, AllowInsecure: allowInsecure, Logger: slog.New(slog.NewTextHandler(c.stderr, nil))}
	keys, err := f.NamedKeys(ctx)
	switch {
	case errors.Is(err, otelaudit.ErrInvalidKey), errors.Is(err, otelaudit.ErrInsecureKeyFile):
		return "", nil, usageErrorf("%w", cliError("checkpoint signer key file", insecureKeyFileHint(err)))
	case err != nil:
		return "", nil, ioError(cliError("read checkpoint signer key file", err))
	}
	k := keys[0]
	switch len(k.Key) {
	case ed25519.SeedSize:
		return k.ID, ed25519.NewKeyFromSeed(k.Key), nil
	case ed25519.PrivateKeySize:
		priv := ed25519.NewKeyFromSeed(k.Key[:ed25519.SeedSize])
		if !bytes.Equal(priv, k.Key) {
			return "", nil, usageErrorf("checkpoint signer key file %s: key id %q: the last %d bytes are not the public key of the first %d (not an Ed25519 private key)",
				path, sanitize(k.ID), ed25519.PublicKeySize, ed25519.SeedSize)
		}
		return k.ID, priv, nil
	}
	return "", nil, usageErrorf("checkpoint signer key file %s: key id %q is %d bytes, want an Ed25519 private key: a %d-byte seed or %d bytes (seed and public key)",
		path, sanitize(k.ID), len(k.Key), ed25519.SeedSize, ed25519.PrivateKeySize)
}

// ed25519KeyLines returns the lines "otelaudit keygen --ed25519 id"
// prints for a new key pair: the private key (ID:HEX of the 64-byte
// ed25519.PrivateKey) and the public key (ID:HEX of 32 bytes).
func ed25519KeyLines(id string) (private, public string, err error) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return "", "", err
	}
	return fmt.Sprintf("%s:%x", id, []byte(priv)), fmt.Sprintf("%s:%x", id, []byte(pub)), nil
}
