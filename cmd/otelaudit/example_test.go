package main

import (
	"context"
	"os"
)

// Listing part of a store written by the reference implementation (its
// day is split across a rotated file and the current one) as a table.
func Example_query() {
	run(context.Background(), []string{
		"query", "--dir", "../../testdata/reference-store/hashonly", "--from", "2024-02-28T10:00:00Z", "--to", "2024-02-28T20:00:00Z",
	}, os.Stdout, os.Stderr)
	// Output:
	// ID                                    TIME (UTC)                PROVIDER      MODEL                       TOKENS IN/OUT     LATENCY  SAFETY
	// 30500b4a-fbfc-46c7-b8b4-3bfd85297d9c  2024-02-28T11:47:26.611Z  azure         gpt-4o-2024-05-13            2147483648/1       0.3ms  ok
	// a7fca2fa-8d8c-41a0-8207-c7766b9913cf  2024-02-28T14:22:31.060Z  local         -                         1099511627776/-     1e-07ms  ok
	// 0d42acf6-71dd-49c7-b77a-477a3559c650  2024-02-28T19:30:40.000Z  ünïcödé       模型-1                                1/0     1e+21ms  FAILED (prompt_injection,pii,self-harm)
	// (3 entries)
}

// Counting entries; the exit code is what run returns.
func Example_count() {
	code := run(context.Background(), []string{"count", "--dir", "../../testdata/reference-store/encrypted"}, os.Stdout, os.Stderr)
	os.Stdout.WriteString("exit " + itoa(code) + "\n")
	// Output:
	// 9
	// exit 0
}
