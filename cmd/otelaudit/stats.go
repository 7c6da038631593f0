package main

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/otelaudit/otelaudit-go/storage"
)

const statsHelp = `Usage: otelaudit stats --dir DIR [--from TIME] [--to TIME]

Print the health figures of a store over a time range (default: all entries):

  total entries      in the store, and in the range
  hourly volume      entries in the last hour of the range (the hour before
                     --to, or before now), the mean per hour between the first
                     and the last entry, and the busiest hour
  safety failures    entries with safety_passed=false: count and rate, and per
                     detector how often it triggered and how often with a
                     failure
  latency            p50, p95, p99 and max of latency_ms (nearest-rank)
  tokens by model    entries, input and output token sums per model; entries
                     whose count is unknown (null) are counted apart, never
                     as 0

Examples:
  otelaudit stats --dir ./audit-data
  otelaudit stats --dir ./audit-data --from -24h
  otelaudit stats --dir ./audit-data --from 2025-06-01 --to 2025-06-30`

// statsCollector accumulates the figures of stats over a stream of
// entries. Memory grows with the number of entries only through the
// latency slice (8 bytes each) and with distinct hours, models and
// detectors.
type statsCollector struct {
	n          int
	first      time.Time
	last       time.Time
	failures   int
	hourly     map[int64]int // Unix hour -> entries
	detectors  map[string]*detectorStats
	latencies  []float64
	models     map[string]*modelStats
	lastHourLo time.Time // entries with lastHourLo < ts <= lastHourHi
	lastHourHi time.Time
	lastHour   int
}

type detectorStats struct{ triggered, failed int }

type modelStats struct {
	entries               int
	in, out               big.Int // sums; big so that no sum can overflow
	inUnknown, outUnknown int     // entries whose count is null
	scratch               big.Int
}

func newStatsCollector(lastHourEnd time.Time) *statsCollector {
	return &statsCollector{
		hourly:     make(map[int64]int),
		detectors:  make(map[string]*detectorStats),
		models:     make(map[string]*modelStats),
		lastHourLo: lastHourEnd.Add(-time.Hour),
		lastHourHi: lastHourEnd,
	}
}

func (s *statsCollector) add(e *storage.AuditEntry) {
	ts := e.Timestamp
	if s.n == 0 || ts.Before(s.first) {
		s.first = ts
	}
	if s.n == 0 || ts.After(s.last) {
		s.last = ts
	}
	s.n++
	s.hourly[ts.Unix()/3600]++
	if ts.After(s.lastHourLo) && !ts.After(s.lastHourHi) {
		s.lastHour++
	}
	if !e.SafetyPassed {
		s.failures++
	}
	for _, d := range slices.Compact(slices.Sorted(slices.Values(e.DetectorsTriggered))) {
		ds := s.detectors[d]
		if ds == nil {
			ds = &detectorStats{}
			s.detectors[d] = ds
		}
		ds.triggered++
		if !e.SafetyPassed {
			ds.failed++
		}
	}
	s.latencies = append(s.latencies, e.LatencyMS)
	model := "(none)"
	if e.Model != nil {
		model = *e.Model
	}
	ms := s.models[model]
	if ms == nil {
		ms = &modelStats{}
		s.models[model] = ms
	}
	ms.entries++
	if e.InputTokens != nil {
		ms.in.Add(&ms.in, ms.scratch.SetInt64(*e.InputTokens))
	} else {
		ms.inUnknown++
	}
	if e.OutputTokens != nil {
		ms.out.Add(&ms.out, ms.scratch.SetInt64(*e.OutputTokens))
	} else {
		ms.outUnknown++
	}
}

// percentile returns the nearest-rank p-th percentile of sorted (p in
// (0,100]).
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func runStats(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("stats")
	sf := addStoreFlags(fs, true)
	tr := addTimeFlags(fs)
	pos, err := c.parse(fs, statsHelp, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	now := c.now().UTC()
	start, end, err := tr.bounds(now)
	if err != nil {
		return err
	}
	st, err := sf.open(ctx, c, true)
	if err != nil {
		return err
	}
	defer st.Close()
	total, err := st.Count(ctx)
	if err != nil {
		return storeError(ctx, fmt.Errorf("count %s: %w", st.name, err))
	}
	lastHourEnd := now
	if tr.to != "" {
		lastHourEnd = end
	}
	sc := newStatsCollector(lastHourEnd)
	var progTotal int64
	if tr.from == "" && tr.to == "" {
		progTotal = int64(total)
	}
	prog := c.newProgress("stats", "entries", progTotal)
	for e, err := range st.Entries(ctx, start, end) {
		if err != nil {
			prog.Finish()
			return storeError(ctx, fmt.Errorf("read %s: %w", st.name, err))
		}
		prog.Add(1)
		sc.add(e)
	}
	prog.Finish()
	st.warnSkipped(c, "stats")
	w := bufio.NewWriter(c.stdout)
	sc.print(w, st.name, total, tr, start, end, lastHourEnd)
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

const statsTime = "2006-01-02T15:04:05Z"

func (s *statsCollector) print(w *bufio.Writer, name string, total int, tr *timeRange, start, end, lastHourEnd time.Time) {
	fmt.Fprintf(w, "Store:              %s\n", sanitize(name))
	rangeText := "all entries"
	if tr.from != "" || tr.to != "" {
		lo, hi := "(start)", "(end)"
		if tr.from != "" {
			lo = start.Format(time.RFC3339Nano)
		}
		if tr.to != "" {
			hi = end.Format(time.RFC3339Nano)
		}
		rangeText = lo + " .. " + hi
	}
	fmt.Fprintf(w, "Range:              %s\n", rangeText)
	fmt.Fprintf(w, "Total entries:      %d in store, %d in range\n", total, s.n)
	if s.n > 0 {
		fmt.Fprintf(w, "First / last entry: %s / %s\n", s.first.Format(statsTime), s.last.Format(statsTime))
	}

	fmt.Fprintf(w, "\nHourly volume\n")
	fmt.Fprintf(w, "  last hour:        %d (%s .. %s)\n", s.lastHour,
		lastHourEnd.Add(-time.Hour).Format(statsTime), lastHourEnd.Format(statsTime))
	if s.n > 0 {
		hours := s.last.Unix()/3600 - s.first.Unix()/3600 + 1
		var peakHour int64
		peak := 0
		for h, n := range s.hourly {
			if n > peak || (n == peak && h < peakHour) {
				peakHour, peak = h, n
			}
		}
		fmt.Fprintf(w, "  mean per hour:    %.1f over %d hours (%d with entries)\n",
			float64(s.n)/float64(hours), hours, len(s.hourly))
		fmt.Fprintf(w, "  busiest hour:     %d at %s\n", peak, time.Unix(peakHour*3600, 0).UTC().Format(statsTime))
	}

	fmt.Fprintf(w, "\nSafety failures\n")
	rate := 0.0
	if s.n > 0 {
		rate = 100 * float64(s.failures) / float64(s.n)
	}
	fmt.Fprintf(w, "  failures:         %d of %d (%.2f%%)\n", s.failures, s.n, rate)
	if len(s.detectors) > 0 {
		names := make([]string, 0, len(s.detectors))
		for d := range s.detectors {
			names = append(names, d)
		}
		slices.SortFunc(names, func(a, b string) int {
			if c := cmp.Compare(s.detectors[b].triggered, s.detectors[a].triggered); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		fmt.Fprintf(w, "  %-24s %10s %10s\n", "DETECTOR", "TRIGGERED", "FAILED")
		for _, d := range names {
			fmt.Fprintf(w, "  %s %10d %10d\n", cell(d, 24), s.detectors[d].triggered, s.detectors[d].failed)
		}
	}

	fmt.Fprintf(w, "\nLatency (ms, nearest-rank)\n")
	if s.n == 0 {
		fmt.Fprintf(w, "  no entries\n")
	} else {
		slices.Sort(s.latencies)
		fmt.Fprintf(w, "  p50: %s  p95: %s  p99: %s  max: %s\n",
			num(percentile(s.latencies, 50)), num(percentile(s.latencies, 95)),
			num(percentile(s.latencies, 99)), num(s.latencies[len(s.latencies)-1]))
	}

	fmt.Fprintf(w, "\nTokens by model\n")
	if len(s.models) == 0 {
		fmt.Fprintf(w, "  no entries\n")
		return
	}
	models := make([]string, 0, len(s.models))
	for m := range s.models {
		models = append(models, m)
	}
	slices.Sort(models)
	fmt.Fprintf(w, "  %-28s %9s %16s %16s %s\n", "MODEL", "ENTRIES", "INPUT", "OUTPUT", "UNKNOWN IN/OUT")
	for _, m := range models {
		ms := s.models[m]
		fmt.Fprintf(w, "  %s %9d %16s %16s %d/%d\n", cell(m, 28), ms.entries,
			ms.in.String(), ms.out.String(), ms.inUnknown, ms.outUnknown)
	}
}

// num formats a latency figure: plain decimals for everyday values,
// exponent form for extreme ones.
func num(f float64) string {
	if f != 0 && (math.Abs(f) >= 1e9 || math.Abs(f) < 1e-3) {
		return strconv.FormatFloat(f, 'g', 4, 64)
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}
