// Package s3store is a [storage.Backend] that keeps audit entries in an S3
// bucket (AWS S3 or any S3-compatible server), through an aws-sdk-go-v2
// *s3.Client that the caller configures. It is its own package so that
// programs that do not use S3 do not compile the AWS SDK.
//
// # Client for a custom endpoint
//
// For AWS, build the client from config.LoadDefaultConfig as usual. For an
// S3-compatible server (versitygw, MinIO, Ceph RGW, ...) set the endpoint,
// path-style addressing and credentials:
//
//	client := s3.New(s3.Options{
//		Region:       "us-east-1",
//		BaseEndpoint: aws.String("http://127.0.0.1:7070"),
//		UsePathStyle: true,
//		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
//	})
//	st, err := s3store.New(ctx, client, "audit-bucket",
//		s3store.WithPrefix("prod/audit"),
//		s3store.WithSpoolDir("/var/lib/myapp/audit-spool"))
//	if err != nil { ... }         // errors.Is(err, s3store.ErrBucketNotFound), s3store.ErrAccessDenied
//	defer st.Close()
//
// The client's retryer (the SDK's standard one by default: throttling, 5xx
// and connection errors, with backoff) handles single requests; the Store
// adds its own retry loop around batch uploads (see below).
//
// # Object layout
//
// Every key starts with the prefix ([WithPrefix], default [DefaultPrefix]).
// Entries are partitioned by the UTC day of their Timestamp:
//
//	prefix/YYYY-MM-DD/<writer>-<seq>.0.<minNs>-<maxNs>.<n>.jsonl
//	prefix/YYYY-MM-DD/<writer>-<seq>.<gen>.jsonl  (rewritten, gen >= 1)
//	prefix/YYYY-MM-DD/<id>.json                   (reference layout, read only)
//	prefix/_ids/YYYY-MM-DD/<minID>_<maxID>_<day>_<batch name>
//	prefix/_ids/other/<day>_<batch name>
//
// A batch object holds many entries, one wire-format JSON object per line,
// sorted by timestamp. Its name carries everything the Store needs without
// reading it: writer is 16 random hex digits per Store, seq the batch
// number, minNs and maxNs the first and last entry's nanoseconds since
// midnight, n the entry count. Delete and DeleteBefore replace a batch by
// its next generation under a name that depends only on the batch and the
// generation number, so that the conditional put of that name is a lock on
// the generation; such objects are read to be counted (an empty one is
// not). Readers use the newest generation of each batch. A superseded
// generation is never deleted, which would free its name for a late
// rewrite: it is overwritten with a small tombstone object that readers
// skip, so that its entries are gone while its name stays taken. Only
// retention deleting a whole day frees names, and it lists the day until
// it is empty. Every object is written with If-None-Match: *, so no object
// is overwritten, with one exception: the tombstone is put over the
// superseded generation, conditional on the ETag its listing gave
// (If-Match; unconditional when the listing gave no ETag or the server
// ignores If-Match). On a bucket with versioning, that overwritten
// generation and every object Delete or DeleteBefore deletes stay as
// noncurrent versions, content included, until a lifecycle rule expires
// them. Objects in the reference implementation's layout,
// one entry per object named by its id, are read by every query as well, so
// a bucket that implementation wrote stays queryable (point WithPrefix at
// its prefix); the Store never writes that layout.
//
// Id markers are empty objects that make Read by id cheap. A UUIDv7 id
// carries its creation time, so the markers of a batch object are filed
// under the UTC day of its ids, with the range of ids they cover; ids of
// any other form share the "other" bucket. They are uploaded before their
// batch object, so a crash in between leaves at most a marker naming no
// object (Read skips it), never an object Read by id cannot find. Read by
// id finds nothing without its marker (it does not scan batch objects);
// [Store.Verify] reports every missing marker.
//
// # When Write returns
//
// Write and WriteBatch validate and encode the entries, chain them (each
// Store is a writer: its entries get consecutive positions in its hash
// chain, through the shared codec, see [storage.Chainer]) and add them to
// the open batch in memory; with [WithSpoolDir] they are also appended to the
// batch's spool file (written to the OS, not fsynced, like the file
// backend's default) before Write returns. A batch is sealed when it holds
// [WithMaxBatchEntries] entries or [WithMaxBatchBytes] bytes, when its
// first entry has waited [WithMaxBatchDelay], or on Flush, Close and any
// query; sealed batches are uploaded by [WithUploadConcurrency] workers, one
// object per UTC day of their entries plus their id markers. So 1,000
// entries written and flushed cost two PUT requests, not 1,000.
//
// An accepted entry is not dropped: a failed upload is retried with
// capped, jittered exponential backoff for as long as the Store is open.
// While the server is unreachable, entries keep being accepted (up to
// [WithMaxPendingBytes], then Write blocks on its ctx) and, with a spool
// directory, they are on local disk; when the server is back the batches go
// up. Object keys depend only on the writer, the batch number and the
// entries, so a retry of a request that did land, or a batch uploaded again
// from its spool file by a later Store (after a crash, or after Close gave
// up), finds its object already there (412) and writes nothing twice.
//
// Access denied and a missing bucket are never swallowed: New checks the
// bucket; a permanent upload error makes Flush, queries and later Writes
// fail with it (errors.Is [ErrAccessDenied] / [ErrBucketNotFound]) while
// the entries stay pending and retried; Close reports what it could not
// deliver with [ErrUndelivered].
//
// Without a spool directory, entries not yet uploaded live only in memory:
// a crash of the process loses them (at most [WithMaxBatchDelay] worth
// plus whatever an outage held back). Use WithSpoolDir where that matters.
// DeleteBefore removing a whole day and a stale spool file of that day
// uploaded afterwards would bring its entries back (Verify reports the
// batch as restored when the removal had deleted it, and takes it for a
// late upload otherwise); keep spool files younger than the retention
// period (a Store delivers them at New).
//
// Flush and Close return once everything accepted is stored. Queries (Read,
// ListEntries, Entries, Count) and deletes flush first, so they see every
// entry accepted before the call.
//
// # Costs in requests
//
//   - 1,000 entries written and flushed: one PUT per UTC day they fall in
//     plus one marker PUT per day of their ids (2 in the common case).
//   - A signing Store's session: one GET of the legacy note (it names the
//     store); the first on a prefix instead lists the days and PUTs the
//     note (a GET per reference-layout object, if there are any). A Store without a key
//     pays one LIST (at most one key) at New to see that the prefix's
//     writers do not sign; one opened [WithReadOnly] pays neither.
//   - Read by UUIDv7 id: 3 (list the markers of the id's day, list the
//     batch's generations, get the batch), plus one get per other batch
//     whose id range covers the id. Other ids: 1 list of the "other"
//     markers and a get per batch holding such ids; a reference-layout id
//     not found there costs 1 list of the partitions plus 1 get per day.
//   - ListEntries / Entries over [start, end]: one list per day in range
//     (every calendar day, Feb 29 and the 31st included; for ranges longer
//     than three days, first one list of the days that exist), then a get
//     per batch object whose time span overlaps the range, plus one per
//     reference-layout object of those days.
//   - Count: one list per 1,000 objects; no object is read.
//   - DeleteBefore: days before t's day go as whole partitions (list plus
//     one multi-object delete per 1,000 objects, nothing read, and a last
//     list that finds the day empty; a signing Store adds two note PUTs
//     per day); in t's day the batch objects that
//     start before t are rewritten (a get, two puts and a list each).
//   - Delete: Read's requests plus one PUT (the next generation of the batch
//     without the entry, conditional), one LIST and one PUT (the tombstone
//     over the old generation). Readers use the newest generation, so a
//     crash in between cannot resurrect or duplicate an entry; two
//     rewrites of one generation cannot both succeed, ever.
//
// # Tamper evidence
//
// The same model as the file backend's, through the one chain codec in
// storage ([storage.Chainer], [storage.Note], [storage.Signer]):
//
//   - Per-writer chains. Each Store is a writer (its 16-hex writer id, the
//     one in its object names; a collector replica is a Store). It chains
//     every entry it accepts, in the order it accepts them: a batch
//     object's lines carry chain positions of one writer (sorted by
//     timestamp inside the object, so verification orders them by
//     position, not by line).
//
//   - Digest objects (with [WithCheckpointKey] or [WithCheckpointSigner]).
//     Per writer, CloudTrail-style, signed [storage.Note] lines stored at
//     prefix/_digests/<writer>/<n, 20 digits>.json (If-None-Match: *),
//     numbered 1, 2, 3, ... and each holding the NoteDigest of the one
//     before: an "open" note before the writer's first object, a "digest"
//     note per interval ([WithDigestInterval]), at Flush and (final) at
//     Close, listing every batch object stored since the previous digest
//     with its SHA-256, entry count and chain runs, and the writer's chain
//     head (the last entry before which every entry of the writer is
//     stored). Delete and DeleteBefore write "removal" notes in the same
//     chain: the generation a rewrite replaces, the new generation's
//     SHA-256 and the chain runs removed (written before the new
//     generation, which the next digest then lists as stored), or the day
//     retention removes (written before the day is deleted; once the day
//     is empty a second note, Done, names the batches deleted). Without a
//     key no digest is written; the Store keeps no key of its own in the
//     bucket. A Store opened for writing without a key on a prefix that
//     holds digests is refused ([ErrCheckpointKeyNeeded]): the objects it
//     stored would be listed by no digest, and Verify with the writers'
//     key would report them as tampering. Give it their key, or open it
//     [WithReadOnly] to read.
//
//   - [Store.Verify] given the key checks, besides every chain link: the
//     signatures, numbering and chain of every writer's digests; that
//     every listed object is present with its SHA-256 unless a removal
//     note accounts for it; that every object present is listed (objects a
//     running writer stored after its last digest are reported as
//     unconfirmed, when each of their lines is in that writer's own
//     chain); that every writer's signed head is present and nothing
//     follows a final digest; that no batch a finished retention deleted
//     is in its day again ([verify.ProblemRestored]: a copy from before
//     put back; batches written into the day afterwards are new).
//
//   - Reference-layout objects (prefix/<day>/<id>.json, no chain) are
//     legacy: a warning, not tampering, in a bucket the reference
//     implementation wrote. The first signing Store on a prefix signs,
//     before its open note, a "legacy" note at prefix/_digests/_legacy.json
//     (If-None-Match: *, so two Stores starting at once write one)
//     listing every reference-layout object present then with its
//     SHA-256; Delete and retention of such objects write removal notes
//     naming them (or their day). Verify given the key requires the
//     reference-layout objects present to be exactly those the note
//     lists, unchanged, less those removal notes account for, and reports
//     any other as [verify.ProblemLegacyChanged] naming the object: added
//     (a forged entry in the reference layout), changed or deleted. The
//     Store that stores the note carries its summary in its signed open
//     note, so Verify given the key also requires the note itself: deleted
//     it is [verify.ProblemMissing], signed again by a later writer over
//     what was left then [verify.ProblemLegacyChanged]. A
//     store whose writers signed but that has no legacy note (writers
//     older than the note, or without read access to the bucket, which
//     log a warning and write none) may hold no reference-layout object.
//
//   - Store identity. The legacy note, made once per prefix, also names
//     the store: every writer's open note carries its
//     [storage.NoteDigest] ([storage.Note].Store; the writer that stores
//     the note computes it, any later one reads the note). Verify given
//     the key requires every open note that names a store to name this
//     prefix's, and reports one that names another as
//     [verify.ProblemUnknownWriter] naming the writer and both ids: a
//     writer session of another prefix whose writers sign with the same
//     key, copied in whole (objects, id markers, digests), or this
//     prefix's legacy note replaced by another's. Open notes naming a
//     store while the legacy note is gone give [verify.ProblemMissing].
//     The identity is not the bucket or prefix name: a store copied or
//     moved whole to another bucket or prefix takes its legacy note
//     along, verifies as before, and its new writers name the same store.
//     Open notes that name no store are taken as before: those of writers
//     older than store identities, and those of a writer without read
//     access (it cannot read the legacy note; it logs a warning) or that
//     finds a legacy note over the read limit. A session of such a writer
//     copied from another prefix, or a session of a copy of this store
//     (same legacy note) written after the copy, is not told apart: give
//     such stores keys of their own.
//
//   - Witnesses ([WithWitness], [WithVerifyWitness]). What the store signs
//     last cannot be vouched for by the store: deleting the newest objects
//     together with the digests listing them, a whole writer session, or
//     rolling the bucket back to an older copy leaves a consistent, smaller
//     store. A witness receives every digest line as it is stored; Verify
//     given those lines requires each in the store. Without a witness the
//     report names these as what it cannot rule out
//     ([UnverifiableWithoutWitness]).
//
//   - Keys. A checkpoint key shorter than [storage.MinHMACKeyLen] is an
//     error (matching [storage.ErrBadKey]), never a fallback.
//
//   - Object Lock ([WithObjectLock]). On a bucket created with Object
//     Lock, batch objects, their rewritten generations and digest objects
//     are written with a retention mode (GOVERNANCE or COMPLIANCE) and a
//     retain-until date period after the upload, so the server refuses to
//     change or delete them until then. DeleteBefore keeps whatever is
//     still under retention (and logs it); Delete of an entry in a locked
//     object fails with [ErrObjectLocked] before writing anything.
//
// A crash during a rewrite leaves either the old generation current and
// unchanged, with a removal note naming a generation never written, which
// Verify reports as an unfinished removal ([verify.WarningUnfinishedRemoval],
// not a problem; deleting again finishes it), or the new generation as
// that note signed it. Once a digest lists the new generation as stored,
// its absence is reported as missing.
//
// A retention stopped between its note and an empty day leaves objects
// of the day in place: a [verify.WarningUnfinishedRemoval] naming the
// day, until a removal of the day finishes (retention again).
//
// Known limits: a day removed by a writer older than Done notes cannot
// tell its objects put back from a removal that stopped (a warning, not
// a problem); restored objects are reported by Verify only, and readers
// (Count, queries) still count their entries; sessions whose open note
// names no store are not bound to it (see "Store identity"); a new
// generation deleted, and the old one put back as it was, before the
// writer's next digest lists the new one is taken for an unfinished
// removal (the entries it removes are back, none is lost).
//
// Cost: one PUT per digest (one per interval per writer that stored
// something, one at each Flush that followed an upload, one at Close) and
// one for the open note; with the defaults, about 0.02 requests per 1,000
// entries on top of the batches' 0.4. Each Store session adds one GET of
// the legacy note (about 140 bytes per reference-layout object it lists,
// a few hundred bytes on a prefix without any); the first on a prefix writes it: a list of the
// partitions, a list per day and a GET per reference-layout object (none
// on a prefix the reference implementation never wrote), and a PUT. The
// note holds about 140 bytes per reference-layout object, and Verify
// given the key reads every such object once.
//
// # Concurrency and Close
//
// All methods are safe for concurrent use, also by several processes on
// one bucket (each Store has its own writer id). Close is idempotent;
// afterwards every method fails with an error matching [storage.ErrClosed].
package s3store
