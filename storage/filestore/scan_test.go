package filestore

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// scanRun is what one scan of Entries showed its caller.
type scanRun struct {
	ids     []string // in the order yielded
	errs    []string // errors yielded, in order, with where they came
	skipped uint64   // Stats().SkippedLines after the scan
	torn    uint64   // Stats().TornTails after the scan
	log     string   // what the store logged (the first skipped offset of each file)
}

// scanStore opens dir read-only with the given scanAhead and runs Entries
// over everything, stopping after stopAfter entries (-1: never) or
// cancelling ctx after cancelAfter entries (-1: never).
func scanStore(t *testing.T, dir string, ahead, stopAfter, cancelAfter int) scanRun {
	t.Helper()
	var logs bytes.Buffer
	st, err := New(dir, WithReadOnly(), WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))))
	require.NoError(t, err)
	st.cfg.scanAhead = ahead
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var r scanRun
	all := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	for e, err := range st.Entries(ctx, time.Time{}, all) {
		if err != nil {
			r.errs = append(r.errs, fmt.Sprintf("%d: %v", len(r.ids), err))
			continue
		}
		r.ids = append(r.ids, e.ID)
		if len(r.ids) == stopAfter {
			break
		}
		if len(r.ids) == cancelAfter {
			cancel()
		}
	}
	stats := st.Stats()
	r.skipped, r.torn = stats.SkippedLines, stats.TornTails
	require.NoError(t, st.Close())
	r.log = logs.String()
	return r
}

// TestEntriesDecodedAheadAsSequential: Entries decoding the regions of
// files written in time order ahead, on several goroutines, shows its
// caller exactly what the sequential scan does over a store of several
// day files, each of several regions, with damaged lines in them and then
// with one day file unreadable: the same entries in the same order, the
// same errors at the same points, the same skipped lines counted and
// logged, also when the caller stops early or cancels.
func TestEntriesDecodedAheadAsSequential(t *testing.T) {
	dir := t.TempDir()
	st, err := New(dir)
	require.NoError(t, err)
	const days, perDay = 4, 400
	pad := strings.Repeat("x", 9<<10) // a 128-line index block > decodeBatchBytes: one region each
	day0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	for d := range days {
		for i := range perDay {
			e := testEntry(day0.Add(time.Duration(d)*24*time.Hour + time.Duration(i)*time.Second))
			e.Metadata = map[string]any{"pad": pad}
			require.NoError(t, st.Write(t.Context(), e))
		}
	}
	require.NoError(t, st.Close())

	// Damage lines in place (same length) in several regions of three
	// days, and one in the first region of the first day.
	for d, lines := range map[int][]int{0: {3}, 1: {5, 200, 201, 399}, 3: {130, 399}} {
		path := filepath.Join(dir, "audit_"+day0.AddDate(0, 0, d).Format("20060102")+".jsonl")
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		starts := []int{0}
		for i, c := range data {
			if c == '\n' && i+1 < len(data) {
				starts = append(starts, i+1)
			}
		}
		require.Len(t, starts, perDay)
		for _, l := range lines {
			data[starts[l]] = '[' // no longer an object
		}
		require.NoError(t, os.WriteFile(path, data, 0o600))
	}

	// A writable open rebuilds the indexes the damage invalidated, so the
	// files are read region by region, as written in time order.
	st, err = New(dir)
	require.NoError(t, err)
	for d := range days {
		name := "audit_" + day0.AddDate(0, 0, d).Format("20060102") + ".jsonl"
		f, err := os.Open(filepath.Join(dir, name))
		require.NoError(t, err)
		li, err := st.idx.get(name, f)
		require.NoError(t, err)
		require.NotNil(t, li, name)
		require.True(t, li.hdr.sorted, name)
		blocks, err := li.blocks()
		st.idx.release(li)
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(blocks), 4, name)
		require.NoError(t, f.Close())
	}
	require.NoError(t, st.Close())

	check := func(t *testing.T, wantErr bool) {
		seq := scanStore(t, dir, 1, -1, -1)
		require.NotEmpty(t, seq.ids)
		require.Positive(t, seq.skipped)
		require.Equal(t, wantErr, len(seq.errs) > 0, "errors: %v", seq.errs)
		// An error ends the sequence although scanStore's loop goes on.
		require.LessOrEqual(t, len(seq.errs), 1, "errors: %v", seq.errs)
		for _, ahead := range []int{2, 8} {
			require.Equal(t, seq, scanStore(t, dir, ahead, -1, -1), "ahead %d", ahead)
		}
		for _, k := range []int{1, 129, perDay + 200, len(seq.ids) - 1} {
			s := scanStore(t, dir, 1, k, -1)
			require.Len(t, s.ids, k)
			require.Equal(t, s, scanStore(t, dir, 4, k, -1), "stopped after %d", k)
		}
		for _, k := range []int{129, perDay + 200} {
			c := scanStore(t, dir, 1, -1, k)
			require.Len(t, c.errs, 1, "a cancelled scan yields its error once")
			require.Contains(t, c.errs[0], context.Canceled.Error())
			require.Equal(t, c, scanStore(t, dir, 4, -1, k), "cancelled after %d", k)
		}
	}
	t.Run("damaged", func(t *testing.T) {
		check(t, false)
		require.Len(t, scanStore(t, dir, 0, -1, -1).ids, days*perDay-7)
	})
	// Day 2 unreadable: every open of it fails (a symbolic link to
	// itself; file modes do not stop root).
	path := filepath.Join(dir, "audit_"+day0.AddDate(0, 0, 2).Format("20060102")+".jsonl")
	require.NoError(t, os.Rename(path, path+".moved"))
	require.NoError(t, os.Symlink(filepath.Base(path), path))
	t.Run("unreadable", func(t *testing.T) {
		check(t, true)
		// The scan ends at the unreadable day 2: days 0 and 1 only.
		require.Len(t, scanStore(t, dir, 0, -1, -1).ids, 2*perDay-5)
	})
}
