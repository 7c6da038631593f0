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
// reference-layout object is deleted; an entry in a batch object is
// removed by writing the batch's next generation without it (a
// conditional put, so two concurrent rewrites cannot both win; the loser
// starts again), checking that no later generation exists, and then
// deleting the old generation. Readers always use the newest generation,
// so a crash between the steps leaves the entry deleted. Cost: Read's
// requests plus a put, a list and a delete.
func (s *Store) Delete(ctx context.Context, id string) (bool, error) {
	if err := s.check(ctx); err != nil {
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
		if loc.legacy != "" {
			if err := s.deleteKeys(ctx, []string{loc.legacy}); err != nil {
				return false, err
			}
			return true, nil
		}
		removed, err := s.rewrite(ctx, loc.date, loc.name, loc.body, func(e *storage.AuditEntry) bool { return e.ID == id })
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

// rewrite replaces the batch object (date, cur) whose content is body by
// its next generation without the entries drop selects, and returns how
// many it removed. It fails with errConflict when another rewrite of the
// same batch won; the caller starts again from the newest generation. Lines that do not decode are kept as they are. With
// nothing to remove it writes nothing. The next generation is written even
// when empty, so that an older generation uploaded again from a stale
// spool cannot bring entries back.
func (s *Store) rewrite(ctx context.Context, date string, cur batchName, body []byte, drop func(*storage.AuditEntry) bool) (int, error) {
	var kept []byte
	removed := 0
	next := slotName(cur, cur.gen+1)
	for line := range lines(body) {
		e, err := storage.ParseEntry(line)
		if err == nil && drop(e) {
			removed++
			continue
		}
		kept = append(append(kept, line...), '\n')
	}
	if removed == 0 {
		return 0, nil
	}
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(s.cfg.prefix + date + "/" + next.String()),
		Body:          bytes.NewReader(kept),
		ContentLength: aws.Int64(int64(len(kept))),
		ContentType:   aws.String("application/x-ndjson"),
		IfNoneMatch:   aws.String("*"),
	})
	if isPreconditionFailed(err) {
		return 0, errConflict
	}
	if err != nil {
		return 0, classify("rewrite object", s.bucket, err)
	}
	// A later generation may already exist. Either another rewrite built
	// on ours (then the entries we dropped are gone from it: done), or our
	// put came late: another rewrite went from cur to next and on, and
	// deleted its next, which freed the name. Then ours is invisible
	// (readers use the newest generation); take it back and start again.
	// A listing can miss objects created or deleted while it runs
	// (posix-backed servers read a directory), so one listing could show
	// a late put as the newest while a newer generation was being
	// created and the one before it deleted: ours counts as the newest
	// only when two listings in a row say so.
	var p *partition
	for range 2 {
		var err error
		if p, err = s.listPartition(ctx, date, cur.base()+"."); err != nil {
			return 0, err
		}
		latest := p.byBase[cur.base()]
		if latest.gen <= next.gen {
			continue
		}
		body, _, ok, err := s.getCurrent(ctx, date, cur.base(), &latest)
		if err != nil {
			return 0, err
		}
		if ok && !containsAny(body, drop) {
			return removed, nil // built on ours; the newer writer cleans up
		}
		if err := s.deleteKeys(ctx, []string{date + "/" + next.String()}); err != nil {
			return 0, err
		}
		return 0, errConflict
	}
	if err := s.deleteKeys(ctx, p.stale); err != nil {
		return 0, err
	}
	return removed, nil
}

// containsAny reports whether a batch body holds an entry drop selects.
func containsAny(body []byte, drop func(*storage.AuditEntry) bool) bool {
	for line := range lines(body) {
		if e, err := storage.ParseEntry(line); err == nil && drop(e) {
			return true
		}
	}
	return false
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
// objects, no object read (counts come from the names). In t's own day,
// batch objects that end before t are deleted whole, those that start at
// or after t are kept, and the few that straddle t are rewritten as Delete
// does; reference-layout objects of that day are read to learn their
// timestamp. Id markers of removed days are cleaned up where their id day
// is before t's day (stale markers elsewhere cost Read one list entry).
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (int, error) {
	if err := s.check(ctx); err != nil {
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
		p, err := s.listPartition(ctx, date, "")
		if err != nil {
			return removed, err
		}
		var del []string
		if d.Before(cut) {
			for _, bn := range p.batch {
				rel := date + "/" + bn.String()
				if bn.n < 0 {
					c, err := s.countObject(ctx, rel)
					if err != nil {
						return removed, err
					}
					bn.n = c
				}
				removed += bn.n
				del = append(del, rel)
			}
			removed += len(p.legacy)
			del = append(append(del, p.legacy...), p.stale...)
			if err := s.deleteKeys(ctx, del); err != nil {
				return removed, err
			}
			continue
		}
		n, err := s.expireDay(ctx, d, t, p)
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

// expireDay removes the entries before t from t's own day.
func (s *Store) expireDay(ctx context.Context, d, t time.Time, p *partition) (int, error) {
	cutNs := int64(t.Sub(d))
	removed := 0
	var del []string
	for _, bn := range p.batch {
		rel := p.date + "/" + bn.String()
		switch {
		case bn.n == 0 || bn.minNs >= cutNs:
		case bn.maxNs < cutNs:
			removed += bn.n
			del = append(del, rel)
		default:
			n, err := s.rewriteBefore(ctx, p.date, bn, t)
			removed += n
			if err != nil {
				return removed, err
			}
		}
	}
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
		}
	}
	del = append(del, p.stale...)
	return removed, s.deleteKeys(ctx, del)
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
		n, err := s.rewrite(ctx, date, cur, body, func(e *storage.AuditEntry) bool { return e.Timestamp.Before(t) })
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
	err := s.list(ctx, idsDir, "", "/", func(rel string, isPrefix bool) bool {
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
		err := s.list(ctx, idsDir+b+"/", "", "", func(rel string, _ bool) bool {
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
