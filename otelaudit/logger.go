package otelaudit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit-go/internal/jsontext"
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
	// lends says that the backend borrows entries (internal/lend): Log
	// and LogBatch then make each entry in a loan, memory they reuse
	// once the write returned. appender is the cipher when it is an
	// AppendEncrypter: in a loan it encrypts into the loan's buffer.
	lends    bool
	appender AppendEncrypter
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
	l.lends = lend.Borrows(b)
	l.appender, _ = l.cipher.(AppendEncrypter)
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
// who may set mdChecked and borrow, and when.
func init() {
	logentry.Entry = func(l *Logger, in Interaction, mdChecked, borrow bool) (*storage.AuditEntry, lend.Loan, error) {
		var ln *loan
		if borrow {
			ln = l.borrow()
		}
		e, err := l.makeEntry(in, mdChecked, ln)
		switch {
		case ln == nil:
			return e, nil, err
		case err != nil:
			ln.End()
			return nil, nil, err
		}
		return e, ln, nil
	}
}

// makeEntry is [Logger.Entry]; with mdChecked, the caller checked in's
// metadata by the store's rules as it made it (see
// internal/logentry), and the entry's validation leaves it out. With a
// loan (see Logger.borrow), the entry is made in the loan's memory: it
// must not be used once the loan ended.
func (l *Logger) makeEntry(in Interaction, mdChecked bool, ln *loan) (*storage.AuditEntry, error) {
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
	e, err := l.entry(in, mdChecked, ln)
	if err != nil && errors.Is(err, storage.ErrInvalidEntry) && !in.validUTF8() {
		return l.entry(in.repaired(), mdChecked, ln)
	}
	return e, err
}

// entry is [Logger.Entry] for in as it is: its strings go into the entry
// unchanged, and Validate rejects invalid UTF-8. With mdChecked, Validate
// does not check the metadata; ln is makeEntry's.
func (l *Logger) entry(in Interaction, mdChecked bool, ln *loan) (*storage.AuditEntry, error) {
	var blk *entryBlock
	if ln != nil {
		blk = &ln.blk
		*blk = entryBlock{} // a second try (makeEntry) reuses it
	} else {
		blk = new(entryBlock)
	}
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
		if blk.content[0], blk.content[1], err = l.protect(in.Input, in.Output, ln); err != nil {
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
		*p = jsontext.ValidUTF8(*p)
	}
	in.DetectorsTriggered, in.Alerts = validUTF8s(in.DetectorsTriggered), validUTF8s(in.Alerts)
	return in
}

// entryBlock is an entry and what it points into: its optional strings,
// the headers of its two contents and the text of its two hashes (plain
// ones; keyed ones with a long key id grow on the heap), in one
// allocation or one loan. Nothing writes to hashes after hashPair.
type entryBlock struct {
	e       storage.AuditEntry
	opt     [4]string
	content [2]string
	hashes  [4 * sha256.Size]byte
}

// loan is the memory Log and LogBatch make an entry in when the backend
// borrows entries (internal/lend): the entry's block and the buffer its
// ciphertexts are appended to (by an AppendEncrypter cipher). A loan
// goes back to loans, for another entry, once the write returned.
type loan struct {
	blk entryBlock
	ct  []byte
	// out is set while the loan is lent: a second End is a no-op instead
	// of putting the loan in the pool twice, where two entries could be
	// made in it at once.
	out bool
}

var loans = sync.Pool{New: func() any { return new(loan) }}

// maxLoanBuffer is the largest ciphertext buffer kept for reuse: a loan
// grown past it by a large entry goes back to the garbage collector.
const maxLoanBuffer = 64 << 10

// borrow returns a loan to make an entry in when the backend borrows
// entries, else nil. End it with [loan.End] once the write returned.
func (l *Logger) borrow() *loan {
	if !l.lends {
		return nil
	}
	ln := loans.Get().(*loan)
	ln.out = true
	return ln
}

// End ends ln (nil: no loan): nothing may use the entry made in it
// afterwards. Ending a loan again does nothing. It makes *loan a
// lend.Loan.
func (ln *loan) End() {
	if ln == nil || !ln.out {
		return
	}
	ln.out = false
	lend.Ended(ln.blk.hashes[:], ln.ct[:cap(ln.ct)])
	ln.blk = entryBlock{}
	if cap(ln.ct) > maxLoanBuffer {
		return
	}
	ln.ct = ln.ct[:0]
	loans.Put(ln)
}

// protect returns input and output as the entry keeps them: encrypted
// with the Logger's cipher, or as they are. In a loan with an
// AppendEncrypter cipher, the ciphertexts are appended to the loan's
// buffer, and the strings returned point into it.
func (l *Logger) protect(input, output string, ln *loan) (string, string, error) {
	switch {
	case l.cipher == nil:
		return input, output, nil
	case ln != nil && l.appender != nil:
		b, start := ln.ct, len(ln.ct)
		b, err := l.appender.AppendEncrypt(b, input)
		if err != nil {
			return "", "", err
		}
		mid := len(b)
		if b, err = l.appender.AppendEncrypt(b, output); err != nil {
			return "", "", err
		}
		ln.ct = b
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

// validUTF8s is a copy of ss with jsontext.ValidUTF8 applied to each string.
func validUTF8s(ss []string) []string {
	out := slices.Clone(ss)
	for i, s := range out {
		out[i] = jsontext.ValidUTF8(s)
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
	// Logger.lends), so the entry may live in reused memory.
	ln := l.borrow()
	defer ln.End()
	e, err := l.makeEntry(in, false, ln)
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
	var lns []*loan // see Log
	if l.lends {
		lns = make([]*loan, 0, len(ins))
		defer func() {
			for _, ln := range lns {
				ln.End()
			}
		}()
	}
	for i, in := range ins {
		ln := l.borrow()
		if ln != nil {
			lns = append(lns, ln)
		}
		e, err := l.makeEntry(withSpanIDs(ctx, in), false, ln)
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
