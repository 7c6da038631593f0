package otelaudit

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/storage"
)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestLoggerModes(t *testing.T) {
	key, _ := GenerateKey()
	ring, err := NewEncryptionManager(key)
	require.NoError(t, err)
	hashKey := []byte("0123456789abcdef0123456789abcdef")

	const in, out = "what is the secret?", "the secret is 42"
	tests := []struct {
		name    string
		opts    []Option
		check   func(t *testing.T, e *storage.AuditEntry)
		decrypt bool
	}{
		{name: "hash only by default", check: func(t *testing.T, e *storage.AuditEntry) {
			assert.Nil(t, e.InputContent)
			assert.Nil(t, e.OutputContent)
			assert.Equal(t, HashContent(in), e.InputHash)
			assert.Equal(t, HashContent(out), e.OutputHash)
		}},
		{name: "plaintext when asked", opts: []Option{WithStoreContent(true)}, decrypt: true, check: func(t *testing.T, e *storage.AuditEntry) {
			require.NotNil(t, e.InputContent)
			assert.Equal(t, in, *e.InputContent)
			assert.Equal(t, out, *e.OutputContent)
		}},
		{name: "encrypted", opts: []Option{WithEncryption(ring)}, decrypt: true, check: func(t *testing.T, e *storage.AuditEntry) {
			require.NotNil(t, e.InputContent)
			assert.NotContains(t, *e.InputContent, "secret")
			pt, err := ring.Decrypt(*e.InputContent)
			require.NoError(t, err)
			assert.Equal(t, in, pt)
			assert.Equal(t, HashContent(in), e.InputHash)
		}},
		{name: "encryption without content", opts: []Option{WithEncryption(ring), WithStoreContent(false)}, check: func(t *testing.T, e *storage.AuditEntry) {
			assert.Nil(t, e.InputContent)
		}},
		{name: "keyed hashing", opts: []Option{WithHashKey("k2026", hashKey)}, check: func(t *testing.T, e *storage.AuditEntry) {
			assert.True(t, strings.HasPrefix(e.InputHash, "hmac-sha256:k2026:"), e.InputHash)
			assert.NotContains(t, e.InputHash, HashContent(in))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := storage.NewMemoryStorage(0)
			l, err := NewLogger(st, tc.opts...)
			require.NoError(t, err)
			id, err := l.Log(t.Context(), Interaction{Input: in, Output: out, Model: "gpt-4o", Provider: "openai"})
			require.NoError(t, err)
			e, err := l.GetEntry(t.Context(), id)
			require.NoError(t, err)
			tc.check(t, e)
			assert.True(t, l.VerifyHash(in, e.InputHash))
			assert.False(t, l.VerifyHash("a guess", e.InputHash))
			gotIn, gotOut, err := l.DecryptContent(e)
			if tc.decrypt {
				require.NoError(t, err)
				assert.Equal(t, in, gotIn)
				assert.Equal(t, out, gotOut)
			} else {
				assert.ErrorIs(t, err, ErrNoContent)
			}
		})
	}
}

func TestLoggerDefaults(t *testing.T) {
	now := time.Date(2026, 2, 3, 4, 5, 6, 7, time.FixedZone("CET", 3600))
	st := storage.NewMemoryStorage(0)
	l, err := NewLogger(st, WithClock(fixedClock(now)))
	require.NoError(t, err)
	id, err := l.Log(t.Context(), Interaction{Input: "a", Output: "b", Latency: 1500 * time.Microsecond})
	require.NoError(t, err)
	assert.Len(t, id, 36, "a UUID")
	e, err := l.GetEntry(t.Context(), id)
	require.NoError(t, err)
	assert.True(t, e.SafetyPassed, "safety_passed defaults to true")
	assert.Nil(t, e.InputTokens, "unknown token counts are null, not 0")
	assert.Nil(t, e.OutputTokens)
	assert.Nil(t, e.Provider)
	assert.Nil(t, e.BlockReason)
	assert.Equal(t, 1.5, e.LatencyMS)
	assert.True(t, now.Equal(e.Timestamp))
	assert.Equal(t, time.UTC, e.Timestamp.Location())

	id2, err := l.Log(t.Context(), Interaction{SafetyPassed: Ptr(false), BlockReason: "pii", DetectorsTriggered: []string{"pii"}, InputTokens: Ptr[int64](0)})
	require.NoError(t, err)
	e2, err := l.GetEntry(t.Context(), id2)
	require.NoError(t, err)
	assert.False(t, e2.SafetyPassed)
	require.NotNil(t, e2.InputTokens)
	assert.Equal(t, int64(0), *e2.InputTokens, "a known zero stays 0")
	assert.Equal(t, "pii", *e2.BlockReason)
}

func TestLoggerRejectsBadInput(t *testing.T) {
	_, err := NewLogger(nil)
	assert.Error(t, err)
	_, err = NewLogger(storage.NewMemoryStorage(0), WithHashKey("k", []byte("short")))
	assert.ErrorIs(t, err, ErrInvalidKey)

	st := storage.NewMemoryStorage(0)
	l, err := NewLogger(st, WithStoreContent(true))
	require.NoError(t, err)
	_, err = l.Log(t.Context(), Interaction{Input: "top secret prompt", Metadata: map[string]any{"score": math.NaN()}})
	require.ErrorIs(t, err, storage.ErrInvalidEntry)
	assert.NotContains(t, err.Error(), "top secret")
	_, err = l.LogBatch(t.Context(), []Interaction{{Input: "ok"}, {Latency: time.Duration(math.MaxInt64)}, {Metadata: map[string]any{"x": math.Inf(1)}}})
	require.Error(t, err)
	n, err := st.Count(t.Context())
	require.NoError(t, err)
	assert.Zero(t, n, "nothing of a failed batch is stored")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = l.Log(ctx, Interaction{Input: "x"})
	assert.ErrorIs(t, err, context.Canceled)
}

// TestLogErrorsQuoteNoMetadataValue: metadata is handled like content, so
// an error about a metadata value names its key, never the value, in Log
// and LogBatch.
func TestLogErrorsQuoteNoMetadataValue(t *testing.T) {
	const secret = "SECRET-PROMPT-7f3a"
	l, err := NewLogger(storage.NewMemoryStorage(0))
	require.NoError(t, err)
	for _, md := range []map[string]any{
		{"note": json.Number(secret)},
		{"note": []any{"ok", json.Number("1e" + secret)}},
		{"note": json.RawMessage(secret)},
	} {
		_, err := l.Log(t.Context(), Interaction{Input: "in", Metadata: md})
		require.ErrorIs(t, err, storage.ErrInvalidEntry)
		assert.NotContains(t, err.Error(), secret)
		assert.NotContains(t, err.Error(), "'S'")
		assert.Contains(t, err.Error(), `metadata: at ["note"]`)
		_, err = l.LogBatch(t.Context(), []Interaction{{Input: "in"}, {Input: "in", Metadata: md}})
		require.ErrorIs(t, err, storage.ErrInvalidEntry)
		assert.NotContains(t, err.Error(), secret)
	}
}

func TestLoggerBatchAndRange(t *testing.T) {
	base := time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC)
	st := storage.NewMemoryStorage(0)
	l, err := NewLogger(st)
	require.NoError(t, err)
	var ins []Interaction
	for i := range 5 {
		ins = append(ins, Interaction{Timestamp: base.Add(time.Duration(i) * 30 * time.Minute), Input: "q"})
	}
	ids, err := l.LogBatch(t.Context(), ins)
	require.NoError(t, err)
	require.Len(t, ids, 5)
	got, err := l.GetEntries(t.Context(), base.Add(30*time.Minute), base.Add(90*time.Minute))
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, ids[1:4], []string{got[0].ID, got[1].ID, got[2].ID})
}

func TestCleanupExpiredAndRetentionLoop(t *testing.T) {
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	st := storage.NewMemoryStorage(0)
	l, err := NewLogger(st, WithRetention(7*24*time.Hour), WithClock(fixedClock(now)))
	require.NoError(t, err)
	for _, age := range []time.Duration{0, 6 * 24 * time.Hour, 8 * 24 * time.Hour, 30 * 24 * time.Hour} {
		_, err := l.Log(t.Context(), Interaction{Timestamp: now.Add(-age)})
		require.NoError(t, err)
	}
	n, err := l.CleanupExpired(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	left, _ := st.Count(t.Context())
	assert.Equal(t, 2, left)

	// The loop runs cleanup at once and stops with its context.
	_, err = l.Log(t.Context(), Interaction{Timestamp: now.Add(-10 * 24 * time.Hour)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	var done atomic.Bool
	errc := make(chan error, 1)
	go func() { errc <- l.RunRetention(ctx, time.Millisecond); done.Store(true) }()
	require.Eventually(t, func() bool { c, _ := st.Count(t.Context()); return c == 2 }, 5*time.Second, time.Millisecond)
	assert.False(t, done.Load())
	cancel()
	select {
	case err := <-errc:
		assert.True(t, errors.Is(err, context.Canceled))
	case <-time.After(5 * time.Second):
		t.Fatal("RunRetention did not stop with its context")
	}

	keep, err := NewLogger(st)
	require.NoError(t, err)
	n, err = keep.CleanupExpired(t.Context())
	require.NoError(t, err)
	assert.Zero(t, n, "no retention keeps everything")
}

func TestLogTakesTraceIDsFromContext(t *testing.T) {
	ms := storage.NewMemoryStorage(0)
	l, err := NewLogger(ms)
	require.NoError(t, err)
	tid, _ := trace.TraceIDFromHex("0102030405060708090a0b0c0d0e0f10")
	sid, _ := trace.SpanIDFromHex("1112131415161718")
	ctx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))

	id, err := l.Log(ctx, Interaction{Input: "a", Output: "b"})
	require.NoError(t, err)
	e, err := l.GetEntry(ctx, id)
	require.NoError(t, err)
	require.NotEmpty(t, e.TraceID)
	require.NotEmpty(t, e.SpanID)
	assert.Equal(t, tid.String(), e.TraceID)
	assert.Equal(t, sid.String(), e.SpanID)

	// Ids the interaction gives win over ctx's.
	id, err = l.Log(ctx, Interaction{Input: "a", TraceID: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", SpanID: "bbbbbbbbbbbbbbbb"})
	require.NoError(t, err)
	e, err = l.GetEntry(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", e.TraceID)

	// No span in ctx: null ids, as before.
	id, err = l.Log(context.Background(), Interaction{Input: "a"})
	require.NoError(t, err)
	e, err = l.GetEntry(ctx, id)
	require.NoError(t, err)
	assert.Empty(t, e.TraceID)

	ids, err := l.LogBatch(ctx, []Interaction{{Input: "x"}})
	require.NoError(t, err)
	e, err = l.GetEntry(ctx, ids[0])
	require.NoError(t, err)
	assert.Equal(t, sid.String(), e.SpanID)
}

// TestEntryHashesStayPut checks that an entry's hashes, which share the
// entry's allocation (or one heap buffer with a long key id), are the
// hashes of its own content and do not change when later entries are built.
func TestEntryHashesStayPut(t *testing.T) {
	hashKey := []byte("0123456789abcdef0123456789abcdef")
	longID := strings.Repeat("k", 80) // keyed hashes then outgrow the entry's space
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{name: "plain"},
		{name: "keyed", opts: []Option{WithHashKey("k2026", hashKey)}},
		{name: "keyed, long key id", opts: []Option{WithHashKey(longID, hashKey)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := NewLogger(storage.NewMemoryStorage(0), tc.opts...)
			require.NoError(t, err)
			type pair struct{ in, out string }
			var entries []*storage.AuditEntry
			var want []pair
			for i := range 20 {
				in := Interaction{Input: strings.Repeat("prompt ", i), Output: "answer " + strings.Repeat("x", i)}
				e, err := l.Entry(in)
				require.NoError(t, err)
				entries = append(entries, e)
				want = append(want, pair{l.hasher.hash(in.Input), l.hasher.hash(in.Output)})
			}
			for i, e := range entries {
				assert.Equal(t, want[i].in, e.InputHash, "entry %d input hash", i)
				assert.Equal(t, want[i].out, e.OutputHash, "entry %d output hash", i)
				assert.True(t, l.VerifyHash(strings.Repeat("prompt ", i), e.InputHash), "entry %d", i)
			}
			if tc.name != "plain" {
				assert.True(t, strings.HasPrefix(entries[3].OutputHash, KeyedHashPrefix))
			} else {
				assert.Equal(t, HashContent("answer xxx"), entries[3].OutputHash)
			}
		})
	}
}

// TestEntryRepairsInvalidUTF8: invalid UTF-8 in the content and in every
// text field is replaced (U+FFFD) before the entry is hashed and kept, in
// every content mode, whether Validate or the content check finds it; the
// caller's lists stay as they were; an invalid id is still an error, as is
// another fault of an entry whose text is repaired.
func TestEntryRepairsInvalidUTF8(t *testing.T) {
	const bad, good = "a\xffb", "a\uFFFDb"
	key, err := GenerateKey()
	require.NoError(t, err)
	em, err := NewEncryptionManager(key)
	require.NoError(t, err)
	for _, c := range []struct {
		name string
		opts []Option
	}{
		{"hash only", nil},
		{"plaintext", []Option{WithStoreContent(true)}},
		{"encrypted", []Option{WithStoreContent(true), WithEncryption(em)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, err := NewLogger(storage.NewMemoryStorage(0), c.opts...)
			require.NoError(t, err)
			for _, field := range []string{"input", "output", "provider", "model", "conversation", "block", "trace", "span", "operation", "alerts", "detectors"} {
				in := Interaction{Input: "in", Output: "out", Provider: "p", Model: "m", ConversationID: "c",
					BlockReason: "r", TraceID: "t", SpanID: "s", Operation: "chat", Alerts: []string{"x"}, DetectorsTriggered: []string{"d"}}
				want := in
				want.Alerts, want.DetectorsTriggered = []string{"x"}, []string{"d"}
				set := map[string][2]*string{
					"input": {&in.Input, &want.Input}, "output": {&in.Output, &want.Output}, "provider": {&in.Provider, &want.Provider},
					"model": {&in.Model, &want.Model}, "conversation": {&in.ConversationID, &want.ConversationID},
					"block": {&in.BlockReason, &want.BlockReason}, "trace": {&in.TraceID, &want.TraceID},
					"span": {&in.SpanID, &want.SpanID}, "operation": {&in.Operation, &want.Operation},
					"alerts": {&in.Alerts[0], &want.Alerts[0]}, "detectors": {&in.DetectorsTriggered[0], &want.DetectorsTriggered[0]},
				}[field]
				*set[0], *set[1] = bad, good
				e, err := l.Entry(in)
				require.NoError(t, err, field)
				assert.Equal(t, HashContent(want.Input), e.InputHash, field)
				assert.Equal(t, HashContent(want.Output), e.OutputHash, field)
				assert.Equal(t, [9]string{want.Provider, want.Model, want.ConversationID, want.BlockReason, want.TraceID, want.SpanID, want.Operation, want.Alerts[0], want.DetectorsTriggered[0]},
					[9]string{*e.Provider, *e.Model, *e.ConversationID, *e.BlockReason, e.TraceID, e.SpanID, e.Operation, e.Alerts[0], e.DetectorsTriggered[0]}, field)
				if c.name != "hash only" {
					got := [2]string{*e.InputContent, *e.OutputContent}
					if c.name == "encrypted" {
						for i := range got {
							got[i], err = em.Decrypt(got[i])
							require.NoError(t, err)
						}
					}
					assert.Equal(t, [2]string{want.Input, want.Output}, got, field)
				}
				assert.Equal(t, bad, *set[0], "the caller's interaction is not changed (%s)", field)
				require.NoError(t, e.Validate())
			}
			_, err = l.Entry(Interaction{ID: bad})
			assert.ErrorIs(t, err, storage.ErrInvalidEntry, "an invalid id is not repaired")
			_, err = l.Entry(Interaction{Provider: bad, Metadata: map[string]any{"x": math.NaN()}})
			assert.ErrorIs(t, err, storage.ErrInvalidEntry, "a repaired entry is still validated")
		})
	}
}

// A loan ended twice goes back to the pool once, so two entries are never
// made in one loan at the same time.
func TestLoanEndedTwiceIsPooledOnce(t *testing.T) {
	l := &Logger{lends: true}
	ln := l.borrow()
	ln.End()
	ln.End()
	a, b := l.borrow(), l.borrow()
	require.NotSame(t, a, b, "one loan lent twice at once")
	a.End()
	b.End()
}
