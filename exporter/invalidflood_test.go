package exporter_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/handletest"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
)

// goneKey is a cipher whose key has gone: every encryption fails.
type goneKey struct{}

func (goneKey) Encrypt(string) (string, error) { return "", errors.New("kms: key disabled") }
func (goneKey) Decrypt(string) (string, error) { return "", errors.New("kms: key disabled") }

// TestInvalidSpansReportedOncePerInterval: a key that fails for every
// span makes every span invalid; each is counted, but otel.Handle gets
// one report, not one per span (a flood that buried everything else the
// service logs), and it quotes no content.
func TestInvalidSpansReportedOncePerInterval(t *testing.T) {
	reports := handletest.Capture(t)
	mem := storage.NewMemoryStorage(0)
	l, err := otelaudit.NewLogger(mem, otelaudit.WithCipher(goneKey{}))
	require.NoError(t, err)
	tp, exp, err := exporter.NewTracerProvider(l)
	require.NoError(t, err)
	const n = 500
	for range n {
		_, call := otelaudit.StartCall(context.Background(), otelaudit.Request{Provider: "openai", Model: "gpt-4o",
			Input: []otelaudit.Message{{Role: "user", Content: probeSecret + " question"}}}, otelaudit.WithTracerProvider(tp))
		call.SetOutput(otelaudit.Message{Role: "assistant", Content: "answer"})
		call.End()
	}
	require.NoError(t, tp.Shutdown(context.Background()))
	assert.EqualValues(t, n, exp.Stats().Invalid, "every span counted")
	stored, err := mem.Count(context.Background())
	require.NoError(t, err)
	assert.Zero(t, stored, "nothing stored")
	require.Len(t, reports(), 1, "one report for %d failing spans", n)
	assert.Contains(t, reports()[0], "kms: key disabled")
	assert.NotContains(t, reports()[0], probeSecret)
}
