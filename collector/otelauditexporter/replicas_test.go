package otelauditexporter_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/collector/internal/coltest"
)

// TestReplicasOneBucket: three Collectors write into one S3 bucket and
// prefix at the same time, 1,000 GenAI spans each from its own sender.
// Every span is one entry, no id twice, and each replica is its own
// writer (its own chain) in the bucket.
func TestReplicasOneBucket(t *testing.T) {
	storeYAML, open := storeConfig(t, "s3")
	const replicas = 3
	ports := make([]int, replicas)
	cols := make([]*coltest.Collector, replicas)
	for r := range replicas {
		ports[r] = coltest.FreePort(t)
		cols[r] = coltest.Start(t, fmt.Sprintf(`
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:%d"}
exporters:
  otelaudit:
%s
service:
  telemetry:
    logs: {level: warn}
    metrics: {level: none}
  pipelines:
    traces: {receivers: [otlp], exporters: [otelaudit]}
`, ports[r], storeYAML))
	}
	var wg sync.WaitGroup
	for r := range replicas {
		wg.Go(func() { sendGRPC(t, ports[r]) })
	}
	wg.Wait()
	for _, c := range cols {
		require.NoError(t, c.Stop())
	}

	st := open()
	defer st.Close()
	es, err := st.ListEntries(t.Context(), time.Time{}, time.Now().Add(24*time.Hour))
	require.NoError(t, err)
	ids := map[string]bool{}
	writers := map[string]int{}
	for _, e := range es {
		assert.False(t, ids[e.ID], "entry %s twice", e.ID)
		ids[e.ID] = true
		if assert.NotNil(t, e.Chain, "entry %s is chained", e.ID) {
			writers[e.Chain.Writer]++
		}
	}
	assert.Len(t, ids, replicas*spansPerSource)
	assert.Len(t, writers, replicas, "one writer per replica: %v", writers)
}
