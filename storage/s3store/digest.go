package s3store

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/otelaudit/otelaudit-go/storage"
)

// Digest objects (see the package doc, "Tamper evidence"):
//
//	_digests/<writer>/<n, 20 digits>.json
//
// one signed storage.Note line each, numbered 1, 2, 3, ... per writer and
// chained by Note.PrevNote: the first is an "open" note, then "digest"
// notes listing the batch objects stored since the previous one, and
// "removal" notes for Delete and DeleteBefore; the last one written at
// Close is final.
const digestsDir = "_digests/"

// legacyNoteRel is the key (relative to the prefix) of the signed "legacy"
// note: the reference-layout objects present when the first signing Store
// on the prefix started, each with its SHA-256 (see ensureLegacyNoteLocked).
const legacyNoteRel = digestsDir + "_legacy.json"

// digestRel returns the key (relative to the prefix) of digest n of writer.
func digestRel(writer string, n uint64) string {
	return fmt.Sprintf("%s%s/%020d.json", digestsDir, writer, n)
}

// parseDigestRel parses a key made by digestRel.
func parseDigestRel(rel string) (writer string, n uint64, ok bool) {
	rest, ok := strings.CutPrefix(rel, digestsDir)
	if !ok {
		return "", 0, false
	}
	writer, leaf, ok := strings.Cut(rest, "/")
	if !ok || len(writer) != 16 || !isHex(writer) {
		return "", 0, false
	}
	num, ok := strings.CutSuffix(leaf, ".json")
	if !ok || len(num) != 20 {
		return "", 0, false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n == 0 {
		return "", 0, false
	}
	return writer, n, true
}

// SigningKeyID returns the key id the writers of the prefix
// ([WithPrefix] among opts; other options are ignored) sign their digests
// with now, as the newest digest object under prefix/_digests/ says (by
// last-modified time, so after the writers moved to a new key it names the
// new one): "" when the prefix holds no digest (its writers do not sign)
// or that object is not a signed note. It does not check the signature
// (that is [Store.Verify]'s job): it says which key a writer of the prefix
// needs (see [ErrCheckpointKeyNeeded]). Cost: a LIST of prefix/_digests/
// (one request per 1,000 digests) and, when there is a digest, a GET of
// the newest one's last KiB. Ids longer than 64 bytes are cut (the bucket
// is not trusted).
func SigningKeyID(ctx context.Context, client *s3.Client, bucket string, opts ...Option) (string, error) {
	if client == nil {
		return "", errors.New("s3store: nil *s3.Client")
	}
	return newestKeyID(ctx, &Store{client: client, bucket: bucket, cfg: newConfig(opts)})
}

// newestKeyID is SigningKeyID for s, which needs only its client, bucket
// and prefix.
func newestKeyID(ctx context.Context, s *Store) (string, error) {
	rel, err := s.newestDigest(ctx)
	if err != nil || rel == "" {
		return "", err
	}
	return digestKeyID(ctx, s.client, s.bucket, s.cfg.prefix+rel)
}

// firstDigest returns the key of the first object under prefix/_digests/,
// "" when there is none, with one LIST of at most one key.
func firstDigest(ctx context.Context, client *s3.Client, bucket, prefix string) (string, error) {
	dir := prefix + digestsDir
	out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket:     aws.String(bucket),
		Prefix:     aws.String(dir),
		StartAfter: aws.String(dir), // not a "folder" object named like the prefix
		MaxKeys:    aws.Int32(1),
	})
	if err != nil {
		return "", classify("list digests", bucket, err)
	}
	if len(out.Contents) == 0 {
		return "", nil
	}
	return aws.ToString(out.Contents[0].Key), nil
}

// digestKeyID returns the key id the digest object key says it is signed
// with, read from its last KiB (the id and the signature end a note
// line), cut at 64 bytes ([storage.NoteKeyID]); "" when it is not a
// signed note.
func digestKeyID(ctx context.Context, client *s3.Client, bucket, key string) (string, error) {
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Range: aws.String("bytes=-1024")})
	if err != nil {
		return "", classify("get digest", bucket, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(io.LimitReader(out.Body, 1024))
	if err != nil {
		return "", classify("get digest", bucket, err)
	}
	kid, _ := storage.NoteKeyID(bytes.TrimSuffix(body, []byte("\n")))
	return kid, nil
}

// checkKeyGiven returns an error matching ErrCheckpointKeyNeeded when the
// prefix holds a digest object: its writers sign, and a Store without
// their key would store objects no digest lists. It costs one LIST (at
// most one key) and, only when it refuses, the LIST and GET that name the
// key id of the newest digest.
// A client allowed to write but not to list cannot check: that is logged
// and the Store opens.
func checkKeyGiven(ctx context.Context, client *s3.Client, bucket string, cfg config) error {
	key, err := firstDigest(ctx, client, bucket, cfg.prefix)
	if errors.Is(err, ErrAccessDenied) {
		cfg.logger.Warn("s3store: cannot list the prefix to see whether its writers sign digests; opening without a checkpoint key",
			"bucket", bucket, "prefix", cfg.prefix, "error", err)
		return nil
	}
	if err != nil || key == "" {
		return err
	}
	kid := ""
	if k, _ := newestKeyID(ctx, &Store{client: client, bucket: bucket, cfg: cfg}); k != "" {
		kid = fmt.Sprintf(" with key id %q", k)
	}
	return fmt.Errorf("%w: the writers of s3://%s/%s sign digests (objects under %s)%s; "+
		"open it WithCheckpointKey or WithCheckpointSigner and their key, or WithReadOnly to read it",
		ErrCheckpointKeyNeeded, bucket, cfg.prefix, digestsDir, kid)
}

// checkSameKey returns an error matching ErrCheckpointKeyMismatch when
// the prefix's newest digest object (by last-modified time; the key order
// breaks ties) is not signed with the Store's signer. Digest objects of
// writers sign with the key their Store was given; the newest one says
// which key the prefix's writers sign with now, even after they moved to
// a new key.
func (s *Store) checkSameKey(ctx context.Context) error {
	newest, err := s.newestDigest(ctx)
	if err != nil || newest == "" {
		return err
	}
	body, err := s.get(ctx, newest)
	if err != nil {
		return err
	}
	line := bytes.TrimSuffix(body, []byte("\n"))
	if s.cfg.signer.Signed(line) {
		return nil
	}
	where := fmt.Sprintf("s3://%s/%s%s", s.bucket, s.cfg.prefix, newest)
	kid, ok := storage.NoteKeyID(line)
	switch {
	case !ok:
		return fmt.Errorf("%w: the newest digest %s is not a signed note (run Verify)", ErrCheckpointKeyMismatch, where)
	case kid == s.cfg.signer.KeyID():
		return fmt.Errorf("%w: the newest digest %s is signed with key id %q, and the key given under that id does not check its signature "+
			"(another key under the same id, or an HMAC key for an Ed25519 one or the reverse; or the digest was altered: run Verify)",
			ErrCheckpointKeyMismatch, where, kid)
	}
	return fmt.Errorf("%w: the newest digest %s is signed with key id %q, not with key id %q given", ErrCheckpointKeyMismatch, where, kid, s.cfg.signer.KeyID())
}

// newestDigest returns the prefix-relative key of the newest digest
// object (writers' digests and the legacy note, by last-modified time;
// the key order breaks ties), "" when there is none.
func (s *Store) newestDigest(ctx context.Context) (string, error) {
	var newest string
	var newestAt time.Time
	err := s.list(ctx, digestsDir, "", "", func(rel string, _ bool, m objMeta) bool {
		if _, _, ok := parseDigestRel(rel); !ok && rel != legacyNoteRel {
			return true
		}
		if newest == "" || !m.modified.Before(newestAt) {
			newest, newestAt = rel, m.modified
		}
		return true
	})
	return newest, err
}

// digestState is a signing Store's digest chain. Its fields are guarded
// by Store.dmu, which is never held together with Store.mu.
type digestState struct {
	num     uint64 // number of the last digest stored (0: none)
	prev    string // NoteDigest of the last digest stored
	pending []storage.ObjectDigest
	// head is the chain head of this writer's batches delivered without a
	// gap (batches are uploaded concurrently and may land out of order):
	// every entry up to it is stored.
	head     storage.Chain
	written  uint64 // head.Seq of the last digest stored
	nextSeq  uint64 // the lowest batch number of this writer not delivered
	done     map[uint64]storage.Chain
	final    bool
	lastTime time.Time
}

// signing reports whether the Store writes digests.
func (s *Store) signing() bool { return !s.cfg.readOnly && !s.cfg.signer.IsZero() }

// objectDigest describes o for a digest.
func objectDigest(o *object) storage.ObjectDigest {
	return storage.ObjectDigest{Key: o.rel, SHA256: storage.ObjectSHA256(o.body), Entries: o.n, Ranges: o.ranges}
}

// seqRanges returns the runs of chain positions of the chained lines of
// body, with the hash of each run's last entry.
func seqRanges(body []byte) (n int, rs []storage.SeqRange) {
	var cs []storage.Chain
	for line := range lines(body) {
		n++
		if _, c, ok := storage.SplitChain(line); ok {
			cs = append(cs, c)
		}
	}
	slices.SortFunc(cs, func(a, b storage.Chain) int {
		if c := cmp.Compare(a.Writer, b.Writer); c != 0 {
			return c
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	var acc storage.SeqRanges
	for _, c := range cs {
		acc.Add(c)
	}
	return n, acc.Ranges
}

// stored records a batch object of b as stored, for the next digest.
func (s *Store) stored(o *object) {
	if !s.signing() {
		return
	}
	d := objectDigest(o)
	s.dmu.Lock()
	s.dg.pending = append(s.dg.pending, d)
	full := len(s.dg.pending) >= s.cfg.digestObjects
	s.dmu.Unlock()
	if full {
		select {
		case s.digestNow <- struct{}{}:
		default:
		}
	}
}

// delivered advances the digest head past b when every earlier batch of
// this writer is delivered too.
func (s *Store) delivered(b *batch) {
	if !s.signing() || b.writer != s.writer {
		return
	}
	s.dmu.Lock()
	defer s.dmu.Unlock()
	if s.dg.done == nil {
		s.dg.done = map[uint64]storage.Chain{}
	}
	s.dg.done[b.seq] = b.last
	for {
		c, ok := s.dg.done[s.dg.nextSeq]
		if !ok {
			break
		}
		delete(s.dg.done, s.dg.nextSeq)
		s.dg.nextSeq++
		if c.Seq > s.dg.head.Seq {
			s.dg.head = c
		}
	}
}

// ensureOpen writes the writer's "open" note before its first object, so
// that every object of a signing writer belongs to a writer that signed.
func (s *Store) ensureOpen(ctx context.Context) error {
	if !s.signing() {
		return nil
	}
	s.dmu.Lock()
	defer s.dmu.Unlock()
	if s.dg.num > 0 {
		return nil
	}
	return s.openLocked(ctx)
}

// openLocked writes the legacy note when the prefix has none yet, then the
// writer's "open" note, which names the store by the legacy note's digest.
// Caller holds dmu.
func (s *Store) openLocked(ctx context.Context) error {
	wrote, store, err := s.ensureLegacyNoteLocked(ctx)
	if errors.Is(err, ErrAccessDenied) {
		// A writer allowed to put but not to read (a write-only policy)
		// still writes: without the note, Verify accepts no
		// reference-layout object, which is right for a prefix that has
		// none; a Store with read access writes the note later. Such a
		// writer cannot learn the store's identity either: its open note
		// names no store, and Verify takes it as one written before
		// stores were named.
		s.cfg.logger.Warn("s3store: cannot read the prefix to write or read the legacy note; not written, and this writer's digests name no store", "bucket", s.bucket, "error", err)
	} else if err != nil {
		return err
	}
	// The writer that stored the legacy note says so, with its summary, in
	// its signed open note: Verify then requires that note, so deleting it
	// (with the reference-layout objects it lists, or to have a later
	// writer sign what is there then) is found. Every writer names the
	// store it opens in (the legacy note's digest, made once per prefix
	// and copied with it), so that its session copied into another
	// prefix whose writers sign with the same key is found too.
	return s.writeNoteLocked(ctx, &storage.Note{Type: storage.NoteOpen, Legacy: wrote, Store: store}, false)
}

// ensureLegacyNoteLocked makes sure the prefix holds the signed legacy
// note, so that Verify can tell reference-layout objects that were there
// when signing began from ones added, changed or removed since. The first
// signing Store on a prefix writes it, with If-None-Match: * (two Stores
// starting at once both list the same objects; one put wins, the other's
// 412 is success). It lists every reference-layout object with the
// SHA-256 of its bytes, so it costs, once per prefix, a list of the
// partitions, a list per day and a GET per reference-layout object (none
// on a prefix the reference implementation never wrote); every later
// Store session pays one GET of the note. The note is written before the
// writer's open note, so a store with a signed writer and no legacy note
// holds no reference-layout object legitimately. It returns the note's
// summary when this Store stored it (nil when the note was there, or
// another Store's put won), and the store's identity: the [storage.NoteDigest]
// of the note's line ("" when the note there is over the read limit).
// Caller holds dmu.
func (s *Store) ensureLegacyNoteLocked(ctx context.Context) (*storage.LegacySummary, string, error) {
	if store, ok, err := s.legacyNoteDigest(ctx); ok || err != nil {
		return nil, store, err
	}
	days, err := s.partitions(ctx, time.Time{}, time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return nil, "", err
	}
	var objs []storage.ObjectDigest
	var sum storage.LineDigest
	for _, d := range days {
		p, err := s.listPartition(ctx, d.Format(dateLayout), "")
		if err != nil {
			return nil, "", err
		}
		for _, rel := range p.legacy {
			body, err := s.get(ctx, rel)
			if errors.Is(err, storage.ErrNotFound) {
				continue // deleted since the listing
			}
			if errors.Is(err, ErrObjectTooLarge) {
				// No entry is that large: planted or damaged. Left out of
				// the note (Verify reports it as added) rather than stop
				// every signing writer of the prefix from storing.
				s.cfg.logger.Warn("s3store: legacy note leaves out an object over the read limit", "bucket", s.bucket, "object", rel)
				continue
			}
			if err != nil {
				return nil, "", err
			}
			objs = append(objs, storage.ObjectDigest{Key: rel, SHA256: storage.ObjectSHA256(body), Entries: 1})
			sum.Add(bytes.TrimSuffix(body, []byte("\n")))
		}
	}
	ls := sum.Summary()
	n := &storage.Note{Type: storage.NoteLegacy, Writer: s.writer, Time: time.Now().UTC().Format(time.RFC3339Nano), Legacy: &ls, Objects: objs}
	line, err := storage.EncodeNote(n, s.cfg.signer)
	if err != nil {
		return nil, "", fmt.Errorf("s3store: legacy note: %w", err)
	}
	created, err := s.putNewCreated(ctx, s.cfg.prefix+legacyNoteRel, line, true)
	if err != nil {
		return nil, "", fmt.Errorf("s3store: store legacy note: %w", err)
	}
	if !created {
		// Another Store's put won: its note names the store.
		store, ok, err := s.legacyNoteDigest(ctx)
		if err == nil && !ok {
			err = fmt.Errorf("s3store: legacy note: gone right after another writer stored it")
		}
		return nil, store, err
	}
	return &ls, storage.NoteDigest(line[:len(line)-1]), nil
}

// legacyNoteDigest returns the store's identity, the NoteDigest of the
// legacy note's line, with ok false when the prefix has no legacy note. A
// note over the read limit (planted: no Store writes one that large;
// Verify reports it) gives "" and ok, so that writers still store.
func (s *Store) legacyNoteDigest(ctx context.Context) (store string, ok bool, err error) {
	body, err := s.get(ctx, legacyNoteRel)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return "", false, nil
	case errors.Is(err, ErrObjectTooLarge):
		s.cfg.logger.Warn("s3store: legacy note over the read limit; this writer's digests name no store", "bucket", s.bucket, "error", err)
		return "", true, nil
	case err != nil:
		return "", false, fmt.Errorf("s3store: read legacy note: %w", err)
	}
	return storage.NoteDigest(bytes.TrimSuffix(body, []byte("\n"))), true, nil
}

// digest writes a digest of the objects stored since the last one, if
// there are any or the head moved (or final: always, once).
func (s *Store) digest(ctx context.Context, final bool) error {
	if !s.signing() {
		return nil
	}
	s.dmu.Lock()
	defer s.dmu.Unlock()
	if s.dg.final || s.dg.num == 0 {
		return nil // nothing was ever stored by this Store, or closed
	}
	if !final && len(s.dg.pending) == 0 && s.dg.head.Seq == s.dg.written {
		return nil
	}
	return s.writeNoteLocked(ctx, &storage.Note{Type: storage.NoteBatchDigest, Final: final}, true)
}

// writeNote appends n (a removal note) to the writer's digest chain.
func (s *Store) writeNote(ctx context.Context, n *storage.Note) error {
	if !s.signing() {
		return nil
	}
	s.dmu.Lock()
	defer s.dmu.Unlock()
	if s.dg.num == 0 {
		if err := s.openLocked(ctx); err != nil {
			return err
		}
	}
	return s.writeNoteLocked(ctx, n, true)
}

// writeNoteLocked signs n as the writer's next digest object, with the
// pending objects when withPending, stores it and publishes it to the
// witness. Caller holds dmu.
func (s *Store) writeNoteLocked(ctx context.Context, n *storage.Note, withPending bool) error {
	taken := 0
	if withPending {
		taken = len(s.dg.pending)
		n.Objects = append(slices.Clip(s.dg.pending), n.Objects...)
	}
	n.Writer = s.writer
	n.Seq, n.Hash = s.dg.head.Seq, s.dg.head.Hash
	n.Time = time.Now().UTC().Format(time.RFC3339Nano)
	n.PrevNote = s.dg.prev
	n.Digest = s.dg.num + 1
	line, err := storage.EncodeNote(n, s.cfg.signer)
	if err != nil {
		return fmt.Errorf("s3store: digest: %w", err)
	}
	if err := s.putNew(ctx, s.cfg.prefix+digestRel(s.writer, n.Digest), line, true); err != nil {
		return fmt.Errorf("s3store: store digest %d: %w", n.Digest, err)
	}
	s.dg.num = n.Digest
	s.dg.prev = storage.NoteDigest(line[:len(line)-1])
	s.dg.pending = slices.Delete(s.dg.pending, 0, taken)
	s.dg.written = n.Seq
	s.dg.final = n.Final
	s.dg.lastTime = time.Now()
	if s.cfg.witness != nil {
		if _, err := s.cfg.witness.Write(line); err != nil {
			s.cfg.logger.Warn("s3store: witness write failed; the witness lags behind the store", "bucket", s.bucket, "digest", n.Digest, "error", err)
		}
	}
	return nil
}

// digestLoop writes a digest every interval (and when enough objects are
// pending) until stop is closed.
func (s *Store) digestLoop(stop <-chan struct{}) {
	defer close(s.digestDone)
	t := time.NewTicker(s.cfg.digestInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		case <-s.digestNow:
		}
		if err := s.digest(s.bgCtx, false); err != nil {
			s.cfg.logger.Warn("s3store: digest not written, will retry", "bucket", s.bucket, "error", err)
		}
	}
}
