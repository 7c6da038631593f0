// Package storage defines the audit entry wire format ([AuditEntry]) and
// its one codec: the entry encoder and parser ([AuditEntry.AppendJSON],
// [ParseEntry], [EntryKey]), the hash chain ([Chainer], [SplitChain],
// [ChainHasher]) and the signed chain records ([Note], [EncodeNote],
// [ParseNote]) that every persisting backend writes and that verification
// reads. It also defines the [Backend] interface every store implements and
// the memory backend ([MemoryStorage]).
//
// The backends that persist live in their own packages: storage/filestore
// (JSONL files, one per UTC day) and storage/s3store (S3, so that users
// without S3 do not compile the AWS SDK). storage/storagetest is the
// conformance suite every backend passes.
//
// A backend is usually driven by an otelaudit.Logger or the exporter, but it
// can be used directly:
//
//	st, err := filestore.New("./audit-data")
//	if err != nil { ... }
//	defer st.Close()
//	e, err := st.Read(ctx, id)
//	if errors.Is(err, storage.ErrNotFound) { ... }
package storage
