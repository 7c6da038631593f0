// Package storage defines the audit entry wire format ([AuditEntry]) and
// its one codec: the entry encoder and parser ([AuditEntry.AppendJSON],
// [ParseEntry], [EntryKey]), the hash chain ([Chainer], [SplitChain],
// [ChainHasher]) and the signed chain records ([Note], [EncodeNote],
// [ParseNote]) that every persisting backend writes and that verification
// reads. It also defines the [Backend] interface every store implements
// and the memory backend ([MemoryStorage]).
//
// # Chain format
//
// A chained entry is its wire form ([AuditEntry.AppendJSON]) whose last key
// is, in chain format 2 ([ChainVersion], what every writer writes),
//
//	,"chain":{"v":2,"w":"<writer>","n":<seq>,"p":"<prev hash>","h":"<hash>"}}
//
// with
//
//	h = hex(SHA-256("otelaudit-chain-v2\x00" w "\x00" n "\x00" p "\x00" SHA-256(prefix)))
//
// and in chain format 1 (lines without a "v" member, written before
// format 2 existed; [Chain].Version 0)
//
//	,"chain":{"w":"<writer>","n":<seq>,"p":"<prev hash>","h":"<hash>"}}
//
// with
//
//	h = hex(SHA-256("otelaudit-chain-v1\x00" w "\x00" n "\x00" p "\x00" prefix))
//
// where prefix is the exact stored bytes before `,"chain":` and
// SHA-256(prefix) its raw 32-byte digest ([PrefixDigest]). A verifier
// hashes the bytes as stored, with no decoding and no re-encoding, and
// takes the format from the line: it never tries one hash, then the other
// ([ChainHasher.Matches]). Each writer session has its own writer id and
// numbers its entries 1, 2, 3, ... in the order it appends them; p is the
// previous entry's hash ("" for n = 1). A chain may hold both formats (a
// format-1 chain resumed with [ResumeChainer] goes on in format 2).
//
// Format 2 exists for speed: the digest of an entry's bytes does not
// depend on its place in the chain, so a writer computes it before it
// takes the lock that orders its store's chain ([Chainer.AppendLineDigest]);
// under the lock only the fixed-size outer hash (about 150 bytes) remains,
// whatever the entry's size. It is as tamper-evident as format 1. A second
// prefix with the same (w, n, p) and the same h needs either two prefixes
// with one SHA-256 digest or two outer inputs with one SHA-256 digest:
// a SHA-256 collision either way (the digest-of-a-digest argument of Merkle
// trees and of RFC 9162's leaf hashes). The outer input parses one way
// only: w and p are ASCII without NUL, n is decimal and the digest has a
// fixed length and comes last. The two formats hash under different domain
// strings, so a line that claims one format with the other's hash fails.
// The chain object has exactly one accepted spelling ([SplitChain]: fixed
// key order, no "v":1, no leading zeros), so every changed byte of a line
// fails verification.
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
