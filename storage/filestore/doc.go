// Package filestore is the file backend: a [storage.Backend] that keeps
// audit entries as JSON lines, one file per UTC day of the entry timestamp
// (audit_YYYYMMDD.jsonl, rotated to audit_YYYYMMDD_NNN.jsonl), with an
// index per file, an flock'd writer lock, and a per-writer hash chain with
// signed checkpoints that [Verify] checks. It reads stores written by the
// reference Python implementation (rotalabs-comply).
//
// Entries are encoded, parsed and chained by the codec in package storage;
// this package only decides where the bytes go.
//
//	st, err := filestore.New("./audit-data")
//	if err != nil { ... }           // errors.Is(err, filestore.ErrLocked)
//	defer st.Close()
//	rep, err := filestore.Verify(ctx, "./audit-data")
package filestore
