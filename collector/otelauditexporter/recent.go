package otelauditexporter

import (
	"sync"

	"go.opentelemetry.io/otel/attribute"

	auditexporter "github.com/otelaudit/otelaudit-go/exporter"
	"github.com/otelaudit/otelaudit-go/internal/genaijoin"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// RecentSpans is how many of the last GenAI spans written the exporter
// remembers, by entry id and span (about 150 bytes each: 15 MB when
// full):
//
//   - a span delivered again after its entry was written (an OTLP client
//     that retries a push whose reply it did not wait for, a load
//     balancer that sends twice) is not written a second time;
//   - a span that names in audit.entry_id the id of another span's entry
//     is written under the id of its own span ([exporter.EntryIDForSpan]),
//     with the id it claimed in its metadata (claimed_entry_id), so that
//     no entry can shadow another's on a read by id.
//
// Beyond the last RecentSpans spans neither is checked: a persistent
// queue replaying after a crash is checked against the store instead
// ([ReplayDedupeWindow]).
const RecentSpans = 100_000

// claimedEntryIDKey is the metadata key of the id a span claimed in
// audit.entry_id when another span's entry holds it.
const claimedEntryIDKey = "claimed_entry_id"

// recentSpans is the memory of RecentSpans: entry id -> span, with a
// ring that forgets the oldest. An id is reserved when a push sorts its
// views, so that two pushes at once cannot both write one id for two
// spans, and marked written once the store accepted the entry.
type recentSpans struct {
	mu   sync.Mutex
	byID map[string]recentSpan
	ring []string // entry ids, oldest at next once full
	next int
	max  int
}

type recentSpan struct {
	key     spanKey
	written bool // the store accepted its entry; false while a push writes it
}

func newRecentSpans(n int) *recentSpans {
	return &recentSpans{byID: make(map[string]recentSpan), max: n}
}

// sort returns the views of vs to write, with their entry ids, reserved
// until [recentSpans.written] or [recentSpans.release]: a view whose
// span's entry was written recently is left out (counted in again); a
// view that claims the entry id another span holds (written, being
// written, or earlier in vs) gets the id of its own span (counted in
// claimed). Views of one span given twice in vs are written once. A span
// that another push is writing right now is written again (a duplicate
// entry is better than an acknowledged loss if that push fails).
func (r *recentSpans) sort(vs []auditexporter.SpanView) (out []auditexporter.SpanView, ids []string, again, claimed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var batch map[string]bool // ids of the views kept so far
	for _, v := range vs {
		id, key := auditexporter.EntryID(v), keyOfView(v)
		held, ok := r.byID[id]
		if ok && held.key != key {
			if gv, isView := v.(*genaijoin.View); isView {
				v, id = ownID(gv, id), auditexporter.EntryID(gv)
				claimed++
				held, ok = r.byID[id]
			}
		}
		switch {
		case batch[id]:
			again++ // the same span earlier in vs (or an id taken in vs)
			continue
		case ok && held.key == key && held.written:
			again++
			continue
		case !ok:
			r.reserve(id, recentSpan{key: key})
		}
		if batch == nil {
			batch = make(map[string]bool, len(vs))
		}
		batch[id] = true
		out, ids = append(out, v), append(ids, id)
	}
	return out, ids, again, claimed
}

// reserve records id for s, forgetting the oldest id beyond max.
func (r *recentSpans) reserve(id string, s recentSpan) {
	if len(r.ring) < r.max {
		r.ring = append(r.ring, id)
	} else {
		delete(r.byID, r.ring[r.next])
		r.ring[r.next] = id
		r.next = (r.next + 1) % r.max
	}
	r.byID[id] = s
}

// written marks the entries of ids, which the store accepted, written.
func (r *recentSpans) written(ids []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if s, ok := r.byID[id]; ok {
			s.written = true
			r.byID[id] = s
		}
	}
}

// release frees the reservations of ids whose entries were not written,
// after their push failed: a retry writes them.
func (r *recentSpans) release(ids []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if s, ok := r.byID[id]; ok && !s.written {
			delete(r.byID, id)
		}
	}
}

// ownID rewrites v, a span that claimed the entry id another span's entry
// holds, to be written under the id of its own span, the claimed id kept
// in its metadata. It returns v.
func ownID(v *genaijoin.View, claimedID string) *genaijoin.View {
	attrs := make([]attribute.KeyValue, 0, len(v.Attrs)+1)
	for _, kv := range v.Attrs {
		if kv.Key != otelaudit.AuditEntryIDKey {
			attrs = append(attrs, kv)
		}
	}
	v.Attrs = append(attrs, otelaudit.AuditMetadataKey(claimedEntryIDKey).String(claimedID))
	return v
}
