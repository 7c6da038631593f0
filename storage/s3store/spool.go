package s3store

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/otelaudit/otelaudit-go/storage"
)

// spool keeps accepted, not yet uploaded batches on local disk: one file
// per batch, named <writer>-<seq>.jsonl, holding the batch's encoded
// entries one per line. A file exists from the first entry of its batch
// until the batch is stored.
type spool struct {
	dir  string
	lock *os.File
}

const spoolLockName = ".lock"

// openSpool creates dir (0700) if needed, locks it for this process and
// rebuilds the batches that earlier Stores left there.
func openSpool(dir string, log *slog.Logger) (*spool, []*batch, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("s3store: spool directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("s3store: spool directory: %w", err)
	}
	lock, err := lockDir(filepath.Join(dir, spoolLockName))
	if err != nil {
		return nil, nil, fmt.Errorf("s3store: spool directory %s: %w", dir, err)
	}
	sp := &spool{dir: dir, lock: lock}
	names, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		_ = sp.close()
		return nil, nil, fmt.Errorf("s3store: spool directory: %w", err)
	}
	slices.Sort(names)
	var out []*batch
	for _, path := range names {
		b, skipped, err := readSpoolFile(path)
		if err != nil {
			_ = sp.close()
			return nil, nil, err
		}
		if skipped > 0 {
			// A torn last line is an entry whose Write never returned.
			log.Warn("s3store: skipped unreadable lines in spool file", "file", path, "lines", skipped)
		}
		if b == nil {
			continue
		}
		if len(b.ids) == 0 {
			_ = os.Remove(path)
			continue
		}
		out = append(out, b)
	}
	return sp, out, nil
}

// readSpoolFile rebuilds the batch a spool file holds; nil when the file
// name is not one of ours.
func readSpoolFile(path string) (*batch, int, error) {
	name := strings.TrimSuffix(filepath.Base(path), ".jsonl")
	w, seqs, ok := strings.Cut(name, "-")
	seq, err := strconv.ParseUint(seqs, 10, 64)
	if !ok || len(w) != 16 || !isHex(w) || err != nil {
		return nil, 0, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("s3store: read spool file: %w", err)
	}
	b := &batch{writer: w, seq: seq, spoolPath: path, done: make(chan struct{})}
	skipped := 0
	var encs []encoded
	for len(data) > 0 {
		line, rest, found := bytes.Cut(data, []byte{'\n'})
		data = rest
		if !found {
			skipped++ // torn tail
			break
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		e, err := storage.ParseEntry(line)
		if err != nil {
			skipped++
			continue
		}
		encs = append(encs, encoded{id: e.ID, ts: e.Timestamp.UTC(), line: slices.Clone(line)})
	}
	if err := b.add(encs); err != nil {
		return nil, 0, err
	}
	return b, skipped, nil
}

// create opens the spool file of a new batch (0600, must not exist).
func (sp *spool) create(b *batch) error {
	path := filepath.Join(sp.dir, b.base()+".jsonl")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	b.spoolPath, b.spoolFile = path, f
	return nil
}

// remove deletes the spool file of a delivered batch.
func (sp *spool) remove(b *batch) error {
	if b.spoolPath == "" {
		return nil
	}
	err := os.Remove(b.spoolPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func (sp *spool) close() error {
	if sp.lock == nil {
		return nil
	}
	err := unlockDir(sp.lock)
	sp.lock = nil
	return err
}
