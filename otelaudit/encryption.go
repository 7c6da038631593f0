package otelaudit

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/fernet/fernet-go"

	"github.com/otelaudit/otelaudit-go/internal/b64"
)

// ErrDecrypt is matched (errors.Is) by every error [EncryptionManager.Decrypt]
// returns: a token that is not Fernet, is corrupt, or was made with a key
// that is not in the ring. The error never includes the ciphertext or a key.
var ErrDecrypt = errors.New("otelaudit: cannot decrypt content")

// GenerateKey returns a new random Fernet key: 32 bytes as 44 characters of
// URL-safe base64, the form the reference implementation and the Fernet spec
// use.
func GenerateKey() (string, error) {
	var k fernet.Key
	if err := k.Generate(); err != nil {
		return "", fmt.Errorf("otelaudit: generate key: %w", err)
	}
	return k.Encode(), nil
}

// Cipher protects the content a [Logger] stores: Encrypt turns plaintext
// into the string written to input_content and output_content, Decrypt
// turns such a string back. [*EncryptionManager] (a fixed Fernet key ring),
// [*KeyRing] (a ring reloaded from a [KeySource]) and the KMS envelope in
// package awskeys implement it; [WithCipher] plugs any of them into a
// Logger.
//
// Implementations must be safe for concurrent use. Ciphertext must name
// the key that made it, so that Decrypt never tries keys blindly, and
// errors must match [ErrDecrypt] and never contain plaintext or key
// material.
type Cipher interface {
	Encrypt(plaintext string) (string, error)
	Decrypt(ciphertext string) (string, error)
}

// AppendEncrypter is implemented by a [Cipher] that can write its
// ciphertext into a caller's buffer: AppendEncrypt appends to dst what
// Encrypt would return for plaintext (a fresh encryption, as each call of
// Encrypt is) and returns the extended buffer, or dst and the error
// Encrypt would return. It keeps neither dst nor the result.
//
// A [Logger] whose backend copies each entry as it writes it (the file and
// S3 stores of this module) encrypts with AppendEncrypt into a buffer it
// reuses once the write returned, instead of allocating every ciphertext.
// The ciphers of this module implement it; MultiCipher does when its first
// cipher does.
type AppendEncrypter interface {
	AppendEncrypt(dst []byte, plaintext string) ([]byte, error)
}

var (
	_ Cipher          = (*EncryptionManager)(nil)
	_ Cipher          = (*KeyRing)(nil)
	_ AppendEncrypter = (*EncryptionManager)(nil)
	_ AppendEncrypter = (*KeyRing)(nil)
)

// ErrUnknownKey is matched (errors.Is), together with [ErrDecrypt], by the
// error Decrypt returns for ciphertext whose key id names no key of the
// ring: the key was removed (revoked) or never given. The error names the
// key id, which is not secret.
var ErrUnknownKey = errors.New("otelaudit: content was encrypted with a key that is not in the ring")

// ErrOtherScheme is matched (errors.Is), together with [ErrDecrypt], by
// the error a [Cipher] returns for ciphertext of a scheme it does not
// handle, such as KMS-enveloped content given to a Fernet ring. The error
// names the scheme when it is one this module writes, and otherwise
// quotes nothing of the content (which may be plaintext). [MultiCipher]
// uses it to find the cipher that does.
var ErrOtherScheme = errors.New("otelaudit: ciphertext of another scheme")

// FernetPrefix starts the ciphertext [EncryptionManager.Encrypt] writes:
//
//	fernet:<key id>:<Fernet token>
//
// The key id is [KeyID] of the key that encrypted (8 lowercase hex
// characters) and the token is the standard Fernet token text (URL-safe
// base64 with padding), so any Fernet implementation decrypts it once the
// prefix is removed. Content written before key ids (the reference's
// base64url of the token, or a bare token) has no prefix and still
// decrypts.
const FernetPrefix = "fernet:"

// EncryptionManager encrypts and decrypts audit content with a key ring of
// Fernet keys (AES-128-CBC + HMAC-SHA256). The first key encrypts; every key
// decrypts, so keys can be rotated without re-encrypting old entries: put
// the new key first and keep the old ones after it. Ciphertext names its
// key (see [FernetPrefix]), so Decrypt goes straight to the right key.
//
// An EncryptionManager is immutable and safe for concurrent use.
type EncryptionManager struct {
	keys []*fernet.Key
	ids  []string
	// enc is the AES cipher of the first key, expanded once: Encrypt runs
	// for every stored entry.
	enc cipher.Block
	// macs pools HMAC-SHA256 states keyed with the first key's signing
	// key: Reset returns a keyed state, so the key schedule and the two
	// SHA-256 states are not rebuilt for every token.
	macs sync.Pool
	// cbcs pools CBC encrypters of the first key (see cbcEncrypt).
	cbcs sync.Pool
	// prefix is "fernet:<id of the first key>:".
	prefix string
}

// NewEncryptionManager returns a manager over keys (Fernet keys in URL-safe
// or standard base64, or hex). It needs at least one key; an invalid key is
// an error matching [ErrInvalidKey] that names its position, never its value.
func NewEncryptionManager(keys ...string) (*EncryptionManager, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: an encryption manager needs at least one key", ErrInvalidKey)
	}
	m := &EncryptionManager{}
	for i, s := range keys {
		k, err := fernet.DecodeKey(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%w: key %d of %d is not a 32-byte Fernet key in base64 or hex", ErrInvalidKey, i+1, len(keys))
		}
		m.keys = append(m.keys, k)
		m.ids = append(m.ids, fernetKeyID(k))
	}
	block, err := aes.NewCipher(m.keys[0][16:]) // Fernet: signing key, then encryption key
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	m.enc = block
	signing := m.keys[0][:16]
	m.macs.New = func() any { return hmac.New(sha256.New, signing) }
	m.prefix = FernetPrefix + m.ids[0] + ":"
	return m, nil
}

// KeyIDs returns the key id ([KeyID]) of every key in the ring, in ring
// order: the first one encrypts. Key ids are not secret.
func (m *EncryptionManager) KeyIDs() []string { return append([]string(nil), m.ids...) }

// KeyID returns the key id of a Fernet key: 8 lowercase hex characters
// that name the key in ciphertext, logs and errors without revealing it.
// It fails with [ErrInvalidKey] when key is not a Fernet key.
func KeyID(key string) (string, error) {
	k, err := fernet.DecodeKey(strings.TrimSpace(key))
	if err != nil {
		return "", fmt.Errorf("%w: not a 32-byte Fernet key in base64 or hex", ErrInvalidKey)
	}
	return fernetKeyID(k), nil
}

// fernetKeyID is the first 4 bytes of SHA-256 over a fixed label and the
// key, in hex. 32 bits say nothing useful about a 256-bit random key, and
// the label keeps the id apart from any other hash of the same key.
func fernetKeyID(k *fernet.Key) string {
	h := sha256.New()
	h.Write([]byte("otelaudit fernet key id\x00"))
	h.Write(k[:])
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:4])
}

// Encrypt encrypts plaintext with the first key and returns
// "fernet:<key id>:<Fernet token>" (see [FernetPrefix]).
func (m *EncryptionManager) Encrypt(plaintext string) (string, error) {
	out, err := m.AppendEncrypt(nil, plaintext)
	if err != nil {
		return "", err
	}
	return unsafe.String(unsafe.SliceData(out), len(out)), nil // out is not used again
}

// AppendEncrypt appends what [EncryptionManager.Encrypt] returns for
// plaintext to dst (see [AppendEncrypter]).
func (m *EncryptionManager) AppendEncrypt(dst []byte, plaintext string) ([]byte, error) {
	// The token is built here from the standard library's AES-CBC and
	// HMAC-SHA256 per the Fernet spec rather than with fernet-go, which
	// expands the AES key and allocates several buffers on every call;
	// Decrypt still verifies with fernet-go, and the tests check each
	// against the other. The raw token is built in a pooled scratch
	// buffer and base64-encoded once onto dst.
	padded := len(plaintext)/aes.BlockSize*aes.BlockSize + aes.BlockSize
	rawLen := fernetOverhead + padded
	scratch := scratchPool.Get().(*[]byte)
	defer func() {
		if cap(*scratch) <= maxPooledScratch {
			scratchPool.Put(scratch)
		}
	}()
	if cap(*scratch) < rawLen {
		*scratch = make([]byte, rawLen)
	}
	raw := (*scratch)[:rawLen]
	raw[0] = fernetVersion
	binary.BigEndian.PutUint64(raw[1:9], uint64(time.Now().Unix()))
	iv := raw[9:25]
	if _, err := rand.Read(iv); err != nil {
		return dst, fmt.Errorf("otelaudit: encrypt: %w", err)
	}
	body := raw[25 : 25+padded]
	copy(body, plaintext)
	for i := len(plaintext); i < padded; i++ { // PKCS #7
		body[i] = byte(padded - len(plaintext))
	}
	m.cbcEncrypt(iv, body)
	mac := m.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write(raw[:25+padded])
	mac.Sum(raw[:25+padded])
	m.macs.Put(mac)

	n := len(m.prefix) + b64.EncodedLen(rawLen)
	dst = slices.Grow(dst, n)
	out := dst[len(dst) : len(dst)+n]
	copy(out, m.prefix)
	b64.Encode(out[len(m.prefix):], raw)
	return dst[:len(dst)+n], nil
}

// cbcEncrypt encrypts body in place with the first key in CBC mode from
// iv. The CBC encrypter is reused through a pool (set to iv each time)
// rather than made, and allocated, for every token.
func (m *EncryptionManager) cbcEncrypt(iv, body []byte) {
	if bm, ok := m.cbcs.Get().(cbcMode); ok {
		bm.SetIV(iv)
		bm.CryptBlocks(body, body)
		m.cbcs.Put(bm)
		return
	}
	bm := cipher.NewCBCEncrypter(m.enc, iv)
	bm.CryptBlocks(body, body)
	if r, ok := bm.(cbcMode); ok {
		m.cbcs.Put(r)
	}
}

// cbcMode is the CBC encrypter of crypto/cipher (and of crypto/aes), which
// can be set to a new IV.
type cbcMode interface {
	cipher.BlockMode
	SetIV([]byte)
}

// scratchPool holds raw-token buffers for Encrypt; buffers larger than
// maxPooledScratch go back to the garbage collector, so one huge prompt
// does not pin its buffer. The buffer only ever holds the token (the
// plaintext is encrypted in place), never plaintext after Encrypt returns.
const maxPooledScratch = 64 << 10

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Fernet token layout: version(1) ts(8) iv(16) ciphertext(16n, n>=1) hmac(32).
const (
	fernetVersion  = 0x80
	fernetOverhead = 1 + 8 + 16 + 32
	fernetMinLen   = fernetOverhead + 16
)

// Decrypt returns the plaintext of ciphertext: the form
// [EncryptionManager.Encrypt] writes, which names its key, or the forms
// written before key ids (the reference's base64url of the token, or a
// bare Fernet token), for which every key of the ring is tried. Tokens
// carry their creation time, which is not checked (no TTL): audit content
// must stay readable for the whole retention period. Errors match
// [ErrDecrypt] (and [ErrUnknownKey] when the named key is not in the ring,
// [ErrOtherScheme] for content that is not Fernet ciphertext), never
// quote the content (which may be plaintext) and never panic on malformed
// input.
func (m *EncryptionManager) Decrypt(ciphertext string) (string, error) {
	s := strings.TrimSpace(ciphertext)
	keys := m.keys
	if rest, ok := strings.CutPrefix(s, FernetPrefix); ok {
		id, tok, ok := strings.Cut(rest, ":")
		if !ok {
			return "", fmt.Errorf("%w: malformed fernet ciphertext (no key id)", ErrDecrypt)
		}
		keys = nil
		for i, kid := range m.ids {
			if kid == id {
				keys = append(keys, m.keys[i])
			}
		}
		if len(keys) == 0 {
			return "", fmt.Errorf("%w: %w: key id %q; the ring holds %s", ErrDecrypt, ErrUnknownKey, sanitizeKeyID(id), strings.Join(m.ids, ", "))
		}
		s = tok
	} else if scheme, _, ok := strings.Cut(s, ":"); ok {
		// What precedes the colon is not quoted: the content may be
		// plaintext (an entry stored before encryption was turned on).
		// The one other scheme of this module, awskeys.KMSPrefix, is
		// named.
		if scheme == "kms" {
			return "", fmt.Errorf("%w: %w: content is \"kms\" ciphertext, and this is a Fernet key ring", ErrDecrypt, ErrOtherScheme)
		}
		return "", fmt.Errorf("%w: %w: content is not Fernet ciphertext (another scheme, or not encrypted), and this is a Fernet key ring",
			ErrDecrypt, ErrOtherScheme)
	}
	tok, err := tokenBytes(s)
	if err != nil {
		return "", err
	}
	// fernet.VerifyAndDecrypt takes the token in its base64url text form.
	msg := fernet.VerifyAndDecrypt([]byte(base64.URLEncoding.EncodeToString(tok)), 0, keys)
	if msg == nil {
		return "", fmt.Errorf("%w: the token was not made with any key in the ring, or it was altered", ErrDecrypt)
	}
	return string(msg), nil
}

// sanitizeKeyID keeps a key id or scheme read from stored data printable
// and short before it goes into an error.
func sanitizeKeyID(s string) string {
	if len(s) > 256 {
		s = s[:256] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// tokenBytes returns the raw Fernet token in s, which is either the token
// text (base64url of the raw token) or base64url of that text. It checks
// the token's shape so that the fernet package never sees a token it could
// mis-slice.
func tokenBytes(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: empty ciphertext", ErrDecrypt)
	}
	raw, err := decodeBase64URL(s)
	if err != nil {
		return nil, fmt.Errorf("%w: ciphertext is not base64url", ErrDecrypt)
	}
	if len(raw) > 0 && raw[0] != fernetVersion {
		// The stored form: decode once more to reach the token.
		raw, err = decodeBase64URL(string(raw))
		if err != nil {
			return nil, fmt.Errorf("%w: ciphertext is not a Fernet token or its base64url form", ErrDecrypt)
		}
	}
	if len(raw) < fernetMinLen || raw[0] != fernetVersion || (len(raw)-fernetOverhead)%16 != 0 {
		return nil, fmt.Errorf("%w: malformed Fernet token (%d bytes)", ErrDecrypt, len(raw))
	}
	return raw, nil
}

// decodeBase64URL accepts base64url with or without padding.
func decodeBase64URL(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") {
		return base64.URLEncoding.DecodeString(s)
	}
	return base64.RawURLEncoding.DecodeString(s)
}

// SanitizeKeyID returns s, a key id or scheme read from stored data, cut
// to 256 bytes and with every byte outside printable ASCII replaced by
// '?', so that it can go into an error or a terminal. For Cipher
// implementations.
func SanitizeKeyID(s string) string { return sanitizeKeyID(s) }

// MultiCipher returns a [Cipher] that encrypts with first and decrypts
// with whichever of first and more handles the ciphertext: each is tried
// in order, and the first success wins. When none succeeds, the error is
// that of the first cipher that did not answer [ErrOtherScheme], so a
// wrong key is reported by the cipher of the right scheme. Use it to read
// Fernet entries after moving to KMS envelope encryption, or the reverse.
// nil ciphers are ignored; with no cipher left it returns nil.
func MultiCipher(first Cipher, more ...Cipher) Cipher {
	var cs []Cipher
	for _, c := range append([]Cipher{first}, more...) {
		if c != nil {
			cs = append(cs, c)
		}
	}
	switch len(cs) {
	case 0:
		return nil
	case 1:
		return cs[0]
	}
	if _, ok := cs[0].(AppendEncrypter); ok {
		return multiAppendCipher{multiCipher(cs)}
	}
	return multiCipher(cs)
}

type multiCipher []Cipher

func (m multiCipher) Encrypt(plaintext string) (string, error) { return m[0].Encrypt(plaintext) }

// AppendEncrypt is there only when the first cipher has it: see
// MultiCipher's result type.
func (m multiAppendCipher) AppendEncrypt(dst []byte, plaintext string) ([]byte, error) {
	return m.multiCipher[0].(AppendEncrypter).AppendEncrypt(dst, plaintext)
}

// multiAppendCipher is a multiCipher whose first cipher is an
// AppendEncrypter, and so is one itself.
type multiAppendCipher struct{ multiCipher }

func (m multiCipher) Decrypt(ciphertext string) (string, error) {
	var first, answer error
	for _, c := range m {
		pt, err := c.Decrypt(ciphertext)
		if err == nil {
			return pt, nil
		}
		if first == nil {
			first = err
		}
		if answer == nil && !errors.Is(err, ErrOtherScheme) {
			answer = err
		}
	}
	if answer != nil {
		return "", answer
	}
	return "", first
}
