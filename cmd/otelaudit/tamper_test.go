package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/s3test"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/filestore"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
)

// The tamper suite (issue 14): one table of attacks, each played through
// `otelaudit verify` against both backends, a file store directory and an
// S3 prefix on versitygw, each holding tamperEntries entries of two writer
// sessions signed with a checkpoint key kept outside the store, whose
// notes were also published to a witness file. Every attack must give exit
// 1 with the witness, naming the file or object (and line) where it
// applies; without the witness, every attack except those in
// needsWitness (the README's list, "Tamper evidence") must give exit 1 too.

// tamperEntries is the size of each suite store (two writers, half each).
const tamperEntries = 1040

// units is a store's content: every file of a directory, or every object
// under a prefix, by name relative to the store.
type units map[string][]byte

func (u units) clone() units {
	out := make(units, len(u))
	for k, v := range u {
		out[k] = slices.Clone(v)
	}
	return out
}

// tamperStore is one backend of the suite.
type tamperStore interface {
	name() string
	args() []string // the verify flags naming the store
	load(t *testing.T) units
	save(t *testing.T, want units) // make the store hold exactly want
	isData(name string) bool       // a unit of entry lines
	isNote(name string) bool       // a unit of signed note lines
	// addedName names a new data unit holding entries of writer w at ts
	// (n entries), as the backend names them.
	addedName(w string, ts time.Time, n int) string
	// fresh returns an empty store of the same backend.
	fresh(t *testing.T) tamperStore
	// writer opens a writer session on the store, signing with the
	// suite's key.
	writer(t *testing.T) appender
	// reference lays out entry lines as the reference implementation
	// stores them (day files; one object per entry).
	reference(t *testing.T, lines [][]byte) units
}

// appender is a writer session of either backend.
type appender interface {
	Write(ctx context.Context, e *storage.AuditEntry) error
	Close() error
}

// fileTamper is a file store directory.
type fileTamper struct{ dir string }

func (f *fileTamper) name() string   { return "dir" }
func (f *fileTamper) args() []string { return []string{"--dir", f.dir} }
func (f *fileTamper) isData(n string) bool {
	return strings.HasPrefix(n, "audit_") && strings.HasSuffix(n, ".jsonl")
}
func (f *fileTamper) isNote(n string) bool { return n == "checkpoints.jsonl" }
func (f *fileTamper) addedName(_ string, ts time.Time, _ int) string {
	return "audit_" + ts.UTC().Format("20060102") + ".jsonl"
}

func (f *fileTamper) fresh(t *testing.T) tamperStore { return &fileTamper{dir: t.TempDir()} }

func (f *fileTamper) writer(t *testing.T) appender {
	st, err := filestore.New(f.dir, filestore.WithCheckpointKey(tamperKeyID, tamperKey), filestore.WithCheckpointInterval(50, 20*time.Millisecond))
	require.NoError(t, err)
	return st
}

func (f *fileTamper) reference(t *testing.T, ls [][]byte) units {
	u := units{}
	for _, l := range ls {
		e, err := storage.ParseEntry(l)
		require.NoError(t, err)
		n := "audit_" + e.Timestamp.UTC().Format("20060102") + ".jsonl"
		u[n] = append(append(u[n], l...), '\n')
	}
	return u
}

func (f *fileTamper) load(t *testing.T) units {
	t.Helper()
	u := units{}
	require.NoError(t, filepath.WalkDir(f.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(f.dir, p)
		u[filepath.ToSlash(rel)] = b
		return err
	}))
	return u
}

func (f *fileTamper) save(t *testing.T, want units) {
	t.Helper()
	have := f.load(t)
	for n := range have {
		if _, ok := want[n]; !ok {
			require.NoError(t, os.Remove(filepath.Join(f.dir, filepath.FromSlash(n))))
		}
	}
	for n, b := range want {
		if old, ok := have[n]; ok && bytes.Equal(old, b) {
			continue
		}
		p := filepath.Join(f.dir, filepath.FromSlash(n))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, b, 0o600))
	}
}

// s3Tamper is an S3 prefix.
type s3Tamper struct {
	client                   *s3.Client
	endpoint, bucket, prefix string
}

func (s *s3Tamper) name() string { return "s3" }
func (s *s3Tamper) args() []string {
	return []string{"--s3-bucket", s.bucket, "--s3-prefix", s.prefix, "--s3-endpoint", s.endpoint, "--s3-region", "us-east-1"}
}
func (s *s3Tamper) isData(n string) bool {
	return !strings.HasPrefix(n, "_") && strings.HasSuffix(n, ".jsonl")
}
func (s *s3Tamper) isNote(n string) bool { return strings.HasPrefix(n, "_digests/") }
func (s *s3Tamper) addedName(w string, ts time.Time, n int) string {
	day := ts.UTC().Truncate(24 * time.Hour)
	ns := ts.Sub(day).Nanoseconds()
	return fmt.Sprintf("%s/%s-1.0.%014d-%014d.%d.jsonl", day.Format("2006-01-02"), w, ns, ns, n)
}

func (s *s3Tamper) fresh(t *testing.T) tamperStore {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	return &s3Tamper{client: s.client, endpoint: s.endpoint, bucket: s.bucket, prefix: "fresh-" + hex.EncodeToString(rnd[:]) + "/"}
}

func (s *s3Tamper) writer(t *testing.T) appender {
	st, err := s3store.New(t.Context(), s.client, s.bucket, s3store.WithPrefix(s.prefix), s3store.WithMaxBatchEntries(20),
		s3store.WithMaxBatchDelay(10*time.Millisecond), s3store.WithCheckpointKey(tamperKeyID, tamperKey), s3store.WithDigestInterval(20*time.Millisecond, 2))
	require.NoError(t, err)
	return st
}

func (s *s3Tamper) reference(t *testing.T, ls [][]byte) units {
	u := units{}
	for _, l := range ls {
		e, err := storage.ParseEntry(l)
		require.NoError(t, err)
		u[e.Timestamp.UTC().Format("2006-01-02")+"/"+e.ID+".json"] = append(slices.Clone(l), '\n')
	}
	return u
}

func (s *s3Tamper) load(t *testing.T) units {
	t.Helper()
	u := units{}
	for _, k := range s3test.Keys(t, s.client, s.bucket, s.prefix) {
		u[strings.TrimPrefix(k, s.prefix)] = s3test.Body(t, s.client, s.bucket, k)
	}
	return u
}

func (s *s3Tamper) save(t *testing.T, want units) {
	t.Helper()
	have := s.load(t)
	for n := range have {
		if _, ok := want[n]; !ok {
			_, err := s.client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + n)})
			require.NoError(t, err)
		}
	}
	for n, b := range want {
		if old, ok := have[n]; ok && bytes.Equal(old, b) {
			continue
		}
		putBody(t, s.client, s.bucket, s.prefix+n, b)
	}
}

// tamperFixture is one backend's suite store: its content when intact, an
// older copy (taken half-way through writing), the key and the witness.
type tamperFixture struct {
	st      tamperStore
	intact  units
	older   units
	keyFile string
	witness string
	writers []string // writer ids, in the order their sessions started
}

var tamperKey = bytes.Repeat([]byte{0x7c}, 32)

const tamperKeyID = "ops1"

// tamperEntry is entry i of a suite store: 2 UTC days, 3 minutes apart.
func tamperEntry(i int) *storage.AuditEntry {
	e := chainEntry(i)
	e.Timestamp = time.Date(2025, 9, 10, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 3 * time.Minute)
	return e
}

// keyAndWitness writes the key file and opens the witness file of a
// fixture in a directory outside the store.
func keyAndWitness(t *testing.T) (keyFile, witness string, w *lockedWriter) {
	t.Helper()
	dir := t.TempDir()
	keyFile = filepath.Join(dir, "checkpoint.key")
	require.NoError(t, os.WriteFile(keyFile, []byte(tamperKeyID+":"+hex.EncodeToString(tamperKey)+"\n"), 0o600))
	witness = filepath.Join(dir, "witness.jsonl")
	wf, err := os.OpenFile(witness, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(t, err)
	t.Cleanup(func() { _ = wf.Close() })
	return keyFile, witness, &lockedWriter{w: wf}
}

// fileFixture writes a file store: two writer sessions one after the
// other (a directory has one writer at a time), the second interrupted
// half-way for the older copy.
func fileFixture(t *testing.T) *tamperFixture {
	dir := t.TempDir()
	keyFile, witness, w := keyAndWitness(t)
	fx := &tamperFixture{st: &fileTamper{dir: dir}, keyFile: keyFile, witness: witness}
	opts := []filestore.Option{filestore.WithCheckpointKey(tamperKeyID, tamperKey), filestore.WithWitness(w), filestore.WithCheckpointInterval(100, time.Hour)}
	half := tamperEntries / 2
	for session := range 2 {
		st, err := filestore.New(dir, opts...)
		require.NoError(t, err)
		for i := range half {
			require.NoError(t, st.Write(t.Context(), tamperEntry(session*half+i)))
			if i%100 == 99 { // a signed checkpoint (a running store writes them on its background tick)
				require.NoError(t, st.Flush(t.Context()))
			}
			if session == 1 && i == half/2 {
				require.NoError(t, st.Flush(t.Context()))
				fx.older = fx.st.load(t)
			}
		}
		require.NoError(t, st.Close())
	}
	fx.intact = fx.st.load(t)
	return fx
}

// s3Fixture writes an S3 store: two Stores writing at once (as the
// replicas of a fleet do), the older copy taken half-way.
func s3Fixture(t *testing.T) *tamperFixture {
	client, endpoint, bucket, _ := s3CLI(t)
	keyFile, witness, w := keyAndWitness(t)
	fx := &tamperFixture{st: &s3Tamper{client: client, endpoint: endpoint, bucket: bucket, prefix: "tamper/"}, keyFile: keyFile, witness: witness}
	var writers [2]*s3store.Store
	for i := range writers {
		st, err := s3store.New(t.Context(), client, bucket, s3store.WithPrefix("tamper/"), s3store.WithMaxBatchEntries(40),
			s3store.WithCheckpointKey(tamperKeyID, tamperKey), s3store.WithWitness(w), s3store.WithDigestInterval(time.Hour, 4))
		require.NoError(t, err)
		writers[i] = st
	}
	for i := range tamperEntries {
		require.NoError(t, writers[i%2].Write(t.Context(), tamperEntry(i)))
		if i == tamperEntries/2 {
			for _, st := range writers {
				require.NoError(t, st.Flush(t.Context()))
			}
			fx.older = fx.st.load(t)
		}
	}
	for _, st := range writers {
		require.NoError(t, st.Close())
	}
	fx.intact = fx.st.load(t)
	return fx
}

// chainLine is one chained entry line of a store.
type chainLine struct {
	unit string
	idx  int // 0-based line in the unit
	c    storage.Chain
}

// lines splits a unit into its lines, without their '\n'.
func lines(b []byte) [][]byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

func joinLines(ls [][]byte) []byte {
	if len(ls) == 0 {
		return nil
	}
	return append(bytes.Join(ls, []byte("\n")), '\n')
}

// chainLines returns every chained entry line of u, by unit name and line.
func (fx *tamperFixture) chainLines(t *testing.T, u units) []chainLine {
	t.Helper()
	var out []chainLine
	for _, n := range slices.Sorted(mapsKeys(u)) {
		if !fx.st.isData(n) {
			continue
		}
		for i, l := range lines(u[n]) {
			_, c, ok := storage.SplitChain(l)
			require.True(t, ok, "%s:%d is chained", n, i+1)
			out = append(out, chainLine{unit: n, idx: i, c: c})
		}
	}
	return out
}

func mapsKeys(u units) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range u {
			if !yield(k) {
				return
			}
		}
	}
}

// noteLine is one signed note of a store.
type noteLine struct {
	unit string
	idx  int
	n    storage.Note
}

func (fx *tamperFixture) notes(t *testing.T, u units) []noteLine {
	t.Helper()
	var out []noteLine
	for _, name := range slices.Sorted(mapsKeys(u)) {
		if !fx.st.isNote(name) {
			continue
		}
		for i, l := range lines(u[name]) {
			var n storage.Note
			require.NoError(t, json.Unmarshal(l, &n))
			if n.Type == storage.NoteLegacy {
				// An S3 prefix's legacy note (_digests/_legacy.json) is
				// no writer's digest: counted as one, it could sort as
				// the store's last note or shift a writer's.
				continue
			}
			out = append(out, noteLine{unit: name, idx: i, n: n})
		}
	}
	return out
}

// lastWriter is the writer whose note is the store's last: the second
// session of a directory.
func (fx *tamperFixture) lastWriter(t *testing.T) string {
	ns := fx.notes(t, fx.intact)
	require.NotEmpty(t, ns)
	return ns[len(ns)-1].n.Writer
}

// middleUnit returns a data unit well inside writer w's chain (not the
// first or last one holding w's entries) and the lines in it of w.
func (fx *tamperFixture) middleUnit(t *testing.T, u units, w string) (string, []chainLine) {
	t.Helper()
	byUnit := map[string][]chainLine{}
	var order []string
	for _, l := range fx.chainLines(t, u) {
		if l.c.Writer != w {
			continue
		}
		if byUnit[l.unit] == nil {
			order = append(order, l.unit)
		}
		byUnit[l.unit] = append(byUnit[l.unit], l)
	}
	slices.SortFunc(order, func(a, b string) int { return int(byUnit[a][0].c.Seq) - int(byUnit[b][0].c.Seq) })
	require.GreaterOrEqual(t, len(order), 2, "writer %s spans several units", w)
	name := order[len(order)/2]
	if fx.st.name() == "dir" {
		name = order[0] // a directory has few day files; the first holds the middle of the chain too
	}
	return name, byUnit[name]
}

// dropLines removes from u every data line keep rejects, and units left
// empty; it returns the units it changed.
func (fx *tamperFixture) dropLines(t *testing.T, u units, drop func(chainLine) bool) []string {
	t.Helper()
	var changed []string
	for _, n := range slices.Sorted(mapsKeys(u)) {
		if !fx.st.isData(n) {
			continue
		}
		var keep [][]byte
		ls := lines(u[n])
		for i, l := range ls {
			_, c, _ := storage.SplitChain(l)
			if !drop(chainLine{unit: n, idx: i, c: c}) {
				keep = append(keep, l)
			}
		}
		if len(keep) == len(ls) {
			continue
		}
		changed = append(changed, n)
		if len(keep) == 0 {
			delete(u, n)
		} else {
			u[n] = joinLines(keep)
		}
	}
	return changed
}

// dropNotes removes the notes drop selects (lines of checkpoints.jsonl,
// or digest objects).
func (fx *tamperFixture) dropNotes(t *testing.T, u units, drop func(storage.Note) bool) {
	t.Helper()
	for _, n := range slices.Sorted(mapsKeys(u)) {
		if !fx.st.isNote(n) {
			continue
		}
		var keep [][]byte
		for _, l := range lines(u[n]) {
			var note storage.Note
			require.NoError(t, json.Unmarshal(l, &note))
			if !drop(note) {
				keep = append(keep, l)
			}
		}
		if len(keep) == 0 {
			delete(u, n)
		} else {
			u[n] = joinLines(keep)
		}
	}
}

// rechain rewrites writer w's entries from position from on with edit
// applied to the entry at from (its prefix bytes), each re-hashed so the
// chain is whole again; it returns the new hash of every rewritten
// position.
func (fx *tamperFixture) rechain(t *testing.T, u units, w string, from uint64, edit func([]byte) []byte) map[uint64]string {
	t.Helper()
	type at struct {
		unit string
		idx  int
	}
	pos := map[uint64]at{}
	var prev string
	for _, l := range fx.chainLines(t, u) {
		if l.c.Writer == w {
			pos[l.c.Seq] = at{l.unit, l.idx}
			if l.c.Seq == from {
				prev = l.c.Prev
			}
		}
	}
	split := map[string][][]byte{}
	for _, p := range pos {
		if split[p.unit] == nil {
			split[p.unit] = lines(u[p.unit])
		}
	}
	ch := storage.ResumeChainer(storage.Chain{Writer: w, Seq: from - 1, Hash: prev})
	heads := map[uint64]string{}
	for seq := from; ; seq++ {
		p, ok := pos[seq]
		if !ok {
			break
		}
		prefix, _, ok := storage.SplitChain(split[p.unit][p.idx])
		require.True(t, ok)
		prefix = slices.Clone(prefix)
		if seq == from {
			prefix = edit(prefix)
		}
		line := ch.AppendLine(nil, prefix)
		split[p.unit][p.idx] = line
		heads[seq] = ch.Head()
	}
	for n, ls := range split {
		u[n] = joinLines(ls)
	}
	return heads
}

// resign re-signs every note of u with signer, with the chain heads and
// object digests made to match the rewritten entries (heads by writer w's
// position) and each note linked to its re-signed predecessor: the work
// of someone who rewrote the store and signs with a key they found.
func (fx *tamperFixture) resign(t *testing.T, u units, w string, heads map[uint64]string, signer storage.Signer) {
	t.Helper()
	renamed := map[string]string{} // old NoteDigest -> new
	for _, name := range slices.Sorted(mapsKeys(u)) {
		if !fx.st.isNote(name) {
			continue
		}
		ls := lines(u[name])
		for i, l := range ls {
			var n storage.Note
			require.NoError(t, json.Unmarshal(l, &n))
			if h, ok := heads[n.Seq]; ok && n.Writer == w && n.Hash != "" {
				n.Hash = h
			}
			if nd, ok := renamed[n.PrevNote]; ok {
				n.PrevNote = nd
			}
			for j := range n.Objects {
				if b, ok := u[n.Objects[j].Key]; ok {
					n.Objects[j].SHA256 = storage.ObjectSHA256(b)
				}
				for k, r := range n.Objects[j].Ranges {
					if h, ok := heads[r.To]; ok && r.Writer == w {
						n.Objects[j].Ranges[k].Last = h
					}
				}
			}
			nl, err := storage.EncodeNote(&n, signer)
			require.NoError(t, err)
			nl = bytes.TrimSuffix(nl, []byte("\n"))
			renamed[storage.NoteDigest(l)] = storage.NoteDigest(nl)
			ls[i] = nl
		}
		u[name] = joinLines(ls)
	}
}

// tamperCase is one attack. apply changes u (the intact store) and
// returns what the report must name: a unit, optionally ":line".
type tamperCase struct {
	name string
	// needsWitness: caught only with a witness (the README's list);
	// without one verify gives exit 0 and names it as not ruled out.
	needsWitness bool
	kinds        string // the problem kinds (a regexp alternative) the report must show
	apply        func(t *testing.T, fx *tamperFixture, u units) (naming string)
	// only names the one backend ("dir", "s3") the attack applies to
	// (what it attacks exists there only); "" for both.
	only string
}

// noteUnit matches where a backend keeps its signed notes.
const noteUnit = `(checkpoints\.jsonl|_digests/[0-9a-f]{16}/\d{20}\.json)`

var tamperCases = []tamperCase{
	{name: "index omits entries", only: "dir", kinds: "index-mismatch", apply: func(t *testing.T, fx *tamperFixture, u units) string {
		// The data is untouched; its index is rewritten without two
		// entries (counted as skipped lines), every CRC made right: count,
		// query, show and delete would miss them.
		name, _ := fx.middleUnit(t, u, fx.writers[0])
		idx := ".index/" + name + ".idx"
		require.Contains(t, u, idx)
		u[idx] = indexOmitting(t, u[idx], 2)
		return regexp.QuoteMeta(name + ": index-mismatch: ")
	}},
	{name: "changed byte", kinds: "modified", apply: func(t *testing.T, fx *tamperFixture, u units) string {
		name, ls := fx.middleUnit(t, u, fx.writers[0])
		l := ls[len(ls)/2]
		all := lines(u[name])
		i := bytes.Index(all[l.idx], []byte(`"latency_ms":12.5`))
		require.Positive(t, i)
		all[l.idx][i+len(`"latency_ms":1`)] = '3'
		u[name] = joinLines(all)
		return regexp.QuoteMeta(fmt.Sprintf("%s:%d: modified", name, l.idx+1))
	}},
	{name: "deleted entry", kinds: "missing", apply: func(t *testing.T, fx *tamperFixture, u units) string {
		name, ls := fx.middleUnit(t, u, fx.writers[0])
		l := ls[len(ls)/2]
		fx.dropLines(t, u, func(c chainLine) bool { return c.unit == name && c.idx == l.idx })
		return regexp.QuoteMeta(name + ":")
	}},
	{name: "inserted entry", kinds: "modified|duplicate|chain-broken", apply: func(t *testing.T, fx *tamperFixture, u units) string {
		name, ls := fx.middleUnit(t, u, fx.writers[0])
		l := ls[len(ls)/2]
		all := lines(u[name])
		forged := bytes.Replace(all[l.idx], []byte(`"latency_ms":12.5`), []byte(`"latency_ms":1`), 1)
		u[name] = joinLines(slices.Insert(all, l.idx+1, forged))
		return regexp.QuoteMeta(fmt.Sprintf("%s:%d: ", name, l.idx+2))
	}},
	{name: "reordered entries", kinds: "reordered", apply: func(t *testing.T, fx *tamperFixture, u units) string {
		name, ls := fx.middleUnit(t, u, fx.writers[0])
		a, b := ls[len(ls)/2], ls[len(ls)/2+1]
		all := lines(u[name])
		all[a.idx], all[b.idx] = all[b.idx], all[a.idx]
		u[name] = joinLines(all)
		return regexp.QuoteMeta(name + ":")
	}},
	{name: "replayed entry", kinds: "duplicate|reordered", apply: func(t *testing.T, fx *tamperFixture, u units) string {
		// An entry of the writer's first unit stored again at the end of a
		// later one.
		name, _ := fx.middleUnit(t, u, fx.writers[0])
		first := fx.chainLines(t, u)
		var old []byte
		for _, l := range first {
			if l.c.Writer == fx.writers[0] && l.c.Seq == 2 {
				old = lines(u[l.unit])[l.idx]
			}
		}
		require.NotNil(t, old)
		u[name] = append(slices.Clone(u[name]), append(slices.Clone(old), '\n')...)
		return regexp.QuoteMeta(name + ":")
	}},
	{name: "deleted file or object", kinds: "missing", apply: func(t *testing.T, fx *tamperFixture, u units) string {
		name, ls := fx.middleUnit(t, u, fx.writers[0])
		delete(u, name)
		// The entry after the gap and the gap's positions (a deleted
		// file's name is in no note: the gap is what shows).
		return fmt.Sprintf(`: missing: entr(y|ies) %s:(%d\.\.)?%d before this one`, ls[0].c.Writer, ls[0].c.Seq, ls[len(ls)-1].c.Seq)
	}},
	{name: "added file or object", kinds: "unknown-writer|unlisted", apply: func(t *testing.T, fx *tamperFixture, u units) string {
		// Entries of a writer no signed note knows, chained correctly, in
		// a unit of their own.
		w := storage.NewWriterID()
		ch := storage.NewChainer(w)
		ts := tamperEntry(tamperEntries).Timestamp.AddDate(0, 0, 30) // a day no unit holds
		var body []byte
		for i := range 5 {
			e := tamperEntry(tamperEntries + 100 + i)
			e.Timestamp = ts
			p, err := e.AppendPrefix(nil)
			require.NoError(t, err)
			body = append(ch.AppendLine(body, p), '\n')
		}
		name := fx.st.addedName(w, ts, 5)
		require.NotContains(t, u, name)
		u[name] = body
		return regexp.QuoteMeta(name + ":")
	}},
	{name: "added reference-format entry", kinds: "legacy-changed", apply: func(t *testing.T, fx *tamperFixture, u units) string {
		// A made-up entry without a chain, laid out as the reference
		// implementation stores it (a day file; an object of its own), in
		// a store that was signed from the start: unchained entries there
		// are only those present when signing began.
		e := tamperEntry(tamperEntries + 200)
		e.Timestamp = tamperEntry(tamperEntries).Timestamp.AddDate(0, 0, 40) // a day no unit holds
		line, err := e.AppendJSON(nil)
		require.NoError(t, err)
		var name string
		for n, b := range fx.st.reference(t, [][]byte{line}) {
			require.NotContains(t, u, n)
			u[n], name = b, n
		}
		return regexp.QuoteMeta(name) + `(:\d+)?: legacy-changed: `
	}},
	{name: "deleted id markers", only: "s3", kinds: "marker-missing", apply: func(t *testing.T, fx *tamperFixture, u units) string {
		// The markers Read by id (otelaudit show, Delete) goes through:
		// the object's entries are still stored but no longer found.
		name, _ := fx.middleUnit(t, u, fx.writers[0])
		leaf := name[strings.LastIndex(name, "/")+1:]
		n := 0
		for k := range u {
			if strings.HasPrefix(k, "_ids/") && strings.HasSuffix(k, "_"+leaf) {
				delete(u, k)
				n++
			}
		}
		require.Positive(t, n, "markers of %s", name)
		return regexp.QuoteMeta(name) + `: marker-missing: `
	}},
	{name: "replaced file or object", kinds: "chain-broken|modified", apply: func(t *testing.T, fx *tamperFixture, u units) string {
		// The unit's entries of writer 0 rewritten and re-chained from the
		// entry before them (the next unit's first entry then breaks).
		name, ls := fx.middleUnit(t, u, fx.writers[0])
		all := lines(u[name])
		ch := storage.ResumeChainer(storage.Chain{Writer: ls[0].c.Writer, Seq: ls[0].c.Seq - 1, Hash: ls[0].c.Prev})
		for _, l := range ls {
			p, _, _ := storage.SplitChain(all[l.idx])
			p = bytes.Replace(slices.Clone(p), []byte(`"latency_ms":12.5`), []byte(`"latency_ms":99`), 1)
			all[l.idx] = ch.AppendLine(nil, p)
		}
		u[name] = joinLines(all)
		return regexp.QuoteMeta(name + ":")
	}},
	{name: "truncated newest entries, last checkpoint kept", kinds: "missing", apply: func(t *testing.T, fx *tamperFixture, u units) string {
		w := fx.lastWriter(t)
		var last uint64
		for _, l := range fx.chainLines(t, u) {
			if l.c.Writer == w {
				last = max(last, l.c.Seq)
			}
		}
		changed := fx.dropLines(t, u, func(c chainLine) bool { return c.c.Writer == w && c.c.Seq > last-30 })
		require.NotEmpty(t, changed)
		// The report names a cut unit, or the note whose head is gone.
		for _, n := range fx.notes(t, u) {
			if n.n.Writer == w {
				changed = append(changed, n.unit)
			}
		}
		for i, c := range changed {
			changed[i] = regexp.QuoteMeta(c)
		}
		return `(` + strings.Join(changed, "|") + `)(:\d+)?: missing: `
	}},
	{name: "truncated newest entries with the last checkpoint", kinds: "witnessed-missing", needsWitness: true, apply: func(t *testing.T, fx *tamperFixture, u units) string {
		// Cut back to a signed note some notes before the writer's last,
		// dropping the notes after it and every entry they alone vouch
		// for: on S3 the objects no kept digest lists (uploads finish out
		// of order, so the note is one whose listed objects hold exactly
		// the writer's first entries, as a careful attacker picks it).
		w := fx.lastWriter(t)
		var mine []storage.Note
		for _, n := range fx.notes(t, u) {
			if n.n.Writer == w {
				mine = append(mine, n.n)
			}
		}
		all := fx.chainLines(t, u)
		for k := len(mine) - 3; k > 0; k-- {
			cut := mine[k].Seq
			listed, objects := map[string]bool{}, false
			for _, n := range mine[:k+1] {
				for _, o := range n.Objects {
					listed[o.Key], objects = true, true
				}
			}
			keep := func(c chainLine) bool {
				if objects {
					return listed[c.unit]
				}
				return c.c.Seq <= cut
			}
			var kept []uint64
			for _, l := range all {
				if l.c.Writer == w && keep(l) {
					kept = append(kept, l.c.Seq)
				}
			}
			slices.Sort(kept)
			if len(kept) == 0 || kept[len(kept)-1] != uint64(len(kept)) || uint64(len(kept)) < cut {
				continue // not a clean cut: the chain would show a gap
			}
			changed := fx.dropLines(t, u, func(c chainLine) bool { return c.c.Writer == w && !keep(c) })
			require.NotEmpty(t, changed)
			i := -1 // dropNotes visits the notes in fx.notes' order
			fx.dropNotes(t, u, func(n storage.Note) bool {
				if n.Writer != w || n.Type == storage.NoteLegacy {
					return false
				}
				i++
				return i > k
			})
			return noteUnit + `:\d+: witnessed-missing: the \w+ note of writer ` + w
		}
		t.Fatal("no clean cut")
		return ""
	}},
	{name: "deleted writer session", kinds: "witnessed-missing", needsWitness: true, apply: func(t *testing.T, fx *tamperFixture, u units) string {
		w := fx.lastWriter(t)
		fx.dropLines(t, u, func(c chainLine) bool { return c.c.Writer == w })
		// Not the legacy note, which the writer may have stored: on S3 it
		// names the store, and other writers' open digests require it.
		fx.dropNotes(t, u, func(n storage.Note) bool { return n.Writer == w && n.Type != storage.NoteLegacy })
		return noteUnit + `:\d+: witnessed-missing: the \w+ note of writer ` + w
	}},
	{name: "rollback to an older copy", kinds: "witnessed-missing", needsWitness: true, apply: func(t *testing.T, fx *tamperFixture, u units) string {
		for k := range u {
			delete(u, k)
		}
		for k, v := range fx.older.clone() {
			u[k] = v
		}
		return noteUnit + `:\d+: witnessed-missing: `
	}},
	// An entry of the first writer changed, its chain re-hashed, and every
	// note re-signed with the key the store directory would keep
	// (.checkpoint.key), written there: under the writers' key id, and as
	// key id "local" (what a store without an outside key signs with: the
	// outside key given to verify must not let the store's own key in).
	{name: "forged chain re-signed with a key found in the store", kinds: "bad-signature", apply: forgeResigned(tamperKeyID)},
	{name: "forged chain re-signed with the store's local key", kinds: "bad-signature", apply: forgeResigned("local")},
}

// forgeResigned is the attack of changing an entry of the first writer,
// re-hashing its chain and re-signing every note under keyID with a key
// planted in the store as .checkpoint.key.
func forgeResigned(keyID string) func(*testing.T, *tamperFixture, units) string {
	return func(t *testing.T, fx *tamperFixture, u units) string {
		w := fx.writers[0]
		_, ls := fx.middleUnit(t, u, w)
		from := ls[len(ls)/2].c.Seq
		heads := fx.rechain(t, u, w, from, func(p []byte) []byte {
			return bytes.Replace(p, []byte(`"latency_ms":12.5`), []byte(`"latency_ms":13.5`), 1)
		})
		found := make([]byte, 32)
		_, _ = rand.Read(found)
		u[".checkpoint.key"] = []byte(hex.EncodeToString(found) + "\n")
		signer, err := storage.NewHMACSigner(keyID, found)
		require.NoError(t, err)
		fx.resign(t, u, w, heads, signer)
		return noteUnit + `(:\d+)?: bad-signature: `
	}
}

// TestTamperSuite plays every tamperCases attack against a file store and
// an S3 store through `otelaudit verify`, with and without the witness.
func TestTamperSuite(t *testing.T) {
	for _, mk := range []func(*testing.T) *tamperFixture{fileFixture, s3Fixture} {
		fx := mk(t)
		t.Run(fx.st.name(), func(t *testing.T) {
			for _, l := range fx.chainLines(t, fx.intact) {
				if !slices.Contains(fx.writers, l.c.Writer) {
					fx.writers = append(fx.writers, l.c.Writer)
				}
			}
			require.Len(t, fx.writers, 2, "two writers")
			require.Len(t, fx.chainLines(t, fx.intact), tamperEntries)
			withKey := append(fx.st.args(), "--checkpoint-key-file", fx.keyFile)
			withWitness := append(slices.Clone(withKey), "--witness", fx.witness)

			r := runCLI(t, append([]string{"verify"}, withWitness...)...)
			require.Equal(t, 0, r.code, "intact, with witness: %s%s", r.stdout, r.stderr)
			require.Contains(t, r.stdout, fmt.Sprintf("%d chained in 2 writer sessions", tamperEntries))
			require.Contains(t, r.stdout, "Result:       INTACT\n")
			r = runCLI(t, append([]string{"verify"}, withKey...)...)
			require.Equal(t, 0, r.code, "intact, no witness: %s%s", r.stdout, r.stderr)

			for _, tc := range tamperCases {
				if tc.only != "" && tc.only != fx.st.name() {
					continue
				}
				t.Run(tc.name, func(t *testing.T) {
					u := fx.intact.clone()
					naming := tc.apply(t, fx, u)
					fx.st.save(t, u)
					defer fx.st.save(t, fx.intact)

					r := runCLI(t, append([]string{"verify"}, withWitness...)...)
					if os.Getenv("TAMPER_DEBUG") != "" {
						t.Logf("with witness:\n%s", r.stdout)
					}
					assert.Equal(t, 1, r.code, "with witness:\n%s%s", r.stdout, r.stderr)
					assert.Contains(t, r.stdout, "Result:       TAMPERED or damaged\n")
					assert.Regexp(t, `: (`+tc.kinds+`): `, r.stdout)
					if naming != "" {
						assert.Regexp(t, naming, r.stdout, "the report names where")
					}
					r = runCLI(t, append([]string{"verify"}, withKey...)...)
					if tc.needsWitness {
						assert.Equal(t, 0, r.code, "needs a witness (README), so exit 0 without:\n%s%s", r.stdout, r.stderr)
						assert.Regexp(t, `(?i)cannot (be ruled|rule) out`, r.stdout)
					} else {
						assert.Equal(t, 1, r.code, "without witness:\n%s%s", r.stdout, r.stderr)
						if naming != "" {
							assert.Regexp(t, naming, r.stdout, "the report names where")
						}
					}
				})
			}

			t.Run("intact after retention cleanup", func(t *testing.T) {
				defer fx.st.save(t, fx.intact)
				now := tamperEntry(0).Timestamp.Add(36 * time.Hour) // retention 1 day: the first day and a half go
				r := runAt(t, now, append(append([]string{"cleanup", "--retention-days", "1"}, fx.st.args()...), "--checkpoint-key-file", fx.keyFile)...)
				require.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
				require.Regexp(t, `Removed [1-9]\d* entries`, r.stdout)
				r = runCLI(t, append([]string{"verify"}, withWitness...)...)
				assert.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
				assert.Contains(t, r.stdout, "Result:       INTACT\n")
				r = runCLI(t, append([]string{"verify"}, withKey...)...)
				assert.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
			})

			t.Run("intact while appended to", func(t *testing.T) {
				defer fx.st.save(t, fx.intact)
				w := fx.st.writer(t)
				stop := make(chan struct{})
				var wg sync.WaitGroup
				var written atomic.Int64
				wg.Go(func() {
					for i := range 400 { // at most: a bounded store to restore
						select {
						case <-stop:
							return
						default:
						}
						if !assert.NoError(t, w.Write(t.Context(), tamperEntry(tamperEntries+i))) {
							return
						}
						written.Add(1)
						if i%10 == 9 {
							time.Sleep(5 * time.Millisecond)
						}
					}
				})
				for range 3 {
					r := runCLI(t, append([]string{"verify"}, withWitness...)...)
					assert.Equal(t, 0, r.code, "while a writer appends:\n%s%s", r.stdout, r.stderr)
				}
				close(stop)
				wg.Wait()
				require.NoError(t, w.Close())
				require.Positive(t, written.Load())
				r := runCLI(t, append([]string{"verify"}, withWitness...)...)
				assert.Equal(t, 0, r.code, "after the writer closed:\n%s%s", r.stdout, r.stderr)
				assert.Contains(t, r.stdout, "in 3 writer sessions")
			})

			t.Run("reference implementation store", func(t *testing.T) {
				ref := fx.st.fresh(t)
				var ls [][]byte
				for _, name := range []string{"audit_20250531.jsonl", "audit_20250601.jsonl"} {
					b, err := os.ReadFile(filepath.Join(refDir("plaintext"), name))
					require.NoError(t, err)
					ls = append(ls, lines(b)...)
				}
				ref.save(t, ref.reference(t, ls))
				r := runCLI(t, append([]string{"verify"}, ref.args()...)...)
				assert.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
				assert.Contains(t, r.stdout, fmt.Sprintf("%d legacy without chain", len(ls)))
				assert.Regexp(t, `Result:       INTACT as far as verifiable \(\d+ legacy entries have no chain\)\n`, r.stdout)
			})

			t.Run("empty", func(t *testing.T) {
				r := runCLI(t, append([]string{"verify"}, fx.st.fresh(t).args()...)...)
				assert.Equal(t, 2, r.code, "%s%s", r.stdout, r.stderr)
				assert.Contains(t, r.stderr, "no audit store here")
				assert.Empty(t, r.stdout)
			})

			t.Run("short key", func(t *testing.T) {
				short := tamperKeyID + ":" + strings.Repeat("ab", storage.MinHMACKeyLen-1)
				r := runCLI(t, append(append([]string{"verify"}, fx.st.args()...), "--checkpoint-key", short, "--witness", fx.witness)...)
				assert.Equal(t, 2, r.code, "%s%s", r.stdout, r.stderr)
				assert.Contains(t, r.stderr, "want at least 16")
				assert.NotContains(t, r.stdout, "INTACT")
			})
		})
	}
	t.Run("short key writers", func(t *testing.T) {
		_, err := filestore.New(t.TempDir(), filestore.WithCheckpointKey(tamperKeyID, tamperKey[:storage.MinHMACKeyLen-1]))
		assert.ErrorIs(t, err, storage.ErrBadKey)
		client, _, bucket, _ := s3CLI(t)
		_, err = s3store.New(t.Context(), client, bucket, s3store.WithCheckpointKey(tamperKeyID, tamperKey[:storage.MinHMACKeyLen-1]))
		assert.ErrorIs(t, err, storage.ErrBadKey)
	})
}

// indexOmitting rewrites a file store index (the layout is documented in
// storage/filestore/index.go) without its first n records by id hash,
// counted as skipped lines instead, with its fanout, time range, time
// blocks and CRCs made to match, as a forger who knows the format would.
func indexOmitting(t *testing.T, b []byte, n int) []byte {
	t.Helper()
	const hdrSize, recSize, blockRecs = 8 + 8*5 + 4*4 + 256*4 + 4, 32, 128
	le := binary.LittleEndian
	crc := func(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }
	count := int(le.Uint64(b[16:]))
	require.Greater(t, count, n)
	recs := b[hdrSize+n*recSize : hdrSize+count*recSize] // sorted by id hash
	count -= n
	out := slices.Clone(b[:hdrSize])
	out = append(out, recs...)
	le.PutUint64(out[16:], uint64(count))
	le.PutUint32(out[40:], crc(recs))
	le.PutUint32(out[60:], le.Uint32(b[60:])+uint32(n))
	var fan [256]uint32
	for i := 0; i < count; i++ {
		fan[recs[i*recSize+7]]++ // the top byte of the little-endian id hash
	}
	for i := 1; i < 256; i++ {
		fan[i] += fan[i-1]
	}
	for i, v := range fan {
		le.PutUint32(out[64+4*i:], v)
	}
	// Time blocks: the records in file order, blockRecs at a time.
	type fileRec struct{ off, end, ts int64 }
	var inFile []fileRec
	for i := 0; i < count; i++ {
		r := recs[i*recSize:]
		off := int64(le.Uint64(r[8:]))
		inFile = append(inFile, fileRec{off: off, end: off + int64(le.Uint32(r[16:])) + 1, ts: int64(le.Uint64(r[24:]))})
	}
	slices.SortFunc(inFile, func(a, b fileRec) int { return cmp.Compare(a.off, b.off) })
	minTs, maxTs := inFile[0].ts, inFile[0].ts
	var blocks []byte
	for i := 0; i < count; i += blockRecs {
		part := inFile[i:min(i+blockRecs, count)]
		lo, hi := part[0].ts, part[0].ts
		for _, r := range part {
			lo, hi = min(lo, r.ts), max(hi, r.ts)
		}
		minTs, maxTs = min(minTs, lo), max(maxTs, hi)
		blocks = le.AppendUint64(blocks, uint64(lo))
		blocks = le.AppendUint64(blocks, uint64(hi))
		blocks = le.AppendUint64(blocks, uint64(part[0].off))
		blocks = le.AppendUint64(blocks, uint64(part[len(part)-1].end))
	}
	le.PutUint64(out[24:], uint64(minTs))
	le.PutUint64(out[32:], uint64(maxTs))
	le.PutUint32(out[52:], uint32(len(blocks)/32))
	out = append(out, blocks...)
	out = le.AppendUint32(out, crc(blocks))
	le.PutUint32(out[hdrSize-4:], crc(out[:hdrSize-4]))
	return out
}
