//go:build !unix

package s3store

import "os"

// lockDir opens the lock file; without flock, keeping one Store per spool
// directory is up to the caller on this platform.
func lockDir(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}

func unlockDir(f *os.File) error { return f.Close() }
