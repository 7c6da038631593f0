package storage_test

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/reftest"
	"github.com/otelaudit/otelaudit-go/storage"
)

// TestParseEntryReference checks that every entry of the reference stores
// parses to exactly the fields expected.json lists, and that writing it back
// and parsing again changes nothing.
func TestParseEntryReference(t *testing.T) {
	for name, ds := range reftest.Load(t) {
		require.Len(t, ds.Entries, ds.Count, name)
		for _, raw := range ds.Entries {
			want := reftest.DecodeNumbers(t, raw)
			file := want["file"].(string)
			line, _ := want["line"].(json.Number).Int64()
			got, err := storage.ParseEntry(reftest.ReadLine(t, filepath.Join(reftest.Dir, ds.Dir, file), int(line)))
			require.NoError(t, err, "%s %s:%d", name, file, line)
			reftest.AssertMatches(t, want, got)

			// Round trip through our own encoding.
			b, err := got.MarshalJSON()
			require.NoError(t, err)
			again, err := storage.ParseEntry(b)
			require.NoError(t, err)
			assert.Equal(t, got, again, "round trip of %s", got.ID)
		}
	}
}
