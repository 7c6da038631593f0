package otelaudit

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/fernet/fernet-go"

	"github.com/otelaudit/otelaudit-go/internal/env"
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

// EncryptionManager encrypts and decrypts audit content with a key ring of
// Fernet keys (AES-128-CBC + HMAC-SHA256). The first key encrypts; every key
// decrypts, so keys can be rotated without re-encrypting old entries: put
// the new key first and keep the old ones after it.
//
// An EncryptionManager is immutable and safe for concurrent use.
type EncryptionManager struct {
	keys []*fernet.Key
	ids  []string
	// enc is the AES cipher of the first key, expanded once: Encrypt runs
	// for every stored entry.
	enc cipher.Block
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
		m.ids = append(m.ids, keyFingerprint(k))
	}
	block, err := aes.NewCipher(m.keys[0][16:]) // Fernet: signing key, then encryption key
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	m.enc = block
	return m, nil
}

// KeyIDs returns a short, non-secret fingerprint of every key in the ring,
// in ring order, for logs and diagnostics.
func (m *EncryptionManager) KeyIDs() []string { return append([]string(nil), m.ids...) }

func keyFingerprint(k *fernet.Key) string {
	return HashContent(string(k[:]))[:8]
}

// Encrypt encrypts plaintext with the first key and returns it in the
// reference implementation's stored form: base64url (with padding) of the
// Fernet token text.
//
// The token is built here from the standard library's AES-CBC and
// HMAC-SHA256 per the Fernet spec rather than with fernet-go, which expands
// the AES key and allocates several buffers on every call; Decrypt still
// verifies with fernet-go, and the tests check each against the other.
func (m *EncryptionManager) Encrypt(plaintext string) (string, error) {
	padded := len(plaintext)/aes.BlockSize*aes.BlockSize + aes.BlockSize
	raw := make([]byte, fernetOverhead+padded)
	raw[0] = fernetVersion
	binary.BigEndian.PutUint64(raw[1:9], uint64(time.Now().Unix()))
	iv := raw[9:25]
	if _, err := rand.Read(iv); err != nil {
		return "", fmt.Errorf("otelaudit: encrypt: %w", err)
	}
	body := raw[25 : 25+padded]
	copy(body, plaintext)
	for i := len(plaintext); i < padded; i++ { // PKCS #7
		body[i] = byte(padded - len(plaintext))
	}
	cipher.NewCBCEncrypter(m.enc, iv).CryptBlocks(body, body)
	mac := hmac.New(sha256.New, m.keys[0][:16])
	mac.Write(raw[:25+padded])
	mac.Sum(raw[:25+padded])

	// The stored form is base64url(token text), the token text being
	// base64url(raw): encode twice into one buffer.
	tokLen := base64.URLEncoding.EncodedLen(len(raw))
	buf := make([]byte, tokLen+base64.URLEncoding.EncodedLen(tokLen))
	base64.URLEncoding.Encode(buf[:tokLen], raw)
	base64.URLEncoding.Encode(buf[tokLen:], buf[:tokLen])
	return string(buf[tokLen:]), nil
}

// Fernet token layout: version(1) ts(8) iv(16) ciphertext(16n, n>=1) hmac(32).
const (
	fernetVersion  = 0x80
	fernetOverhead = 1 + 8 + 16 + 32
	fernetMinLen   = fernetOverhead + 16
)

// Decrypt returns the plaintext of ciphertext, which may be the stored form
// [EncryptionManager.Encrypt] and the reference write (base64url of the
// token) or a bare Fernet token. Every key of the ring is tried. Tokens
// carry their creation time, which is not checked (no TTL): audit content
// must stay readable for the whole retention period. Errors match
// [ErrDecrypt] and never panic on malformed input.
func (m *EncryptionManager) Decrypt(ciphertext string) (string, error) {
	tok, err := tokenBytes(ciphertext)
	if err != nil {
		return "", err
	}
	// fernet.VerifyAndDecrypt takes the token in its base64url text form.
	msg := fernet.VerifyAndDecrypt([]byte(base64.URLEncoding.EncodeToString(tok)), 0, m.keys)
	if msg == nil {
		return "", fmt.Errorf("%w: the token was not made with any key in the ring, or it was altered", ErrDecrypt)
	}
	return string(msg), nil
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

// LoadEncryptionManager builds a key ring from, in order of precedence: the
// key file at path (when path is not empty), the file named by
// OTELAUDIT_KEY_FILE, or the keys in OTELAUDIT_KEY (comma separated). A key
// file holds one key per line; blank lines and lines starting with '#' are
// ignored. It returns an error wrapping os.ErrNotExist when no key is
// configured anywhere.
func LoadEncryptionManager(path string) (*EncryptionManager, error) {
	keys, err := LoadKeys(path)
	if err != nil {
		return nil, err
	}
	return NewEncryptionManager(keys...)
}

// LoadKeys returns the keys [LoadEncryptionManager] would use, first key
// first, without checking them.
func LoadKeys(path string) ([]string, error) {
	if path == "" {
		path = os.Getenv(env.KeyFile)
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("otelaudit: read key file: %w", err)
		}
		keys := parseKeyLines(data)
		if len(keys) == 0 {
			return nil, fmt.Errorf("%w: key file %s holds no key", ErrInvalidKey, path)
		}
		return keys, nil
	}
	if v := os.Getenv(env.Key); strings.TrimSpace(v) != "" {
		var keys []string
		for k := range strings.SplitSeq(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				keys = append(keys, k)
			}
		}
		return keys, nil
	}
	return nil, fmt.Errorf("otelaudit: no encryption key: give a key file or set %s: %w", env.Key, os.ErrNotExist)
}

func parseKeyLines(data []byte) []string {
	var keys []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		keys = append(keys, line)
	}
	return keys
}
