// Command otelaudit reads, checks and maintains otelaudit audit stores:
// query entries, show one with its content decrypted, count, verify the
// tamper-evidence chain, print health statistics, apply retention and
// generate encryption keys. Run "otelaudit --help" for the commands, their
// exit codes and examples.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default handling: a second
	// Ctrl-C ends the process at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
