package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
	"github.com/otelaudit/otelaudit-go/storage/verify"
)

const verifyHelp = `Usage: otelaudit verify --dir DIR [--checkpoint-key ID:HEX | --checkpoint-key-file FILE]...
                        [--checkpoint-public-key-file FILE]... [--allow-insecure-key-file]
                        [--witness FILE] [--format text|json]
       otelaudit verify --s3-bucket BUCKET [--s3-prefix P] [--s3-endpoint URL] [--s3-region R]
                        [--checkpoint-key ID:HEX | --checkpoint-key-file FILE]...
                        [--checkpoint-public-key-file FILE]... [--witness FILE] [--format text|json]

Check the tamper evidence of a file store without changing it (no lock is
taken: a store another process is appending to can be verified). Every
chained entry's hash is recomputed over its exact bytes, every link to the
writer's previous entry is followed across files, the signed checkpoints are
checked, and every entry a checkpoint covers must be present unless a signed
removal note (cleanup, delete) accounts for it.

Detected, with file and line where it applies: a changed byte, deleted,
inserted, duplicated or reordered lines, a dropped last line of a closed
store, a truncated or deleted file, forged writers, bad signatures, and an
index file (.index/) that would make count, query, show or delete miss
stored entries (index-mismatch: remove it, and the next writer to open the
store rebuilds it; a missing index is not a finding). Not tampering,
reported as warnings: entries without a chain (written by the
reference implementation), the incomplete last line of a file being written,
entries after the last checkpoint of a writer still running.

Checkpoint keys: without --checkpoint-key(-file) or
--checkpoint-public-key-file the store's own key (.checkpoint.key, key id
"local") is used. That key lives next to the data,
so it detects damage and careless edits but not forgery by someone who can
write the directory; for real protection the writer signs with a key kept
elsewhere (filestore.WithCheckpointKey) and verify gets the same key here;
without it such a store is not checked (exit 2, naming its key id), nor is
one signed with its own key whose .checkpoint.key is missing (moved out,
or lost by a copy that skipped dotfiles). A key given replaces
.checkpoint.key: a store moved to a key of your own needs that key and,
for the notes signed before, a copy of .checkpoint.key. A key is ID:HEX
(at least 16 bytes, hex), or bare HEX for key id "local" (the format of
.checkpoint.key); key files hold one key per line (# comments). A key
file that group or others can access (0644, 0660...) is refused (exit 2)
unless --allow-insecure-key-file. Give several for rotated keys; keys
under one id are all tried. A key that is too short is an error, never a
reason to fall back to .checkpoint.key. Keys are never printed.

Ed25519: a store whose writers sign with an Ed25519 private key
(filestore.WithCheckpointSigner, s3store.WithCheckpointSigner) is verified
with only its public key, --checkpoint-public-key-file FILE: ID:HEX lines
of 32-byte public keys, as "otelaudit keygen --ed25519 ID" prints on stderr
(repeatable, and may be given with HMAC keys for a store that changed
keys). A public key is not secret: its file is read whatever its mode. A
64-byte key there (a private key) is refused.

Witness: a store written with filestore.WithWitness copies every signed note
to a file outside the store (another directory or host). Given that file,
verify requires every witnessed note in the store, which detects the newest
entries removed together with their last checkpoint, a deleted writer session
and a rollback of the directory to an older copy. Without a witness the
report says so: those cases cannot be ruled out.

S3 stores (--s3-bucket): every chained entry's hash is recomputed and every
writer's entries must form one unbroken chain across its batch objects and
days; in each object the lines must be in the order the store writes them and
as many as its name says. Detected, with object key and line: a changed byte,
deleted, inserted, reordered or replayed entries, a deleted batch object in
the middle of a writer's chain, and a missing id marker (_ids/..., through
which show finds an entry by id). Objects in the reference layout (one entry
per object) are legacy, not tampering. Writers that sign
(s3store.WithCheckpointKey, or WithCheckpointSigner for Ed25519) store
digest objects (_digests/WRITER/N.json), CloudTrail-style: given the same
key (for Ed25519 its public key, --checkpoint-public-key-file), verify also
checks their signatures and chain, that every listed object is present with its SHA-256 (or removed
by a signed delete or retention note), that every object is listed, that
each writer's signed head is present, and that the reference-layout objects
are those _digests/_legacy.json signed when signing began. Without a key the report names what it
cannot rule out. With --witness (the lines s3store.WithWitness published),
the newest entries removed together with the last digest, a deleted writer
session and a rollback of the prefix are caught too. Credentials come from
the standard AWS chain (environment, shared config, instance role).

Exit status: 0 intact (warnings allowed), 1 tampered or damaged (every
problem is listed; a store whose data files and checkpoints were all
removed is damaged), 2 usage error, the store cannot be read, or there is no
store there at all (a directory or S3 prefix without a store).

Examples:
  otelaudit verify --dir ./audit-data
  otelaudit verify --dir ./audit-data --checkpoint-key-file /etc/otelaudit/checkpoint.key
  otelaudit verify --dir ./audit-data --checkpoint-public-key-file /etc/otelaudit/checkpoint.pub
  otelaudit verify --dir ./audit-data --format json | jq '.problems[]'
  otelaudit verify --s3-bucket audit --s3-prefix prod/audit/
  otelaudit verify --s3-bucket audit --checkpoint-key-file /etc/otelaudit/checkpoint.key --witness /var/log/audit-witness.jsonl`

// maxWarningsShown caps the warnings the text report lists one by one.
const maxWarningsShown = 20

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func runVerify(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("verify")
	sf := addStoreFlags(fs, true)
	var keys, keyFiles stringList
	fs.Var(&keys, "checkpoint-key", "checkpoint `ID:HEX` key (or bare HEX for key id \"local\");\nrepeatable; prefer --checkpoint-key-file (flags show in ps)")
	fs.Var(&keyFiles, "checkpoint-key-file", "read checkpoint keys from `FILE`, one ID:HEX or HEX per line; repeatable")
	var pubFiles stringList
	fs.Var(&pubFiles, "checkpoint-public-key-file", "read Ed25519 public keys from `FILE`, one ID:HEX (32 bytes) per line, of a\nstore signed with filestore.WithCheckpointSigner or s3store.WithCheckpointSigner;\nrepeatable; not secret: no permission check")
	insecure := fs.Bool("allow-insecure-key-file", false, "read a checkpoint key file that group or others can access, with a warning")
	witness := fs.String("witness", "", "witness `FILE` (the notes the store published with filestore.WithWitness or s3store.WithWitness)")
	format := fs.String("format", "text", "output `FORMAT`: text or json (the full report)")
	pos, err := c.parse(fs, verifyHelp, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return usageErrorf("--format %q: want text or json", *format)
	}
	var ks []otelaudit.NamedKey
	for i, k := range keys {
		nk, err := otelaudit.ParseNamedKey(k)
		if err != nil {
			return usageErrorf("--checkpoint-key #%d: %w", i+1, err)
		}
		ks = append(ks, nk)
	}
	for _, path := range keyFiles {
		fileKeys, err := readCheckpointKeyFile(ctx, c, path, *insecure)
		if err != nil {
			return err
		}
		ks = append(ks, fileKeys...)
	}
	var pubs []publicKey
	for _, path := range pubFiles {
		fileKeys, err := readPublicKeyFile(ctx, path)
		if err != nil {
			return err
		}
		pubs = append(pubs, fileKeys...)
	}
	if sf.s3.given() {
		if sf.dir != "" {
			return usageErrorf("--dir and --s3-bucket name two stores; give one")
		}
		return verifyS3(ctx, c, sf, ks, pubs, *witness, *format)
	}
	if sf.dir == "" {
		return usageErrorf("no store given: use --dir DIR%s", s3Hint)
	}
	var opts []filestore.VerifyOption
	for _, k := range ks {
		opts = append(opts, filestore.WithVerifyKey(k.ID, k.Key))
	}
	for _, k := range pubs {
		opts = append(opts, filestore.WithVerifyPublicKey(k.id, k.pub))
	}
	fi, err := os.Stat(sf.dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return ioError(fmt.Errorf("store directory %s does not exist", sf.dir))
	case err != nil:
		return ioError(fmt.Errorf("store directory: %w", err))
	case !fi.IsDir():
		return ioError(fmt.Errorf("%s is not a directory", sf.dir))
	}
	if len(ks) == 0 && len(pubs) == 0 {
		if kid := sf.ownKeyID(ctx); kid != "" {
			return needKey(sf.dir, kid)
		}
		if path := sf.missingOwnKeyFile(); path != "" {
			return needOwnKey(sf.dir, path)
		}
	}
	if *witness != "" {
		wf, err := os.Open(*witness)
		if err != nil {
			return ioError(fmt.Errorf("witness: %w", err))
		}
		defer wf.Close()
		opts = append(opts, filestore.WithVerifyWitness(wf))
	}
	prog := c.newProgress("verify", "bytes", 0)
	if prog != nil {
		opts = append(opts, filestore.WithVerifyProgress(func(p filestore.VerifyProgress) {
			prog.SetTotal(p.TotalBytes)
			prog.Set(p.Bytes)
		}))
	}
	rep, err := filestore.Verify(ctx, sf.dir, opts...)
	prog.Finish()
	if errors.Is(err, storage.ErrNoStore) {
		// The library's text names the directory and the sentinel's
		// package; said once, in the CLI's words.
		return ioError(fmt.Errorf("%s: no audit store here (no audit_*.jsonl data files, no checkpoints.jsonl)", sf.dir))
	}
	if err != nil {
		return storeError(ctx, fmt.Errorf("verify %s: %w", sf.dir, err))
	}
	keyNote := fmt.Sprintf("%d key(s) given", len(keys)+len(keyFiles)+len(pubFiles))
	if len(keys)+len(keyFiles)+len(pubFiles) == 0 {
		keyNote = "the store's own .checkpoint.key (detects damage, not forgery by someone who can write the directory)"
		if _, err := os.Stat(filepath.Join(sf.dir, ownKeyFileName)); err != nil {
			keyNote = "none (no --checkpoint-key given and no .checkpoint.key in the store)"
		} else if slices.ContainsFunc(rep.Problems, func(p filestore.Problem) bool { return p.Kind == filestore.ProblemNoKey }) {
			keyNote = "none (no --checkpoint-key given, and the store's .checkpoint.key cannot be used)"
		}
	}
	return writeVerifyReport(c, rep, *format, keyNote)
}

// verifyS3 verifies the S3 store the flags name (s3store.Store.Verify).
func verifyS3(ctx context.Context, c *cli, sf *storeFlags, ks []otelaudit.NamedKey, pubs []publicKey, witness, format string) error {
	var opts []s3store.VerifyOption
	for _, k := range ks {
		opts = append(opts, s3store.WithVerifyKey(k.ID, k.Key))
	}
	for _, k := range pubs {
		opts = append(opts, s3store.WithVerifyPublicKey(k.id, k.pub))
	}
	if witness != "" {
		wf, err := os.Open(witness)
		if err != nil {
			return ioError(fmt.Errorf("witness: %w", err))
		}
		defer wf.Close()
		opts = append(opts, s3store.WithVerifyWitness(wf))
	}
	st, err := sf.s3.open(ctx, c, true)
	if err != nil {
		return err
	}
	defer st.Close()
	s3st, ok := st.Backend.(*s3store.Store)
	if !ok {
		return fmt.Errorf("verify %s: not an S3 store", st.name)
	}
	if len(ks) == 0 && len(pubs) == 0 {
		if kid := sf.ownKeyID(ctx); kid != "" {
			return needKey(st.name, kid)
		}
	}
	rep, err := s3st.Verify(ctx, opts...)
	if err != nil {
		return storeError(ctx, fmt.Errorf("verify %s: %w", st.name, err))
	}
	keyNote := fmt.Sprintf("%d key(s) given: digest objects checked", len(ks)+len(pubs))
	if len(ks)+len(pubs) == 0 {
		keyNote = "none given: digest objects not checked (writers that sign with s3store.WithCheckpointKey need the same key here, with WithCheckpointSigner its public key)"
	}
	return writeVerifyReport(c, rep, format, keyNote)
}

// writeVerifyReport prints rep as text or JSON and returns the exit error
// of a store with problems.
func writeVerifyReport(c *cli, rep *verify.Report, format, keyNote string) error {
	w := bufio.NewWriter(c.stdout)
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printVerifyReport(w, rep, keyNote)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if !rep.OK() {
		return &exitError{code: exitFailure, err: fmt.Errorf("%s is TAMPERED or damaged: %d problem(s), first: %s",
			rep.Dir, len(rep.Problems), sanitize(rep.Problems[0].String()))}
	}
	return nil
}

func printVerifyReport(w *bufio.Writer, rep *verify.Report, keyNote string) {
	rate := 0.0
	if s := rep.Duration.Seconds(); s > 0 {
		rate = float64(rep.Entries) / s
	}
	fmt.Fprintf(w, "Store:        %s\n", sanitize(rep.Dir))
	fmt.Fprintf(w, "Checked:      %s, %s (%d chained in %s, %d legacy without chain), %s\n",
		count(rep.Files, "file"), count(rep.Entries, "entry"), rep.Chained, count(rep.Writers, "writer session"), rep.Legacy, count(rep.Checkpoints, "signed note"))
	fmt.Fprintf(w, "Time:         %s (%.0f entries/s)\n", rep.Duration.Round(1e6), rate)
	fmt.Fprintf(w, "Key:          %s\n", keyNote)
	switch {
	case rep.Witness:
		fmt.Fprintf(w, "Witness:      %d notes, each required in the store\n", rep.Witnessed)
	case len(rep.Unverifiable) > 0:
		fmt.Fprintf(w, "Cannot rule out (not checkable for this store yet):\n")
		for _, u := range rep.Unverifiable {
			fmt.Fprintf(w, "  - %s\n", sanitize(u))
		}
	default:
		fmt.Fprintf(w, "Witness:      none given: the newest entries removed with their last checkpoint, a deleted\n")
		fmt.Fprintf(w, "              writer session or a rollback to an older copy cannot be ruled out\n")
	}
	if rep.Unconfirmed > 0 {
		fmt.Fprintf(w, "Unconfirmed:  %d entries after the last checkpoint of a writer still running (chain intact; removal not yet detectable)\n", rep.Unconfirmed)
	}
	if len(rep.Warnings) > 0 {
		fmt.Fprintf(w, "Warnings:     %d\n", len(rep.Warnings))
		for i, p := range rep.Warnings {
			if i == maxWarningsShown {
				fmt.Fprintf(w, "  ... and %d more (--format json lists them all)\n", len(rep.Warnings)-i)
				break
			}
			fmt.Fprintf(w, "  %s\n", sanitize(p.String()))
		}
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintf(w, "Problems:     %d\n", len(rep.Problems))
		for _, p := range rep.Problems {
			fmt.Fprintf(w, "  %s\n", sanitize(p.String()))
		}
		fmt.Fprintf(w, "Result:       TAMPERED or damaged\n")
		return
	}
	if rep.Legacy > 0 {
		fmt.Fprintf(w, "Result:       INTACT as far as verifiable (%d legacy entries have no chain)\n", rep.Legacy)
		return
	}
	fmt.Fprintf(w, "Result:       INTACT\n")
}

// readCheckpointKeyFile reads keys, one ID:HEX or HEX per line, from
// path, through the same reader and permission check as every key file
// (otelaudit.KeyFile.NamedKeys).
func readCheckpointKeyFile(ctx context.Context, c *cli, path string, allowInsecure bool) ([]otelaudit.NamedKey, error) {
	f := otelaudit.KeyFile{Path: path, AllowInsecure: allowInsecure, Logger: slog.New(slog.NewTextHandler(c.stderr, nil))}
	keys, err := f.NamedKeys(ctx)
	switch {
	case errors.Is(err, otelaudit.ErrInvalidKey), errors.Is(err, otelaudit.ErrInsecureKeyFile):
		return nil, usageErrorf("%w", cliError("checkpoint key file", insecureKeyFileHint(err)))
	case err != nil:
		return nil, ioError(cliError("read checkpoint key file", err))
	}
	return keys, nil
}

// count is n and noun, in the plural unless n is 1 ("1 file", "2 entries").
func count[N int | int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if base, ok := strings.CutSuffix(noun, "y"); ok {
		return fmt.Sprintf("%d %sies", n, base)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// needOwnKey is needKey for a directory signed with its own key file
// (key id "local") when that file, path, is missing: the key was moved
// out of the store or lost by a copy that skipped dotfiles. That is no
// evidence of tampering, and verifying without the key could only report
// every signed note as unverifiable, so nothing is checked (exit 2).
func needOwnKey(name, path string) error {
	return usageErrorf("%s is signed with checkpoint key id %q, the store's own key file, and %s is missing (no-key): "+
		"put it back, or give it with --checkpoint-key-file FILE (a bare HEX line is key id %q); "+
		"without it no signed note can be checked", name, otelaudit.DefaultNamedKeyID, path, otelaudit.DefaultNamedKeyID)
}

// needKey is the error of a verification asked without a key of a store
// whose notes are signed with key kid: as gpg does without the public key,
// it says what is needed and checks nothing (exit 2), instead of reporting
// every signed note as unverifiable and the store as tampered.
//
// The key id does not say whether the key is an HMAC key or an Ed25519
// key pair, so both flags are named.
func needKey(name, kid string) error {
	return usageErrorf("%s is signed with checkpoint key id %q: give that key with --checkpoint-key-file FILE "+
		"or --checkpoint-key ID:HEX (HMAC, WithCheckpointKey), or its public key with --checkpoint-public-key-file FILE "+
		"(Ed25519, WithCheckpointSigner); without it no signed note can be checked", name, sanitize(kid))
}
