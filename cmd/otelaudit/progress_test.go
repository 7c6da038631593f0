package main

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for the progress goroutine and the
// test to use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestProgressDrawsBarAndClears(t *testing.T) {
	var out syncBuffer
	c := &cli{stderr: &out, progress: true}
	p := c.newProgress("verify", "entries", 200)
	p.Add(50)
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "25%") }, 5*time.Second, 10*time.Millisecond)
	p.Add(150)
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "100% 200/200 entries") }, 5*time.Second, 10*time.Millisecond)
	p.Finish()
	p.Finish() // idempotent
	s := out.String()
	assert.True(t, strings.HasPrefix(s, "\rverify ["), "%q", s)
	assert.True(t, strings.HasSuffix(s, "\r\x1b[K"), "the line is cleared at the end: %q", s)
}

func TestProgressUnknownTotalCounts(t *testing.T) {
	var out syncBuffer
	c := &cli{stderr: &out, progress: true}
	p := c.newProgress("query", "entries scanned", 0)
	p.Add(1234)
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "query 1234 entries scanned") }, 5*time.Second, 10*time.Millisecond)
	p.Finish()
}

func TestProgressQuietWhenNotATerminal(t *testing.T) {
	var out syncBuffer
	c := &cli{stderr: &out, progress: false}
	p := c.newProgress("query", "entries", 10)
	assert.Nil(t, p)
	p.Add(5) // a nil progress does nothing
	p.Finish()
	time.Sleep(2 * progressDelay)
	assert.Empty(t, out.String())

	// A short scan finishes before the first draw: nothing is printed.
	c.progress = true
	p = c.newProgress("query", "entries", 10)
	p.Add(10)
	p.Finish()
	assert.Empty(t, out.String())

	f, err := os.CreateTemp(t.TempDir(), "out")
	require.NoError(t, err)
	defer f.Close()
	assert.False(t, isTerminal(f), "a file is not a terminal")
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer devNull.Close()
	assert.False(t, isTerminal(devNull), "/dev/null is a character device but not a terminal")
	assert.False(t, isTerminal(&out))
}
