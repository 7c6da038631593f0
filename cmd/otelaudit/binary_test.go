package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBinary builds the otelaudit binary and runs it as a subprocess, to
// check what the in-process tests cannot: main's exit codes, and that a
// piped stderr gets no progress output.
func TestBinary(t *testing.T) {
	// go test puts its own GOROOT/bin first on PATH.
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to build the binary")
	bin := filepath.Join(t.TempDir(), "otelaudit")
	build := exec.CommandContext(t.Context(), goTool, "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	exp := loadExpected(t)
	runBin := func(t *testing.T, env []string, args ...string) result {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), bin, args...)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}, env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
	}

	t.Run("query", func(t *testing.T) {
		r := runBin(t, nil, "query", "--dir", refDir("hashonly"), "--format", "jsonl")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Len(t, jsonlIDs(t, r.stdout), exp.Datasets["hashonly"].Count)
		assert.Empty(t, r.stderr, "no progress output on a pipe")
	})
	t.Run("show decrypts with OTELAUDIT_KEY", func(t *testing.T) {
		re := exp.Datasets["encrypted"].Entries[3]
		r := runBin(t, []string{"OTELAUDIT_KEY=" + exp.FernetKey}, "show", re.ID, "--dir", refDir("encrypted"))
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "\n"+re.Input+"\n")
		assert.NotContains(t, r.stdout, exp.FernetKey)
	})
	t.Run("wrong key exits 1", func(t *testing.T) {
		other := mustKey(t)
		r := runBin(t, nil, "show", "--dir", refDir("encrypted"), exp.Datasets["encrypted"].Entries[0].ID, "--key", other)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "cannot decrypt")
		assert.NotContains(t, r.stderr, other)
	})
	t.Run("usage error exits 2", func(t *testing.T) {
		r := runBin(t, nil, "query", "--dir", refDir("hashonly"), "--nope")
		assert.Equal(t, 2, r.code)
		assert.Contains(t, r.stderr, "flag provided but not defined")
		assert.Contains(t, r.stderr, "Run 'otelaudit query --help' for usage.")
	})
	t.Run("verify exit codes", func(t *testing.T) {
		dir := buildChainedStore(t)
		r := runBin(t, nil, "verify", "--dir", dir)
		assert.Equal(t, 0, r.code, r.stdout+r.stderr)
		files := dataFiles(t, dir)
		editLines(t, filepath.Join(dir, files[0]), func(ls [][]byte) [][]byte {
			ls[1] = bytes.Replace(ls[1], []byte(`"safety_passed":true`), []byte(`"safety_passed":false`), 1)
			return ls
		})
		r = runBin(t, nil, "verify", "--dir", dir)
		assert.Equal(t, 1, r.code, r.stdout+r.stderr)
		assert.Contains(t, r.stdout, files[0]+":2: modified")
		r = runBin(t, nil, "verify", "--dir", filepath.Join(dir, "absent"))
		assert.Equal(t, 2, r.code, r.stdout+r.stderr)
	})
	t.Run("help", func(t *testing.T) {
		r := runBin(t, nil, "--help")
		assert.Equal(t, 0, r.code)
		assert.True(t, strings.HasPrefix(r.stdout, "otelaudit reads, checks and maintains"))
	})
}
