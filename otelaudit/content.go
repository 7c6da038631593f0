package otelaudit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unsafe"
)

// HashContent returns the lowercase hex SHA-256 of s's bytes. It is
// byte-identical to the reference implementation's hash_content for valid
// UTF-8 input (Python hashes s.encode("utf-8")).
func HashContent(s string) string {
	var b [2 * sha256.Size]byte
	return string(appendHashContent(b[:0], s))
}

// appendHashContent appends the lowercase hex SHA-256 of s's bytes to b.
func appendHashContent(b []byte, s string) []byte {
	// Hash s in place: []byte(s) would copy the whole content first.
	// Sum256 only reads its input.
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(s), len(s)))
	return hex.AppendEncode(b, sum[:])
}

// KeyedHashPrefix starts every keyed hash: "hmac-sha256:<keyid>:<hex>".
const KeyedHashPrefix = "hmac-sha256:"

// MinHashKeyLen is the shortest key [WithHashKey] accepts, in bytes.
const MinHashKeyLen = 16

// ErrInvalidKey is matched (errors.Is) by every error about a key that
// cannot be used: wrong length, bad encoding, empty key id.
var ErrInvalidKey = errors.New("otelaudit: invalid key")

// contentHasher hashes content either plainly (SHA-256) or keyed
// (HMAC-SHA256 with a key id). Keyed hashes stop anyone who reads the store
// from confirming a guessed low-entropy prompt by hashing it.
type contentHasher struct {
	keyID string
	key   []byte
}

func newKeyedHasher(keyID string, key []byte) (*contentHasher, error) {
	if keyID == "" || strings.ContainsAny(keyID, ": \t\n") {
		return nil, fmt.Errorf("%w: hash key id must be non-empty and contain no ':' or spaces", ErrInvalidKey)
	}
	if len(key) < MinHashKeyLen {
		return nil, fmt.Errorf("%w: hash key %q is %d bytes, want at least %d", ErrInvalidKey, keyID, len(key), MinHashKeyLen)
	}
	return &contentHasher{keyID: keyID, key: append([]byte(nil), key...)}, nil
}

// hash returns the stored form of s's hash.
func (h *contentHasher) hash(s string) string {
	var buf [128]byte
	return string(h.appendHash(buf[:0], s))
}

// hashPair returns the stored forms of a's and b's hashes, written into
// buf (grown on the heap when too small) and returned as strings over it
// without a copy: the caller must never write to buf again. An entry
// passes space of its own allocation, so its hashes cost none.
func (h *contentHasher) hashPair(buf []byte, a, b string) (string, string) {
	out := h.appendHash(buf[:0], a)
	n := len(out)
	out = h.appendHash(out, b)
	s := unsafe.String(unsafe.SliceData(out), len(out))
	return s[:n], s[n:]
}

// appendHash appends the stored form of s's hash to b: the plain hex
// SHA-256, or "hmac-sha256:<keyid>:<hex>" with a key.
func (h *contentHasher) appendHash(b []byte, s string) []byte {
	if h == nil {
		return appendHashContent(b, s)
	}
	m := hmac.New(sha256.New, h.key)
	m.Write(unsafe.Slice(unsafe.StringData(s), len(s))) // no copy; Write only reads
	var sum [sha256.Size]byte
	b = append(b, KeyedHashPrefix...)
	b = append(b, h.keyID...)
	b = append(b, ':')
	return hex.AppendEncode(b, m.Sum(sum[:0]))
}

// VerifyHash reports whether stored (a plain or keyed hash as written in an
// entry) is the hash of content. Keyed hashes need the Logger's hash key; a
// keyed hash with another key id reports false.
func (l *Logger) VerifyHash(content, stored string) bool {
	if !strings.HasPrefix(stored, KeyedHashPrefix) {
		return hmac.Equal([]byte(HashContent(content)), []byte(stored))
	}
	if l.hasher == nil {
		return false
	}
	return hmac.Equal([]byte(l.hasher.hash(content)), []byte(stored))
}
