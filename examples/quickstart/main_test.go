package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/s3test"
	"github.com/otelaudit/otelaudit-go/otelaudit"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
)

// TestDemo runs `make demo` in a temporary directory and checks what it
// claims: two entries (one blocked), content encrypted and decryptable with
// the generated key, nothing of the prompt in the exported spans, and a
// store that verifies.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit-data")
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out, dir, false))
	assert.Contains(t, out.String(), "prompt, answer or SSN in the exported spans: false")
	assert.Contains(t, out.String(), "2 written, 0 retried, 0 dropped")

	info, err := os.Stat(keyPath(dir))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	_, err = os.Stat(filepath.Join(dir, ".key"))
	assert.ErrorIs(t, err, os.ErrNotExist, "the key is kept outside the store directory")
	assert.Contains(t, out.String(), "checkpoint signing key: "+checkpointKeyPath(dir)+", inside the store")
	_, err = os.Stat(checkpointKeyPath(dir))
	assert.NoError(t, err, "the checkpoint key the output names is there")
	checkDemoEntries(t, dir, func() storage.Backend {
		st, err := filestore.New(dir, filestore.WithReadOnly())
		require.NoError(t, err)
		return st
	})

	report, err := filestore.Verify(t.Context(), dir)
	require.NoError(t, err)
	assert.Empty(t, report.Problems)

	// A second run reuses the key and appends.
	out.Reset()
	require.NoError(t, run(t.Context(), &out, dir, false))
	assert.Contains(t, out.String(), "encryption key from")

	// A key file others can read is refused, naming the file and mode.
	kp := keyPath(dir)
	require.NoError(t, os.Chmod(kp, 0o644))
	err = run(t.Context(), &out, dir, false)
	require.ErrorIs(t, err, otelaudit.ErrInsecureKeyFile)
	assert.Contains(t, err.Error(), kp+" has mode 0644")
}

// TestDemoS3 is `make demo S3=1`: the same run against the local S3 server.
func TestDemoS3(t *testing.T) {
	if _, ok := s3test.FromEnv(); !ok {
		s3test.Missing(t, "no S3 server: set "+s3test.EnvEndpoint+" (make test does) to run the S3 demo")
	}
	dir := filepath.Join(t.TempDir(), "audit-data")
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out, dir, true))
	assert.Contains(t, out.String(), "store s3://"+s3Bucket+"/")
	assert.Contains(t, out.String(), "prompt, answer or SSN in the exported spans: false")
	checkDemoEntries(t, dir, func() storage.Backend {
		st, err := openS3(t.Context())
		require.NoError(t, err)
		return st
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	s3test.Report("examples/quickstart", code)
	os.Exit(code)
}

func checkDemoEntries(t *testing.T, dir string, open func() storage.Backend) {
	t.Helper()
	key, err := os.ReadFile(keyPath(dir))
	require.NoError(t, err)
	ring, err := otelaudit.NewEncryptionManager(strings.TrimSpace(string(key)))
	require.NoError(t, err)
	st := open()
	defer st.Close()
	entries, err := st.ListEntries(t.Context(), time.Now().Add(-time.Hour), time.Now().Add(time.Minute))
	require.NoError(t, err)
	byTrace := map[string][]*storage.AuditEntry{}
	for _, e := range entries {
		byTrace[e.TraceID] = append(byTrace[e.TraceID], e)
	}
	var found bool
	for _, es := range byTrace {
		if len(es) != 2 {
			continue
		}
		found = true
		var blocked, passed int
		for _, e := range es {
			require.NotNil(t, e.InputContent)
			assert.NotContains(t, *e.InputContent, "capital")
			in, err := ring.Decrypt(*e.InputContent)
			require.NoError(t, err)
			assert.Equal(t, otelaudit.HashContent(in), e.InputHash)
			if e.SafetyPassed {
				passed++
				assert.Equal(t, "Answer in one word.\n"+prompt, in)
				out, err := ring.Decrypt(*e.OutputContent)
				require.NoError(t, err)
				assert.Equal(t, answer, out)
				require.NotNil(t, e.InputTokens)
				assert.Equal(t, int64(14), *e.InputTokens)
				assert.Equal(t, "openai", *e.Provider)
			} else {
				blocked++
				assert.Equal(t, secret, in)
				assert.Equal(t, "PII in prompt", *e.BlockReason)
			}
		}
		assert.Equal(t, 1, passed)
		assert.Equal(t, 1, blocked)
	}
	assert.True(t, found, "a trace with the demo's two entries")
}
