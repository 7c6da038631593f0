package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"unicode"

	"github.com/otelaudit/otelaudit-go/otelaudit"
)

const keygenHelp = `Usage: otelaudit keygen
       otelaudit keygen --ed25519 ID

Print a new random Fernet key (32 bytes, 44 characters of URL-safe base64) on
stdout. This is the one command that prints a key: that is its job. Keep the
key out of shell history and logs: write it straight to a file readable only
by you, or to a secret manager, and give it to the SDK and to "otelaudit show"
through OTELAUDIT_KEY, OTELAUDIT_KEY_FILE or --key-file.

To rotate keys, put the new key first in the ring and keep the old ones after
it (OTELAUDIT_KEY=new,old): new content is encrypted with the new key and old
content still decrypts.

With --ed25519 ID it makes an Ed25519 key pair for signing checkpoints
(filestore.WithCheckpointSigner, s3store.WithCheckpointSigner) instead:
the private key line, ID:HEX of the 64-byte private key (seed and public
key), goes to stdout, and the public key line, ID:HEX of 32 bytes, to
stderr. The writers and "otelaudit cleanup --checkpoint-signer-key-file"
sign with the private key; "otelaudit verify --checkpoint-public-key-file"
needs only the public key, which auditors may hold without being able to
forge checkpoints. ID is the key id written next to every signature
(non-empty, no spaces or control characters, at most 64 bytes, not
"local", the id of a store's own .checkpoint.key).

Examples:
  (umask 077 && otelaudit keygen > audit.key)
  (umask 077 && otelaudit keygen --ed25519 ckpt-1 > checkpoint-signer.key 2> checkpoint.pub)`

func runKeygen(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("keygen")
	edID := fs.String("ed25519", "", "make an Ed25519 checkpoint signing key pair with key id `ID`: the private\nkey line (ID:HEX) on stdout, the public key line on stderr")
	pos, err := c.parse(fs, keygenHelp, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	ed := false
	fs.Visit(func(f *flag.Flag) { ed = ed || f.Name == "ed25519" })
	if ed {
		if err := checkKeyID(*edID); err != nil {
			return err
		}
		private, public, err := ed25519KeyLines(*edID)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintln(c.stdout, private); err != nil {
			return err
		}
		_, err = fmt.Fprintln(c.stderr, public)
		return err
	}
	k, err := otelaudit.GenerateKey()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(c.stdout, k)
	return err
}

// checkKeyID refuses a key id keygen --ed25519 cannot hand out: one that
// does not survive an ID:HEX line (empty, spaces, control characters),
// one longer than the 64 bytes messages show of an id, and "local", the
// id of a store's own .checkpoint.key, which verify and cleanup take for
// that file.
func checkKeyID(id string) error {
	switch {
	case id == "":
		return usageErrorf("--ed25519: give the key id, e.g. --ed25519 ckpt-1")
	case strings.ContainsFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return usageErrorf("--ed25519 %q: a key id has no spaces or control characters", sanitize(id))
	case len(id) > 64:
		return usageErrorf("--ed25519: the key id is %d bytes, want at most 64", len(id))
	case id == otelaudit.DefaultNamedKeyID:
		return usageErrorf("--ed25519 %q: that is the key id of a store's own .checkpoint.key; choose another (e.g. ckpt-1)", id)
	}
	return nil
}
