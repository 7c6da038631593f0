package main

import (
	"context"
	"fmt"
)

const countHelp = `Usage: otelaudit count --dir DIR

Print the number of entries in the store (lines that cannot be read as
entries are not counted).

Example:
  otelaudit count --dir ./audit-data`

func runCount(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("count")
	sf := addStoreFlags(fs, true)
	pos, err := c.parse(fs, countHelp, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	st, err := sf.open(ctx, c, true)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.Count(ctx)
	if err != nil {
		return storeError(ctx, fmt.Errorf("count %s: %w", st.name, err))
	}
	st.warnSkipped(c, "count")
	_, err = fmt.Fprintln(c.stdout, n)
	return err
}
