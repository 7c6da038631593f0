package s3store_test

import (
	"testing"

	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// TestCloseNilStore: Close on a nil *Store (New failed, Close deferred
// before the error check) returns nil instead of panicking.
func TestCloseNilStore(t *testing.T) {
	var st *s3store.Store
	if err := st.Close(); err != nil {
		t.Fatalf("Close on a nil *Store: %v", err)
	}
}
