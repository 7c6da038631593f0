package storage

import (
	"crypto/sha256"
	"encoding/hex"
)

// ObjectDigest is one object a signed digest vouches for: its key
// (relative to the store), the SHA-256 of its exact bytes, how many entry
// lines it holds and the runs of chain positions of those entries (each
// with the hash of its last entry, so that a removal of the object can be
// matched against the chain of what remains).
type ObjectDigest struct {
	Key     string     `json:"key"`
	SHA256  string     `json:"sha256"`
	Entries int        `json:"n"`
	Ranges  []SeqRange `json:"ranges,omitempty"`
}

// ObjectSHA256 returns the lowercase hex SHA-256 of an object's bytes, as
// [ObjectDigest.SHA256] holds it.
func ObjectSHA256(body []byte) string {
	s := sha256.Sum256(body)
	return hex.EncodeToString(s[:])
}
