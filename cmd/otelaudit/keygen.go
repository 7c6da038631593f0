package main

import (
	"context"
	"fmt"

	"github.com/otelaudit/otelaudit-go/otelaudit"
)

const keygenHelp = `Usage: otelaudit keygen

Print a new random Fernet key (32 bytes, 44 characters of URL-safe base64) on
stdout. This is the one command that prints a key: that is its job. Keep the
key out of shell history and logs: write it straight to a file readable only
by you, or to a secret manager, and give it to the SDK and to "otelaudit show"
through OTELAUDIT_KEY, OTELAUDIT_KEY_FILE or --key-file.

To rotate keys, put the new key first in the ring and keep the old ones after
it (OTELAUDIT_KEY=new,old): new content is encrypted with the new key and old
content still decrypts.

Example:
  (umask 077 && otelaudit keygen > audit.key)`

func runKeygen(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("keygen")
	pos, err := c.parse(fs, keygenHelp, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	k, err := otelaudit.GenerateKey()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(c.stdout, k)
	return err
}
