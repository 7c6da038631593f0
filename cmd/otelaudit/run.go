package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// Exit codes of every command; the top-level help documents them.
const (
	exitOK          = 0   // success; for verify: the store is intact
	exitFailure     = 1   // tampering found, no such entry, wrong key, other runtime failure
	exitUsage       = 2   // usage error, or the store cannot be opened or read (I/O)
	exitInterrupted = 130 // interrupted (SIGINT/SIGTERM), as shells report 128+SIGINT
)

// exitError carries the exit code an error should end the process with.
// Errors without one exit with exitFailure.
type exitError struct {
	code int
	// usage marks a misuse of the command line; the command's help hint
	// is printed after the message.
	usage bool
	err   error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf reports a misuse of the command line (exit 2).
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, usage: true, err: fmt.Errorf(format, args...)}
}

// storeError is the error of a store operation that failed with err: the
// context's error when ctx ended (an interrupt, so the run exits 130, not
// as an I/O failure), ioError(err) otherwise.
func storeError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return ioError(err)
}

// ioError marks err as an I/O failure on the store (exit 2).
func ioError(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return &exitError{code: exitUsage, err: err}
}

// errHelpShown ends a command that printed its help because -h/--help was
// given; it exits 0.
var errHelpShown = errors.New("help shown")

// cli is the environment one invocation runs in. Tests build it through
// run; nothing in it is global, so invocations can run in parallel.
type cli struct {
	stdout, stderr io.Writer
	// progress is true when stderr is a terminal: long scans then draw a
	// progress line on it.
	progress bool
	// stdoutTTY is true when stdout is a terminal; commands that stream
	// their output (query) then draw no progress line, which would tangle
	// with the rows.
	stdoutTTY bool
	now       func() time.Time
}

// command is one subcommand of otelaudit.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, c *cli, args []string) error
}

var commands = []*command{
	{"query", "list entries, filtered by time, model, provider, conversation or trace id", runQuery},
	{"show", "print one entry in full, with its content decrypted when a key is given", runShow},
	{"count", "print the number of entries in a store", runCount},
	{"verify", "check a store's hash chains and signed checkpoints for tampering", runVerify},
	{"stats", "print health figures: volume, safety failures, latency percentiles, tokens", runStats},
	{"cleanup", "delete entries older than a retention period", runCleanup},
	{"keygen", "print a new random Fernet encryption key, or an Ed25519 checkpoint key pair", runKeygen},
}

func lookupCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// topUsage is the help of the otelaudit command itself.
func topUsage() string {
	var b strings.Builder
	b.WriteString(`otelaudit reads, checks and maintains otelaudit audit stores.

Usage:
  otelaudit <command> [flags] [args]
  otelaudit <command> --help

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	b.WriteString(`
Stores:
  --dir DIR     a local file store (audit_YYYYMMDD[_NNN].jsonl files); opened
                read-only by query, show, count, verify and stats, so they
                work while another process appends to the store
` + s3TopUsage + `
Keys:
  show decrypts content with --key KEY, --key-file FILE, or the environment
  (OTELAUDIT_KEY_FILE, else OTELAUDIT_KEY; several keys comma-separated form a
  ring). Keys are never printed; only keygen prints the key it makes.

Flags may come before or after arguments: "show --dir d ID" and
"show ID --dir d" are the same. Both -flag and --flag work.

Exit status:
  0    success; for verify: the store is intact
  1    the command ran and the answer is negative: verify found tampering,
       show found no entry with that id, the key cannot decrypt the content,
       or another runtime failure
  2    usage error (unknown command or flag, bad or missing value), or the
       store cannot be opened or read (I/O error)
  130  interrupted

Examples:
  otelaudit query --dir ./audit-data --from 2025-06-01T00:00:00Z --to 2025-06-01T12:00:00Z
  otelaudit query --dir ./audit-data --from -1h --format jsonl | jq .model
  otelaudit show --dir ./audit-data 0194b7c2-8f3a-7d41-9a3e-1c2d3e4f5a6b --key-file key.txt
  otelaudit verify --dir ./audit-data --checkpoint-key-file ckpt.key
  otelaudit stats --dir ./audit-data --from -24h
  otelaudit cleanup --dir ./audit-data --retention-days 365
  (umask 077 && otelaudit keygen > key.txt)
  (umask 077 && otelaudit keygen --ed25519 ckpt-1 > checkpoint-signer.key 2> checkpoint.pub)
`)
	return b.String()
}

// run executes one otelaudit invocation with args (without the program
// name) and returns the process exit code. Output goes to stdout, errors
// and progress to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr, progress: isTerminal(stderr), stdoutTTY: isTerminal(stdout), now: time.Now}
	return c.main(ctx, args)
}

func (c *cli) main(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, topUsage())
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(args) > 1 {
			if cmd := lookupCommand(args[1]); cmd != nil {
				return c.exec(ctx, cmd, []string{"--help"})
			}
			fmt.Fprintf(c.stderr, "otelaudit: unknown command %q\nRun 'otelaudit --help' for the list of commands.\n", args[1])
			return exitUsage
		}
		fmt.Fprint(c.stdout, topUsage())
		return exitOK
	}
	cmd := lookupCommand(name)
	if cmd == nil {
		fmt.Fprintf(c.stderr, "otelaudit: unknown command %q\nRun 'otelaudit --help' for the list of commands.\n", name)
		return exitUsage
	}
	return c.exec(ctx, cmd, args[1:])
}

func (c *cli) exec(ctx context.Context, cmd *command, args []string) int {
	err := cmd.run(ctx, c, args)
	if err == nil || errors.Is(err, errHelpShown) {
		return exitOK
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		fmt.Fprintf(c.stderr, "otelaudit %s: interrupted\n", cmd.name)
		return exitInterrupted
	}
	code := exitFailure
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	fmt.Fprintf(c.stderr, "otelaudit %s: %v\n", cmd.name, err)
	if ee != nil && ee.usage {
		fmt.Fprintf(c.stderr, "Run 'otelaudit %s --help' for usage.\n", cmd.name)
	}
	return code
}

// isTerminal reports whether w is a terminal (not a pipe, a file or
// /dev/null).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// flagSet returns a flag set for cmd whose errors are returned, not
// printed, and whose help is the command's help text.
func (c *cli) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("otelaudit "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses args against fs, allowing flags after positional
// arguments (the standard flag package stops at the first non-flag; here
// parsing resumes after each one). Everything after a "--" argument is
// positional. On -h/--help it prints help (synopsis, description, the
// flags of fs) to stdout and returns errHelpShown.
func (c *cli) parse(fs *flag.FlagSet, help string, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(c.stdout, commandHelp(fs, help))
				return nil, errHelpShown
			}
			return nil, &exitError{code: exitUsage, usage: true, err: err}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// fs.Parse consumed a "--" terminator if it stopped at one.
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// commandHelp renders a command's help: help (which starts with its usage
// line) followed by its flags.
func commandHelp(fs *flag.FlagSet, help string) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(help, "\n"))
	b.WriteString("\n\nFlags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		left := "  --" + f.Name
		if name != "" {
			left += " " + name
		}
		if len(left) > 26 {
			fmt.Fprintf(&b, "%s\n%28s", left, "")
		} else {
			fmt.Fprintf(&b, "%-28s", left)
		}
		b.WriteString(strings.ReplaceAll(usage, "\n", "\n"+strings.Repeat(" ", 28)))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(&b, " (default %s)", f.DefValue)
		}
		b.WriteByte('\n')
	})
	b.WriteString("  -h, --help                show this help\n")
	return b.String()
}

// noArgs fails with a usage error when a command that takes no
// positional arguments got some.
func noArgs(pos []string) error {
	if len(pos) > 0 {
		return usageErrorf("unexpected argument %q", pos[0])
	}
	return nil
}
