package filestore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Environment of the crash child (this test binary re-executed).
const (
	crashDirEnv     = "OTELAUDIT_CRASH_TEST_DIR"
	crashVariantEnv = "OTELAUDIT_CRASH_TEST_VARIANT"
)

var crashDay = time.Date(2025, 8, 8, 0, 0, 0, 0, time.UTC)

// crashChild is the writer process: it writes entries from 4 goroutines
// and prints each id after Write returned (acknowledged). Variant "torn"
// then appends half a line directly to the day file, prints TORN and
// waits to be killed.
func crashChild(dir, variant string) {
	opts := []Option{WithRotationSize(256 << 10)}
	if variant == "sync" {
		opts = append(opts, WithDurability(DurabilitySync))
	}
	st, err := New(dir, opts...)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	var out sync.Mutex
	pad := strings.Repeat("x", 1800) // ~2 KiB lines
	write := func(i int) {
		e := testEntry(crashDay.Add(time.Duration(i) * time.Millisecond))
		e.Metadata = map[string]any{"pad": pad}
		if err := st.Write(context.Background(), e); err != nil {
			out.Lock()
			fmt.Println("ERR", err)
			out.Unlock()
			os.Exit(3)
		}
		out.Lock()
		fmt.Println("ACK", e.ID)
		out.Unlock()
	}
	if variant == "torn" {
		for i := range 200 {
			write(i)
		}
		f, err := os.OpenFile(filepath.Join(dir, "audit_20250808.jsonl"), os.O_WRONLY|os.O_APPEND, 0)
		if err == nil {
			f.WriteString(`{"id":"torn-entry","timestamp":"2025-08-08T00:00:01Z","input_hash":"ab`)
			f.Close()
		}
		fmt.Println("TORN")
		select {}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; ; i += 4 {
				write(i)
			}
		}()
	}
	wg.Wait()
}

// TestFileCrash runs a real writer process, SIGKILLs it while it writes,
// then checks that every acknowledged entry is there, that a torn tail is
// reported, and that new writes land.
func TestFileCrash(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir, os.Getenv(crashVariantEnv))
		os.Exit(0)
	}
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	for _, variant := range []string{"os", "sync", "torn"} {
		t.Run(variant, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestFileCrash$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashVariantEnv+"="+variant)
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			cmd.Stderr = os.Stderr
			require.NoError(t, cmd.Start())
			var acked []string
			sc := bufio.NewScanner(stdout)
			killAfter := 400
			if variant == "sync" {
				killAfter = 100
			}
			for sc.Scan() {
				line := sc.Text()
				if id, ok := strings.CutPrefix(line, "ACK "); ok {
					acked = append(acked, id)
					if variant != "torn" && len(acked) == killAfter {
						break
					}
					continue
				}
				if line == "TORN" {
					break
				}
				if strings.HasPrefix(line, "ERR") {
					t.Fatalf("child: %s", line)
				}
			}
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			// Acks printed after the kill decision still count: read the
			// rest of the pipe.
			for sc.Scan() {
				if id, ok := strings.CutPrefix(sc.Text(), "ACK "); ok {
					acked = append(acked, id)
				}
			}
			cmd.Wait()
			require.NotEmpty(t, acked)

			st, err := New(dir)
			require.NoError(t, err, "reopen after SIGKILL (the lock died with the process)")
			defer st.Close()
			ctx := t.Context()
			for _, id := range acked {
				_, err := st.Read(ctx, id)
				require.NoError(t, err, "acknowledged entry %s lost", id)
			}
			n, err := st.Count(ctx)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, n, len(acked))
			if variant == "torn" {
				assert.Equal(t, uint64(1), st.Stats().TornTails, "torn tail reported")
				assert.Equal(t, 200, n)
			}
			all, err := st.ListEntries(ctx, crashDay, crashDay.Add(time.Hour))
			require.NoError(t, err)
			assert.Equal(t, n, len(all))
			assert.Zero(t, st.Stats().SkippedLines, "no damaged line remains")

			e := testEntry(crashDay.Add(30 * time.Minute))
			require.NoError(t, st.Write(ctx, e))
			got, err := st.Read(ctx, e.ID)
			require.NoError(t, err)
			assert.Equal(t, e.ID, got.ID)
			n2, err := st.Count(ctx)
			require.NoError(t, err)
			assert.Equal(t, n+1, n2)
			require.NoError(t, st.Close())

			verifyAfterCrash(t, dir)
		})
	}
}

// verifyAfterCrash: the crashed session has no final checkpoint, so its
// last entries are unconfirmed (a warning), and the store verifies clean.
func verifyAfterCrash(t *testing.T, dir string) {
	t.Helper()
	rep, err := Verify(t.Context(), dir)
	require.NoError(t, err)
	assert.True(t, rep.OK(), "store verifies after a crash: %v", rep.Problems)
	assert.Equal(t, 2, rep.Writers)
}
