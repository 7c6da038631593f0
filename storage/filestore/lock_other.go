//go:build !unix

package filestore

import (
	"os"
	"path/filepath"
	"sync"
)

// The file backend is built for Unix-like systems (flock, inode numbers,
// directory fsync). Elsewhere it compiles with weaker guarantees: the
// writer lock only excludes other FileStorages of this process, directory
// entries are not fsynced, and files are told apart by name.

var lockedDirs sync.Map

func lockFile(f *os.File) error {
	name, _ := filepath.Abs(f.Name())
	if _, loaded := lockedDirs.LoadOrStore(name, struct{}{}); loaded {
		return errLockHeld
	}
	return nil
}

func unlockFile(f *os.File) {
	name, _ := filepath.Abs(f.Name())
	lockedDirs.Delete(name)
}

func inodeOf(fi os.FileInfo) int64 { return int64(idHash(fi.Name()) >> 1) }

func syncDir(string) error { return nil }

// openStoreFile opens a file of the store and refuses anything but a
// regular file (see [ErrNotRegular]).
func openStoreFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag, perm)
	if err != nil {
		return nil, err
	}
	return checkRegular(f)
}
