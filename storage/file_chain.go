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
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/otelaudit/otelaudit-go/internal/jsontext"
)

// Hash chain.
//
// Every line the file backend writes ends with
//
//	,"chain":{"w":"<writer>","n":<seq>,"p":"<prev hash>","h":"<hash>"}}
//
// ([AuditEntry.AppendJSON] always writes chain last). The hash is
//
//	h = hex(SHA-256("otelaudit-chain-v1\x00" w "\x00" n "\x00" p "\x00" prefix))
//
// where prefix is the exact line bytes before `,"chain":`. Verification
// therefore hashes the stored bytes as they are, with no JSON decoding and
// no re-encoding. Each writer session (one FileStorage opened for writing)
// has its own random writer id and numbers its entries 1, 2, 3, ... in the
// order it appends them; p is the previous entry's hash ("" for n = 1).
const chainDomain = "otelaudit-chain-v1\x00"

// chainMarker precedes the chain object at the end of a chained line.
var chainMarker = []byte(`,"chain":{"w":`)

type chainState struct {
	writer string
	seq    uint64
	head   string
	h      hash.Hash
}

func chainHash(h hash.Hash, w string, n uint64, p string, prefix []byte) string {
	if h == nil {
		h = sha256.New()
	}
	h.Reset()
	var num [20]byte
	h.Write([]byte(chainDomain))
	h.Write([]byte(w))
	h.Write([]byte{0})
	h.Write(strconv.AppendUint(num[:0], n, 10))
	h.Write([]byte{0})
	h.Write([]byte(p))
	h.Write([]byte{0})
	h.Write(prefix)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// appendLine appends prefix, the next chain suffix and '\n' to buf and
// advances the chain.
func (c *chainState) appendLine(buf, prefix []byte) []byte {
	if c.h == nil {
		c.h = sha256.New()
	}
	c.seq++
	hsh := chainHash(c.h, c.writer, c.seq, c.head, prefix)
	buf = append(buf, prefix...)
	buf = append(buf, chainMarker...)
	buf = jsontext.AppendString(buf, c.writer)
	buf = append(buf, `,"n":`...)
	buf = strconv.AppendUint(buf, c.seq, 10)
	buf = append(buf, `,"p":`...)
	buf = jsontext.AppendString(buf, c.head)
	buf = append(buf, `,"h":`...)
	buf = jsontext.AppendString(buf, hsh)
	buf = append(buf, "}}\n"...)
	c.head = hsh
	return buf
}

// chainSuffixLen is an upper bound of the chain suffix length.
func chainSuffixLen(writer string) int { return len(writer) + 190 }

// lineChain is the chain of one stored line.
type lineChain struct {
	w    string
	n    uint64
	p, h string
}

// splitChain finds the chain suffix of a line. It returns the prefix the
// hash covers and the chain; ok is false when the line has no well-formed
// chain suffix.
func splitChain(line []byte) (prefix []byte, c lineChain, ok bool) {
	i := bytes.LastIndex(line, chainMarker)
	if i < 0 {
		return nil, c, false
	}
	rest := line[i+len(chainMarker):]
	var s string
	if s, rest, ok = cutJSONString(rest); !ok {
		return nil, c, false
	}
	c.w = s
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"n":`)); !ok {
		return nil, c, false
	}
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	n, err := strconv.ParseUint(string(rest[:j]), 10, 64)
	if err != nil {
		return nil, c, false
	}
	c.n = n
	if rest, ok = bytes.CutPrefix(rest[j:], []byte(`,"p":`)); !ok {
		return nil, c, false
	}
	if c.p, rest, ok = cutJSONString(rest); !ok {
		return nil, c, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"h":`)); !ok {
		return nil, c, false
	}
	if c.h, rest, ok = cutJSONString(rest); !ok {
		return nil, c, false
	}
	if !bytes.Equal(rest, []byte("}}")) {
		return nil, c, false
	}
	return line[:i], c, true
}

// cutJSONString reads a JSON string without escapes (writer ids and hex
// hashes never need any).
func cutJSONString(b []byte) (string, []byte, bool) {
	if len(b) < 2 || b[0] != '"' {
		return "", b, false
	}
	e := bytes.IndexByte(b[1:], '"')
	if e < 0 || bytes.IndexByte(b[1:1+e], '\\') >= 0 {
		return "", b, false
	}
	return string(b[1 : 1+e]), b[e+2:], true
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Checkpoints and notes.

// checkpointKey signs checkpoint lines with HMAC-SHA256 (key) or Ed25519
// (priv).
type checkpointKey struct {
	id   string
	key  []byte
	priv ed25519.PrivateKey
}

func (k checkpointKey) sign(b []byte) string {
	if k.priv != nil {
		return hex.EncodeToString(ed25519.Sign(k.priv, b))
	}
	m := hmac.New(sha256.New, k.key)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}

// loadCheckpointKey returns the configured key, or the store's own key
// file (created on first use).
func loadCheckpointKey(dir string, cfg fileConfig) (checkpointKey, error) {
	if cfg.checkpointPriv != nil {
		return checkpointKey{id: cfg.checkpointKeyID, priv: cfg.checkpointPriv}, nil
	}
	if cfg.checkpointKey != nil {
		return checkpointKey{id: cfg.checkpointKeyID, key: cfg.checkpointKey}, nil
	}
	path := filepath.Join(dir, keyFileName)
	if k, err := readKeyFile(path); err == nil {
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return checkpointKey{}, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return checkpointKey{}, fmt.Errorf("storage: generate checkpoint key: %w", err)
	}
	if err := writeFileAtomic(path, []byte(hex.EncodeToString(key)+"\n")); err != nil {
		return checkpointKey{}, fmt.Errorf("storage: write checkpoint key file: %w", err)
	}
	return checkpointKey{id: "local", key: key}, nil
}

func readKeyFile(path string) (checkpointKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return checkpointKey{}, err
	}
	key, err := hex.DecodeString(string(bytes.TrimSpace(b)))
	if err != nil || len(key) < 16 {
		return checkpointKey{}, fmt.Errorf("storage: checkpoint key file %s is damaged", filepath.Base(path))
	}
	return checkpointKey{id: "local", key: key}, nil
}

// Note kinds in checkpoints.jsonl.
const (
	noteOpen       = "open"       // a writer session started
	noteCheckpoint = "checkpoint" // the writer's chain head
	noteRecovery   = "recovery"   // a torn tail was cut off
	noteRemoval    = "removal"    // entries were removed (Delete, DeleteBefore)
	noteLegacy     = "legacy"     // unchained lines present when chaining began
)

// note is one line of checkpoints.jsonl. Every line ends with
// ,"kid":"<key id>","sig":"<hex HMAC-SHA256 of the bytes before ,"kid":>"}
type note struct {
	Type   string `json:"type"`
	Writer string `json:"w"`
	Seq    uint64 `json:"n"`
	Hash   string `json:"h,omitempty"`
	Time   string `json:"t"`
	Final  bool   `json:"final,omitempty"`
	// PrevNote is the SHA-256 (hex) of the previous line of
	// checkpoints.jsonl ("" for the first), so notes form a chain too:
	// removing or reordering notes is detected.
	PrevNote string         `json:"pn"`
	Recovery *recoveryNote  `json:"recovery,omitempty"`
	Removal  *removalNote   `json:"removal,omitempty"`
	Legacy   *legacySummary `json:"legacy,omitempty"`
}

// recoveryNote records a torn tail cut off at open.
type recoveryNote struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
	SHA256 string `json:"sha256"`
}

// removalNote records entries removed on purpose.
type removalNote struct {
	Reason string        `json:"reason"` // "delete" or "retention"
	Files  []string      `json:"files,omitempty"`
	Ranges []seqRange    `json:"ranges,omitempty"`
	Legacy legacySummary `json:"legacy"`
	Count  int           `json:"count"`
	Before string        `json:"before,omitempty"`
}

// seqRange is a run of consecutive chain entries of one writer; Last is
// the hash of entry To, which the next remaining entry links to.
type seqRange struct {
	Writer string `json:"w"`
	From   uint64 `json:"from"`
	To     uint64 `json:"to"`
	Last   string `json:"last"`
}

// legacySummary is an order-independent digest of unchained lines: their
// count and the sum (mod 2^256, hex) of the SHA-256 of each line.
type legacySummary struct {
	Count int64  `json:"count"`
	Sum   string `json:"sum"`
}

type sum256 [32]byte

func (s *sum256) add(b [32]byte) {
	var carry uint16
	for i := 31; i >= 0; i-- {
		v := uint16(s[i]) + uint16(b[i]) + carry
		s[i] = byte(v)
		carry = v >> 8
	}
}

func (s sum256) hex() string { return hex.EncodeToString(s[:]) }

func parseSum(h string) (sum256, bool) {
	var s sum256
	if h == "" {
		return s, true
	}
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		return s, false
	}
	copy(s[:], b)
	return s, true
}

// legacyAcc accumulates a legacySummary.
type legacyAcc struct {
	n   int64
	sum sum256
}

func (a *legacyAcc) add(line []byte) {
	a.n++
	a.sum.add(sha256.Sum256(line))
}

func (a *legacyAcc) summary() legacySummary {
	return legacySummary{Count: a.n, Sum: a.sum.hex()}
}

// rangeAcc accumulates the seqRanges of removed chained lines.
type rangeAcc struct {
	ranges []seqRange
	last   map[string]int // writer -> index of its open range
}

func (a *rangeAcc) add(c lineChain) {
	if a.last == nil {
		a.last = make(map[string]int)
	}
	if i, ok := a.last[c.w]; ok && a.ranges[i].To+1 == c.n {
		a.ranges[i].To, a.ranges[i].Last = c.n, c.h
		return
	}
	a.last[c.w] = len(a.ranges)
	a.ranges = append(a.ranges, seqRange{Writer: c.w, From: c.n, To: c.n, Last: c.h})
}

// encodeNote signs n with key.
func encodeNote(n *note, key checkpointKey) ([]byte, error) {
	b, err := json.Marshal(n)
	if err != nil {
		return nil, err
	}
	b = b[:len(b)-1]
	sig := key.sign(b)
	b = append(b, `,"kid":`...)
	b = jsontext.AppendString(b, key.id)
	b = append(b, `,"sig":`...)
	b = jsontext.AppendString(b, sig)
	b = append(b, "}\n"...)
	return b, nil
}

// splitNoteSig returns the signed bytes, key id and signature of a note
// line.
func splitNoteSig(line []byte) (signed []byte, kid, sig string, ok bool) {
	i := bytes.LastIndex(line, []byte(`,"kid":`))
	if i < 0 {
		return nil, "", "", false
	}
	rest := line[i+len(`,"kid":`):]
	if kid, rest, ok = cutJSONString(rest); !ok {
		return nil, "", "", false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"sig":`)); !ok {
		return nil, "", "", false
	}
	if sig, rest, ok = cutJSONString(rest); !ok || !bytes.Equal(rest, []byte("}")) {
		return nil, "", "", false
	}
	return line[:i], kid, sig, true
}

// appendNotes signs and appends notes to checkpoints.jsonl and fsyncs it.
func (s *FileStorage) appendNotes(ns ...*note) error {
	s.notesMu.Lock()
	defer s.notesMu.Unlock()
	path := filepath.Join(s.dir, checkpointFileName)
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("storage: open checkpoints: %w", err)
	}
	defer f.Close()
	if _, err := cutTornTail(f, checkpointFileName); err != nil {
		return err
	}
	if !s.notesInit {
		last, err := lastLineOf(f)
		if err != nil {
			return fmt.Errorf("storage: read checkpoints: %w", err)
		}
		if last != nil {
			s.lastNote = sha256Hex(last)
		}
		s.notesInit = true
	}
	var buf []byte
	prev := s.lastNote
	for _, n := range ns {
		if n.Writer == "" {
			n.Writer = s.writerID
		}
		if n.Time == "" {
			n.Time = s.cfg.now().UTC().Format(time.RFC3339Nano)
		}
		n.PrevNote = prev
		b, err := encodeNote(n, s.key)
		if err != nil {
			return fmt.Errorf("storage: encode checkpoint: %w", err)
		}
		prev = sha256Hex(b[:len(b)-1])
		buf = append(buf, b...)
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if _, err := f.Write(buf); err != nil {
		// Leave no partial note behind.
		f.Truncate(fi.Size())
		return fmt.Errorf("storage: write checkpoint: %w", err)
	}
	s.lastNote = prev
	if err := f.Sync(); err != nil {
		return fmt.Errorf("storage: fsync checkpoints: %w", err)
	}
	if statErr != nil {
		return syncDir(s.dir)
	}
	return nil
}

// lastLine returns the last complete line of f (without '\n'), or nil.
func lastLineOf(f *os.File) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var last []byte
	_, err = scanLines(f, max(0, fi.Size()-64<<10), fi.Size(), func(_ int64, line []byte) error {
		last = append(last[:0], line...)
		return nil
	})
	return last, err
}

// recordRecoveries writes recovery notes (during open they are written by
// startSession).
func (s *FileStorage) recordRecoveries(notes []recoveryNote) error {
	if len(notes) == 0 {
		return nil
	}
	if s.writerID == "" {
		s.pendingRecoveries = append(s.pendingRecoveries, notes...)
		return nil
	}
	ns := make([]*note, len(notes))
	for i := range notes {
		ns[i] = &note{Type: noteRecovery, Seq: s.chain.seq, Hash: s.chain.head, Recovery: &notes[i]}
	}
	return s.appendNotes(ns...)
}

// startSession starts a writer session: a legacy note when chaining
// begins on a store that already holds unchained lines, pending recovery
// notes, and the signed "open" note.
func (s *FileStorage) startSession() error {
	_, err := os.Stat(filepath.Join(s.dir, checkpointFileName))
	fresh := errors.Is(err, os.ErrNotExist)
	s.writerID = newWriterID()
	s.chain = chainState{writer: s.writerID, h: sha256.New()}
	var ns []*note
	if fresh {
		acc, err := s.legacyDigest()
		if err != nil {
			return err
		}
		if acc.n > 0 {
			sum := acc.summary()
			ns = append(ns, &note{Type: noteLegacy, Legacy: &sum})
		}
	}
	for i := range s.pendingRecoveries {
		ns = append(ns, &note{Type: noteRecovery, Recovery: &s.pendingRecoveries[i]})
	}
	s.pendingRecoveries = nil
	ns = append(ns, &note{Type: noteOpen})
	s.cpTime = s.cfg.now()
	return s.appendNotes(ns...)
}

// legacyDigest sums the unchained lines of every data file.
func (s *FileStorage) legacyDigest() (legacyAcc, error) {
	var acc legacyAcc
	refs, err := listDataFiles(s.dir)
	if err != nil {
		return acc, err
	}
	for _, ref := range refs {
		f, err := os.Open(filepath.Join(s.dir, ref.name))
		if err != nil {
			return acc, err
		}
		fi, err := f.Stat()
		if err == nil {
			_, err = scanLines(f, 0, fi.Size(), func(_ int64, line []byte) error {
				if _, _, ok := splitChain(line); !ok && !isBlank(line) && json.Valid(line) {
					acc.add(line)
				}
				return nil
			})
		}
		f.Close()
		if err != nil {
			return acc, fmt.Errorf("storage: read %s: %w", ref.name, err)
		}
	}
	return acc, nil
}

// maybeCheckpoint writes a checkpoint if the chain advanced and one is due
// (or force).
func (s *FileStorage) maybeCheckpoint(force bool) error {
	s.mu.Lock()
	due := !s.closed.Load() && s.chain.seq != s.cpSeq &&
		(force || s.chain.seq-s.cpSeq >= uint64(s.cfg.checkpointEvery) || s.cfg.now().Sub(s.cpTime) >= s.cfg.checkpointInterval)
	s.mu.Unlock()
	if !due {
		return nil
	}
	return s.checkpoint(false)
}

// checkpoint fsyncs the written data and then signs the chain head, so
// that a checkpoint never covers data that is not durable. Writers are not
// held up by the fsyncs: the head is taken under mu, the rest runs outside.
func (s *FileStorage) checkpoint(final bool) error {
	s.cpMu.Lock()
	defer s.cpMu.Unlock()
	s.mu.Lock()
	seq, head := s.chain.seq, s.chain.head
	if !final && seq == s.cpSeq {
		s.mu.Unlock()
		return nil
	}
	files := make([]*os.File, 0, len(s.dirty))
	for f := range s.dirty {
		files = append(files, f)
	}
	s.mu.Unlock()
	for _, f := range files {
		// A file closed meanwhile was fsynced by whoever closed it.
		if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
			return fmt.Errorf("storage: fsync %s: %w", filepath.Base(f.Name()), err)
		}
	}
	if err := s.appendNotes(&note{Type: noteCheckpoint, Seq: seq, Hash: head, Final: final}); err != nil {
		return err
	}
	s.mu.Lock()
	if seq > s.cpSeq {
		s.cpSeq = seq
	}
	s.cpTime = s.cfg.now()
	s.mu.Unlock()
	return nil
}
