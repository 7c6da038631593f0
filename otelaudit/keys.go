package otelaudit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"github.com/otelaudit/otelaudit-go/internal/env"
)

// KeySource supplies the Fernet keys of a key ring, the encrypting key
// first. [KeyFile], [KeyEnv] and [StaticKeys] are the sources of this
// package; package awskeys adds AWS Secrets Manager. [NewKeyRing] loads a
// source and reloads it on an interval, so a key rotated at the source
// reaches a running service.
//
// Keys must be safe to call concurrently. Errors must name the source
// (file, variable, secret) and never contain a key.
type KeySource interface {
	Keys(ctx context.Context) ([]string, error)
}

// ErrInsecureKeyFile is matched (errors.Is) by the error [KeyFile] returns
// when group or others have any permission on the key file. The error
// names the file and its mode.
var ErrInsecureKeyFile = errors.New("otelaudit: key file is accessible to group or others")

// KeyFile reads keys from a file, one per line; blank lines and lines
// starting with '#' are ignored. The first key encrypts.
//
// On Unix a file that group or others may read, write or execute (any bit
// of 0077 set, as in 0644 or 0660) is refused with an error matching
// [ErrInsecureKeyFile] unless AllowInsecure is set, in which case it is
// read and a warning naming the file and mode is logged with log/slog.
// The check is made on the opened file, so it applies to what is read.
// [KeyFile.NamedKeys] reads hash and checkpoint key files (ID:HEX lines)
// with the same check.
type KeyFile struct {
	// Path is the file to read. Empty is an error.
	Path string
	// AllowInsecure reads a file with group or other permissions, with a
	// warning, instead of refusing it.
	AllowInsecure bool
	// Logger receives that warning; nil means slog.Default().
	Logger *slog.Logger
}

// Keys reads the file. A missing file is an error wrapping os.ErrNotExist;
// a file without keys matches [ErrInvalidKey].
func (f KeyFile) Keys(ctx context.Context) ([]string, error) {
	data, err := f.read(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", f.Path, err)
	}
	return keys, nil
}

// NamedKeys reads the file as a list of named keys, one [ParseNamedKey]
// line each ("ID:HEX", or "HEX" for key id [DefaultNamedKeyID]); blank
// lines and lines starting with '#' are ignored. This is the form of hash
// key files ([WithHashKey]) and checkpoint key files (filestore
// WithCheckpointKey, otelaudit verify --checkpoint-key-file), and they get
// the same permission check as [KeyFile.Keys]: a file group or others can
// access is refused unless AllowInsecure is set. Errors name the file and
// the line, never a key: a missing file wraps os.ErrNotExist, a bad line
// or a file without keys matches [ErrInvalidKey].
func (f KeyFile) NamedKeys(ctx context.Context) ([]NamedKey, error) {
	data, err := f.read(ctx)
	if err != nil {
		return nil, err
	}
	var keys []NamedKey
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := ParseNamedKey(line)
		if err != nil {
			return nil, fmt.Errorf("key file %s, line %d: %w", f.Path, i+1, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: key file %s holds no key", ErrInvalidKey, f.Path)
	}
	return keys, nil
}

// read opens the file, checks its mode and reads it (at most 1 MiB).
func (f KeyFile) read(ctx context.Context) ([]byte, error) {
	if f.Path == "" {
		return nil, fmt.Errorf("%w: no key file named", ErrInvalidKey)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fh, err := os.Open(f.Path)
	if err != nil {
		return nil, fmt.Errorf("otelaudit: read key file: %w", err)
	}
	defer fh.Close()
	if err := f.checkMode(fh); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(fh, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("otelaudit: read key file %s: %w", f.Path, err)
	}
	return data, nil
}

// NamedKey is a secret key with the id written next to what it signs or
// hashes: a keyed content hash ([WithHashKey]) or a checkpoint signature
// (filestore WithCheckpointKey). Key ids are not secret; keys are.
type NamedKey struct {
	ID  string
	Key []byte
}

// DefaultNamedKeyID is the key id of a key line without one (bare HEX),
// the id filestore gives its own checkpoint key.
const DefaultNamedKeyID = "local"

// MinNamedKeyLen is the shortest key [ParseNamedKey] accepts, in bytes:
// what hash keys ([MinHashKeyLen]) and HMAC checkpoint keys
// (storage.MinHMACKeyLen) need.
const MinNamedKeyLen = 16

// ParseNamedKey parses one key line: "ID:HEX", the key id up to the last
// ':' (non-empty, without spaces or tabs), or bare "HEX" for key id
// [DefaultNamedKeyID]. The key must be hex of at least [MinNamedKeyLen]
// bytes. Errors match [ErrInvalidKey] and never contain the key.
func ParseNamedKey(line string) (NamedKey, error) {
	line = strings.TrimSpace(line)
	id, h := DefaultNamedKeyID, line
	if i := strings.LastIndexByte(line, ':'); i >= 0 {
		id, h = line[:i], line[i+1:]
	}
	if id == "" || strings.ContainsAny(id, " \t") {
		return NamedKey{}, fmt.Errorf("%w: the key id before ':' must be non-empty without spaces", ErrInvalidKey)
	}
	key, err := hex.DecodeString(h)
	if err != nil {
		return NamedKey{}, fmt.Errorf("%w: the key is not hex (want ID:HEX or HEX)", ErrInvalidKey)
	}
	if len(key) < MinNamedKeyLen {
		return NamedKey{}, fmt.Errorf("%w: the key is %d bytes, want at least %d", ErrInvalidKey, len(key), MinNamedKeyLen)
	}
	return NamedKey{ID: id, Key: key}, nil
}

func (f KeyFile) checkMode(fh *os.File) error {
	path := f.Path
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		return nil // no Unix permission bits to check
	}
	st, err := fh.Stat()
	if err != nil {
		return fmt.Errorf("otelaudit: stat key file %s: %w", path, err)
	}
	perm := st.Mode().Perm()
	if perm&0o077 == 0 {
		return nil
	}
	if f.AllowInsecure {
		log := f.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Warn("otelaudit: using a key file that group or others can access", "file", path, "mode", fmt.Sprintf("%04o", perm))
		return nil
	}
	return fmt.Errorf("%w: %s has mode %04o; run chmod 600 %s, or allow it explicitly", ErrInsecureKeyFile, path, perm, path)
}

// KeyEnv reads keys from an environment variable, comma separated, the
// first one encrypting.
type KeyEnv struct {
	// Name is the variable; empty means OTELAUDIT_KEY.
	Name string
}

// Keys reads the variable. An unset or blank variable is an error
// wrapping os.ErrNotExist that names it.
func (e KeyEnv) Keys(ctx context.Context) ([]string, error) {
	name := e.Name
	if name == "" {
		name = env.Key
	}
	var keys []string
	for k := range strings.SplitSeq(os.Getenv(name), ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("otelaudit: no key in environment variable %s: %w", name, os.ErrNotExist)
	}
	return keys, nil
}

// StaticKeys is a fixed list of keys, the first one encrypting: for keys
// the program already holds (a flag, a test).
type StaticKeys []string

// Keys returns a copy of the list; an empty list is an error matching
// [ErrInvalidKey].
func (s StaticKeys) Keys(context.Context) ([]string, error) {
	if len(s) == 0 {
		return nil, fmt.Errorf("%w: no keys given", ErrInvalidKey)
	}
	return append([]string(nil), s...), nil
}

// DefaultKeySource returns the source the OTELAUDIT_* environment
// configures, in order of precedence: the key file at path (when path is
// not empty), the file named by OTELAUDIT_KEY_FILE, or the keys in
// OTELAUDIT_KEY. Key files are [KeyFile]s with their permission check.
// When nothing is configured its Keys returns an error wrapping
// os.ErrNotExist.
func DefaultKeySource(path string) KeySource {
	if path == "" {
		path = os.Getenv(env.KeyFile)
	}
	if path != "" {
		return KeyFile{Path: path}
	}
	if strings.TrimSpace(os.Getenv(env.Key)) != "" {
		return KeyEnv{}
	}
	return noKeySource{}
}

type noKeySource struct{}

func (noKeySource) Keys(context.Context) ([]string, error) {
	return nil, fmt.Errorf("otelaudit: no encryption key: give a key file, or set %s (a key file) or %s (keys): %w", env.KeyFile, env.Key, os.ErrNotExist)
}

// LoadEncryptionManager builds a key ring from [DefaultKeySource](path).
// It returns an error wrapping os.ErrNotExist when no key is configured
// anywhere.
func LoadEncryptionManager(path string) (*EncryptionManager, error) {
	return managerFrom(context.Background(), DefaultKeySource(path))
}

// managerFrom builds an [EncryptionManager] from src's keys. A key that is
// not a Fernet key is an error naming the source it came from (a file
// holding an ID:HEX checkpoint or hash key, say), as [KeySource] errors do.
func managerFrom(ctx context.Context, src KeySource) (*EncryptionManager, error) {
	keys, err := src.Keys(ctx)
	if err != nil {
		if f, ok := src.(KeyFile); ok && errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w (make one with: (umask 077 && otelaudit keygen > %s))", err, f.Path)
		}
		return nil, err
	}
	m, err := NewEncryptionManager(keys...)
	if err != nil {
		if name := keySourceName(src); name != "" {
			return nil, fmt.Errorf("%s: %w (make a key with: otelaudit keygen)", name, err)
		}
		return nil, err
	}
	return m, nil
}

// keySourceName names the sources of this package for errors: "key file
// PATH", "environment variable NAME"; "" for others.
func keySourceName(src KeySource) string {
	switch s := src.(type) {
	case KeyFile:
		return "key file " + s.Path
	case KeyEnv:
		if s.Name == "" {
			return "environment variable " + env.Key
		}
		return "environment variable " + s.Name
	}
	return ""
}

// LoadKeys returns the keys of [DefaultKeySource](path), first key first,
// without checking that they are Fernet keys.
func LoadKeys(path string) ([]string, error) {
	return DefaultKeySource(path).Keys(context.Background())
}

// ParseKeys reads a key ring from text, the encrypting key first: a JSON
// list of strings (text starting with '['), or one key per line with blank
// lines and lines starting with '#' ignored. It does not check that the
// keys are Fernet keys. Text without a key, or a malformed JSON list, is
// an error matching [ErrInvalidKey] that never quotes the text.
func ParseKeys(data []byte) ([]string, error) {
	data = bytes.TrimSpace(data)
	var keys []string
	if len(data) > 0 && data[0] == '[' {
		var list []string
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, fmt.Errorf("%w: not a JSON list of key strings", ErrInvalidKey)
		}
		for _, k := range list {
			if k = strings.TrimSpace(k); k != "" {
				keys = append(keys, k)
			}
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			keys = append(keys, line)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no key found", ErrInvalidKey)
	}
	return keys, nil
}
