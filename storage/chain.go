package storage

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strconv"

	"github.com/otelaudit/otelaudit-go/internal/jsontext"
)

// The chain codec: the one place that writes, parses and hashes the
// tamper-evidence records of every persisting backend and of verification.
// The formats and why format 2 is as strong as format 1 are in the package
// documentation (doc.go, "Chain format").
//
// Checkpoints and other signed records ([Note]) are one JSON object per
// line, ending in ,"kid":"<key id>","sig":"<hex signature of the bytes
// before ,"kid":>"}, each holding the [NoteDigest] of the record before it.
const (
	chainDomainV1 = "otelaudit-chain-v1\x00"
	chainDomainV2 = "otelaudit-chain-v2\x00"
)

// ChainVersion is the chain format this package writes ([Chain.Version]).
// Format 1 (Version 0: its lines have no "v" member) is read and verified
// too.
const ChainVersion = 2

// chainMarker precedes the chain object at the end of a chained line.
var chainMarker = []byte(`,"chain":{`)

// ChainHasher checks chain hashes, reusing its buffers. The zero value is
// ready to use; it is not safe for concurrent use.
type ChainHasher struct {
	sum [sha256.Size]byte
	hex [2 * sha256.Size]byte
	// head holds the hashed bytes before the prefix (format 1) or the
	// whole outer input (format 2), reused: a slice handed to the
	// hash.Hash interface escapes, so building them on the stack would
	// allocate on every entry.
	head []byte
	h    hash.Hash // format 1's streaming hash
}

// PrefixDigest returns SHA-256(prefix): the digest of an entry's encoded
// bytes that its format-2 chain hash covers. It depends on the entry
// alone, not on its place in a chain, so a writer computes it before it
// takes the lock that orders its chain and passes it to
// [Chainer.AppendLineDigest]. Safe for concurrent use.
func PrefixDigest(prefix []byte) [sha256.Size]byte {
	return sha256.Sum256(prefix)
}

// appendHead appends the bytes every format hashes before the entry:
// domain, writer, seq and prev, each but the domain followed by a NUL.
func appendHead(b []byte, domain, writer string, seq uint64, prev string) []byte {
	b = append(b, domain...)
	b = append(b, writer...)
	b = append(b, 0)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, 0)
	b = append(b, prev...)
	return append(b, 0)
}

// digestV2 returns the hex format-2 hash of the entry whose prefix digest
// is d, at position seq of writer's chain after prev.
func (c *ChainHasher) digestV2(writer string, seq uint64, prev string, d *[sha256.Size]byte) []byte {
	b := appendHead(c.head[:0], chainDomainV2, writer, seq, prev)
	b = append(b, d[:]...)
	c.head = b
	c.sum = sha256.Sum256(b)
	hex.Encode(c.hex[:], c.sum[:])
	return c.hex[:]
}

// digestV1 returns the hex format-1 hash of prefix at position seq of
// writer's chain after prev.
func (c *ChainHasher) digestV1(writer string, seq uint64, prev string, prefix []byte) []byte {
	if c.h == nil {
		c.h = sha256.New()
	}
	h := c.h
	h.Reset()
	c.head = appendHead(c.head[:0], chainDomainV1, writer, seq, prev)
	h.Write(c.head)
	h.Write(prefix)
	hex.Encode(c.hex[:], h.Sum(c.sum[:0]))
	return c.hex[:]
}

// Matches reports whether ch.Hash is the chain hash of prefix at ch's
// position, in the format ch.Version names (format 1 for 0, format 2 for
// [ChainVersion]; false for any other). It does not allocate once its
// buffers have grown.
func (c *ChainHasher) Matches(prefix []byte, ch Chain) bool {
	var got []byte
	switch ch.Version {
	case 0:
		got = c.digestV1(ch.Writer, ch.Seq, ch.Prev, prefix)
	case ChainVersion:
		d := PrefixDigest(prefix)
		got = c.digestV2(ch.Writer, ch.Seq, ch.Prev, &d)
	default:
		return false
	}
	return string(got) == ch.Hash
}

// MatchesReader is [ChainHasher.Matches] for a prefix read from r, for a
// line too long to hold in memory: the prefix is hashed as it is read.
// The error is r's.
func (c *ChainHasher) MatchesReader(r io.Reader, ch Chain) (bool, error) {
	h := sha256.New()
	switch ch.Version {
	case 0:
		c.head = appendHead(c.head[:0], chainDomainV1, ch.Writer, ch.Seq, ch.Prev)
		h.Write(c.head)
	case ChainVersion:
	default:
		return false, nil
	}
	if _, err := io.Copy(h, r); err != nil {
		return false, err
	}
	if ch.Version == 0 {
		hex.Encode(c.hex[:], h.Sum(c.sum[:0]))
		return string(c.hex[:]) == ch.Hash, nil
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return string(c.digestV2(ch.Writer, ch.Seq, ch.Prev, &d)) == ch.Hash, nil
}

// Chainer extends one writer's hash chain. It is a small value: a copy is
// a tentative chain that the owner commits by assigning it back (the file
// backend does so only after the lines reached the file). Not safe for
// concurrent use.
type Chainer struct {
	writer string
	seq    uint64
	head   string
	h      *ChainHasher
}

// NewChainer starts the chain of a new writer session. Writer ids must be
// non-empty and need no JSON escaping (ASCII letters, digits, '-', '_');
// [NewWriterID] makes one.
func NewChainer(writer string) Chainer {
	return Chainer{writer: writer, h: new(ChainHasher)}
}

// ResumeChainer continues a chain after the entry whose chain is last.
func ResumeChainer(last Chain) Chainer {
	return Chainer{writer: last.Writer, seq: last.Seq, head: last.Hash, h: new(ChainHasher)}
}

// NewWriterID returns a random writer id (16 lowercase hex digits).
func NewWriterID() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand.Read crashes the program instead)
	return hex.EncodeToString(b[:])
}

// Writer returns the writer id.
func (c *Chainer) Writer() string { return c.writer }

// Seq returns the position of the last entry appended (0 before the first).
func (c *Chainer) Seq() uint64 { return c.seq }

// Head returns the hash of the last entry appended ("" before the first).
func (c *Chainer) Head() string { return c.head }

// AppendLine appends prefix (from [AuditEntry.AppendPrefix]), the chain
// key for the next position (format [ChainVersion]), the closing '}' and
// '\n' to dst, and advances the chain. It is [Chainer.AppendLineDigest]
// with the digest computed here.
func (c *Chainer) AppendLine(dst, prefix []byte) []byte {
	d := PrefixDigest(prefix)
	return c.AppendLineDigest(dst, prefix, &d)
}

// AppendLineDigest is [Chainer.AppendLine] for a prefix whose
// [PrefixDigest] the caller computed already (d must be it, or the line
// fails verification): it hashes only the chain position and d, about 150
// bytes whatever the entry's size, so that writers can digest their
// entries concurrently, before they take the lock that orders the chain.
func (c *Chainer) AppendLineDigest(dst, prefix []byte, d *[sha256.Size]byte) []byte {
	if c.h == nil {
		c.h = new(ChainHasher)
	}
	c.seq++
	hsh := string(c.h.digestV2(c.writer, c.seq, c.head, d))
	dst = append(dst, prefix...)
	dst = appendChain(dst, Chain{Version: ChainVersion, Writer: c.writer, Seq: c.seq, Prev: c.head, Hash: hsh})
	dst = append(dst, "}\n"...)
	c.head = hsh
	return dst
}

// AppendPrefix appends the wire form of e without its chain and without
// the closing '}': the bytes a chain hash covers, which
// [Chainer.AppendLine] completes into a stored line. It fails as
// [AuditEntry.AppendJSON] does.
func (e *AuditEntry) AppendPrefix(dst []byte) ([]byte, error) {
	c := *e
	c.Chain = nil
	b, err := c.AppendJSON(dst)
	if err != nil {
		return dst, err
	}
	return b[:len(b)-1], nil
}

// appendChain appends `,"chain":{...}` (without the entry's closing '}'),
// with a "v" member for any format but 1.
func appendChain(b []byte, ch Chain) []byte {
	b = append(b, chainMarker...)
	if ch.Version != 0 {
		b = append(b, `"v":`...)
		b = strconv.AppendUint(b, uint64(ch.Version), 10)
		b = append(b, ',')
	}
	b = append(b, `"w":`...)
	b = jsontext.AppendString(b, ch.Writer)
	b = append(b, `,"n":`...)
	b = strconv.AppendUint(b, ch.Seq, 10)
	b = append(b, `,"p":`...)
	b = jsontext.AppendString(b, ch.Prev)
	b = append(b, `,"h":`...)
	b = jsontext.AppendString(b, ch.Hash)
	return append(b, '}')
}

// MaxChainSuffix is an upper bound of the bytes [Chainer.AppendLine] adds
// to a prefix for writer (chain key, closing brace and newline).
func MaxChainSuffix(writer string) int { return len(writer) + 196 }

// SplitChain finds the chain key at the end of a stored line (without its
// '\n'). It returns the prefix the hash covers and the chain; ok is false
// when the line does not end in a well-formed chain key (an unchained
// entry, or damage). The chain object of format 2 starts with "v":2; one
// without "v" is format 1 (c.Version 0); any other "v" (including "v":1,
// which format 1 never writes) is not well-formed.
func SplitChain(line []byte) (prefix []byte, c Chain, ok bool) {
	i := lastChainMarker(line)
	if i < 0 {
		return nil, c, false
	}
	rest := line[i+len(chainMarker):]
	if r, v2 := bytes.CutPrefix(rest, []byte(`"v":2,`)); v2 {
		rest, c.Version = r, ChainVersion
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`"w":`)); !ok {
		return nil, c, false
	}
	if c.Writer, rest, ok = cutPlainString(rest); !ok {
		return nil, c, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"n":`)); !ok {
		return nil, c, false
	}
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	n, err := strconv.ParseUint(string(rest[:j]), 10, 64)
	if err != nil || j > 1 && rest[0] == '0' {
		// A leading zero is not JSON, and "n":01 would hash as 1: the
		// chain object has exactly one accepted form, so that every
		// changed byte of it fails verification.
		return nil, c, false
	}
	c.Seq = n
	if rest, ok = bytes.CutPrefix(rest[j:], []byte(`,"p":`)); !ok {
		return nil, c, false
	}
	if c.Prev, rest, ok = cutPlainString(rest); !ok {
		return nil, c, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"h":`)); !ok {
		return nil, c, false
	}
	if c.Hash, rest, ok = cutPlainString(rest); !ok {
		return nil, c, false
	}
	if !bytes.Equal(rest, []byte("}}")) {
		return nil, c, false
	}
	return line[:i], c, true
}

// chainTail is how far from the end of a line the chain key of a
// well-formed chained line starts, for writer ids of up to 64 bytes.
const chainTail = 256

// lastChainMarker returns bytes.LastIndex(line, chainMarker): first
// within the last chainTail bytes (where a chained line keeps it, so that
// a verifier does not search a whole 1 KiB line backwards), then in the
// rest. The result is the same either way: any later occurrence lies in
// the tail.
func lastChainMarker(line []byte) int {
	if len(line) <= chainTail {
		return bytes.LastIndex(line, chainMarker)
	}
	off := len(line) - chainTail
	// Forward searches (vectorised) for the last occurrence in the tail;
	// a backward search is a byte-by-byte rolling hash.
	last := -1
	for tail := line[off:]; ; {
		i := bytes.Index(tail[last+1:], chainMarker)
		if i < 0 {
			break
		}
		last += 1 + i
	}
	if last >= 0 {
		return off + last
	}
	return bytes.LastIndex(line[:off+len(chainMarker)-1], chainMarker)
}

// cutPlainString reads a JSON string without escapes (writer ids, key ids
// and hex hashes never need any).
func cutPlainString(b []byte) (string, []byte, bool) {
	if len(b) < 2 || b[0] != '"' {
		return "", b, false
	}
	e := bytes.IndexByte(b[1:], '"')
	if e < 0 || bytes.IndexByte(b[1:1+e], '\\') >= 0 {
		return "", b, false
	}
	return string(b[1 : 1+e]), b[e+2:], true
}

// NoteDigest is the lowercase hex SHA-256 of a stored record line (without
// its '\n'): what [Note.PrevNote] of the next record holds, and what
// recovery notes record of a cut-off tail.
func NoteDigest(line []byte) string {
	s := sha256.Sum256(line)
	return hex.EncodeToString(s[:])
}

// Note kinds ([Note.Type]).
const (
	NoteOpen       = "open"       // a writer session started
	NoteCheckpoint = "checkpoint" // the writer's chain head
	NoteRecovery   = "recovery"   // a torn tail was cut off
	NoteRemoval    = "removal"    // entries were removed (Delete, DeleteBefore)
	NoteLegacy     = "legacy"     // unchained entries present when chaining began
	// NoteBatchDigest lists the objects a writer stored since its
	// previous digest (S3 digest objects, after CloudTrail's digest files).
	NoteBatchDigest = "digest"
)

// Note is one signed record about a writer's chain: a checkpoint of its
// head, the start of a session, a recovery, a removal, or the digest of
// the unchained entries a store held when chaining began. Backends write
// notes with [EncodeNote] and verification reads them with [ParseNote].
type Note struct {
	Type   string `json:"type"`
	Writer string `json:"w"`
	Seq    uint64 `json:"n"`
	Hash   string `json:"h,omitempty"`
	Time   string `json:"t"` // RFC 3339, UTC
	Final  bool   `json:"final,omitempty"`
	// PrevNote is the [NoteDigest] of the previous record ("" for the
	// first), so records form a chain too: removing or reordering them is
	// detected.
	PrevNote string         `json:"pn"`
	Recovery *RecoveryNote  `json:"recovery,omitempty"`
	Removal  *RemovalNote   `json:"removal,omitempty"`
	Legacy   *LegacySummary `json:"legacy,omitempty"`
	// Store names, in an S3 writer's open note, the store (bucket prefix)
	// the session belongs to: the [NoteDigest] of the prefix's signed
	// legacy note, which is written once per prefix. Verification given
	// the key reports an open note naming another store (a session copied
	// in from another prefix whose writers sign with the same key). Empty
	// in notes written before stores were named, by writers that cannot
	// read the prefix, and in file stores (one chain of notes per store).
	Store string `json:"store,omitempty"`
	// Digest is the number of the note in its writer's sequence of digest
	// objects (S3 stores: 1, 2, 3, ... as in its object key); 0 for notes
	// kept in a checkpoints file.
	Digest uint64 `json:"dn,omitempty"`
	// Objects lists the objects the writer stored since its previous
	// digest (a [NoteBatchDigest]) or the generation a rewrite made (a
	// [NoteRemoval] on S3), each with its SHA-256.
	Objects []ObjectDigest `json:"objects,omitempty"`
}

// RecoveryNote records a torn tail cut off when a store was opened.
type RecoveryNote struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
	SHA256 string `json:"sha256"`
}

// RemovalNote records entries removed on purpose.
type RemovalNote struct {
	Reason string        `json:"reason"` // "delete" or "retention"
	Files  []string      `json:"files,omitempty"`
	Ranges []SeqRange    `json:"ranges,omitempty"`
	Legacy LegacySummary `json:"legacy"`
	Count  int           `json:"count"`
	Before string        `json:"before,omitempty"`
	// Done marks, on S3, the note a retention signs once the day its
	// earlier note named (Files: "YYYY-MM-DD/") is empty: the removal
	// finished. A day note without a later Done note of its writer is a
	// removal that stopped (or a writer older than Done notes).
	Done bool `json:"done,omitempty"`
	// Batches names, in a Done note, the S3 batch objects the removal
	// deleted, as runs of batch numbers per writer ("<writer>-<seq>" or
	// "<writer>-<from>..<to>"), every generation of each included.
	Batches []string `json:"batches,omitempty"`
}

// SeqRange is a run of consecutive chain entries of one writer; Last is
// the hash of entry To, which the next remaining entry links to.
type SeqRange struct {
	Writer string `json:"w"`
	From   uint64 `json:"from"`
	To     uint64 `json:"to"`
	Last   string `json:"last"`
}

// SeqRanges accumulates the [SeqRange]s of removed chained entries, in the
// order they are added. The zero value is empty.
type SeqRanges struct {
	Ranges []SeqRange
	last   map[string]int // writer -> index of its open range
}

// Add records the removal of the entry with chain c.
func (a *SeqRanges) Add(c Chain) {
	if a.last == nil {
		a.last = make(map[string]int)
	}
	if i, ok := a.last[c.Writer]; ok && a.Ranges[i].To+1 == c.Seq {
		a.Ranges[i].To, a.Ranges[i].Last = c.Seq, c.Hash
		return
	}
	a.last[c.Writer] = len(a.Ranges)
	a.Ranges = append(a.Ranges, SeqRange{Writer: c.Writer, From: c.Seq, To: c.Seq, Last: c.Hash})
}

// LegacySummary is an order-independent digest of unchained entry lines:
// their count and the sum (mod 2^256, hex) of the SHA-256 of each line.
type LegacySummary struct {
	Count int64  `json:"count"`
	Sum   string `json:"sum"`
}

// LineDigest accumulates a [LegacySummary]. The zero value is empty.
type LineDigest struct {
	n   int64
	sum [32]byte
}

// Add adds one line (without its '\n').
func (d *LineDigest) Add(line []byte) {
	d.n++
	d.addSum(sha256.Sum256(line))
}

func (d *LineDigest) addSum(b [32]byte) {
	var carry uint16
	for i := 31; i >= 0; i-- {
		v := uint16(d.sum[i]) + uint16(b[i]) + carry
		d.sum[i] = byte(v)
		carry = v >> 8
	}
}

// Merge adds a summary made elsewhere; it reports false (and adds
// nothing) when s.Sum is not 64 hex digits or empty.
func (d *LineDigest) Merge(s LegacySummary) bool {
	var b [32]byte
	if s.Sum != "" {
		raw, err := hex.DecodeString(s.Sum)
		if err != nil || len(raw) != 32 {
			return false
		}
		copy(b[:], raw)
	}
	d.n += s.Count
	d.addSum(b)
	return true
}

// Count returns the number of lines added (including merged counts).
func (d *LineDigest) Count() int64 { return d.n }

// Summary returns the digest so far.
func (d *LineDigest) Summary() LegacySummary {
	return LegacySummary{Count: d.n, Sum: hex.EncodeToString(d.sum[:])}
}

// MinHMACKeyLen is the shortest HMAC checkpoint key accepted, in bytes.
const MinHMACKeyLen = 16

// ErrBadKey is matched (errors.Is) by the error of a signing or
// verification key that is too short, of the wrong size, or has no id.
var ErrBadKey = errors.New("storage: unusable checkpoint key")

// Signer signs [Note] records with HMAC-SHA256 or Ed25519. The zero value
// signs nothing ([Signer.IsZero]); use [NewHMACSigner] or
// [NewEd25519Signer].
type Signer struct {
	id   string
	key  []byte
	priv ed25519.PrivateKey
}

// NewHMACSigner returns a signer for key id keyID using HMAC-SHA256. It
// fails (matching [ErrBadKey]) for an empty id or a key shorter than
// [MinHMACKeyLen] bytes; it never falls back to another key.
func NewHMACSigner(keyID string, key []byte) (Signer, error) {
	if keyID == "" || len(key) < MinHMACKeyLen {
		return Signer{}, fmt.Errorf("%w: HMAC key id %q: need an id and at least %d bytes, got %d", ErrBadKey, keyID, MinHMACKeyLen, len(key))
	}
	return Signer{id: keyID, key: bytes.Clone(key)}, nil
}

// NewEd25519Signer returns a signer for key id keyID using Ed25519. It
// fails (matching [ErrBadKey]) for an empty id or a key of the wrong size.
func NewEd25519Signer(keyID string, priv ed25519.PrivateKey) (Signer, error) {
	if keyID == "" || len(priv) != ed25519.PrivateKeySize {
		return Signer{}, fmt.Errorf("%w: Ed25519 key id %q: need an id and a %d-byte private key", ErrBadKey, keyID, ed25519.PrivateKeySize)
	}
	return Signer{id: keyID, priv: bytes.Clone(priv)}, nil
}

// IsZero reports whether s is the zero Signer.
func (s Signer) IsZero() bool { return s.key == nil && s.priv == nil }

// KeyID returns the id written next to every signature.
func (s Signer) KeyID() string { return s.id }

func (s Signer) sign(b []byte) string {
	if s.priv != nil {
		return hex.EncodeToString(ed25519.Sign(s.priv, b))
	}
	m := hmac.New(sha256.New, s.key)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}

// Signed reports whether line, a stored note line without its '\n', is
// signed with s: it names s's key id and s's key checks its signature.
// That tells whether s is the key a store's notes are signed with, which a
// key id alone does not (two keys may share an id, and an id does not say
// whether it is an HMAC or an Ed25519 key). The zero Signer signs nothing
// and reports false.
func (s Signer) Signed(line []byte) bool {
	kid, sig, signed, ok := splitSigned(line)
	if !ok || s.IsZero() || kid != s.id {
		return false
	}
	want, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	k := verifyKey{hmac: s.key}
	if s.priv != nil {
		k = verifyKey{pub: s.priv.Public().(ed25519.PublicKey)}
	}
	return k.verifies(signed, want)
}

// EncodeNote returns the signed line of n, ending in '\n'.
func EncodeNote(n *Note, s Signer) ([]byte, error) {
	if s.IsZero() {
		return nil, fmt.Errorf("%w: no signer", ErrBadKey)
	}
	b, err := json.Marshal(n)
	if err != nil {
		return nil, fmt.Errorf("storage: encode note: %w", err)
	}
	b = b[:len(b)-1]
	sig := s.sign(b)
	b = append(b, `,"kid":`...)
	b = jsontext.AppendString(b, s.id)
	b = append(b, `,"sig":`...)
	b = jsontext.AppendString(b, sig)
	return append(b, "}\n"...), nil
}

// KeyRing holds the keys that may have signed notes, by key id (several
// for rotated keys). One key id may have several keys: a note signed with
// that id is accepted when any of them checks its signature. That is what
// a store needs whose key was replaced under the same id (a writer that
// found its key file missing and made a new one): its older notes check
// with the old key, its newer ones with the new. Adding a key twice keeps
// one copy. The zero value is empty; not safe for concurrent modification.
type KeyRing struct {
	keys map[string][]verifyKey
}

type verifyKey struct {
	hmac []byte
	pub  ed25519.PublicKey
}

// verifies reports whether sig is k's signature of signed.
func (k verifyKey) verifies(signed, sig []byte) bool {
	if k.pub != nil {
		return ed25519.Verify(k.pub, signed, sig)
	}
	m := hmac.New(sha256.New, k.hmac)
	m.Write(signed)
	return hmac.Equal(m.Sum(nil), sig)
}

func (k verifyKey) equal(o verifyKey) bool {
	return bytes.Equal(k.hmac, o.hmac) && bytes.Equal(k.pub, o.pub)
}

func (r *KeyRing) add(id string, k verifyKey) {
	if r.keys == nil {
		r.keys = make(map[string][]verifyKey)
	}
	for _, have := range r.keys[id] {
		if have.equal(k) {
			return
		}
	}
	r.keys[id] = append(r.keys[id], k)
}

// AddHMAC adds an HMAC-SHA256 key; the same rules as [NewHMACSigner].
func (r *KeyRing) AddHMAC(keyID string, key []byte) error {
	if keyID == "" || len(key) < MinHMACKeyLen {
		return fmt.Errorf("%w: HMAC key id %q: need an id and at least %d bytes, got %d", ErrBadKey, keyID, MinHMACKeyLen, len(key))
	}
	r.add(keyID, verifyKey{hmac: bytes.Clone(key)})
	return nil
}

// AddEd25519 adds an Ed25519 public key; it fails (matching [ErrBadKey])
// for an empty id or a key of the wrong size.
func (r *KeyRing) AddEd25519(keyID string, pub ed25519.PublicKey) error {
	if keyID == "" || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: Ed25519 key id %q: need an id and a %d-byte public key", ErrBadKey, keyID, ed25519.PublicKeySize)
	}
	r.add(keyID, verifyKey{pub: bytes.Clone(pub)})
	return nil
}

// Len returns the number of keys (a key added twice counts once).
func (r *KeyRing) Len() int {
	n := 0
	for _, ks := range r.keys {
		n += len(ks)
	}
	return n
}

// ErrBadNote is matched (errors.Is) by every error of [ParseNote]; the
// error text says why (not signed, unknown key id, signature mismatch,
// malformed) without quoting the line.
var ErrBadNote = errors.New("storage: bad signed note")

// ErrNoStore is matched (errors.Is) by the error of a verification given a
// place that holds no store at all (a directory without data files, notes
// or the files a store keeps; a prefix without objects): "nothing there"
// is never reported as intact.
var ErrNoStore = errors.New("storage: no audit store here")

// NoteKeyID returns the key id a stored note line (without '\n') says it
// is signed with, without checking the signature: what key a store's
// writers sign with, to pick it or to tell that one is missing. The line
// is not trusted: an id longer than 64 bytes is cut there and ends in
// "...", so that messages naming it stay short. ok is false when the line
// is not in the form of a signed note.
func NoteKeyID(line []byte) (kid string, ok bool) {
	kid, _, _, ok = splitSigned(line)
	if len(kid) > 64 {
		kid = kid[:64] + "..."
	}
	return kid, ok
}

// splitSigned splits a signed note line into its key id, its hex
// signature and the signed bytes before them.
func splitSigned(line []byte) (kid, sig string, signed []byte, ok bool) {
	i := bytes.LastIndex(line, []byte(`,"kid":`))
	if i < 0 {
		return "", "", nil, false
	}
	rest := line[i+len(`,"kid":`):]
	kid, rest, ok = cutPlainString(rest)
	if ok {
		rest, ok = bytes.CutPrefix(rest, []byte(`,"sig":`))
	}
	if ok {
		sig, rest, ok = cutPlainString(rest)
	}
	if !ok || !bytes.Equal(rest, []byte("}")) {
		return "", "", nil, false
	}
	return kid, sig, line[:i], true
}

// ParseNote checks the signature of one stored note line (without '\n')
// against the ring (any key of its key id may have signed it) and decodes
// it. Errors match [ErrBadNote].
func ParseNote(line []byte, ring *KeyRing) (*Note, error) {
	kid, sig, signed, ok := splitSigned(line)
	if !ok {
		return nil, fmt.Errorf("%w: not a signed note", ErrBadNote)
	}
	ks := ring.keys[kid]
	if len(ks) == 0 {
		return nil, fmt.Errorf("%w: signed with unknown key id %q", ErrBadNote, kid)
	}
	want, err := hex.DecodeString(sig)
	if err != nil || !slices.ContainsFunc(ks, func(k verifyKey) bool { return k.verifies(signed, want) }) {
		return nil, fmt.Errorf("%w: signature does not match (note altered or forged)", ErrBadNote)
	}
	var n Note
	if err := json.Unmarshal(line, &n); err != nil || n.Writer == "" {
		return nil, fmt.Errorf("%w: signed note is not well-formed", ErrBadNote)
	}
	return &n, nil
}
