package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/otelaudit/otelaudit-go/storage"
)

// errConflict reports that another writer rewrote a batch first.
var errConflict = errors.New("s3store: batch rewritten concurrently")

// maxRewriteAttempts bounds the retries of a rewrite that lost a race to
// another rewrite of the same batch (each round has a winner, so this is
// how many concurrent rewrites of one batch are sure to get through).
const maxRewriteAttempts = 64

// conflictBackoff waits before attempt n (from 1) of a rewrite that lost a
// race: jittered, growing to about 200 ms.
func conflictBackoff(ctx context.Context, n int) error {
	d := time.Duration(min(n, 20)) * 10 * time.Millisecond
	return sleepCtx(ctx, d/2+rand.N(d/2+1))
}

// Delete removes the entry with the given id and reports whether it was
// there. It flushes first and finds the entry as Read does. A
// reference-layout object is deleted (a signing Store first signs a
// removal note naming it, which Verify checks the legacy note against);
// an entry in a batch object is
// removed by writing the batch's next generation without it (a
// conditional put on a name no one can free, so exactly one rewrite of a
// generation ever wins; the loser starts again from the newest) and then
// overwriting the older generation with a tombstone. Readers use the
// newest generation and skip tombstones, so once Delete returns true the
// entry is gone for good, and a crash between the steps leaves it deleted
// (its old generation is turned into a tombstone by the next rewrite or
// retention of that day). A signing Store signs its removal note first
// (see rewrite): a crash before the next generation is written leaves the
// entry in place, which Verify reports as an unfinished removal, and
// deleting again finishes it. Cost: Read's requests plus a put, a list and
// a put (and the note's put when signing). On a Store opened
// [WithReadOnly] it fails with an error matching [ErrReadOnly].
func (s *Store) Delete(ctx context.Context, id string) (bool, error) {
	if err := s.checkWrite(ctx); err != nil {
		return false, err
	}
	if err := s.flush(ctx); err != nil {
		return false, err
	}
	for attempt := range maxRewriteAttempts {
		if attempt > 0 {
			if err := conflictBackoff(ctx, attempt); err != nil {
				return false, err
			}
		}
		loc, err := s.locate(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if err := s.checkUnlocked(ctx, loc); err != nil {
			return false, err
		}
		if loc.legacy != "" {
			if err := s.noteLegacyRemoval(ctx, "delete", time.Time{}, []string{loc.legacy}, [][]byte{loc.body}); err != nil {
				return false, err
			}
			if err := s.deleteKeys(ctx, []string{loc.legacy}); err != nil {
				return false, err
			}
			return true, nil
		}
		removed, err := s.rewrite(ctx, loc.date, loc.name, loc.body, &storage.RemovalNote{Reason: "delete"}, func(e *storage.AuditEntry) bool { return e.ID == id })
		if errors.Is(err, errConflict) {
			continue
		}
		if err != nil {
			return false, err
		}
		return removed > 0, nil
	}
	return false, fmt.Errorf("s3store: delete %q: %w", id, errConflict)
}

// tombstone is the body that replaces a superseded generation of a batch
// object. A generation's name is never freed while its day exists (only
// whole-day retention deletes batch objects), so the conditional put of
// generation g+1 is a lock that only one rewrite of generation g can ever
// take; overwriting g with a tombstone, instead of deleting it, removes
// the entries it still held without freeing its name. Readers skip
// tombstones: a tombstone read where a listing said a generation was
// current means a rewrite happened since, and the reader lists again.
var tombstone = []byte("{\"otelaudit_tombstone\":\"superseded batch generation\"}\n")

func isTombstone(body []byte) bool { return bytes.Equal(body, tombstone) }

// rewrite replaces the batch object (date, cur) whose content is body by
// its next generation without the entries drop selects, and returns how
// many it removed. It fails with errConflict when another rewrite of the
// same batch won; the caller starts again from the newest generation.
// Lines that do not decode are kept as they are. With nothing to remove it
// writes nothing. The next generation is written even when empty: it is
// the batch's current state (no entries).
//
// A signing Store ([WithCheckpointKey]) first writes rn, completed with
// the generation replaced, the chain runs removed and the new generation's
// digest, as a signed removal note in its digest chain; then the new
// generation, which the writer's next digest also lists as stored; then
// it turns the old generation into a tombstone. Verification accounts for
// exactly what the note says was removed, and a crash at any step leaves
// either the old generation current and unchanged (an unfinished removal)
// or the new one as the note signed it.
func (s *Store) rewrite(ctx context.Context, date string, cur batchName, body []byte, rn *storage.RemovalNote, drop func(*storage.AuditEntry) bool) (int, error) {
	var kept []byte
	var ranges storage.SeqRanges
	removed, keptN := 0, 0
	next := slotName(cur, cur.gen+1)
	for line := range lines(body) {
		e, err := storage.ParseEntry(line)
		if err == nil && drop(e) {
			removed++
			if _, c, ok := storage.SplitChain(line); ok {
				ranges.Add(c)
			}
			continue
		}
		keptN++
		kept = append(append(kept, line...), '\n')
	}
	if removed == 0 {
		return 0, nil
	}
	o := &object{rel: date + "/" + next.String(), body: kept, n: keptN}
	if s.signing() {
		// The signed note comes first: it names the generation about to
		// be written and its SHA-256, so that no state a crash can leave
		// holds an object the store did not sign. Stopped before the put,
		// the note names an absent generation while the one it replaces
		// is still current and unchanged, which Verify reports as an
		// unfinished removal, not as tampering.
		_, o.ranges = seqRanges(kept)
		note := *rn
		note.Files = []string{date + "/" + cur.String()}
		note.Ranges = ranges.Ranges
		note.Count = removed
		if err := s.writeNote(ctx, &storage.Note{Type: storage.NoteRemoval, Removal: &note, Objects: []storage.ObjectDigest{objectDigest(o)}}); err != nil {
			return 0, err
		}
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(s.cfg.prefix + date + "/" + next.String()),
		Body:          bytes.NewReader(kept),
		ContentLength: aws.Int64(int64(len(kept))),
		ContentType:   aws.String("application/x-ndjson"),
		IfNoneMatch:   aws.String("*"),
	}
	s.lockInput(in, true)
	_, err := s.client.PutObject(ctx, in)
	if isPreconditionFailed(err) {
		return 0, errConflict
	}
	if err != nil {
		return 0, classify("rewrite object", s.bucket, err)
	}
	// The next digest lists the generation as stored: from then on its
	// absence is tampering, not an unfinished removal.
	s.stored(o)
	// The put made next, and no other rewrite can ever make it (names are
	// never freed), so next holds cur's content less the dropped entries
	// and every later generation descends from it: what we dropped cannot
	// come back. What is left is to turn the older generations into
	// tombstones, so that their content is gone too.
	return removed, s.supersede(ctx, date, next)
}

// supersede turns every generation of next's batch older than next that
// still holds entries into a tombstone (cur, and any a crashed rewrite
// left). It lists the batch's generations once. When none older than next
// is left, retention removed the whole day while the rewrite ran; then next
// is deleted too, so that it cannot bring back entries retention removed
// (retention lists the day again until it is empty, see
// [Store.DeleteBefore]).
func (s *Store) supersede(ctx context.Context, date string, next batchName) error {
	p, err := s.listPartition(ctx, date, next.base()+".")
	if err != nil {
		return err
	}
	older := false
	for _, bn := range p.tombs {
		older = older || bn.gen < next.gen
	}
	var stale []staleGen
	for _, g := range p.stale {
		if g.name.gen < next.gen {
			older = true
			stale = append(stale, g)
		}
	}
	if !older {
		return s.deleteKeys(ctx, []string{date + "/" + next.String()})
	}
	for _, g := range stale {
		if err := s.putTombstone(ctx, date, g); err != nil {
			return err
		}
	}
	return nil
}

// putTombstone overwrites the superseded generation g with the tombstone.
// The put is conditional on g's ETag, so that it replaces exactly the
// content the listing saw and never recreates an object retention deleted
// meanwhile; losing that condition means another writer tombstoned or
// deleted g first, which is as good. (A server that ignores If-Match
// overwrites unconditionally; a tombstone it recreates over a deleted day
// holds no entry and is removed with the day's next retention.)
func (s *Store) putTombstone(ctx context.Context, date string, g staleGen) error {
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(s.cfg.prefix + date + "/" + g.name.String()),
		Body:          bytes.NewReader(tombstone),
		ContentLength: aws.Int64(int64(len(tombstone))),
		ContentType:   aws.String("application/x-ndjson"),
	}
	if g.etag != "" {
		in.IfMatch = aws.String(g.etag)
	}
	_, err := s.client.PutObject(ctx, in)
	if err != nil && !isPreconditionFailed(err) && !isNotFound(err) {
		return classify("supersede object", s.bucket, err)
	}
	return nil
}

// deleteKeys deletes the given relative keys, 1,000 per request.
func (s *Store) deleteKeys(ctx context.Context, rels []string) error {
	for len(rels) > 0 {
		chunk := rels[:min(len(rels), 1000)]
		rels = rels[len(chunk):]
		if len(chunk) == 1 {
			_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{
				Bucket: aws.String(s.bucket),
				Key:    aws.String(s.cfg.prefix + chunk[0]),
			})
			if err != nil && !isNotFound(err) {
				return classify("delete object", s.bucket, err)
			}
			continue
		}
		ids := make([]types.ObjectIdentifier, len(chunk))
		for i, r := range chunk {
			ids[i] = types.ObjectIdentifier{Key: aws.String(s.cfg.prefix + r)}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(s.bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return classify("delete objects", s.bucket, err)
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) == "NoSuchKey" {
				continue
			}
			return fmt.Errorf("s3store: delete objects in bucket %q: %s: %s", s.bucket, aws.ToString(e.Code), aws.ToString(e.Message))
		}
	}
	return nil
}

// DeleteBefore removes every entry with Timestamp < t and returns how many
// it removed. It flushes first. Days wholly before t's UTC day are deleted
// as whole partitions: one list and one multi-object delete per 1,000
// objects, no object read (counts come from the names), then one more list
// to see the day empty (a rewrite racing with the delete removes what it
// wrote once it sees its day gone; anything else that appeared is deleted
// in another round); a signing Store signs a removal note naming the day
// before, and one naming the batches it deleted once the day is empty,
// so that [Store.Verify] reports those batches put back as restored. In
// t's own day, batch objects that start at or after
// t are kept and the others are rewritten as Delete does (those that end
// before t to an empty generation), so that a batch's generation names
// stay taken; reference-layout objects of that day are read to learn
// their timestamp (a signing Store names those it deletes in a removal
// note). Id markers of removed days are cleaned up where their
// id day is before t's day (stale markers elsewhere cost Read one list
// entry). On a Store opened [WithReadOnly] it fails with an error
// matching [ErrReadOnly].
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (int, error) {
	if err := s.checkWrite(ctx); err != nil {
		return 0, err
	}
	if err := s.flush(ctx); err != nil {
		return 0, err
	}
	t = t.UTC()
	cut := day(t)
	days, err := s.partitions(ctx, time.Time{}, cut)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, d := range days {
		date := d.Format(dateLayout)
		var n int
		if d.Before(cut) {
			n, err = s.deleteDay(ctx, date, t)
		} else {
			n, err = s.expireDay(ctx, d, t)
		}
		removed += n
		if err != nil {
			return removed, err
		}
	}
	if err := s.cleanMarkers(ctx, cut); err != nil {
		return removed, err
	}
	return removed, nil
}

// maxDayRounds bounds the list-and-delete rounds of a whole-day delete.
const maxDayRounds = 8

// deleteDay deletes every object of one day and returns how many entries
// they held. It lists and deletes until a listing finds the day empty.
// Entries are counted from the current generations of the first round and
// from new uploads (generation 0) of later rounds; a later round's
// rewritten generations hold entries already counted.
//
// A signing Store first writes a signed removal note naming the day, so
// that verification accounts for every object of that day the digests
// list, and once the day is empty a second one (Done) naming the batches
// it deleted: those batch objects back in the day are then restored
// entries, not an unfinished removal, while the batches written into the
// day afterwards (entries with an old timestamp) are new.
func (s *Store) deleteDay(ctx context.Context, date string, before time.Time) (int, error) {
	if s.cfg.lockMode != "" {
		p, err := s.listPartition(ctx, date, "")
		if err != nil {
			return 0, err
		}
		for bn, mod := range p.mod {
			locked, err := s.lockedObject(ctx, date+"/"+bn.String(), mod)
			if err != nil {
				return 0, err
			}
			if locked {
				s.cfg.logger.Info("s3store: retention keeps a day whose objects are under Object Lock", "bucket", s.bucket, "day", date)
				return 0, nil
			}
		}
	}
	if s.signing() {
		rn := &storage.RemovalNote{Reason: "retention", Files: []string{date + "/"}, Before: before.Format(time.RFC3339Nano)}
		if err := s.writeNote(ctx, &storage.Note{Type: storage.NoteRemoval, Removal: rn}); err != nil {
			return 0, err
		}
	}
	removed := 0
	var gone batchRuns
	for round := range maxDayRounds {
		p, err := s.listPartition(ctx, date, "")
		if err != nil {
			return removed, err
		}
		gone.addPartition(p)
		if len(p.batch)+len(p.legacy) == 0 {
			if err := s.deleteKeys(ctx, p.all()); err != nil {
				return removed, err
			}
			if !s.signing() {
				return removed, nil
			}
			rn := &storage.RemovalNote{Reason: "retention", Files: []string{date + "/"}, Before: before.Format(time.RFC3339Nano), Count: removed, Done: true, Batches: gone.strings()}
			return removed, s.writeNote(ctx, &storage.Note{Type: storage.NoteRemoval, Removal: rn})
		}
		for _, bn := range p.batch {
			switch {
			case bn.n >= 0: // generation 0, named with its count
				removed += bn.n
			case round == 0:
				c, err := s.countObject(ctx, date, bn, p.size[bn])
				if err != nil {
					return removed, err
				}
				removed += c
			}
		}
		removed += len(p.legacy)
		if err := s.deleteKeys(ctx, p.all()); err != nil {
			return removed, err
		}
	}
	return removed, fmt.Errorf("s3store: delete day %s: objects kept appearing after %d rounds", date, maxDayRounds)
}

// expireDay removes the entries before t from t's own day d.
func (s *Store) expireDay(ctx context.Context, d, t time.Time) (int, error) {
	date := d.Format(dateLayout)
	p, err := s.listPartition(ctx, date, "")
	if err != nil {
		return 0, err
	}
	cutNs := int64(t.Sub(d))
	removed := 0
	for _, bn := range p.batch {
		if bn.n == 0 || bn.minNs >= cutNs || p.size[bn] == 0 {
			continue
		}
		if locked, err := s.lockedObject(ctx, date+"/"+bn.String(), p.mod[bn]); err != nil {
			return removed, err
		} else if locked {
			s.cfg.logger.Info("s3store: retention keeps a batch under Object Lock", "bucket", s.bucket, "day", date, "batch", bn.base())
			continue
		}
		n, err := s.rewriteBefore(ctx, date, bn, t)
		removed += n
		if err != nil {
			return removed, err
		}
	}
	var del []string
	var delBodies [][]byte
	for _, rel := range p.legacy {
		body, err := s.get(ctx, rel)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return removed, err
		}
		es := s.parseLines(rel, body, nil)
		if len(es) == 1 && es[0].Timestamp.Before(t) {
			removed++
			del = append(del, rel)
			delBodies = append(delBodies, body)
		}
	}
	// Generations a crashed rewrite left with their entries.
	for _, g := range p.stale {
		if locked, err := s.lockedObject(ctx, date+"/"+g.name.String(), p.mod[g.name]); err != nil || locked {
			if err != nil {
				return removed, err
			}
			continue
		}
		if err := s.putTombstone(ctx, date, g); err != nil {
			return removed, err
		}
	}
	if err := s.noteLegacyRemoval(ctx, "retention", t, del, delBodies); err != nil {
		return removed, err
	}
	return removed, s.deleteKeys(ctx, del)
}

// noteLegacyRemoval writes, when the Store signs, a removal note naming the
// reference-layout objects rels (with bodies, their content) that a
// Delete or retention is about to delete, so that Verify accounts for
// them against the legacy note. It comes before the delete, as a
// rewrite's note does: stopped in between, the objects are still there,
// unchanged.
func (s *Store) noteLegacyRemoval(ctx context.Context, reason string, before time.Time, rels []string, bodies [][]byte) error {
	if !s.signing() || len(rels) == 0 {
		return nil
	}
	var sum storage.LineDigest
	for _, b := range bodies {
		sum.Add(bytes.TrimSuffix(b, []byte("\n")))
	}
	rn := &storage.RemovalNote{Reason: reason, Files: rels, Legacy: sum.Summary(), Count: len(rels)}
	if !before.IsZero() {
		rn.Before = before.Format(time.RFC3339Nano)
	}
	return s.writeNote(ctx, &storage.Note{Type: storage.NoteRemoval, Removal: rn})
}

// rewriteBefore drops the entries before t from one straddling batch,
// starting again from the newest generation when it loses a race.
func (s *Store) rewriteBefore(ctx context.Context, date string, bn batchName, t time.Time) (int, error) {
	hint := &bn
	for attempt := range maxRewriteAttempts {
		if attempt > 0 {
			if err := conflictBackoff(ctx, attempt); err != nil {
				return 0, err
			}
		}
		body, cur, ok, err := s.getCurrent(ctx, date, bn.base(), hint)
		if err != nil || !ok {
			return 0, err
		}
		rn := &storage.RemovalNote{Reason: "retention", Before: t.Format(time.RFC3339Nano)}
		n, err := s.rewrite(ctx, date, cur, body, rn, func(e *storage.AuditEntry) bool { return e.Timestamp.Before(t) })
		if !errors.Is(err, errConflict) {
			return n, err
		}
		hint = nil
	}
	return 0, fmt.Errorf("s3store: delete before %s: %w", t.Format(time.RFC3339), errConflict)
}

// cleanMarkers deletes the id markers of batch objects in days before cut,
// in id days before cut and in the "other" bucket.
func (s *Store) cleanMarkers(ctx context.Context, cut time.Time) error {
	var buckets []string
	err := s.list(ctx, idsDir, "", "/", func(rel string, isPrefix bool, _ objMeta) bool {
		if !isPrefix {
			return true
		}
		b := strings.TrimSuffix(strings.TrimPrefix(rel, idsDir), "/")
		if b == otherBucket {
			buckets = append(buckets, b)
			return true
		}
		d, ok := parseDate(b)
		if !ok {
			return true
		}
		if !d.Before(cut) {
			return false
		}
		buckets = append(buckets, b)
		return true
	})
	if err != nil {
		return err
	}
	for _, b := range buckets {
		var del []string
		err := s.list(ctx, idsDir+b+"/", "", "", func(rel string, _ bool, _ objMeta) bool {
			if m, ok := parseMarker(rel); ok {
				if d, _ := parseDate(m.date); d.Before(cut) {
					del = append(del, rel)
				}
			}
			return true
		})
		if err != nil {
			return err
		}
		if err := s.deleteKeys(ctx, del); err != nil {
			return err
		}
	}
	return nil
}

// checkUnlocked fails with ErrObjectLocked when the batch object holding
// loc is still under Object Lock retention (only with [WithObjectLock]:
// one HEAD request).
func (s *Store) checkUnlocked(ctx context.Context, loc *location) error {
	if s.cfg.lockMode == "" || loc.legacy != "" {
		return nil
	}
	rel := loc.date + "/" + loc.name.String()
	until, err := s.retainUntil(ctx, rel)
	if err != nil {
		return err
	}
	if time.Now().Before(until) {
		return fmt.Errorf("s3store: delete: %s: %w until %s", rel, ErrObjectLocked, until.UTC().Format(time.RFC3339))
	}
	return nil
}

// lockedObject reports whether the object rel, uploaded at modified, is
// under Object Lock retention now: only objects younger than the Store's
// lock period are asked about (one HEAD request each).
func (s *Store) lockedObject(ctx context.Context, rel string, modified time.Time) (bool, error) {
	if !s.locked(modified) {
		return false, nil
	}
	until, err := s.retainUntil(ctx, rel)
	if err != nil {
		return false, err
	}
	return time.Now().Before(until), nil
}

// retainUntil returns the Object Lock retain-until date of rel (zero when
// it has none).
func (s *Store) retainUntil(ctx context.Context, rel string) (time.Time, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.cfg.prefix + rel)})
	if isNotFound(err) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, classify("head object", s.bucket, err)
	}
	return aws.ToTime(out.ObjectLockRetainUntilDate), nil
}
