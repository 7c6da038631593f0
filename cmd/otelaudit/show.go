package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/otelaudit/otelaudit-go/internal/env"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/otelaudit/awskeys"
	"github.com/otelaudit/otelaudit-go/storage"
)

const showHelp = `Usage: otelaudit show --dir DIR ID [--key KEY | --key-file FILE | --key-secret ARN|NAME] [--kms-key ID]

Print every field of the entry with id ID. Content fields are shown as stored
(hash only, plaintext, or "encrypted") unless a key is given: then encrypted
content is decrypted and printed, and checked against the stored hashes.

The key comes from --key, else --key-file, else the AWS Secrets Manager
secret --key-secret names, else the file named by OTELAUDIT_KEY_FILE, else
OTELAUDIT_KEY, else the secret OTELAUDIT_KEY_SECRET names (several keys form
a ring; content names the key that encrypted it). Content enveloped with AWS
KMS (kms:...) is decrypted with KMS Decrypt using your AWS credentials (the
SDK's default chain: AWS_PROFILE, AWS_REGION, ...); it needs no key flag,
and --kms-key (or OTELAUDIT_KMS_KEY_ID) refuses content under any other
KMS key. A key file that group or
others can access is refused (exit 2) unless --allow-insecure-key-file. Prefer --key-file or the environment: a --key value
is visible to other users in the process list. A key that cannot decrypt the
content is refused (exit 1); a malformed key is a usage error (exit 2). Keys
are never printed.

Control characters in stored text are shown as escapes (\x1b, \u2028) so that
stored data cannot drive the terminal; newlines and tabs are kept. --raw
prints content byte for byte instead.

Examples:
  otelaudit show --dir ./audit-data 0194b7c2-8f3a-7d41-9a3e-1c2d3e4f5a6b
  otelaudit show 0194b7c2-8f3a-7d41-9a3e-1c2d3e4f5a6b --dir ./audit-data --key-file key.txt
  OTELAUDIT_KEY=$(cat key.txt) otelaudit show --dir ./audit-data 0194b7c2-8f3a-7d41-9a3e-1c2d3e4f5a6b
  otelaudit show --dir ./audit-data --key-secret prod/otelaudit/keys 0194b7c2-8f3a-7d41-9a3e-1c2d3e4f5a6b`

// errWrongKey is matched by the error show returns when content is
// encrypted but no key of the ring decrypts it.
var errWrongKey = errors.New("the key cannot decrypt this entry's content (wrong key, or the content was altered)")

func runShow(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("show")
	sf := addStoreFlags(fs, true)
	key := fs.String("key", "", "Fernet `KEY` (44 chars base64); comma-separated for a ring")
	keyFile := fs.String("key-file", "", "read keys from `FILE`, one per line (# comments allowed); the file\nmust not be accessible to group or others (chmod 600)")
	insecure := fs.Bool("allow-insecure-key-file", false, "read a key file that group or others can access, with a warning")
	kmsKey := fs.String("kms-key", os.Getenv(env.KMSKeyID), "decrypt KMS-enveloped content only when it is under this KMS key `ID`\n(key ARN or key id; default $OTELAUDIT_KMS_KEY_ID; without it, any key\nyour AWS credentials can use)")
	keySecret := fs.String("key-secret", "", "read the key ring from the AWS Secrets Manager secret `ARN|NAME`\n(one key, or a JSON list; your AWS credentials)")
	raw := fs.Bool("raw", false, "print content exactly as stored or decrypted, without escaping\ncontrol characters (for redirecting to a file)")
	pos, err := c.parse(fs, showHelp, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return usageErrorf("missing entry ID")
	case len(pos) > 1:
		return usageErrorf("want one entry ID, got %d arguments", len(pos))
	case (*key != "") && (*keyFile != "") || (*key != "" || *keyFile != "") && *keySecret != "":
		return usageErrorf("give one of --key, --key-file and --key-secret, not both")
	}
	id := pos[0]
	em, err := loadKeyRing(ctx, c, *key, *keyFile, *keySecret, *insecure)
	if err != nil {
		return err
	}
	dec := &decrypter{ctx: ctx, ring: em, kmsKey: *kmsKey}
	st, err := sf.open(ctx, c, true)
	if err != nil {
		return err
	}
	defer st.Close()
	e, err := st.Read(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		if st.noStore() {
			return fmt.Errorf("no entry with id %q in %s: it holds no audit store %s", sanitize(id), st.name, st.noStoreHint())
		}
		return fmt.Errorf("no entry with id %q in %s", sanitize(id), st.name)
	}
	if err != nil {
		return storeError(ctx, fmt.Errorf("read %s: %w", st.name, err))
	}
	in, err := contentOf(e.InputContent, dec)
	if err != nil {
		return fmt.Errorf("entry %s: input: %w", sanitize(e.ID), err)
	}
	out, err := contentOf(e.OutputContent, dec)
	if err != nil {
		return fmt.Errorf("entry %s: output: %w", sanitize(e.ID), err)
	}
	w := bufio.NewWriter(c.stdout)
	printEntry(w, e, in, out, *raw)
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// loadKeyRing returns the key ring show decrypts with, or nil when no key
// is configured anywhere. Errors name where the keys came from (the flag,
// the variable, the file or secret; see keySource) and never contain a key.
func loadKeyRing(ctx context.Context, c *cli, key, keyFile, keySecret string, allowInsecure bool) (*otelaudit.EncryptionManager, error) {
	var src otelaudit.KeySource
	var from keySource
	switch {
	case key != "":
		var keys []string
		for k := range strings.SplitSeq(key, ",") {
			if k = strings.TrimSpace(k); k != "" {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			return nil, usageErrorf("--key is empty")
		}
		src, from = otelaudit.StaticKeys(keys), keySource{via: "--key"}
	case keyFile != "":
		src, from = otelaudit.DefaultKeySource(keyFile), keySource{"key file", keyFile, "--key-file"}
	case keySecret != "":
		src, from = secretSource(keySecret), keySource{"secret", keySecret, "--key-secret"}
	case os.Getenv(env.KeyFile) != "":
		src, from = otelaudit.DefaultKeySource(""), keySource{"key file", os.Getenv(env.KeyFile), env.KeyFile}
	case strings.TrimSpace(os.Getenv(env.Key)) != "":
		src, from = otelaudit.DefaultKeySource(""), keySource{via: env.Key}
	case os.Getenv(env.KeySecret) != "":
		src, from = secretSource(os.Getenv(env.KeySecret)), keySource{"secret", os.Getenv(env.KeySecret), env.KeySecret}
	default:
		return nil, nil // no key anywhere: show content as stored
	}
	if f, ok := src.(otelaudit.KeyFile); ok {
		f.AllowInsecure = allowInsecure
		f.Logger = slog.New(slog.NewTextHandler(c.stderr, nil))
		src = f
	}
	keys, err := src.Keys(ctx)
	switch {
	case errors.Is(err, otelaudit.ErrInvalidKey), errors.Is(err, otelaudit.ErrInsecureKeyFile):
		return nil, usageErrorf("%w", from.wrap(insecureKeyFileHint(err)))
	case err != nil:
		return nil, ioError(from.wrap(err))
	}
	em, err := otelaudit.NewEncryptionManager(keys...)
	if err != nil {
		return nil, usageErrorf("%w", from.wrap(err))
	}
	return em, nil
}

// keySource says where show's keys came from, for its errors: via is the
// flag or environment variable, and what and name the file or secret it
// names ("key file", path), if any. Never a key.
type keySource struct {
	what, name, via string
}

// wrap returns err prefixed with the source: "key file F (--key-file): ...",
// or just "--key-file: ..." when err names F already; "OTELAUDIT_KEY: ...".
// The library's "otelaudit: " prefixes are left out (see cliError).
func (s keySource) wrap(err error) error {
	label := s.via
	if s.name != "" && !strings.Contains(err.Error(), s.name) {
		label = s.what + " " + s.name + " (" + s.via + ")"
	}
	return cliError(label, err)
}

// cliError is err as the CLI prints it after its own "otelaudit CMD: ":
// prefixed with label (unless empty) and without the "otelaudit: " that
// the library's errors start with, which would say it twice. errors.Is and
// errors.As still see err.
func cliError(label string, err error) error {
	msg := strings.ReplaceAll(strings.TrimPrefix(err.Error(), "otelaudit: "), ": otelaudit: ", ": ")
	if label != "" {
		msg = label + ": " + msg
	}
	return &labeledError{msg: msg, err: err}
}

type labeledError struct {
	msg string
	err error
}

func (e *labeledError) Error() string { return e.msg }
func (e *labeledError) Unwrap() error { return e.err }

// insecureKeyFileHint adds the flag that reads a key file group or others
// can access to an error refusing one: the library's "allow it explicitly"
// means KeyFile.AllowInsecure, which a CLI user sets with the flag.
func insecureKeyFileHint(err error) error {
	if errors.Is(err, otelaudit.ErrInsecureKeyFile) {
		return fmt.Errorf("%w (--allow-insecure-key-file)", err)
	}
	return err
}

// secretSource reads the key ring from AWS Secrets Manager with the
// caller's default AWS configuration, loaded when the keys are read.
type secretSource string

func (s secretSource) Keys(ctx context.Context) ([]string, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return awskeys.SecretsManager{Client: secretsmanager.NewFromConfig(cfg), SecretID: string(s)}.Keys(ctx)
}

// decrypter holds what show decrypts with: the Fernet ring the flags or
// environment give (nil when none), and, made on first use, a
// decrypt-only KMS envelope with the caller's AWS credentials.
type decrypter struct {
	ctx    context.Context
	ring   *otelaudit.EncryptionManager
	kmsKey string // when set, the only KMS key content may be under
	kms    *awskeys.Envelope
}

func (d *decrypter) decrypt(stored string) (string, error) {
	if !strings.HasPrefix(strings.TrimSpace(stored), awskeys.KMSPrefix) {
		return d.ring.Decrypt(stored)
	}
	if d.kms == nil {
		cfg, err := config.LoadDefaultConfig(d.ctx)
		if err != nil {
			return "", ioError(fmt.Errorf("load AWS configuration for KMS: %w", err))
		}
		if d.kms, err = awskeys.NewEnvelope(d.ctx, kms.NewFromConfig(cfg), "", awskeys.WithDecryptKeys(d.kmsKey)); err != nil {
			return "", ioError(err)
		}
	}
	return d.kms.Decrypt(stored)
}

// content is one content field of an entry as show presents it.
type content struct {
	state string // "not stored (hash only)", "plaintext", "encrypted", "decrypted"
	text  string // the plaintext when known
	known bool
}

// contentOf interprets a stored content field. With a key ring, encrypted
// content must decrypt or the key is refused; content that is not a
// Fernet token is plaintext and shown as such.
func contentOf(stored *string, d *decrypter) (content, error) {
	kmsContent := stored != nil && strings.HasPrefix(strings.TrimSpace(*stored), awskeys.KMSPrefix)
	switch {
	case stored == nil:
		return content{state: "not stored (hash only)"}, nil
	case !kmsContent && !looksEncrypted(*stored):
		return content{state: "plaintext", text: *stored, known: true}, nil
	case !kmsContent && d.ring == nil:
		return content{state: "encrypted (give --key, --key-file or OTELAUDIT_KEY to decrypt)"}, nil
	}
	pt, err := d.decrypt(*stored)
	var ioErr *exitError
	switch {
	case errors.As(err, &ioErr):
		return content{}, err
	case kmsContent && err != nil:
		return content{}, err // names the KMS key and KMS's reason
	case errors.Is(err, otelaudit.ErrUnknownKey):
		return content{}, fmt.Errorf("%w: %w", errWrongKey, err) // names the key ids, never a key
	case err != nil:
		return content{}, errWrongKey
	}
	return content{state: "decrypted", text: pt, known: true}, nil
}

// looksEncrypted reports whether s has the shape of encrypted content:
// "fernet:<key id>:<token>", or a Fernet token (version byte 0x80, whole
// AES blocks), bare or in the reference's base64url-of-the-token form.
// Plaintext content practically never has this shape.
func looksEncrypted(s string) bool {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, otelaudit.FernetPrefix); ok {
		if _, tok, ok := strings.Cut(rest, ":"); ok {
			s = tok
		}
	}
	raw, err := decodeB64URL(s)
	if err != nil {
		return false
	}
	if len(raw) > 0 && raw[0] != 0x80 {
		if raw, err = decodeB64URL(string(raw)); err != nil {
			return false
		}
	}
	const overhead = 1 + 8 + 16 + 32
	return len(raw) >= overhead+16 && raw[0] == 0x80 && (len(raw)-overhead)%16 == 0
}

func decodeB64URL(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") {
		return base64.URLEncoding.DecodeString(s)
	}
	return base64.RawURLEncoding.DecodeString(s)
}

// printEntry writes every field of e, one "name: value" line each, then
// the content sections.
func printEntry(w *bufio.Writer, e *storage.AuditEntry, in, out content, raw bool) {
	field := func(name, value string) {
		fmt.Fprintf(w, "%-20s %s\n", name+":", value)
	}
	field("id", sanitize(e.ID))
	field("timestamp", e.Timestamp.UTC().Format(storage.TimestampLayout))
	field("provider", sanitize(optText(e.Provider)))
	field("model", sanitize(optText(e.Model)))
	field("operation", sanitize(orDash(e.Operation)))
	field("conversation_id", sanitize(optText(e.ConversationID)))
	field("trace_id", sanitize(orDash(e.TraceID)))
	field("span_id", sanitize(orDash(e.SpanID)))
	field("safety_passed", strconv.FormatBool(e.SafetyPassed))
	field("detectors_triggered", listText(e.DetectorsTriggered))
	field("block_reason", sanitize(optText(e.BlockReason)))
	field("alerts", listText(e.Alerts))
	field("latency_ms", strconv.FormatFloat(e.LatencyMS, 'g', -1, 64))
	field("input_tokens", tokenText(e.InputTokens))
	field("output_tokens", tokenText(e.OutputTokens))
	field("input_hash", e.InputHash+hashCheck(e.InputHash, in))
	field("output_hash", e.OutputHash+hashCheck(e.OutputHash, out))
	field("input_content", in.state)
	field("output_content", out.state)
	field("metadata", jsonText(e.Metadata))
	if e.Chain != nil {
		field("chain", fmt.Sprintf("writer %s seq %d prev %s hash %s",
			sanitize(e.Chain.Writer), e.Chain.Seq, orDash(e.Chain.Prev), e.Chain.Hash))
	} else {
		field("chain", "- (not chained: written by the reference implementation or an unchained backend)")
	}
	keys := make([]string, 0, len(e.Extra))
	for k := range e.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		field("extra."+sanitize(k), sanitize(string(e.Extra[k])))
	}
	for _, sec := range []struct {
		name string
		c    content
	}{{"input", in}, {"output", out}} {
		if !sec.c.known {
			continue
		}
		fmt.Fprintf(w, "\n--- %s (%s, %d bytes) ---\n", sec.name, sec.c.state, len(sec.c.text))
		if raw {
			w.WriteString(sec.c.text)
		} else {
			w.WriteString(sanitizeText(sec.c.text))
		}
		w.WriteString("\n")
	}
}

// hashCheck says whether content matches its stored plain SHA-256 hash.
// Keyed hashes need the hash key, which the CLI does not take.
func hashCheck(stored string, c content) string {
	switch {
	case !c.known:
		return ""
	case strings.HasPrefix(stored, otelaudit.KeyedHashPrefix):
		return " (keyed hash; not checked)"
	case subtle.ConstantTimeCompare([]byte(otelaudit.HashContent(c.text)), []byte(stored)) == 1:
		return " (matches content)"
	default:
		return " (DOES NOT MATCH content)"
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func listText(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = sanitize(s)
	}
	return strings.Join(out, ", ")
}

// jsonText renders metadata as compact JSON (key order sorted).
func jsonText(md map[string]any) string {
	if len(md) == 0 {
		return "{}"
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(md); err != nil {
		return "(metadata cannot be shown: " + err.Error() + ")"
	}
	return sanitize(strings.TrimSpace(b.String()))
}
