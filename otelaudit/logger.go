package otelaudit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"
	"unicode/utf8"
	"unsafe"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/internal/lend"
	"github.com/otelaudit/otelaudit-go/internal/logentry"
	"github.com/otelaudit/otelaudit-go/storage"
)

// Interaction is one model call to audit, as the caller (or the exporter,
// from a span) describes it. Zero values mean "not known": an empty string is
// stored as null, nil token counts stay null, and a nil SafetyPassed is
// stored as true.
type Interaction struct {
	// ID is the entry id to use; empty means a new UUIDv7.
	ID string
	// Timestamp is when the call started; zero means now.
	Timestamp time.Time
	// Input and Output are the content sent to and received from the
	// model. They are hashed always and stored only when the Logger keeps
	// content.
	Input  string
	Output string

	Provider       string // gen_ai.provider.name, e.g. "openai"
	Model          string // the requested (or, when absent, response) model
	ConversationID string
	Operation      string // gen_ai.operation.name, e.g. "chat"

	// SafetyPassed reports whether the call passed the caller's safety
	// checks; nil means true.
	SafetyPassed       *bool
	DetectorsTriggered []string
	BlockReason        string
	Alerts             []string

	// Latency is how long the call took.
	Latency time.Duration
	// InputTokens and OutputTokens are the usage counts; nil when unknown.
	InputTokens  *int64
	OutputTokens *int64

	// Metadata is caller data; values must be JSON-encodable and finite.
	Metadata map[string]any

	// TraceID and SpanID are the W3C hex ids of the span of the call.
	TraceID string
	SpanID  string
}

// Ptr returns a pointer to v, for the optional fields of [Interaction]:
//
//	otelaudit.Interaction{SafetyPassed: otelaudit.Ptr(false), InputTokens: otelaudit.Ptr[int64](12)}
func Ptr[T any](v T) *T { return &v }

// Logger turns interactions into audit entries and stores them in a
// [storage.Backend]. It is the direct API; the exporter package drives the
// same [Logger.Entry] step from spans, so an entry is the same whichever way
// it was made.
//
// A Logger is safe for concurrent use. It does not own its backend: closing
// the backend is the caller's job.
type Logger struct {
	backend   storage.Backend
	hasher    *contentHasher
	cipher    Cipher
	store     bool
	retention time.Duration
	now       func() time.Time
	newID     func() string
	// lender is the cipher when it is an AppendEncrypter and the
	// backend borrows entries (internal/lend): Log and LogBatch then
	// encrypt into a pooled buffer that the entries' content points
	// into, and reuse it once the write returned. nil otherwise.
	lender AppendEncrypter
}

// ErrNoContent is matched (errors.Is) by the error [Logger.DecryptContent]
// returns for an entry that holds hashes only.
var ErrNoContent = errors.New("otelaudit: entry holds no content, only hashes")

// NewLogger returns a Logger that writes to b. A nil b is an error, as is an
// invalid option (see each option for what it checks).
func NewLogger(b storage.Backend, opts ...Option) (*Logger, error) {
	if b == nil {
		return nil, errors.New("otelaudit: NewLogger needs a storage backend, got nil")
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	l := &Logger{
		backend:   b,
		hasher:    c.hasher,
		cipher:    c.cipher,
		store:     c.storeContent,
		retention: c.retention,
		now:       c.now,
		newID:     c.newID,
	}
	if l.newID == nil {
		l.newID = storage.NewEntryID
	}
	if a, ok := l.cipher.(AppendEncrypter); ok && l.store && lend.Borrows(b) {
		l.lender = a
	}
	return l, nil
}

// Backend returns the backend the Logger writes to.
func (l *Logger) Backend() storage.Backend { return l.backend }

// Entry builds the audit entry for in without storing it: it assigns the id
// and timestamp, hashes the content (plain or keyed) and, when the Logger
// keeps content, stores it plaintext or encrypted. This is the one step from
// interaction to entry that [Logger.Log] and the exporter share. Errors
// match [storage.ErrInvalidEntry] (a non-finite number) or come from
// encryption; they never include the content.
func (l *Logger) Entry(in Interaction) (*storage.AuditEntry, error) {
	return l.makeEntry(in, false, nil)
}

// The exporter's way to [Logger.makeEntry]; see internal/logentry for
// who may set mdChecked and when.
func init() {
	logentry.Entry = func(l *Logger, in Interaction, mdChecked bool) (*storage.AuditEntry, error) {
		return l.makeEntry(in, mdChecked, nil)
	}
}

// makeEntry is [Logger.Entry]; with mdChecked, the caller checked in's
// metadata by the store's rules as it made it (see
// internal/logentry), and the entry's validation leaves it out. With a
// lent buffer (only when l.lender is set), the content is encrypted onto
// *lent and the entry's content strings point into it: the entry must
// not be used once *lent is reused.
func (l *Logger) makeEntry(in Interaction, mdChecked bool, lent *[]byte) (*storage.AuditEntry, error) {
	// Text that is not valid UTF-8 (a binary or truncated body) is made
	// valid before it is hashed or kept, so that the stored content and its
	// hash agree (storage rejects invalid UTF-8 rather than change it).
	// Each string is checked once: content that the entry does not keep as
	// it is (hash-only, or encrypted) here, everything else by Validate as
	// the entry is built; only when that finds invalid text is the entry
	// built again from repaired strings.
	if (!l.store || l.cipher != nil) && !(utf8.ValidString(in.Input) && utf8.ValidString(in.Output)) {
		in = in.repaired()
	}
	e, err := l.entry(in, mdChecked, lent)
	if err != nil && errors.Is(err, storage.ErrInvalidEntry) && !in.validUTF8() {
		return l.entry(in.repaired(), mdChecked, lent)
	}
	return e, err
}

// entry is [Logger.Entry] for in as it is: its strings go into the entry
// unchanged, and Validate rejects invalid UTF-8. With mdChecked, Validate
// does not check the metadata; lent is makeEntry's.
func (l *Logger) entry(in Interaction, mdChecked bool, lent *[]byte) (*storage.AuditEntry, error) {
	// The entry, its optional strings, the headers of its two contents
	// and the text of its two hashes (plain ones; keyed ones with a long
	// key id grow on the heap) share one allocation. Nothing writes to
	// hashes after hashPair.
	blk := new(struct {
		e       storage.AuditEntry
		opt     [4]string
		content [2]string
		hashes  [4 * sha256.Size]byte
	})
	opt, e := &blk.opt, &blk.e
	inHash, outHash := l.hasher.hashPair(blk.hashes[:], in.Input, in.Output)
	*e = storage.AuditEntry{
		ID:                 in.ID,
		Timestamp:          in.Timestamp,
		InputHash:          inHash,
		OutputHash:         outHash,
		Provider:           optional(&opt[0], in.Provider),
		Model:              optional(&opt[1], in.Model),
		ConversationID:     optional(&opt[2], in.ConversationID),
		SafetyPassed:       in.SafetyPassed == nil || *in.SafetyPassed,
		DetectorsTriggered: slices.Clone(in.DetectorsTriggered),
		BlockReason:        optional(&opt[3], in.BlockReason),
		Alerts:             slices.Clone(in.Alerts),
		LatencyMS:          float64(in.Latency) / float64(time.Millisecond),
		InputTokens:        in.InputTokens,
		OutputTokens:       in.OutputTokens,
		Metadata:           in.Metadata,
		TraceID:            in.TraceID,
		SpanID:             in.SpanID,
		Operation:          in.Operation,
	}
	if e.ID == "" {
		e.ID = l.newID()
	}
	if e.Timestamp.IsZero() {
		e.Timestamp = l.now()
	}
	e.Timestamp = e.Timestamp.UTC()
	if l.store {
		var err error
		if blk.content[0], blk.content[1], err = l.protect(in.Input, in.Output, lent); err != nil {
			return nil, err
		}
		e.InputContent, e.OutputContent = &blk.content[0], &blk.content[1]
	}
	// Validate checks metadata only when there is some: checked metadata
	// is set aside while it runs.
	md := e.Metadata
	if mdChecked {
		e.Metadata = nil
	}
	err := e.Validate()
	e.Metadata = md
	if err != nil {
		return nil, err
	}
	return e, nil
}

// textFields are the string fields of an interaction that [Logger.Entry]
// makes valid UTF-8 (the id and the metadata are not changed: invalid text
// there is an error).
func (in *Interaction) textFields() [9]*string {
	return [...]*string{&in.Input, &in.Output, &in.Provider, &in.Model, &in.ConversationID,
		&in.BlockReason, &in.TraceID, &in.SpanID, &in.Operation}
}

// validUTF8 reports whether every string that repaired changes is valid.
func (in Interaction) validUTF8() bool {
	for _, p := range in.textFields() {
		if !utf8.ValidString(*p) {
			return false
		}
	}
	for _, list := range [...][]string{in.DetectorsTriggered, in.Alerts} {
		for _, s := range list {
			if !utf8.ValidString(s) {
				return false
			}
		}
	}
	return true
}

// repaired is in with every byte that is not valid UTF-8 replaced by
// U+FFFD in its text fields and lists (copies; in's lists are not changed).
func (in Interaction) repaired() Interaction {
	for _, p := range in.textFields() {
		*p = validUTF8(*p)
	}
	in.DetectorsTriggered, in.Alerts = validUTF8s(in.DetectorsTriggered), validUTF8s(in.Alerts)
	return in
}

// protect returns input and output as the entry keeps them: encrypted
// with the Logger's cipher, or as they are. With a lent buffer (see
// makeEntry) the ciphertexts are appended to *lent, and the strings
// returned point into it.
func (l *Logger) protect(input, output string, lent *[]byte) (string, string, error) {
	switch {
	case l.cipher == nil:
		return input, output, nil
	case lent != nil:
		b, start := *lent, len(*lent)
		b, err := l.lender.AppendEncrypt(b, input)
		if err != nil {
			return "", "", err
		}
		mid := len(b)
		if b, err = l.lender.AppendEncrypt(b, output); err != nil {
			return "", "", err
		}
		*lent = b
		// Both from the final b: the second append may have moved it.
		return unsafe.String(unsafe.SliceData(b[start:]), mid-start), unsafe.String(unsafe.SliceData(b[mid:]), len(b)-mid), nil
	}
	ic, err := l.cipher.Encrypt(input)
	if err != nil {
		return "", "", err
	}
	oc, err := l.cipher.Encrypt(output)
	if err != nil {
		return "", "", err
	}
	return ic, oc, nil
}

// borrowBuffer returns an empty buffer to lend ciphertexts from when l
// lends (l.lender is set), else nil; lend.Return ends the loan.
func (l *Logger) borrowBuffer() *[]byte {
	if l.lender == nil {
		return nil
	}
	return lend.Buffer()
}

// validUTF8s is a copy of ss with validUTF8 applied to each string.
func validUTF8s(ss []string) []string {
	out := slices.Clone(ss)
	for i, s := range out {
		out[i] = validUTF8(s)
	}
	return out
}

// optional stores s in *p and returns p, or nil for "".
func optional(p *string, s string) *string {
	if s == "" {
		return nil
	}
	*p = s
	return p
}

// Log stores the entry for in and returns its id. When it returns nil the
// backend accepted the entry (see the backend for how durable that is). A
// done ctx stops Log before it writes, with an error wrapping ctx.Err().
//
// When in gives neither TraceID nor SpanID and ctx holds a valid span
// context (trace.SpanContextFromContext), the entry gets that span's ids,
// so an entry logged inside a traced request leads to its trace.
func (l *Logger) Log(ctx context.Context, in Interaction) (string, error) {
	in = withSpanIDs(ctx, in)
	// The backend keeps nothing of the entry once Write returned (see
	// Logger.lender), so its ciphertexts may live in a reused buffer.
	lent := l.borrowBuffer()
	defer lend.Return(lent)
	e, err := l.makeEntry(in, false, lent)
	if err != nil {
		return "", err
	}
	if err := l.backend.Write(ctx, e); err != nil {
		return "", fmt.Errorf("otelaudit: store entry %s: %w", e.ID, err)
	}
	return e.ID, nil
}

// LogBatch stores the entries for ins in one backend batch and returns
// their ids in order. Nothing is written when any interaction is invalid.
// Trace and span ids come from ctx's span as in [Logger.Log].
func (l *Logger) LogBatch(ctx context.Context, ins []Interaction) ([]string, error) {
	es := make([]*storage.AuditEntry, len(ins))
	ids := make([]string, len(ins))
	lent := l.borrowBuffer() // see Log
	defer lend.Return(lent)
	for i, in := range ins {
		e, err := l.makeEntry(withSpanIDs(ctx, in), false, lent)
		if err != nil {
			return nil, fmt.Errorf("otelaudit: interaction %d: %w", i, err)
		}
		es[i], ids[i] = e, e.ID
	}
	if err := l.backend.WriteBatch(ctx, es); err != nil {
		return nil, fmt.Errorf("otelaudit: store %d entries: %w", len(es), err)
	}
	return ids, nil
}

// withSpanIDs fills in's TraceID and SpanID from ctx's span context when in
// gives neither and ctx has a valid one.
func withSpanIDs(ctx context.Context, in Interaction) Interaction {
	if in.TraceID != "" || in.SpanID != "" {
		return in
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		in.TraceID, in.SpanID = sc.TraceID().String(), sc.SpanID().String()
	}
	return in
}

// GetEntry returns the entry with the given id; the error matches
// [storage.ErrNotFound] when there is none.
func (l *Logger) GetEntry(ctx context.Context, id string) (*storage.AuditEntry, error) {
	return l.backend.Read(ctx, id)
}

// GetEntries returns the entries with start <= timestamp <= end, oldest
// first.
func (l *Logger) GetEntries(ctx context.Context, start, end time.Time) ([]*storage.AuditEntry, error) {
	return l.backend.ListEntries(ctx, start, end)
}

// Entries streams the entries with start <= timestamp <= end, oldest first.
func (l *Logger) Entries(ctx context.Context, start, end time.Time) iter.Seq2[*storage.AuditEntry, error] {
	return l.backend.Entries(ctx, start, end)
}

// CleanupExpired removes entries older than the retention period and
// returns how many it removed. With no retention (0) it does nothing.
func (l *Logger) CleanupExpired(ctx context.Context) (int, error) {
	if l.retention <= 0 {
		return 0, nil
	}
	return l.backend.DeleteBefore(ctx, l.now().Add(-l.retention))
}

// RunRetention calls [Logger.CleanupExpired] every interval until ctx is
// done, then returns ctx's error. Run it in its own goroutine:
//
//	go logger.RunRetention(ctx, time.Hour)
//
// Cleanup errors do not stop the loop; they go to otel.Handle. An interval
// <= 0 means one hour.
func (l *Logger) RunRetention(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = time.Hour
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := l.CleanupExpired(ctx); err != nil && ctx.Err() == nil {
			otel.Handle(fmt.Errorf("otelaudit: retention cleanup: %w", err))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// DecryptContent returns the input and output content of e: decrypted when
// the Logger has a [Cipher] ([WithEncryption], [WithCipher]), as stored
// otherwise. It fails with
// an error matching [ErrNoContent] for a hash-only entry and [ErrDecrypt]
// when the content cannot be decrypted with the Logger's keys.
func (l *Logger) DecryptContent(e *storage.AuditEntry) (input, output string, err error) {
	if e == nil || (e.InputContent == nil && e.OutputContent == nil) {
		return "", "", ErrNoContent
	}
	open := func(s *string) (string, error) {
		if s == nil {
			return "", nil
		}
		if l.cipher == nil {
			return *s, nil
		}
		return l.cipher.Decrypt(*s)
	}
	if input, err = open(e.InputContent); err != nil {
		return "", "", fmt.Errorf("entry %s input: %w", e.ID, err)
	}
	if output, err = open(e.OutputContent); err != nil {
		return "", "", fmt.Errorf("entry %s output: %w", e.ID, err)
	}
	return input, output, nil
}
