package filestore

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// File layout of a store directory:
//
//	audit_YYYYMMDD.jsonl       newest part of a UTC day (the one appended to)
//	audit_YYYYMMDD_NNN.jsonl   older parts of that day, _001 the oldest
//	.index/<data file>.idx     per-file index (id hash -> offset, sparse time index)
//	.lock                      flock(2) held by the writing Store
//	checkpoints.jsonl          signed checkpoints, removal and recovery notes
//	.checkpoint.key            default checkpoint key (only without WithCheckpointKey)
const (
	indexDirName       = ".index"
	lockFileName       = ".lock"
	checkpointFileName = "checkpoints.jsonl"
	keyFileName        = ".checkpoint.key"
	dayLayout          = "20060102"
)

// fileRef names one data file of a store.
type fileRef struct {
	name string
	day  string // YYYYMMDD
	part int    // NNN; 0 for the unsuffixed (newest) part
}

// parseFileName recognises audit_YYYYMMDD.jsonl and audit_YYYYMMDD_NNN.jsonl.
func parseFileName(name string) (fileRef, bool) {
	rest, ok := strings.CutPrefix(name, "audit_")
	if !ok {
		return fileRef{}, false
	}
	rest, ok = strings.CutSuffix(rest, ".jsonl")
	if !ok || len(rest) < 8 {
		return fileRef{}, false
	}
	day := rest[:8]
	if _, err := time.Parse(dayLayout, day); err != nil {
		return fileRef{}, false
	}
	ref := fileRef{name: name, day: day}
	if len(rest) == 8 {
		return ref, true
	}
	if rest[8] != '_' || len(rest) < 10 {
		return fileRef{}, false
	}
	n, err := strconv.Atoi(rest[9:])
	if err != nil || n <= 0 {
		return fileRef{}, false
	}
	ref.part = n
	return ref, true
}

// partName returns the file name of part n (0 = unsuffixed) of day.
func partName(day string, n int) string {
	if n == 0 {
		return "audit_" + day + ".jsonl"
	}
	return fmt.Sprintf("audit_%s_%03d.jsonl", day, n)
}

// compareRefs orders files by day, then part, the unsuffixed (newest) part
// last: the order in which their entries were written.
func compareRefs(a, b fileRef) int {
	if c := strings.Compare(a.day, b.day); c != 0 {
		return c
	}
	pa, pb := a.part, b.part
	if pa == 0 {
		pa = int(^uint(0) >> 1)
	}
	if pb == 0 {
		pb = int(^uint(0) >> 1)
	}
	return pa - pb
}

// listDataFiles returns the store's data files in write order. Names that
// match audit_*.jsonl but not the day pattern are ignored.
func listDataFiles(dir string) ([]fileRef, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("filestore: list %s: %w", dir, err)
	}
	var refs []fileRef
	for _, de := range des {
		if de.IsDir() {
			continue
		}
		if ref, ok := parseFileName(de.Name()); ok {
			refs = append(refs, ref)
		}
	}
	slices.SortFunc(refs, compareRefs)
	return refs, nil
}

func dayOf(t time.Time) string { return t.UTC().Format(dayLayout) }

func dayStart(day string) time.Time {
	t, _ := time.ParseInLocation(dayLayout, day, time.UTC)
	return t
}

// writeFileAtomic writes data to path through a temp file in the same
// directory: write, fsync, rename, fsync the directory. A crash leaves
// either the old file or the new one, never a mix.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return syncDir(dir)
}
