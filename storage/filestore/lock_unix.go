//go:build unix

package filestore

import (
	"errors"
	"os"
	"syscall"
)

// openStoreFile opens a file of the store (a data file, checkpoints.jsonl,
// an index, the key file) without ever blocking: O_NONBLOCK makes the open
// of a named pipe return at once (a plain open waits for a writer, for
// ever), and the file is then refused unless it is a regular file (see
// [ErrNotRegular]). On a regular file O_NONBLOCK changes nothing.
func openStoreFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NONBLOCK, perm)
	if err != nil {
		return nil, err
	}
	return checkRegular(f)
}

// lockFile takes an exclusive, non-blocking flock(2) on f; errLockHeld if
// another open file description holds it (another process, or another
// Store in this one). The kernel drops it when the process dies.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLockHeld
	}
	return err
}

func unlockFile(f *os.File) {
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}

// inodeOf returns the inode number of a file (0 if unknown).
func inodeOf(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Ino)
	}
	return 0
}

// syncDir fsyncs a directory so that creations, renames and removals in it
// are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}
