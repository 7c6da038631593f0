package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

const cleanupHelp = `Usage: otelaudit cleanup --dir DIR --retention-days N [--dry-run]
                         [--checkpoint-key-file F | --checkpoint-signer-key-file F]
       otelaudit cleanup --s3-bucket B [--s3-prefix P] ... --retention-days N
                         [--checkpoint-key-file F | --checkpoint-signer-key-file F]

Apply retention: delete every entry whose timestamp is more than N days
before now (N >= 1), and print what was removed, per UTC day. The file
backend removes the files of days wholly before the cutoff and rewrites
the files of the cutoff's own day without their older entries; it records a
signed note of what it removes first, so "otelaudit verify" still passes
afterwards. A store whose writers sign with a key of their own
(filestore.WithCheckpointKey, s3store.WithCheckpointKey) needs the same key
here, so that cleanup signs its removal notes with it too: an HMAC key
with --checkpoint-key-file, or, for writers that sign with Ed25519
(filestore.WithCheckpointSigner, s3store.WithCheckpointSigner), the
private key with --checkpoint-signer-key-file F (ID:HEX of the 32-byte seed
or the 64-byte private key "otelaudit keygen --ed25519 ID" prints). Key
files that group or others can access are refused unless
--allow-insecure-key-file. Without the key, cleanup of such a store
refuses (exit 2) and removes nothing: a directory's notes would be signed
with the store's own .checkpoint.key, and an S3 prefix's removals would be
listed by no signed digest, which "otelaudit verify" with the writers' key
reports as tampering. A key given must be that key: cleanup checks it
against the store's latest signed note (on S3, the prefix's newest
digest) and refuses (exit 2, naming the key id the store is signed with
and the one given, never a key) another store's key, another key under
the same id, an HMAC key for an Ed25519 store or the reverse, and a key
for a store signed with its own .checkpoint.key, removing nothing. A
store that holds no signed note yet takes any key, as its writers do.

cleanup opens the store for writing: it takes the store's lock and fails
(exit 2) while another process holds it. --dry-run only reports what would
be removed and opens the store read-only.

Examples:
  otelaudit cleanup --dir ./audit-data --retention-days 365 --dry-run
  otelaudit cleanup --dir ./audit-data --retention-days 365
  otelaudit cleanup --dir ./audit-data --retention-days 365 --checkpoint-signer-key-file /etc/otelaudit/checkpoint-signer.key`

func runCleanup(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("cleanup")
	sf := addStoreFlags(fs, true)
	days := fs.Int("retention-days", 0, "keep entries of the last `N` days (N >= 1); delete older ones")
	dryRun := fs.Bool("dry-run", false, "report what would be removed; delete nothing")
	keyFile := fs.String("checkpoint-key-file", "", "sign the removal notes with the first key (ID:HEX) in `FILE`:\nthe key the store's writers sign with (required when they sign with a key\nof their own: cleanup refuses without it, and refuses any other key)")
	signerFile := fs.String("checkpoint-signer-key-file", "", "sign the removal notes with the Ed25519 private key (ID:HEX, the 32-byte\nseed or the 64-byte key) in `FILE`: the key of writers that sign with\nfilestore.WithCheckpointSigner or s3store.WithCheckpointSigner")
	insecure := fs.Bool("allow-insecure-key-file", false, "read a checkpoint key file that group or others can access, with a warning")
	pos, err := c.parse(fs, cleanupHelp, args)
	if err != nil {
		return err
	}
	if *keyFile != "" && *signerFile != "" {
		return usageErrorf("--checkpoint-key-file and --checkpoint-signer-key-file are two keys to sign with; give the one the store's writers sign with")
	}
	if *keyFile != "" {
		ks, err := readCheckpointKeyFile(ctx, c, *keyFile, *insecure)
		if err != nil {
			return err
		}
		sf.fileOpts = append(sf.fileOpts, filestore.WithCheckpointKey(ks[0].ID, ks[0].Key))
		sf.s3.opts = append(sf.s3.opts, s3store.WithCheckpointKey(ks[0].ID, ks[0].Key))
	}
	if *signerFile != "" {
		id, priv, err := readSignerKeyFile(ctx, c, *signerFile, *insecure)
		if err != nil {
			return err
		}
		sf.fileOpts = append(sf.fileOpts, filestore.WithCheckpointSigner(id, priv))
		sf.s3.opts = append(sf.s3.opts, s3store.WithCheckpointSigner(id, priv))
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "retention-days" })
	if !given {
		return usageErrorf("--retention-days N is required: entries more than N days old are deleted (N >= 1)")
	}
	if *days < 1 {
		return usageErrorf("--retention-days must be a whole number of days >= 1 (got %d)", *days)
	}
	now := c.now().UTC()
	cutoff := now.Add(-time.Duration(*days) * 24 * time.Hour)
	if sf.dir != "" && !*dryRun {
		// Opening a directory for writing makes it a store (lock, key and
		// checkpoint files): do not do that to a directory given by
		// mistake that holds no audit data.
		if empty, err := holdsNoStore(sf.dir); err == nil && empty {
			fmt.Fprintf(c.stdout, "%s holds no audit store (no audit_*.jsonl or checkpoints.jsonl): nothing removed\n", sf.dir)
			return nil
		}
	}
	if !*dryRun {
		// The removal notes must verify with the key the store is
		// signed with: refuse any other key before removing anything.
		sf.fileOpts = append(sf.fileOpts, filestore.WithSameCheckpointKey())
		sf.s3.opts = append(sf.s3.opts, s3store.WithSameCheckpointKey())
	}
	st, err := sf.open(ctx, c, *dryRun)
	if errors.Is(err, filestore.ErrCheckpointKeyMismatch) || errors.Is(err, s3store.ErrCheckpointKeyMismatch) {
		// The store refused to open and changed nothing.
		own := ""
		if kid, _ := filestore.SigningKeyID(sf.dir); sf.dir != "" && kid == otelaudit.DefaultNamedKeyID {
			own = " (none: the store is signed with its own .checkpoint.key)"
		}
		return usageErrorf("%v: give the key the store's writers sign with%s, with --checkpoint-key-file for an HMAC key or "+
			"--checkpoint-signer-key-file for an Ed25519 private key; a removal note signed with another key would not verify, "+
			"and \"otelaudit verify\" would report the cleanup as tampering; nothing removed", err, own)
	}
	if errors.Is(err, filestore.ErrCheckpointKeyNeeded) {
		if path := sf.missingOwnKeyFile(); path != "" {
			// Signed with its own key file, which is not there: the
			// store refused to sign on with a new one, changing nothing.
			return usageErrorf("%s is signed with checkpoint key id %q, the store's own key file, and %s is missing: "+
				"put it back, or give it with --checkpoint-key-file FILE (without it the removal note would be signed with a new key, "+
				"which leaves every note signed before unverifiable); nothing removed", sf.dir, otelaudit.DefaultNamedKeyID, path)
		}
	}
	if errors.Is(err, filestore.ErrCheckpointKeyNeeded) || errors.Is(err, s3store.ErrCheckpointKeyNeeded) {
		// The store refused to open and changed nothing.
		name, signs, without := sf.dir, "notes", "the removal note would be signed with a new .checkpoint.key"
		if sf.s3.given() {
			name, signs, without = sanitize("s3://"+sf.s3.bucket+"/"+sf.s3.prefix), "digests", "the removals would be listed by no signed digest"
		}
		return usageErrorf("the writers of %s sign its %s with key id %q: give that key with --checkpoint-key-file "+
			"(an HMAC key) or --checkpoint-signer-key-file (an Ed25519 private key); "+
			"without it %s, which \"otelaudit verify\" with the writers' key reports as tampering; nothing removed",
			name, signs, sanitize(sf.ownKeyID(ctx)), without)
	}
	if err != nil {
		return err
	}
	defer st.Close()

	// Count what lies before the cutoff, per UTC day, before deleting:
	// the backend reports only a total.
	perDay := map[string]int{}
	before := 0
	prog := c.newProgress("cleanup", "entries", 0)
	for e, err := range st.Entries(ctx, minTime, cutoff.Add(-time.Nanosecond)) {
		if err != nil {
			prog.Finish()
			return storeError(ctx, fmt.Errorf("read %s: %w", st.name, err))
		}
		prog.Add(1)
		perDay[e.Timestamp.UTC().Format("2006-01-02")]++
		before++
	}
	prog.Finish()

	w := bufio.NewWriter(c.stdout)
	defer w.Flush()
	verb := "removed"
	if *dryRun {
		verb = "would remove"
	}
	fmt.Fprintf(w, "Retention: %d days; cutoff %s (entries before it are deleted)\n", *days, cutoff.Format(time.RFC3339))
	daysSorted := make([]string, 0, len(perDay))
	for d := range perDay {
		daysSorted = append(daysSorted, d)
	}
	slices.Sort(daysSorted)
	for _, d := range daysSorted {
		fmt.Fprintf(w, "  %s  %s %d entries\n", d, verb, perDay[d])
	}
	if *dryRun {
		fmt.Fprintf(w, "Dry run: %s %d entries in %d days; nothing deleted\n", verb, before, len(perDay))
		return nil
	}
	n, err := st.DeleteBefore(ctx, cutoff)
	if err != nil {
		w.Flush()
		return storeError(ctx, fmt.Errorf("delete from %s: %w", st.name, err))
	}
	fmt.Fprintf(w, "Removed %d entries in %d days\n", n, len(perDay))
	if n != before {
		fmt.Fprintf(w, "Note: %d entries were counted before the cutoff but %d were removed (the store changed meanwhile)\n", before, n)
	}
	return nil
}

// holdsNoStore reports whether dir has neither data files nor a
// checkpoint file.
func holdsNoStore(dir string) (bool, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, de := range des {
		n := de.Name()
		if n == "checkpoints.jsonl" || (strings.HasPrefix(n, "audit_") && strings.HasSuffix(n, ".jsonl")) {
			return false, nil
		}
	}
	return true, nil
}
