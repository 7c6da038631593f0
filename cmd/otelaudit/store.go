package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// storeFlags are the flags that name the store a command works on.
type storeFlags struct {
	dir      string
	s3       s3Flags
	fileOpts []filestore.Option // added by the command (a checkpoint key)
}

func addStoreFlags(fs *flag.FlagSet, withS3 bool) *storeFlags {
	sf := &storeFlags{}
	fs.StringVar(&sf.dir, "dir", "", "the file store in directory `DIR` (audit_YYYYMMDD[_NNN].jsonl)")
	if withS3 {
		sf.s3.add(fs)
	}
	return sf
}

// store is an opened store and a name for it in messages.
type store struct {
	storage.Backend
	name string
	// empty, set when the store is opened read-only, tells whether the
	// place holds no store at all (see noStore); asked only by the
	// commands that report it, as it costs an S3 store a request.
	empty func() bool
}

// noStore reports whether st, opened read-only, is a directory with
// neither data files nor checkpoints.jsonl or an S3 prefix without
// objects: most likely a wrong --dir or --s3-prefix. A check that fails
// says false.
func (st *store) noStore() bool { return st.empty != nil && st.empty() }

// open opens the store the flags name. readOnly stores take no lock and
// never create or change anything, so they can be read while another
// process writes. A missing or unreadable store is an I/O error (exit 2);
// naming no store or two is a usage error.
func (sf *storeFlags) open(ctx context.Context, c *cli, readOnly bool) (*store, error) {
	s3 := sf.s3.given()
	switch {
	case sf.dir == "" && !s3:
		return nil, usageErrorf("no store given: use --dir DIR%s", s3Hint)
	case sf.dir != "" && s3:
		return nil, usageErrorf("--dir and --s3-bucket name two stores; give one")
	case s3:
		return sf.s3.open(ctx, c, readOnly)
	}
	fi, err := os.Stat(sf.dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ioError(fmt.Errorf("store directory %s does not exist", sf.dir))
		}
		return nil, ioError(fmt.Errorf("store directory: %w", err))
	}
	if !fi.IsDir() {
		return nil, ioError(fmt.Errorf("%s is not a directory", sf.dir))
	}
	opts := append([]filestore.Option{filestore.WithLogger(c.logger())}, sf.fileOpts...)
	if readOnly {
		opts = append(opts, filestore.WithReadOnly())
	}
	b, err := filestore.New(sf.dir, opts...)
	if err != nil {
		return nil, ioError(fmt.Errorf("open store %s: %w", sf.dir, err))
	}
	st := &store{Backend: b, name: sf.dir}
	if readOnly {
		st.empty = func() bool { empty, _ := holdsNoStore(sf.dir); return empty }
	}
	return st, nil
}

// logger returns the logger backends report warnings to (skipped lines,
// torn tails; never content): plain "level=WARN msg=..." lines on stderr.
func (c *cli) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// Time bounds used when --from or --to is not given.
var (
	minTime = time.Unix(0, 0).UTC()
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// timeRange holds the values of --from and --to.
type timeRange struct {
	from, to string
}

func addTimeFlags(fs *flag.FlagSet) *timeRange {
	tr := &timeRange{}
	fs.StringVar(&tr.from, "from", "", "only entries at or after `TIME`: RFC 3339 (2025-06-01T12:00:00Z),\na date (2025-06-01, UTC), \"now\", or a negative duration from now (-1h, -30m)")
	fs.StringVar(&tr.to, "to", "", "only entries at or before `TIME` (same forms as --from; a bare date\nmeans the end of that day)")
	return tr
}

// bounds returns the inclusive range [start, end] the flags select;
// unset bounds are open. fromSet/toSet report which were given.
func (tr *timeRange) bounds(now time.Time) (start, end time.Time, err error) {
	start, end = minTime, maxTime
	if tr.from != "" {
		if start, err = parseTimeFlag("--from", tr.from, now, false); err != nil {
			return start, end, err
		}
	}
	if tr.to != "" {
		if end, err = parseTimeFlag("--to", tr.to, now, true); err != nil {
			return start, end, err
		}
	}
	if start.After(end) {
		return start, end, usageErrorf("--from %s is after --to %s", tr.from, tr.to)
	}
	return start, end, nil
}

// parseTimeFlag parses the value of a time flag: RFC 3339 (any offset),
// a naive ISO 8601 date-time or date (UTC), "now", or a negative Go
// duration relative to now. A bare date given to --to (endOfDay) means
// the last instant of that day.
func parseTimeFlag(flagName, v string, now time.Time, endOfDay bool) (time.Time, error) {
	if v == "now" {
		return now.UTC(), nil
	}
	if len(v) > 1 && v[0] == '-' {
		d, err := time.ParseDuration(v)
		if err != nil {
			return time.Time{}, usageErrorf("%s %q: not a duration like -1h or -30m", flagName, v)
		}
		return now.Add(d).UTC(), nil
	}
	t, err := storage.ParseTimestamp(v)
	if err != nil {
		return time.Time{}, usageErrorf("%s %q: want RFC 3339 (2025-06-01T12:00:00Z), a date (2025-06-01), \"now\" or -DURATION", flagName, v)
	}
	if endOfDay && len(v) == len("2006-01-02") {
		t = t.Add(24*time.Hour - time.Nanosecond)
	}
	return t, nil
}

// ownKeyID returns the id of the checkpoint key the store the flags name
// is signed with when it is a key of the user's own, which writing or
// verifying the store needs: any key of an S3 prefix's digests (open it
// first: the lookup uses its client), a directory's key other than its
// own .checkpoint.key. "" when there is none, or it cannot be read.
func (sf *storeFlags) ownKeyID(ctx context.Context) string {
	if sf.s3.given() {
		kid, _ := s3store.SigningKeyID(ctx, sf.s3.client, sf.s3.bucket, s3store.WithPrefix(sf.s3.prefix))
		return kid
	}
	kid, _ := filestore.SigningKeyID(sf.dir)
	if kid == otelaudit.DefaultNamedKeyID {
		return ""
	}
	return kid
}

// missingOwnKeyFile returns the path of the directory's own checkpoint
// key file (.checkpoint.key) when the store's notes are signed with it
// (key id "local") and it is not there (moved out of the store, or left
// behind by a copy that skipped dotfiles), "" otherwise: then neither
// verify without a key nor a writer can do anything right with the store.
func (sf *storeFlags) missingOwnKeyFile() string {
	if sf.s3.given() || sf.dir == "" {
		return ""
	}
	if kid, _ := filestore.SigningKeyID(sf.dir); kid != otelaudit.DefaultNamedKeyID {
		return ""
	}
	path := filepath.Join(sf.dir, ownKeyFileName)
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	return path
}

// ownKeyFileName is the file in a store directory that holds the store's
// own checkpoint key (key id "local"), made by filestore.New.
const ownKeyFileName = ".checkpoint.key"

// noStoreHint says why st holds no store and what to check, for
// messages about a store found empty (noStore).
func (st *store) noStoreHint() string {
	if strings.HasPrefix(st.name, "s3://") {
		return "(no object under the prefix); are --s3-bucket and --s3-prefix the ones the store writes to?"
	}
	return "(no audit_*.jsonl or checkpoints.jsonl); is it the directory the store writes to?"
}

// warnSkipped prints a warning on stderr when reads skipped lines that
// are not valid entries (the backend logged where; content is never
// shown), or when the directory read holds no store at all, so that an
// empty answer from a wrong --dir is not taken for an empty store.
// Neither changes the exit code: the valid entries were all read.
func (st *store) warnSkipped(c *cli, cmd string) {
	if st.noStore() {
		fmt.Fprintf(c.stderr, "otelaudit %s: warning: %s holds no audit store %s\n", cmd, st.name, st.noStoreHint())
	}
	sr, ok := st.Backend.(storage.StatsReporter)
	if !ok {
		return
	}
	if n := sr.Stats().SkippedLines; n > 0 {
		fmt.Fprintf(c.stderr, "otelaudit %s: warning: skipped %d line(s) of %s that are not valid entries; run 'otelaudit verify' to check the store\n", cmd, n, st.name)
	}
}
