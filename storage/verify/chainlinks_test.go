package verify_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/verify"
)

// chainedLines returns n chained lines of writer w.
func chainedLines(t *testing.T, w string, n int) [][]byte {
	t.Helper()
	ch := storage.NewChainer(w)
	out := make([][]byte, n)
	for i := range out {
		e := &storage.AuditEntry{ID: fmt.Sprintf("%s-%d", w, i), Timestamp: time.Date(2025, 1, 2, 3, 4, 5, i, time.UTC), Operation: "chat"}
		p, err := e.AppendPrefix(nil)
		require.NoError(t, err)
		out[i] = bytes.TrimSuffix(ch.AppendLine(nil, p), []byte("\n"))
	}
	return out
}

func checkLinks(lines map[string][][]byte) (problems []verify.Problem, heads map[string]uint64) {
	var x verify.ChainLinks
	for where, ls := range lines {
		for i, b := range ls {
			if _, p, ok := x.Add(where, i+1, b); !ok {
				problems = append(problems, verify.Problem{Kind: "unchained", File: where, Line: i + 1})
			} else if p != nil {
				problems = append(problems, *p)
			}
		}
	}
	heads = x.Check(func(p verify.Problem) { problems = append(problems, p) })
	return problems, heads
}

// TestChainLinks: two writers' entries spread over places in any order
// verify; each kind of damage is found at its place and line.
func TestChainLinks(t *testing.T) {
	a, b := chainedLines(t, "aaaa", 50), chainedLines(t, "bbbb", 30)
	spread := func() map[string][][]byte {
		m := map[string][][]byte{}
		all := append(append([][]byte{}, a...), b...)
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		for i, l := range all {
			k := fmt.Sprintf("obj%d", i%4)
			m[k] = append(m[k], bytes.Clone(l))
		}
		return m
	}
	probs, heads := checkLinks(spread())
	assert.Empty(t, probs)
	assert.Equal(t, map[string]uint64{"aaaa": 50, "bbbb": 30}, heads)

	find := func(m map[string][][]byte, w string, seq uint64) (string, int) {
		for k, ls := range m {
			for i, l := range ls {
				if _, c, ok := storage.SplitChain(l); ok && c.Writer == w && c.Seq == seq {
					return k, i
				}
			}
		}
		t.Fatalf("%s:%d not found", w, seq)
		return "", 0
	}
	t.Run("changed byte", func(t *testing.T) {
		m := spread()
		k, i := find(m, "aaaa", 10)
		m[k][i][bytes.Index(m[k][i], []byte("chat"))] = 'C'
		probs, _ := checkLinks(m)
		require.Len(t, probs, 1)
		assert.Equal(t, verify.Problem{Kind: verify.ProblemModified, File: k, Line: i + 1, Detail: "entry aaaa:10 does not match its hash (content changed)"}, probs[0])
	})
	t.Run("deleted", func(t *testing.T) {
		m := spread()
		k, i := find(m, "bbbb", 7)
		m[k] = append(m[k][:i], m[k][i+1:]...)
		probs, _ := checkLinks(m)
		require.Len(t, probs, 1)
		assert.Equal(t, verify.ProblemMissing, probs[0].Kind)
		assert.Contains(t, probs[0].Detail, "bbbb:7..7")
	})
	t.Run("deleted first", func(t *testing.T) {
		m := spread()
		k, i := find(m, "bbbb", 1)
		m[k] = append(m[k][:i], m[k][i+1:]...)
		probs, _ := checkLinks(m)
		require.Len(t, probs, 1)
		assert.Contains(t, probs[0].Detail, "bbbb:1..1")
	})
	t.Run("replayed", func(t *testing.T) {
		m := spread()
		k, i := find(m, "aaaa", 20)
		m["extra"] = [][]byte{bytes.Clone(m[k][i])}
		probs, _ := checkLinks(m)
		require.Len(t, probs, 1)
		assert.Equal(t, verify.ProblemDuplicate, probs[0].Kind)
	})
	t.Run("replaced by another chain's entry", func(t *testing.T) {
		m := spread()
		other := chainedLines(t, "aaaa", 12) // same writer id and positions, other content
		other[11] = bytes.Replace(other[11], []byte("aaaa-11"), []byte("aaaa-XX"), 1)
		k, i := find(m, "aaaa", 12)
		m[k][i] = other[11]
		probs, _ := checkLinks(m)
		require.NotEmpty(t, probs)
		assert.Equal(t, verify.ProblemModified, probs[0].Kind, "content changed under the same hash")
	})
	t.Run("forged link", func(t *testing.T) {
		// A self-consistent entry 12 of another history: its hash is
		// right, its link is not.
		m := spread()
		ch := storage.NewChainer("aaaa")
		var forged []byte
		for i := range 12 {
			e := &storage.AuditEntry{ID: fmt.Sprintf("forged-%d", i), Timestamp: time.Date(2025, 1, 2, 3, 4, 5, i, time.UTC), Operation: "chat"}
			p, err := e.AppendPrefix(nil)
			require.NoError(t, err)
			forged = bytes.TrimSuffix(ch.AppendLine(nil, p), []byte("\n"))
		}
		k, i := find(m, "aaaa", 12)
		m[k][i] = forged
		probs, _ := checkLinks(m)
		require.Len(t, probs, 2)
		assert.Equal(t, verify.ProblemChainBroken, probs[0].Kind)
		assert.Equal(t, k, probs[0].File)
		assert.Contains(t, probs[0].Detail, "aaaa:12 does not link to aaaa:11")
		assert.Contains(t, probs[1].Detail, "aaaa:13 does not link to aaaa:12")
	})
	t.Run("unchained", func(t *testing.T) {
		_, _, ok := new(verify.ChainLinks).Add("x", 1, []byte(`{"id":"1"}`))
		assert.False(t, ok)
	})
}

// TestSignedHead: a signed head must be in the store with its hash, unless
// a removal note accounts for it; the note is named when it is missing.
func TestSignedHead(t *testing.T) {
	a := chainedLines(t, "aaaa", 10)
	run := func(ls [][]byte, head uint64, hash string, removed bool) []verify.Problem {
		var x verify.ChainLinks
		x.SignedHead("aaaa", head, hash, "checkpoints.jsonl", 4)
		x.SignedHead("aaaa", head-1, "older", "checkpoints.jsonl", 3) // a lower head does not replace it
		if removed {
			x.Removed(storage.SeqRange{Writer: "aaaa", From: 9, To: 10, Last: "x"})
		}
		u := x.Unit("f", true)
		for i, b := range ls {
			_, p, _ := u.Add(i+1, b)
			require.Nil(t, p)
		}
		var probs []verify.Problem
		x.Check(func(p verify.Problem) { probs = append(probs, p) })
		return probs
	}
	_, c10, _ := storage.SplitChain(a[9])
	assert.Empty(t, run(a, 10, c10.Hash, false))
	probs := run(a[:8], 10, c10.Hash, false)
	require.Len(t, probs, 1)
	assert.Equal(t, verify.Problem{Kind: verify.ProblemMissing, File: "checkpoints.jsonl", Line: 4, Detail: "entry aaaa:10, the head signed here, is missing (newest entries deleted, or a file or object deleted or truncated)"}, probs[0])
	assert.Empty(t, run(a[:8], 10, c10.Hash, true), "removed by a signed note")
	probs = run(a, 10, strings.Repeat("0", 64), false)
	require.Len(t, probs, 1)
	assert.Equal(t, verify.ProblemModified, probs[0].Kind)
	assert.Equal(t, "f", probs[0].File)
	assert.Equal(t, 10, probs[0].Line)
}
