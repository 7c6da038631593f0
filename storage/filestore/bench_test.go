package filestore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
)

// Benchmarks of the file backend. The large ones work on a store of
// benchEntries() entries (1,000,000 unless OTELAUDIT_BENCH_ENTRIES says
// otherwise) spanning 500 hours, built once and cached under os.TempDir()
// (keyed by benchStoreVersion and the size), because building it takes a
// while. They run only with -bench, so `go test` stays fast:
//
//	go test ./storage -run '^$' -bench 'File' -benchtime 1x
//	OTELAUDIT_BENCH_ENTRIES=100000 go test ./storage -run '^$' -bench File

const benchStoreVersion = "v6" // v6: chain format 2 lines (v5: indexes whose CRC covers all their data)

var benchStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const benchSpan = 500 * time.Hour

func benchEntries() int {
	if v, err := strconv.Atoi(os.Getenv("OTELAUDIT_BENCH_ENTRIES")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

// benchEntry returns an entry padded with pad, whose id is a UUIDv7 of
// its own timestamp (as the Logger makes: the id is created when the call
// is logged, right after it started).
func benchEntry(ts time.Time, pad string) *storage.AuditEntry {
	e := testEntry(ts)
	e.Metadata = map[string]any{"pad": pad}
	e.ID = uuidV7At(ts)
	return e
}

// uuidV7At returns a random UUIDv7 whose time field is t.
func uuidV7At(t time.Time) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	ms := uint64(t.UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	b[6] = 0x70 | b[6]&0x0f
	b[8] = 0x80 | b[8]&0x3f
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

var (
	benchOnce sync.Once
	benchDir  string
	benchIDs  []string
	benchErr  error
)

// removeStaleBenchStores removes the cached stores of earlier store
// versions (1.5 GB each at 1M entries), which no benchmark reads again.
func removeStaleBenchStores() {
	stale, _ := filepath.Glob(filepath.Join(os.TempDir(), "otelaudit-bench-file-*"))
	current := "otelaudit-bench-file-" + benchStoreVersion + "-"
	for _, d := range stale {
		if !strings.HasPrefix(filepath.Base(d), current) {
			os.RemoveAll(d)
		}
	}
}

// benchStore returns the cached large store and its ids (in write order).
func benchStore(b *testing.B) (string, []string) {
	b.Helper()
	benchOnce.Do(func() {
		n := benchEntries()
		benchDir = filepath.Join(os.TempDir(), fmt.Sprintf("otelaudit-bench-file-%s-%d", benchStoreVersion, n))
		idsPath := filepath.Join(benchDir, "ids.txt")
		if ids, err := readIDs(idsPath); err == nil && len(ids) == n {
			benchIDs = ids
			return
		}
		os.RemoveAll(benchDir)
		removeStaleBenchStores()
		b.Logf("building a %d-entry store in %s (cached for later runs)", n, benchDir)
		st, err := New(benchDir)
		if err != nil {
			benchErr = err
			return
		}
		pad := strings.Repeat("p", 700) // ~1 KiB lines
		step := benchSpan / time.Duration(n)
		ids := make([]string, 0, n)
		batch := make([]*storage.AuditEntry, 0, 1000)
		for i := range n {
			e := benchEntry(benchStart.Add(time.Duration(i)*step), pad)
			ids = append(ids, e.ID)
			batch = append(batch, e)
			if len(batch) == cap(batch) || i == n-1 {
				if err := st.WriteBatch(context.Background(), batch); err != nil {
					benchErr = err
					return
				}
				batch = batch[:0]
			}
		}
		if err := st.Close(); err != nil {
			benchErr = err
			return
		}
		if err := os.WriteFile(idsPath, []byte(strings.Join(ids, "\n")+"\n"), 0o600); err != nil {
			benchErr = err
			return
		}
		benchIDs = ids
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDir, benchIDs
}

func readIDs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ids = append(ids, sc.Text())
	}
	return ids, sc.Err()
}

// BenchmarkFileRead1M reads random ids from a reopened (read-only) large
// store. Target: p50 <= 1 ms. "uuidv7" reads stored ids (the files of the
// id's day are checked first); "absent-uuidv4" reads ids that are not
// stored and carry no time, the worst case (every file's index is
// checked), which is also what reading a reference store's UUIDv4 ids
// costs.
func BenchmarkFileRead1M(b *testing.B) {
	dir, ids := benchStore(b)
	st, err := New(dir, WithReadOnly())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for _, mode := range []string{"uuidv7", "absent-uuidv4"} {
		b.Run(mode, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				var id string
				if mode == "uuidv7" {
					id = ids[r.IntN(len(ids))]
				} else {
					id = fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xfff, r.Uint64()&0xffffffffffff)
				}
				t0 := time.Now()
				e, err := st.Read(ctx, id)
				lat = append(lat, time.Since(t0))
				if mode == "uuidv7" && (err != nil || e.ID != id) {
					b.Fatalf("Read %s: %v", id, err)
				}
				if mode != "uuidv7" && !errors.Is(err, storage.ErrNotFound) {
					b.Fatalf("Read %s: %v", id, err)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(len(ids)), "entries")
		})
	}
}

// BenchmarkFileRangeHour1M runs a 1-hour range query in the middle of the
// 500-hour store, and once a full scan, and reports the ratio of their
// times. Target: <= 5 %.
func BenchmarkFileRangeHour1M(b *testing.B) {
	dir, ids := benchStore(b)
	st, err := New(dir, WithReadOnly())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	count := func(start, end time.Time) int {
		n := 0
		for _, err := range st.Entries(ctx, start, end) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		return n
	}
	t0 := time.Now()
	all := count(time.Time{}, benchStart.Add(2*benchSpan))
	full := time.Since(t0)
	if all != len(ids) {
		b.Fatalf("full scan saw %d of %d entries", all, len(ids))
	}
	from := benchStart.Add(250*time.Hour + 17*time.Minute)
	b.ResetTimer()
	var hour time.Duration
	var got int
	for b.Loop() {
		t1 := time.Now()
		got = count(from, from.Add(time.Hour))
		hour += time.Since(t1)
	}
	want := len(ids) / 500
	if got < want*9/10 || got > want*11/10 {
		b.Fatalf("1-hour query returned %d entries, want about %d", got, want)
	}
	per := hour / time.Duration(b.N)
	b.ReportMetric(float64(per.Microseconds())/1000, "hour-ms")
	b.ReportMetric(full.Seconds(), "fullscan-s")
	b.ReportMetric(100*per.Seconds()/full.Seconds(), "ratio-%")
}

// BenchmarkFileDeleteBefore1M removes the oldest 10 % of a copy of the
// large store (data files hard-linked: DeleteBefore never modifies a data
// file in place). Target: <= 2 s.
func BenchmarkFileDeleteBefore1M(b *testing.B) {
	dir, ids := benchStore(b)
	ctx := context.Background()
	cut := benchStart.Add(benchSpan / 10)
	for b.Loop() {
		b.StopTimer()
		cp := filepath.Join(b.TempDir(), "store")
		if err := linkCopy(dir, cp); err != nil {
			b.Fatal(err)
		}
		st, err := New(cp)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		n, err := st.DeleteBefore(ctx, cut)
		el := time.Since(t0)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if n < len(ids)/10-2 || n > len(ids)/10+2 {
			b.Fatalf("removed %d, want about %d", n, len(ids)/10)
		}
		st.Close()
		b.ReportMetric(el.Seconds(), "deletebefore-s")
		b.StartTimer()
	}
}

// linkCopy copies a store directory, hard-linking the data and index files
// (which the file backend only ever replaces, never changes in place) and
// copying the rest.
func linkCopy(src, dst string) error {
	for _, d := range []string{dst, filepath.Join(dst, indexDirName)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	for _, sub := range []string{"", indexDirName} {
		des, err := os.ReadDir(filepath.Join(src, sub))
		if err != nil {
			return err
		}
		for _, de := range des {
			if de.IsDir() || de.Name() == "ids.txt" {
				continue
			}
			s, d := filepath.Join(src, sub, de.Name()), filepath.Join(dst, sub, de.Name())
			if strings.HasSuffix(de.Name(), ".jsonl") && strings.HasPrefix(de.Name(), "audit_") || strings.HasSuffix(de.Name(), ".idx") {
				if err := os.Link(s, d); err != nil {
					return err
				}
				continue
			}
			if err := copyFile(s, d); err != nil {
				return err
			}
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// procCPU returns the user and system CPU time this process has used,
// from /proc/self/stat (in clock ticks of 10 ms, Linux's USER_HZ); ok is
// false where there is no /proc.
func procCPU() (cpu time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	// The fields after the command name (which is in parentheses and may
	// hold spaces): utime and stime are the 12th and 13th.
	_, rest, ok := bytes.Cut(b, []byte(") "))
	f := strings.Fields(string(rest))
	if !ok || len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+s) * 10 * time.Millisecond, true
}

func vmRSS() float64 { return procStatusMB("VmRSS:") }

// procStatusMB returns the memory figure field (such as "VmRSS:") of
// /proc/self/status in MiB, or the runtime's Sys where there is no /proc.
func procStatusMB(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.Sys) / (1 << 20)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkFileWriteRSS1M writes benchEntries() entries of ~2 KiB one Write
// at a time into a fresh store and reports the peak resident memory of the
// process (VmRSS) while doing so. Target: <= 200 MB.
func BenchmarkFileWriteRSS1M(b *testing.B) {
	n := benchEntries()
	pad := strings.Repeat("r", 1700)
	ctx := context.Background()
	for b.Loop() {
		dir := b.TempDir()
		st, err := New(dir)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		base := vmRSS()
		peak := base
		step := benchSpan / time.Duration(n)
		t0 := time.Now()
		for i := range n {
			if err := st.Write(ctx, benchEntry(benchStart.Add(time.Duration(i)*step), pad)); err != nil {
				b.Fatal(err)
			}
			if i%10000 == 0 {
				peak = max(peak, vmRSS())
			}
		}
		el := time.Since(t0)
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		peak = max(peak, vmRSS())
		b.ReportMetric(peak, "peak-rss-MB")
		b.ReportMetric(base, "start-rss-MB")
		b.ReportMetric(float64(n)/el.Seconds(), "entries/s")
		os.RemoveAll(dir)
	}
}

// BenchmarkFileWrite measures raw Write throughput with ~2 KiB lines
// (default durability). Target: well above 50,000 entries/s.
func BenchmarkFileWrite(b *testing.B) {
	for _, par := range []int{1, 8} {
		b.Run(fmt.Sprintf("writers=%d", par), func(b *testing.B) {
			benchWrites(b, "w", par)
		})
	}
}

// BenchmarkFileWriteRotating is BenchmarkFileWrite (~2 KiB lines, one
// writer per processor) with parts rotated every 16 MiB (about 8,000
// entries) instead of 64 MiB, so that what a rotation costs the writers
// (the closed part's index) weighs on entries/s.
func BenchmarkFileWriteRotating(b *testing.B) {
	benchWrites(b, "r", 1, WithRotationSize(16<<20))
}

// benchWrites writes ~2 KiB entries padded with pad into a new store made
// with opts, from par goroutines per GOMAXPROCS (see parallelWrites).
func benchWrites(b *testing.B, pad string, par int, opts ...Option) {
	st, err := New(b.TempDir(), opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	padding := strings.Repeat(pad, 1700)
	es := make([]*storage.AuditEntry, 1024)
	for i := range es {
		es[i] = benchEntry(benchStart.Add(time.Duration(i)*time.Second), padding)
	}
	line, _ := es[0].AppendJSON(nil)
	b.SetBytes(int64(len(line)))
	parallelWrites(b, st, par, es)
}

// parallelWrites runs b.N Writes of es (in turn) from par goroutines per
// GOMAXPROCS and reports entries/s.
func parallelWrites(b *testing.B, st *Store, par int, es []*storage.AuditEntry) {
	b.SetParallelism(par)
	b.ResetTimer()
	t0 := time.Now()
	var total atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := st.Write(context.Background(), es[i%len(es)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
		total.Add(int64(i))
	})
	b.ReportMetric(float64(total.Load())/time.Since(t0).Seconds(), "entries/s")
}

// BenchmarkFileWriteBatch measures WriteBatch of 100 entries of ~2 KiB
// (one write(2) per batch): the raw append rate of the backend.
func BenchmarkFileWriteBatch(b *testing.B) {
	pad := strings.Repeat("w", 1700)
	st, err := New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	es := make([]*storage.AuditEntry, 100)
	for i := range es {
		es[i] = benchEntry(benchStart.Add(time.Duration(i)*time.Second), pad)
	}
	t0 := time.Now()
	n := 0
	for b.Loop() {
		if err := st.WriteBatch(context.Background(), es); err != nil {
			b.Fatal(err)
		}
		n += len(es)
	}
	b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "entries/s")
}

// BenchmarkFileWriteSync measures Write under DurabilitySync with 1 and 16
// concurrent writers: group commit lets concurrent writers share fsyncs.
func BenchmarkFileWriteSync(b *testing.B) {
	pad := strings.Repeat("s", 1700)
	for _, par := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d", par), func(b *testing.B) {
			st, err := New(b.TempDir(), WithDurability(DurabilitySync))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			parallelWrites(b, st, par, []*storage.AuditEntry{benchEntry(benchStart, pad)})
		})
	}
}

// BenchmarkVerify1M verifies the whole large store (hashing every line,
// checking links and checkpoints), alone and against a witness holding
// every note (what WithWitness would have published). Target: >= 500,000
// entries/s.
func BenchmarkVerify1M(b *testing.B) {
	dir, ids := benchStore(b)
	notes, err := os.ReadFile(filepath.Join(dir, checkpointFileName))
	if err != nil {
		b.Fatal(err)
	}
	for _, witness := range []bool{false, true} {
		b.Run(fmt.Sprintf("witness=%v", witness), func(b *testing.B) {
			for b.Loop() {
				var opts []VerifyOption
				if witness {
					opts = append(opts, WithVerifyWitness(bytes.NewReader(notes)))
				}
				t0 := time.Now()
				rep, err := Verify(context.Background(), dir, opts...)
				el := time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				if !rep.OK() || rep.Chained != int64(len(ids)) || witness && rep.Witnessed == 0 {
					b.Fatalf("verify: %d chained of %d, %d witnessed, problems %v", rep.Chained, len(ids), rep.Witnessed, rep.Problems)
				}
				b.ReportMetric(float64(rep.Entries)/el.Seconds(), "entries/s")
			}
		})
	}
}

// BenchmarkFileScan1M reads every entry of the reopened (read-only) large
// store, as stats, verify-style audits and whole-day queries do: with
// ListEntries over everything (every entry kept in one slice) and streamed
// with Entries. Target: >= 300,000 entries/s.
//
// Each iteration scans in a fresh process (this test binary started again,
// see scanChild), so that every figure is a first call: the case that
// pays for mapping the heap the kept entries need, which a second call in
// the same process finds already mapped. entries/s is the headline;
// heap-B/entry is the heap the kept entries hold after a GC, and
// peak-rss-B/entry the child's peak resident memory, both per entry, and
// allocs/entry the heap allocations the scan made (none of these depends
// on the machine's load). cpu-µs/entry is the child's CPU
// time (user and system, all threads) during the scan, which depends on
// load far less than the elapsed time.
func BenchmarkFileScan1M(b *testing.B) {
	dir, ids := benchStore(b)
	for _, mode := range []string{"ListEntries", "Entries"} {
		b.Run(mode, func(b *testing.B) {
			var n, el, cpu float64
			var last scanResult
			for b.Loop() {
				r := runScanChild(b, dir, mode)
				if r.N != len(ids) {
					b.Fatalf("scan saw %d of %d entries", r.N, len(ids))
				}
				n += float64(r.N)
				el += time.Duration(r.Nanos).Seconds()
				cpu += float64(r.CPUNanos) / 1e3
				last = r
			}
			b.ReportMetric(n/el, "entries/s")
			b.ReportMetric(float64(last.HeapBytes)/float64(last.N), "heap-B/entry")
			b.ReportMetric(float64(last.Allocs)/float64(last.N), "allocs/entry")
			if cpu > 0 {
				b.ReportMetric(cpu/n, "cpu-µs/entry")
			}
			if last.PeakRSS > 0 {
				b.ReportMetric(float64(last.PeakRSS)/float64(last.N), "peak-rss-B/entry")
			}
		})
	}
}

// scanChildEnv, when set in the environment of this test binary, makes it
// run scanChild on the store it names instead of the tests; scanModeEnv
// names the scan ("ListEntries" or "Entries").
const (
	scanChildEnv = "OTELAUDIT_SCAN_CHILD_DIR"
	scanModeEnv  = "OTELAUDIT_SCAN_CHILD_MODE"
)

// scanResult is what a scan child reports on its standard output.
type scanResult struct {
	N         int   // entries seen
	Nanos     int64 // time of the scan alone (not the process start or New)
	HeapBytes int64 // heap in use after the scan and a GC, less before it
	PeakRSS   int64 // peak resident memory of the child (VmHWM), 0 if unknown
	CPUNanos  int64 // user and system CPU time of the scan, 0 if unknown
	Allocs    int64 // heap allocations during the scan
}

func TestMain(m *testing.M) {
	if dir := os.Getenv(scanChildEnv); dir != "" {
		os.Exit(scanChild(dir, os.Getenv(scanModeEnv)))
	}
	os.Exit(m.Run())
}

// runScanChild starts this test binary as a scan child and returns what
// it reports.
func runScanChild(b *testing.B, dir, mode string) scanResult {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), scanChildEnv+"="+dir, scanModeEnv+"="+mode)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("scan child: %v", err)
	}
	var r scanResult
	if err := json.Unmarshal(out, &r); err != nil {
		b.Fatalf("scan child output %q: %v", out, err)
	}
	return r
}

// scanChild opens the store in dir read-only, scans it once as mode says
// and writes a scanResult as JSON to standard output; it returns the exit
// code.
func scanChild(dir, mode string) int {
	st, err := New(dir, WithReadOnly())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	ctx := context.Background()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before, mallocs := ms.HeapAlloc, ms.Mallocs
	var r scanResult
	var kept []*storage.AuditEntry
	cpu0, cpuOK := procCPU()
	t0 := time.Now()
	all := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	switch mode {
	case "ListEntries":
		kept, err = st.ListEntries(ctx, time.Time{}, all)
		r.N = len(kept)
	case "Entries":
		for _, err = range st.Entries(ctx, time.Time{}, all) {
			if err != nil {
				break
			}
			r.N++
		}
	default:
		err = fmt.Errorf("unknown scan %q", mode)
	}
	r.Nanos = int64(time.Since(t0))
	if cpu1, ok := procCPU(); ok && cpuOK {
		r.CPUNanos = int64(cpu1 - cpu0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	r.HeapBytes = int64(ms.HeapAlloc) - int64(before)
	r.Allocs = int64(ms.Mallocs - mallocs)
	runtime.KeepAlive(kept)
	r.PeakRSS = int64(procStatusMB("VmHWM:") * (1 << 20))
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		return 1
	}
	return 0
}
