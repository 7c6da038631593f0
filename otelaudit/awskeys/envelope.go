package awskeys

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"go.opentelemetry.io/otel"

	"github.com/otelaudit/otelaudit-go/internal/b64"
	"github.com/otelaudit/otelaudit-go/otelaudit"
)

// KMSAPI is the part of *kms.Client that [Envelope] uses.
type KMSAPI interface {
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, opts ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

var (
	_ KMSAPI                    = (*kms.Client)(nil)
	_ otelaudit.Cipher          = (*Envelope)(nil)
	_ otelaudit.AppendEncrypter = (*Envelope)(nil)
)

// KMSPrefix starts the ciphertext [Envelope.Encrypt] writes:
//
//	kms:<KMS key ARN>:<wrapped data key>:<sealed content>
//
// The wrapped data key is the CiphertextBlob KMS GenerateDataKey returned,
// and the sealed content is a 12-byte nonce followed by the AES-256-GCM
// ciphertext and tag, both in unpadded base64url. The GCM additional data
// is everything before the sealed content, so neither the key ARN nor the
// wrapped key can be swapped. Any entry decrypts with KMS Decrypt alone:
// unwrap the data key, then open the content.
const KMSPrefix = "kms:"

const (
	// DefaultDataKeyMaxUses is how many contents one data key encrypts
	// before [Envelope] asks KMS for a new one: 1,048,576 (far below the
	// 2^32 random-nonce limit of AES-GCM).
	DefaultDataKeyMaxUses = 1 << 20
	// DefaultDataKeyMaxAge is how long one data key is used: 1 hour.
	DefaultDataKeyMaxAge = time.Hour
	// DefaultKMSTimeout bounds each KMS call an Envelope makes: 10 s.
	DefaultKMSTimeout = 10 * time.Second
	// DefaultDecryptCacheSize is how many unwrapped data keys an Envelope
	// keeps for decryption: 1,024.
	DefaultDecryptCacheSize = 1024

	// hardMaxUses is where a data key stops being used even when KMS cannot
	// give a new one: Encrypt then fails rather than wear out the key.
	hardMaxUses = 1 << 30
)

// ErrNoKMSKey is matched (errors.Is) by the error Encrypt returns on an
// Envelope made without a KMS key id (decrypt only).
var ErrNoKMSKey = errors.New("awskeys: no KMS key to encrypt with (this envelope only decrypts)")

// Envelope is envelope encryption under an AWS KMS key, as a
// [otelaudit.Cipher]: each Envelope asks KMS GenerateDataKey for an
// AES-256 data key, keeps it in memory, encrypts content with it
// (AES-256-GCM), and records the KMS key ARN and the wrapped data key with
// every ciphertext (see [KMSPrefix]). The data key is replaced after
// DataKeyMaxUses encryptions or DataKeyMaxAge, whichever comes first. If
// KMS cannot give a new key then, the current one stays in use (the
// failure goes to otel.Handle and is counted) up to a hard limit, past
// which Encrypt fails; content is never stored unencrypted.
//
// Decrypt unwraps data keys with KMS Decrypt (with the caller's
// credentials: any entry decrypts with access to its KMS key alone) and
// caches unwrapped keys for DataKeyMaxAge, so reading many entries makes
// one KMS call per data key. A disabled, deleted or inaccessible KMS key is
// an error naming the key ARN and KMS's reason.
//
// An Envelope is safe for concurrent use.
type Envelope struct {
	client  KMSAPI
	keyID   string
	maxUses int64
	maxAge  time.Duration
	timeout time.Duration
	cacheN  int
	now     func() time.Time

	cur      atomic.Pointer[dataKey]
	mu       sync.Mutex // serialises data key generation
	failures atomic.Int64
	calls    atomic.Int64

	// only, when not empty, lists the KMS keys (ARN or bare key id)
	// Decrypt may use.
	only []string

	cacheMu sync.Mutex
	cache   map[string]*dataKey // wrapped key (base64url) -> unwrapped
}

type dataKey struct {
	aead    cipher.AEAD
	prefix  string // "kms:<arn>:<wrapped>:"
	keyARN  string
	wrapped string
	uses    atomic.Int64
	// useLimit and deadline (Unix ns) say when to replace the key; a
	// failed replacement moves them on by a tenth of the limits.
	useLimit atomic.Int64
	deadline atomic.Int64
	// expires is when a key unwrapped for decryption leaves the cache.
	expires time.Time
}

// EnvelopeOption configures [NewEnvelope].
type EnvelopeOption interface {
	apply(*Envelope)
}

type envelopeOptionFunc func(*Envelope)

func (f envelopeOptionFunc) apply(e *Envelope) { f(e) }

// WithDataKeyMaxUses sets how many contents a data key encrypts before it
// is replaced; the default is [DefaultDataKeyMaxUses]. n <= 0 is ignored;
// n above 2^30 is clamped to 2^30.
func WithDataKeyMaxUses(n int64) EnvelopeOption {
	return envelopeOptionFunc(func(e *Envelope) {
		if n > 0 {
			e.maxUses = min(n, hardMaxUses)
		}
	})
}

// WithDataKeyMaxAge sets how long a data key is used, and how long an
// unwrapped key stays in the decryption cache; the default is
// [DefaultDataKeyMaxAge]. d <= 0 is ignored.
func WithDataKeyMaxAge(d time.Duration) EnvelopeOption {
	return envelopeOptionFunc(func(e *Envelope) {
		if d > 0 {
			e.maxAge = d
		}
	})
}

// WithKMSTimeout bounds each KMS call made from Encrypt and Decrypt, which
// take no context; the default is [DefaultKMSTimeout]. d <= 0 is ignored.
func WithKMSTimeout(d time.Duration) EnvelopeOption {
	return envelopeOptionFunc(func(e *Envelope) {
		if d > 0 {
			e.timeout = d
		}
	})
}

// WithDecryptCacheSize sets how many unwrapped data keys are kept for
// decryption; the default is [DefaultDecryptCacheSize]. n <= 0 is ignored.
func WithDecryptCacheSize(n int) EnvelopeOption {
	return envelopeOptionFunc(func(e *Envelope) {
		if n > 0 {
			e.cacheN = n
		}
	})
}

// WithDecryptKeys restricts Decrypt to content under the given KMS keys,
// each a key ARN or a bare key id (aliases cannot be matched without
// asking KMS, so they are not accepted here). Content naming any other key
// fails with an error matching [otelaudit.ErrUnknownKey] before KMS is
// called, so a store cannot make the reader use a key it did not choose.
// Empty strings are ignored; with none, any key KMS lets the caller use
// decrypts.
func WithDecryptKeys(ids ...string) EnvelopeOption {
	return envelopeOptionFunc(func(e *Envelope) {
		for _, id := range ids {
			if id = strings.TrimSpace(id); id != "" {
				e.only = append(e.only, id)
			}
		}
	})
}

func (e *Envelope) allowed(arn string) bool {
	if len(e.only) == 0 {
		return true
	}
	for _, id := range e.only {
		if arn == id || strings.HasSuffix(arn, ":key/"+id) {
			return true
		}
	}
	return false
}

// NewEnvelope returns an Envelope that encrypts under the KMS key keyID (a
// key id, key ARN, alias name or alias ARN) with client. It generates the
// first data key at once, so a wrong key id, a disabled key or missing
// permissions fail here, with ctx bounding the call. An empty keyID makes
// an Envelope that only decrypts (Encrypt fails with [ErrNoKMSKey]), as
// the CLI uses to read entries.
func NewEnvelope(ctx context.Context, client KMSAPI, keyID string, opts ...EnvelopeOption) (*Envelope, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: awskeys.NewEnvelope needs a KMS client, got nil", otelaudit.ErrInvalidKey)
	}
	e := &Envelope{
		client:  client,
		keyID:   keyID,
		maxUses: DefaultDataKeyMaxUses,
		maxAge:  DefaultDataKeyMaxAge,
		timeout: DefaultKMSTimeout,
		cacheN:  DefaultDecryptCacheSize,
		now:     time.Now,
		cache:   map[string]*dataKey{},
	}
	for _, o := range opts {
		if o != nil {
			o.apply(e)
		}
	}
	if keyID != "" {
		dk, err := e.generate(ctx)
		if err != nil {
			return nil, err
		}
		e.cur.Store(dk)
	}
	return e, nil
}

// KeyID returns the KMS key id the Envelope was made with ("" when it only
// decrypts).
func (e *Envelope) KeyID() string { return e.keyID }

// KeyARN returns the ARN of the KMS key that wrapped the current data key,
// as KMS reported it ("" when the Envelope only decrypts).
func (e *Envelope) KeyARN() string {
	if dk := e.cur.Load(); dk != nil {
		return dk.keyARN
	}
	return ""
}

// RotationFailures returns how many data key replacements KMS refused
// (each kept the previous data key in use).
func (e *Envelope) RotationFailures() int64 { return e.failures.Load() }

// KMSCalls returns how many calls the Envelope has made to KMS
// (GenerateDataKey and Decrypt).
func (e *Envelope) KMSCalls() int64 { return e.calls.Load() }

func (e *Envelope) generate(ctx context.Context) (*dataKey, error) {
	e.calls.Add(1)
	out, err := e.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:   aws.String(e.keyID),
		KeySpec: types.DataKeySpecAes256,
	})
	if err != nil {
		return nil, fmt.Errorf("awskeys: KMS GenerateDataKey with key %s: %w", e.keyID, err)
	}
	arn := aws.ToString(out.KeyId)
	if arn == "" {
		arn = e.keyID
	}
	if strings.ContainsAny(arn, "\n\r\t ") {
		return nil, fmt.Errorf("awskeys: KMS returned a key id with white space: %q", otelaudit.SanitizeKeyID(arn))
	}
	dk, err := newDataKey(out.Plaintext, arn, base64.RawURLEncoding.EncodeToString(out.CiphertextBlob))
	clear(out.Plaintext)
	if err != nil {
		return nil, err
	}
	now := e.now()
	dk.useLimit.Store(e.maxUses)
	dk.deadline.Store(now.Add(e.maxAge).UnixNano())
	// The writer's own entries decrypt without asking KMS.
	dk.expires = now.Add(e.maxAge)
	e.remember(dk, now)
	return dk, nil
}

func newDataKey(plain []byte, arn, wrapped string) (*dataKey, error) {
	if len(plain) != 32 {
		return nil, fmt.Errorf("%w: KMS data key is %d bytes, want 32", otelaudit.ErrInvalidKey, len(plain))
	}
	block, err := aes.NewCipher(plain)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", otelaudit.ErrInvalidKey, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", otelaudit.ErrInvalidKey, err)
	}
	return &dataKey{aead: aead, keyARN: arn, wrapped: wrapped, prefix: KMSPrefix + arn + ":" + wrapped + ":"}, nil
}

// current returns the data key to encrypt with, replacing it first when
// it is worn out by count or age.
func (e *Envelope) current() (*dataKey, error) {
	dk := e.cur.Load()
	if dk == nil {
		return nil, ErrNoKMSKey
	}
	if dk.uses.Load() < dk.useLimit.Load() && e.now().UnixNano() < dk.deadline.Load() {
		return dk, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if now := e.cur.Load(); now != dk {
		return now, nil // another goroutine replaced it
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	fresh, err := e.generate(ctx)
	if err == nil {
		e.cur.Store(fresh)
		return fresh, nil
	}
	e.failures.Add(1)
	if dk.uses.Load() >= hardMaxUses {
		return nil, fmt.Errorf("awskeys: data key used %d times and KMS gives no new one: %w", dk.uses.Load(), err)
	}
	otel.Handle(fmt.Errorf("awskeys: keeping the current data key: %w", err))
	// Try again after another tenth of the limits, not on every call.
	dk.useLimit.Store(min(dk.uses.Load()+max(e.maxUses/10, 1), hardMaxUses))
	dk.deadline.Store(e.now().Add(e.maxAge / 10).UnixNano())
	return dk, nil
}

// Encrypt seals plaintext with the current data key and returns
// "kms:<key ARN>:<wrapped data key>:<sealed>" (see [KMSPrefix]).
func (e *Envelope) Encrypt(plaintext string) (string, error) {
	out, err := e.AppendEncrypt(nil, plaintext)
	if err != nil {
		return "", err
	}
	return unsafe.String(unsafe.SliceData(out), len(out)), nil // out is not used again
}

// AppendEncrypt appends what [Envelope.Encrypt] returns for plaintext to
// dst (see [otelaudit.AppendEncrypter]).
func (e *Envelope) AppendEncrypt(dst []byte, plaintext string) ([]byte, error) {
	dk, err := e.current()
	if err != nil {
		return dst, err
	}
	if dk.uses.Add(1) > hardMaxUses {
		return dst, fmt.Errorf("awskeys: data key used %d times and KMS gives no new one", hardMaxUses)
	}
	ns, ov := dk.aead.NonceSize(), dk.aead.Overhead()
	sealedLen := ns + len(plaintext) + ov
	// Seal into a pooled scratch buffer (it only ever holds ciphertext),
	// then base64 once onto dst.
	scratch := scratchPool.Get().(*[]byte)
	defer func() {
		if cap(*scratch) <= maxPooledScratch {
			scratchPool.Put(scratch)
		}
	}()
	if cap(*scratch) < sealedLen {
		*scratch = make([]byte, sealedLen)
	}
	buf := (*scratch)[:sealedLen]
	nonce := buf[:ns]
	if _, err := rand.Read(nonce); err != nil {
		return dst, fmt.Errorf("awskeys: encrypt: %w", err)
	}
	dk.aead.Seal(buf[:ns], nonce, unsafe.Slice(unsafe.StringData(plaintext), len(plaintext)), unsafe.Slice(unsafe.StringData(dk.prefix), len(dk.prefix)))
	n := len(dk.prefix) + b64.RawEncodedLen(sealedLen)
	dst = slices.Grow(dst, n)
	out := dst[len(dst) : len(dst)+n]
	copy(out, dk.prefix)
	b64.EncodeRaw(out[len(dk.prefix):], buf)
	return dst[:len(dst)+n], nil
}

// scratchPool holds sealing buffers for Encrypt; buffers larger than
// maxPooledScratch go back to the garbage collector.
const maxPooledScratch = 64 << 10

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Decrypt opens ciphertext made by any Envelope, unwrapping its data key
// with KMS Decrypt unless it is cached. Ciphertext of another scheme
// (Fernet) is an error matching [otelaudit.ErrOtherScheme]; every error
// matches [otelaudit.ErrDecrypt] and names the KMS key, never content or
// key material.
func (e *Envelope) Decrypt(ciphertext string) (string, error) {
	s := strings.TrimSpace(ciphertext)
	rest, ok := strings.CutPrefix(s, KMSPrefix)
	if !ok {
		return "", fmt.Errorf("%w: %w: content is not KMS-enveloped, and this is a KMS envelope", otelaudit.ErrDecrypt, otelaudit.ErrOtherScheme)
	}
	i := strings.LastIndexByte(rest, ':')
	j := -1
	if i > 0 {
		j = strings.LastIndexByte(rest[:i], ':')
	}
	if j <= 0 {
		return "", fmt.Errorf("%w: malformed KMS ciphertext", otelaudit.ErrDecrypt)
	}
	arn, wrapped, sealedText := rest[:j], rest[j+1:i], rest[i+1:]
	prefix := s[:len(KMSPrefix)+i+1]
	if !e.allowed(arn) {
		return "", fmt.Errorf("%w: %w: content is under KMS key %s; allowed: %s", otelaudit.ErrDecrypt, otelaudit.ErrUnknownKey,
			otelaudit.SanitizeKeyID(arn), strings.Join(e.only, ", "))
	}
	dk, err := e.unwrap(arn, wrapped)
	if err != nil {
		return "", err
	}
	sealed, err := base64.RawURLEncoding.DecodeString(sealedText)
	ns := dk.aead.NonceSize()
	if err != nil || len(sealed) < ns+dk.aead.Overhead() {
		return "", fmt.Errorf("%w: malformed KMS ciphertext (sealed part)", otelaudit.ErrDecrypt)
	}
	pt, err := dk.aead.Open(sealed[ns:ns], sealed[:ns], sealed[ns:], []byte(prefix))
	if err != nil {
		return "", fmt.Errorf("%w: content under KMS key %s was altered", otelaudit.ErrDecrypt, otelaudit.SanitizeKeyID(arn))
	}
	return string(pt), nil
}

func (e *Envelope) unwrap(arn, wrapped string) (*dataKey, error) {
	now := e.now()
	e.cacheMu.Lock()
	dk, ok := e.cache[wrapped]
	e.cacheMu.Unlock()
	if ok && now.Before(dk.expires) && dk.keyARN == arn {
		return dk, nil
	}
	blob, err := base64.RawURLEncoding.DecodeString(wrapped)
	if err != nil || len(blob) == 0 {
		return nil, fmt.Errorf("%w: malformed KMS ciphertext (wrapped data key)", otelaudit.ErrDecrypt)
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	e.calls.Add(1)
	out, err := e.client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, KeyId: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("%w: KMS Decrypt of the data key under %s: %w", otelaudit.ErrDecrypt, otelaudit.SanitizeKeyID(arn), err)
	}
	dk, err = newDataKey(out.Plaintext, arn, wrapped)
	clear(out.Plaintext)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", otelaudit.ErrDecrypt, err)
	}
	dk.expires = now.Add(e.maxAge)
	e.remember(dk, now)
	return dk, nil
}

// remember puts an unwrapped data key into the decryption cache, making
// room by dropping expired keys, else any one.
func (e *Envelope) remember(dk *dataKey, now time.Time) {
	e.cacheMu.Lock()
	defer e.cacheMu.Unlock()
	if len(e.cache) >= e.cacheN {
		for k, old := range e.cache {
			if !now.Before(old.expires) || len(e.cache) >= e.cacheN {
				delete(e.cache, k)
			}
		}
	}
	e.cache[dk.wrapped] = dk
}
