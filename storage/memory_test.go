package storage_test

import (
	"testing"

	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/storagetest"
)

func TestMemoryStorageConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		return storage.NewMemoryStorage(0)
	})
}

func TestBoundedMemoryStorageConformance(t *testing.T) {
	// A bound larger than any subtest writes must not change behaviour.
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		return storage.NewMemoryStorage(100_000)
	})
}
