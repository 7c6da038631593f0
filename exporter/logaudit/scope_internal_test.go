package logaudit

import (
	"testing"

	"github.com/otelaudit/otelaudit-go/middleware"
)

// TestMiddlewareScope: the Auditor leaves middleware.Handler's spans to the
// audit processor by their scope, spelled here without the import.
func TestMiddlewareScope(t *testing.T) {
	if middlewareScope != middleware.ScopeName {
		t.Fatalf("middlewareScope %q, middleware.ScopeName %q", middlewareScope, middleware.ScopeName)
	}
}
