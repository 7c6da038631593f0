// Package storage defines the audit entry wire format ([AuditEntry]), the
// [Backend] interface every store implements, and two backends: files
// ([FileStorage], JSONL, one file per UTC day) and memory ([MemoryStorage]).
// The S3 backend lives in storage/s3store so that users without S3 do not
// compile the AWS SDK.
//
// A backend is usually driven by an otelaudit.Logger or the exporter, but it
// can be used directly:
//
//	st, err := storage.NewFileStorage("./audit-data")
//	if err != nil { ... }
//	defer st.Close()
//	e, err := st.Read(ctx, id)
//	if errors.Is(err, storage.ErrNotFound) { ... }
package storage
