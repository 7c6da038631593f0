package s3store_test

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit-go/internal/s3test"
	"github.com/otelaudit/otelaudit-go/storage"
	"github.com/otelaudit/otelaudit-go/storage/s3store"
	"github.com/otelaudit/otelaudit-go/storage/verify"
)

var testCheckpointKey = []byte("0123456789abcdef0123456789abcdef")

// signedBucket is a bucket holding a signed S3 store, with helpers to
// tamper with its objects and verify it.
type signedBucket struct {
	t       *testing.T
	client  *s3.Client
	bucket  string
	prefix  string
	witness lockedBuffer   // shared by the writers, as one log pipeline would be
	v       *s3store.Store // a reading Store that verifies
}

// lockedBuffer is a witness several Stores write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

func newSignedBucket(t *testing.T, prefix string) *signedBucket {
	srv := testServer(t)
	client := srv.client(nil, srv.secret)
	sb := &signedBucket{t: t, client: client, bucket: newBucket(t, client), prefix: prefix}
	v, err := s3store.New(t.Context(), client, sb.bucket, s3store.WithPrefix(prefix))
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	sb.v = v
	return sb
}

// store opens a signing writer publishing to the bucket's witness.
func (sb *signedBucket) store(opts ...s3store.Option) *s3store.Store {
	base := []s3store.Option{s3store.WithPrefix(sb.prefix), s3store.WithMaxBatchEntries(50),
		s3store.WithCheckpointKey("k1", testCheckpointKey), s3store.WithWitness(&sb.witness)}
	st, err := s3store.New(sb.t.Context(), sb.client, sb.bucket, append(base, opts...)...)
	require.NoError(sb.t, err)
	return st
}

// write writes n entries alternately through sts, starting at base.
func (sb *signedBucket) write(sts []*s3store.Store, base time.Time, n int) {
	for i := range n {
		require.NoError(sb.t, sts[i%len(sts)].Write(sb.t.Context(), entryAt(base.Add(time.Duration(i)*7*time.Second))))
	}
}

func (sb *signedBucket) verify(withWitness bool) *verify.Report {
	sb.t.Helper()
	opts := []s3store.VerifyOption{s3store.WithVerifyKey("k1", testCheckpointKey)}
	if withWitness {
		opts = append(opts, s3store.WithVerifyWitness(bytes.NewReader(sb.witness.Bytes())))
	}
	rep, err := sb.v.Verify(sb.t.Context(), opts...)
	require.NoError(sb.t, err)
	return rep
}

// snapshot returns every object under the prefix.
func (sb *signedBucket) snapshot() map[string][]byte {
	out := map[string][]byte{}
	for _, k := range s3test.Keys(sb.t, sb.client, sb.bucket, sb.prefix) {
		out[k] = s3test.Body(sb.t, sb.client, sb.bucket, k)
	}
	return out
}

// restore makes the prefix hold exactly snap.
func (sb *signedBucket) restore(snap map[string][]byte) {
	for _, k := range s3test.Keys(sb.t, sb.client, sb.bucket, sb.prefix) {
		if _, ok := snap[k]; !ok {
			sb.del(k)
		}
	}
	for k, b := range snap {
		sb.put(k, b)
	}
}

func (sb *signedBucket) put(key string, body []byte) {
	_, err := sb.client.PutObject(sb.t.Context(), &s3.PutObjectInput{Bucket: aws.String(sb.bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	require.NoError(sb.t, err)
}

func (sb *signedBucket) del(key string) {
	_, err := sb.client.DeleteObject(sb.t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(sb.bucket), Key: aws.String(key)})
	require.NoError(sb.t, err)
}

// batchKeys returns the batch object keys of writer w (all writers for
// ""), in key order, and the digest keys of w.
func (sb *signedBucket) batchKeys(w string) (objs, digests []string) {
	for _, k := range s3test.Keys(sb.t, sb.client, sb.bucket, sb.prefix) {
		rel := strings.TrimPrefix(k, sb.prefix)
		switch {
		case strings.HasPrefix(rel, "_digests/"+w):
			digests = append(digests, k)
		case strings.HasPrefix(rel, "_"):
		case strings.HasSuffix(rel, ".jsonl") && strings.Contains(rel, "/"+w):
			objs = append(objs, k)
		}
	}
	// Oldest batch first (batch numbers are decimal in the key).
	slices.SortStableFunc(objs, func(x, y string) int { return batchSeq(x) - batchSeq(y) })
	return objs, digests
}

// batchSeq returns the batch number in a batch object key.
func batchSeq(key string) int {
	leaf := key[strings.LastIndexByte(key, '/')+1:]
	n, _ := strconv.Atoi(leaf[17:strings.IndexByte(leaf, '.')])
	return n
}

func kinds(rep *verify.Report) map[verify.ProblemKind]string {
	out := map[verify.ProblemKind]string{}
	for _, p := range rep.Problems {
		if _, ok := out[p.Kind]; !ok {
			out[p.Kind] = p.File
		}
	}
	return out
}

// TestDigests: two signing writers, 1,000 entries over two days. The
// intact store verifies with no unconfirmed entries, with and without the
// witness (without it, the report names what it cannot rule out). Every
// kind of tampering is caught, naming the object or digest: a changed
// byte, a deleted, added or replaced object, a deleted, altered or forged
// digest; the newest objects deleted with the last digest, a deleted
// writer session and a rollback are caught with the witness (and verify
// without it, as the README says).
func TestDigests(t *testing.T) {
	sb := newSignedBucket(t, "d/")
	a, b := sb.store(), sb.store()
	base := time.Date(2025, 7, 1, 23, 0, 0, 0, time.UTC) // crosses midnight
	sb.write([]*s3store.Store{a, b}, base, 600)
	require.NoError(t, a.Flush(t.Context()))
	require.NoError(t, b.Flush(t.Context()))
	half := sb.snapshot()
	sb.write([]*s3store.Store{a, b}, base.Add(time.Hour), 400)
	require.NoError(t, a.Close())
	require.NoError(t, b.Close())

	rep := sb.verify(false)
	require.True(t, rep.OK(), "%v", rep.Problems)
	assert.Equal(t, int64(1000), rep.Chained)
	assert.Zero(t, rep.Unconfirmed, "%v", rep.Warnings)
	assert.Equal(t, s3store.UnverifiableWithoutWitness(), rep.Unverifiable)
	assert.Greater(t, rep.Checkpoints, 4)
	rep = sb.verify(true)
	require.True(t, rep.OK(), "%v", rep.Problems)
	assert.Empty(t, rep.Unverifiable)
	assert.Greater(t, rep.Witnessed, 4)

	intact := sb.snapshot()
	var wa string
	for k := range intact {
		if strings.Contains(k, "_digests/") && !strings.HasSuffix(k, "/_legacy.json") {
			wa = k[len(sb.prefix)+len("_digests/"):][:16]
			break
		}
	}
	objs, digests := sb.batchKeys(wa)
	require.Greater(t, len(objs), 5)
	require.Greater(t, len(digests), 2)
	mid := objs[len(objs)/2]

	type tc struct {
		name    string
		tamper  func()
		witness bool // needs the witness to be caught
		want    verify.ProblemKind
		where   string // key (relative) the first such problem names
	}
	rel := func(k string) string { return strings.TrimPrefix(k, sb.prefix) }
	cases := []tc{
		{name: "changed byte", tamper: func() {
			body := bytes.Clone(intact[mid])
			i := bytes.Index(body, []byte(`"latency_ms":3`))
			body[i+len(`"latency_ms":`)] = '4'
			sb.put(mid, body)
		}, want: verify.ProblemModified, where: rel(mid)},
		{name: "deleted object", tamper: func() { sb.del(mid) }, want: verify.ProblemMissing, where: rel(mid)},
		{name: "deleted last object", tamper: func() { sb.del(objs[len(objs)-1]) }, want: verify.ProblemMissing, where: rel(objs[len(objs)-1])},
		{name: "added object", tamper: func() {
			// A copy of an object under another batch number of its writer.
			k := strings.Replace(mid, wa+"-", wa+"-9", 1)
			sb.put(k, intact[mid])
		}, want: verify.ProblemAfterClose},
		{name: "replaced object", tamper: func() {
			// The object rewritten without its last line, under its
			// next generation (what a Delete without a note leaves).
			body := intact[mid]
			cut := bytes.LastIndexByte(body[:len(body)-1], '\n') + 1
			leaf := mid[strings.LastIndexByte(mid, '/')+1:]
			base, _, _ := strings.Cut(leaf, ".")
			sb.put(strings.TrimSuffix(mid, leaf)+base+".1.jsonl", body[:cut])
		}, want: verify.ProblemMissing, where: rel(mid)},
		{name: "deleted digest", tamper: func() { sb.del(digests[1]) }, want: verify.ProblemMissing, where: rel(digests[2])},
		{name: "altered digest", tamper: func() {
			body := bytes.Replace(intact[digests[1]], []byte(`"n":50`), []byte(`"n":49`), 1)
			require.NotEqual(t, intact[digests[1]], body)
			sb.put(digests[1], body)
		}, want: verify.ProblemBadSignature, where: rel(digests[1])},
		{name: "forged digest", tamper: func() {
			forged := bytes.Replace(intact[digests[1]], []byte(`"kid":"k1"`), []byte(`"kid":"k2"`), 1)
			sb.put(digests[1], forged)
		}, want: verify.ProblemBadSignature, where: rel(digests[1])},
		{name: "truncated with last digest", witness: true, tamper: func() {
			sb.del(objs[len(objs)-1])
			sb.del(digests[len(digests)-1])
		}, want: verify.ProblemWitnessed},
		{name: "deleted writer session", witness: true, tamper: func() {
			for _, k := range append(slices.Clone(objs), digests...) {
				sb.del(k)
			}
		}, want: verify.ProblemWitnessed},
		{name: "rollback", witness: true, tamper: func() { sb.restore(half) }, want: verify.ProblemWitnessed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sb.t = t
			defer func() { sb.t = t; sb.restore(intact) }()
			c.tamper()
			rep := sb.verify(true)
			require.False(t, rep.OK(), "with witness: not caught")
			k := kinds(rep)
			require.Contains(t, k, c.want, "%v", rep.Problems)
			if c.where != "" {
				assert.Equal(t, c.where, k[c.want], "%v", rep.Problems)
			}
			rep = sb.verify(false)
			if c.witness {
				assert.True(t, rep.OK(), "without witness this needs one (README): %v", rep.Problems)
				assert.Equal(t, s3store.UnverifiableWithoutWitness(), rep.Unverifiable)
			} else {
				assert.False(t, rep.OK(), "without witness: not caught")
			}
		})
	}
	sb.t = t
	rep = sb.verify(true)
	require.True(t, rep.OK(), "restored: %v", rep.Problems)
}

// TestDigestKeys: a short key is an error at New and at Verify; a signed
// store verified without a key is a problem (its digests cannot be
// checked), not intact.
func TestDigestKeys(t *testing.T) {
	sb := newSignedBucket(t, "k/")
	_, err := s3store.New(t.Context(), sb.client, sb.bucket, s3store.WithCheckpointKey("k1", []byte("short")))
	require.ErrorIs(t, err, storage.ErrBadKey)
	st := sb.store()
	sb.write([]*s3store.Store{st}, time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC), 10)
	require.NoError(t, st.Close())
	_, err = sb.v.Verify(t.Context(), s3store.WithVerifyKey("k1", []byte("short")))
	require.ErrorIs(t, err, storage.ErrBadKey)
	rep, err := sb.v.Verify(t.Context())
	require.NoError(t, err)
	assert.Contains(t, kinds(rep), verify.ProblemNoKey)
	rep, err = sb.v.Verify(t.Context(), s3store.WithVerifyKey("k1", []byte("another key of 32 bytes, wrong!!")))
	require.NoError(t, err)
	assert.Contains(t, kinds(rep), verify.ProblemBadSignature)
}

// TestDigestRemovals: Delete and DeleteBefore (whole days and a day cut
// in the middle) by a signing Store write signed removal notes: the store
// verifies intact afterwards, and a removal without a note (the same
// rewrite by a Store without the key) is caught.
func TestDigestRemovals(t *testing.T) {
	sb := newSignedBucket(t, "r/")
	// A Store that does not sign, opened before the prefix's writers
	// signed anything (later, New refuses it: ErrCheckpointKeyNeeded).
	unsigned, err := s3store.New(t.Context(), sb.client, sb.bucket, s3store.WithPrefix(sb.prefix))
	require.NoError(t, err)
	defer unsigned.Close()
	a, b := sb.store(), sb.store()
	base := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 600 {
		e := entryAt(base.Add(time.Duration(i) * 6 * time.Minute)) // 2.5 days
		ids = append(ids, e.ID)
		require.NoError(t, []*s3store.Store{a, b}[i%2].Write(t.Context(), e))
	}
	require.NoError(t, b.Close())
	for _, id := range []string{ids[5], ids[301], ids[302], ids[599]} {
		ok, err := a.Delete(t.Context(), id)
		require.NoError(t, err)
		require.True(t, ok)
	}
	n, err := a.DeleteBefore(t.Context(), base.Add(36*time.Hour)) // day 1 whole, day 2 cut at noon
	require.NoError(t, err)
	assert.Equal(t, 360-3, n)
	require.NoError(t, a.Close())
	rep := sb.verify(true)
	require.True(t, rep.OK(), "%v", rep.Problems)
	assert.Equal(t, int64(600-360-1), rep.Chained)

	// The same Delete by a Store that does not sign: caught.
	ok, err := unsigned.Delete(t.Context(), ids[500])
	require.NoError(t, err)
	require.True(t, ok)
	rep = sb.verify(true)
	require.False(t, rep.OK())
	k := kinds(rep)
	require.Contains(t, k, verify.ProblemMissing, "%v", rep.Problems)
	assert.True(t, strings.HasPrefix(k[verify.ProblemMissing], "2025-07-03/"), "names the superseded object: %v", rep.Problems)
}

// TestDigestsWhileAppending: objects a running writer stored after its
// last digest verify as unconfirmed (a warning, exit 0), not as tampering;
// after Close nothing is unconfirmed.
func TestDigestsWhileAppending(t *testing.T) {
	sb := newSignedBucket(t, "a/")
	st := sb.store(s3store.WithDigestInterval(time.Hour, 1000))
	base := time.Date(2025, 7, 5, 0, 0, 0, 0, time.UTC)
	sb.write([]*s3store.Store{st}, base, 100)
	require.NoError(t, st.Flush(t.Context())) // a digest
	sb.write([]*s3store.Store{st}, base.Add(time.Hour), 120)
	require.Eventually(t, func() bool { return st.Stats().Objects >= 4 }, 10*time.Second, 10*time.Millisecond, "the full batches go up without a Flush")
	rep := sb.verify(true)
	require.True(t, rep.OK(), "%v", rep.Problems)
	assert.GreaterOrEqual(t, rep.Unconfirmed, int64(100))
	require.NotEmpty(t, rep.Warnings)
	assert.Equal(t, verify.WarningUnconfirmed, rep.Warnings[0].Kind)
	require.NoError(t, st.Close())
	rep = sb.verify(true)
	require.True(t, rep.OK(), "%v", rep.Problems)
	assert.Zero(t, rep.Unconfirmed)
	assert.Equal(t, int64(220), rep.Chained)
}

// afterList runs hook once, after the first listing whose prefix contains
// match has returned (and before its response is read).
type afterList struct {
	base  http.RoundTripper
	match string
	once  sync.Once
	hook  func()
}

func (a *afterList) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := a.base.RoundTrip(r)
	if err == nil && r.Method == http.MethodGet && r.URL.Query().Has("list-type") && strings.Contains(r.URL.Query().Get("prefix"), a.match) {
		a.once.Do(a.hook)
	}
	return resp, err
}

// TestDigestsWriterStartsWhileVerifying: a writer that starts between
// Verify's reading of the digests and its listing of the objects (its
// signed open digest and objects appear in between, as they do when a
// replica starts during a verification) is unconfirmed, a warning, not an
// unknown writer; the same objects without that open digest are an
// unknown writer (forged).
func TestDigestsWriterStartsWhileVerifying(t *testing.T) {
	sb := newSignedBucket(t, "late/")
	st := sb.store()
	base := time.Date(2025, 7, 6, 0, 0, 0, 0, time.UTC)
	sb.write([]*s3store.Store{st}, base, 100)
	require.NoError(t, st.Close())

	before := map[string]bool{}
	for _, k := range s3test.Keys(t, sb.client, sb.bucket, sb.prefix+"_digests/") {
		before[k] = true
	}
	srv := testServer(t)
	var late *s3store.Store
	rt := &afterList{base: http.DefaultTransport.(*http.Transport).Clone(), match: "_digests/", hook: func() {
		late = sb.store()
		sb.write([]*s3store.Store{late}, base.Add(time.Hour), 120)
		require.NoError(t, late.Flush(t.Context()))
	}}
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.access, srv.secret, ""), HTTPClient: &http.Client{Transport: rt}})
	v, err := s3store.New(t.Context(), client, sb.bucket, s3store.WithPrefix(sb.prefix), s3store.WithReadOnly())
	require.NoError(t, err)
	defer v.Close()
	rep, err := v.Verify(t.Context(), s3store.WithVerifyKey("k1", testCheckpointKey))
	require.NoError(t, err)
	require.NotNil(t, late, "the writer started during the verification")
	require.True(t, rep.OK(), "%v", rep.Problems)
	assert.Equal(t, int64(120), rep.Unconfirmed)
	assert.Equal(t, int64(220), rep.Chained)
	var started bool
	for _, w := range rep.Warnings {
		started = started || w.Kind == verify.WarningChanged && strings.Contains(w.Detail, "started while verifying")
	}
	assert.True(t, started, "%v", rep.Warnings)
	require.NoError(t, late.Close())
	rep = sb.verify(true)
	require.True(t, rep.OK(), "%v", rep.Problems)
	assert.Zero(t, rep.Unconfirmed)

	// Without its open digest the same writer signed nothing: forged.
	for _, k := range s3test.Keys(t, sb.client, sb.bucket, sb.prefix+"_digests/") {
		if !before[k] {
			_, err := sb.client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(sb.bucket), Key: aws.String(k)})
			require.NoError(t, err)
		}
	}
	rep = sb.verify(false)
	assert.Contains(t, kinds(rep), verify.ProblemUnknownWriter, "%v", rep.Problems)
}

// TestDigestsForgedObjectOfRunningWriter: an object added under the name
// of a signing writer that is still running (or crashed: no final
// digest), with its id markers, is unconfirmed only when its lines
// continue that writer's own chain (README: objects stored after a
// writer's last digest). Lines without a chain, or chained in another
// writer's chain (here one whose positions pass the running writer's
// head), are written by no Store under that name: unlisted, with and
// without the witness.
func TestDigestsForgedObjectOfRunningWriter(t *testing.T) {
	sb := newSignedBucket(t, "fr/")
	x := sb.store()
	sb.write([]*s3store.Store{x}, time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC), 150)
	require.NoError(t, x.Close())
	xObjs, _ := sb.batchKeys("")
	w := sb.store()
	defer w.Close()
	sb.write([]*s3store.Store{w}, time.Date(2025, 7, 1, 10, 0, 0, 0, time.UTC), 50)
	require.NoError(t, w.Flush(t.Context())) // running: no final digest
	var wid string
	for _, k := range s3test.Keys(t, sb.client, sb.bucket, sb.prefix+"2025-07-01/") {
		if !slices.Contains(xObjs, k) {
			wid = k[strings.LastIndexByte(k, '/')+1:][:16]
		}
	}
	require.NotEmpty(t, wid)
	last := func(keys []string) storage.Chain {
		var head storage.Chain
		for _, k := range keys {
			for l := range bytes.Lines(s3test.Body(t, sb.client, sb.bucket, k)) {
				if _, c, ok := storage.SplitChain(bytes.TrimSuffix(l, []byte("\n"))); ok && c.Seq > head.Seq {
					head = c
				}
			}
		}
		return head
	}
	wObjs, _ := sb.batchKeys(wid)
	xHead, wHead := last(xObjs), last(wObjs)
	require.Greater(t, xHead.Seq, wHead.Seq)
	intact := sb.snapshot()

	// plant stores three made-up entries (chained by c, or unchained when
	// c is nil) as batch seq of the running writer, with their id marker.
	plant := func(c *storage.Chainer, seq int) string {
		ts := time.Date(2025, 7, 1, 20, 0, 0, 0, time.UTC)
		var body []byte
		var ids []string
		for i := range 3 {
			e := entryAt(ts.Add(time.Duration(i) * time.Second))
			ids = append(ids, e.ID)
			if c == nil {
				b, err := e.AppendJSON(nil)
				require.NoError(t, err)
				body = append(append(body, b...), '\n')
				continue
			}
			p, err := e.AppendPrefix(nil)
			require.NoError(t, err)
			body = c.AppendLine(body, p)
		}
		ns := ts.Sub(time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)).Nanoseconds()
		leaf := fmt.Sprintf("%s-%d.0.%014d-%014d.3.jsonl", wid, seq, ns, ns+2e9)
		sb.put(sb.prefix+"2025-07-01/"+leaf, body)
		slices.Sort(ids)
		sb.put(fmt.Sprintf("%s_ids/%s/%s_%s_2025-07-01_%s", sb.prefix, time.Now().UTC().Format("2006-01-02"), ids[0], ids[2], leaf), nil)
		return "2025-07-01/" + leaf
	}
	for _, c := range []struct {
		name  string
		chain *storage.Chainer
	}{
		{"unchained lines", nil},
		{"another writer's chain continued", func() *storage.Chainer { c := storage.ResumeChainer(xHead); return &c }()},
	} {
		t.Run(c.name, func(t *testing.T) {
			sb.t = t
			defer func() { sb.t = t; sb.restore(intact) }()
			rel := plant(c.chain, 900)
			for _, wit := range []bool{true, false} {
				rep := sb.verify(wit)
				assert.True(t, hasProblem(rep, verify.ProblemUnlisted, rel), "witness %v: %v", wit, rep.Problems)
			}
		})
	}
	sb.t = t
	// The running writer's own chain continued: unconfirmed (README).
	own := storage.ResumeChainer(wHead)
	plant(&own, 901)
	rep := sb.verify(true)
	assert.True(t, rep.OK(), "%v", rep.Problems)
	assert.Equal(t, int64(3), rep.Unconfirmed)
	sb.restore(intact)
}
