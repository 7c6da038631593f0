// Package jsontape parses JSON text in one validating pass into a flat tape
// of nodes and navigates it without scanning the text again.
//
// Each node records a value's kind, the byte offsets of its raw text and
// the index of the node after its subtree, so that skipping a value, or
// walking the members of an object, costs one step per child instead of a
// scan of the child's text. The text is not copied: strings without
// escapes, and every [Value.Raw], are substrings of the input; a string
// with escapes is decoded into a new string when it is asked for.
//
// [Parse] accepts exactly the texts that encoding/json's Valid accepts
// (including its nesting limit, [MaxDepth]) and never panics or recurses on
// hostile input. A [Parser] parses text after text into the same node
// storage, for callers that parse many texts and keep only strings.
//
//	v, err := jsontape.ParseString(`{"model":"m","messages":[{"role":"user"}]}`)
//	if err != nil {
//		return err
//	}
//	model := v.Get("model").Str() // "m"
//	for m := range v.Get("messages").Elements() {
//		_ = m.Get("role").Str() // "user"
//	}
package jsontape

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Kind is the JSON type of a [Value].
type Kind uint8

// The kinds of [Value]. The zero Kind, Invalid, is the kind of a missing
// value (the zero Value, or a Get that found nothing).
const (
	Invalid Kind = iota
	Null
	False
	True
	Number
	String
	Object
	Array
)

var kindNames = [...]string{"invalid", "null", "false", "true", "number", "string", "object", "array"}

// String returns the kind's lower-case name, as "object" or "null".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// MaxDepth is the deepest nesting of objects and arrays that [Parse]
// accepts: the same limit as encoding/json, so that both accept the same
// texts.
const MaxDepth = 10000

// maxLen bounds the input so that offsets fit the tape's 32-bit fields.
const maxLen = math.MaxUint32 - 1

// ErrInvalid is matched (errors.Is) by every error [Parse] returns: the
// input is not one valid JSON text.
var ErrInvalid = errors.New("jsontape: invalid JSON")

// ErrTooDeep is matched, together with [ErrInvalid], by the error for an
// input nested deeper than [MaxDepth].
var ErrTooDeep = errors.New("jsontape: nesting too deep")

// node is one value on the tape; object members are a key node (kind
// String) followed by the value's nodes. 16 bytes, so a small document's
// tape fits in a few cache lines.
type node struct {
	start uint32 // offset of the value's first byte
	end   uint32 // offset just past the value's last byte
	// next is the index of the node after this value's subtree: the next
	// sibling, or the end of the enclosing container's children. While a
	// container is still open it holds the index of its parent instead.
	next uint32
	kind Kind
	esc  bool // a string that contains backslash escapes
}

// tape is a parsed text: the input (as a string sharing its memory) and
// its nodes in document order.
type tape struct {
	src   string
	nodes []node
	// small holds the nodes of a small text, so that parsing it takes
	// one allocation, not two. A typical 1 KiB API body has 15-30 nodes.
	small [smallNodes]node
}

const smallNodes = 32

// Value is one JSON value of a parsed text, or the missing value (the zero
// Value). It is small and is passed by value; every method is O(1) except
// the ones that walk children, which are O(number of children) and never
// rescan text. A Value from [Parse] or [ParseString], and everything
// obtained from it, stay valid for as long as they are referenced (for one
// from a [Parser], see its rule). Values only read, so they may be used
// from several goroutines at once.
type Value struct {
	t *tape
	i uint32
}

// Parse parses data, which must hold exactly one JSON value with optional
// surrounding white space, and returns its root. The error matches
// [ErrInvalid] (and [ErrTooDeep] for excessive nesting) and gives the byte
// offset of the problem, never the text.
//
// Parse does not copy data: the strings and raw texts obtained from the
// result share data's memory, so data must not be modified for as long as
// any of them is in use. Parse a copy, or use [ParseString] on one, when the
// buffer is going to be reused.
func Parse(data []byte) (Value, error) {
	return ParseString(unsafe.String(unsafe.SliceData(data), len(data)))
}

// ParseString is [Parse] for a string; the results share s's memory.
func ParseString(s string) (Value, error) {
	t := new(tape)
	return t.parse(s)
}

// parse parses s into t, reusing t's node storage.
func (t *tape) parse(s string) (Value, error) {
	nodes := t.nodes[:0]
	if nodes == nil {
		// Most texts this package sees are dominated by long strings,
		// which take one node however long they are: a small first
		// guess, grown by append when the text is made of many small
		// values.
		nodes = t.small[:0]
		if len(s) > 2048 {
			nodes = make([]node, 0, min(len(s)/32+16, 4096))
		}
	}
	nodes, f := parse(nodes, s)
	t.nodes = nodes
	if f.kind != failNone {
		t.src = ""
		return Value{}, f.err()
	}
	t.src = s
	return Value{t: t}, nil
}

// A Parser parses texts one after the other into the same node storage,
// so that a caller parsing many texts (a stream's events, or a pool of
// Parsers) does not allocate it each time. The zero Parser is ready to
// use. A Parser is not safe for concurrent use.
//
// The Value returned by a Parse method, and every Value obtained from it,
// is valid only until the next Parse or Reset on the same Parser; using it
// afterwards is a bug that gives wrong results or panics. The strings and
// raw texts taken from those Values stay valid: they reference the text
// (or a decoded copy), never the node storage.
type Parser struct {
	t *tape
}

// Parse is [Parse] into p's storage, with the validity rule of [Parser].
func (p *Parser) Parse(data []byte) (Value, error) {
	return p.ParseString(unsafe.String(unsafe.SliceData(data), len(data)))
}

// ParseString is [ParseString] into p's storage, with the validity rule
// of [Parser].
func (p *Parser) ParseString(s string) (Value, error) {
	if p.t == nil {
		p.t = new(tape)
	}
	return p.t.parse(s)
}

// Reset invalidates the Values of the last parse and drops p's reference
// to its text, so that a Parser kept for reuse does not keep the text
// alive; storage grown past 64K nodes is dropped as well.
func (p *Parser) Reset() {
	if p.t == nil {
		return
	}
	p.t.src = ""
	if cap(p.t.nodes) > maxScratch {
		p.t.nodes = nil
	} else {
		p.t.nodes = p.t.nodes[:0]
	}
}

// Valid reports whether data is one valid JSON text: exactly what
// encoding/json's Valid accepts. It does not allocate in the steady state.
func Valid(data []byte) bool {
	return ValidString(unsafe.String(unsafe.SliceData(data), len(data)))
}

// ValidString is [Valid] for a string.
func ValidString(s string) bool {
	bp := scratch.get()
	nodes, f := parse((*bp)[:0], s)
	scratch.put(bp, nodes)
	return f.kind == failNone
}

const none = math.MaxUint32

// scratch holds node slices for [ValidString], which hands nothing out:
// its nodes never outlive the call, so reusing them is safe. Slices that
// grew past maxScratch nodes are dropped rather than kept alive.
var scratch = scratchPool{pool: sync.Pool{New: func() any { return new([]node) }}}

const maxScratch = 1 << 16

type scratchPool struct{ pool sync.Pool }

func (p *scratchPool) get() *[]node { return p.pool.Get().(*[]node) }

func (p *scratchPool) put(bp *[]node, nodes []node) {
	if cap(nodes) > maxScratch {
		return
	}
	*bp = nodes[:0]
	p.pool.Put(bp)
}

// failure is where and why a parse failed; a plain value, so that
// [Valid] rejects text without allocating an error.
type failure struct {
	off  int // byte offset, or -1 for the end of the input
	kind uint8
}

const (
	failNone uint8 = iota
	failByte
	failDepth
	failLength
)

func syntaxError(off int) failure {
	return failure{off: off, kind: failByte}
}

// err turns f into the error Parse returns, nil when the parse succeeded.
func (f failure) err() error {
	switch {
	case f.kind == failNone:
		return nil
	case f.kind == failDepth:
		return fmt.Errorf("%w: %w: more than %d levels at offset %d", ErrInvalid, ErrTooDeep, MaxDepth, f.off)
	case f.kind == failLength:
		return fmt.Errorf("%w: input longer than %d bytes", ErrInvalid, maxLen)
	case f.off < 0:
		return fmt.Errorf("%w: unexpected end of input", ErrInvalid)
	}
	return fmt.Errorf("%w: unexpected byte at offset %d", ErrInvalid, f.off)
}

// parse appends s's nodes to nodes. It is a loop over an explicit state
// instead of a recursive descent, so that depth costs no stack: the chain
// of open containers is kept in their own next fields until they close.
func parse(nodes []node, s string) ([]node, failure) {
	if uint64(len(s)) > maxLen {
		return nodes, failure{kind: failLength}
	}
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	n := len(b)
	parent := uint32(none) // innermost open container
	depth := 0
	i := skipSpace(b, 0)
	var err failure

value: // i is at the first byte of a value (or past the end)
	if i >= n {
		return nodes, syntaxError(-1)
	}
	switch c := b[i]; c {
	case '{', '[':
		depth++
		if depth > MaxDepth {
			return nodes, failure{off: i, kind: failDepth}
		}
		kind, closer := Object, byte('}')
		if c == '[' {
			kind, closer = Array, ']'
		}
		nodes = append(nodes, node{start: uint32(i), next: parent, kind: kind})
		parent = uint32(len(nodes) - 1)
		i = skipSpace(b, i+1)
		if i < n && b[i] == closer {
			goto closeContainer
		}
		if kind == Array {
			goto value
		}
		goto key
	case '"':
		start := i
		var esc bool
		if i, esc, err = scanString(b, i+1); err.kind != failNone {
			return nodes, err
		}
		nodes = append(nodes, node{start: uint32(start), end: uint32(i), next: uint32(len(nodes) + 1), kind: String, esc: esc})
	case 't', 'f', 'n':
		lit, kind := "true", True
		if c == 'f' {
			lit, kind = "false", False
		} else if c == 'n' {
			lit, kind = "null", Null
		}
		if k := commonPrefix(s[i:], lit); k < len(lit) {
			if i+k == n {
				return nodes, syntaxError(-1)
			}
			return nodes, syntaxError(i + k)
		}
		nodes = append(nodes, node{start: uint32(i), end: uint32(i + len(lit)), next: uint32(len(nodes) + 1), kind: kind})
		i += len(lit)
	default:
		start := i
		if i, err = scanNumber(b, i); err.kind != failNone {
			return nodes, err
		}
		nodes = append(nodes, node{start: uint32(start), end: uint32(i), next: uint32(len(nodes) + 1), kind: Number})
	}

afterValue: // a value ended at i
	i = skipSpace(b, i)
	if parent == none {
		if i != n {
			return nodes, syntaxError(i)
		}
		return nodes, failure{}
	}
	if i >= n {
		return nodes, syntaxError(-1)
	}
	switch b[i] {
	case ',':
		i = skipSpace(b, i+1)
		if nodes[parent].kind == Array {
			goto value
		}
		goto key
	case '}':
		if nodes[parent].kind == Object {
			goto closeContainer
		}
	case ']':
		if nodes[parent].kind == Array {
			goto closeContainer
		}
	}
	return nodes, syntaxError(i)

key: // i is where an object member's key must start
	if i >= n {
		return nodes, syntaxError(-1)
	}
	if b[i] != '"' {
		return nodes, syntaxError(i)
	}
	{
		start := i
		var esc bool
		if i, esc, err = scanString(b, i+1); err.kind != failNone {
			return nodes, err
		}
		nodes = append(nodes, node{start: uint32(start), end: uint32(i), next: uint32(len(nodes) + 1), kind: String, esc: esc})
	}
	i = skipSpace(b, i)
	if i >= n {
		return nodes, syntaxError(-1)
	}
	if b[i] != ':' {
		return nodes, syntaxError(i)
	}
	i = skipSpace(b, i+1)
	goto value

closeContainer: // b[i] closes the innermost open container
	{
		c := &nodes[parent]
		c.end = uint32(i + 1)
		parent, c.next = c.next, uint32(len(nodes))
		depth--
		i++
	}
	goto afterValue
}

// commonPrefix returns how many leading bytes s and lit share, for the
// offset of a bad literal.
func commonPrefix(s, lit string) int {
	k := 0
	for k < len(s) && k < len(lit) && s[k] == lit[k] {
		k++
	}
	return k
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// scanString validates the string whose text starts at i (just after the
// opening quote) and returns the offset after the closing quote and
// whether it contains escapes. As in encoding/json, bytes below 0x20 are
// rejected and any other byte, valid UTF-8 or not, is accepted.
func scanString(b []byte, i int) (int, bool, failure) {
	esc := false
	quote := -1 // see nextSpecial
	for {
		i = nextSpecial(b, i, &quote)
		if i >= len(b) {
			return i, esc, syntaxError(-1)
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, esc, failure{}
		case c == '\\':
			esc = true
			i++
			if i >= len(b) {
				return i, esc, syntaxError(-1)
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				for k := 1; k <= 4; k++ {
					if i+k >= len(b) {
						return i, esc, syntaxError(-1)
					}
					if !isHex(b[i+k]) {
						return i, esc, syntaxError(i + k)
					}
				}
				i += 5
			default:
				return i, esc, syntaxError(i)
			}
		default: // a control byte
			return i, esc, syntaxError(i)
		}
	}
}

// nextSpecial returns the offset of the first quote, backslash or byte
// below 0x20 at or after i, or len(b). Most strings of a JSON text are
// short (keys, ids, hashes): their first 72 bytes are tested 8 at a time
// for all three at once. Longer runs of plain text are searched with the
// vectorised IndexByte for the quote and the backslash, and the run before
// them is checked for control bytes 16 at a time. *quote caches the next
// quote's offset while i has not passed it, so that a string with many
// escapes is not searched to its end once per escape (start it at -1).
func nextSpecial(b []byte, i int, quote *int) int {
	n := len(b)
	for k := 0; k < 9 && i+8 <= n; k++ {
		if m := specialBytes(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	if i+8 > n {
		for ; i < n; i++ {
			if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
				return i
			}
		}
		return n
	}
	if *quote < i {
		*quote = bytes.IndexByte(b[i:], '"')
		if *quote < 0 {
			*quote = n
		} else {
			*quote += i
		}
	}
	end := *quote
	if bs := bytes.IndexByte(b[i:end], '\\'); bs >= 0 {
		end = i + bs
	}
	return i + controlFree(b[i:end])
}

// specialBytes has the high bit set in the lowest byte of w (read little
// endian) that is a quote, a backslash or below 0x20, if any, and
// possibly in bytes above it; 0 when there is none. Each of the three
// zero-byte tests is exact at its lowest hit (a borrow only runs upwards,
// from a true hit), so the lowest bit of their union is exact too.
func specialBytes(w uint64) uint64 {
	q := w ^ lsb*'"'
	bs := w ^ lsb*'\\'
	return ((q-lsb)&^q | (bs-lsb)&^bs | (w-lsb*0x20)&^w) & msb
}

// controlFree returns the offset of the first byte below 0x20 in b, or
// len(b). The word test is exact for "some byte of the 32 (then 8) is
// below 0x20": borrows only turn bytes above a true hit into false hits.
// Long runs are tested 32 bytes at a time, the words ORed together, with
// one bounds check per block.
func controlFree(b []byte) int {
	i := 0
	for ; i+32 <= len(b); i += 32 {
		c := b[i : i+32 : i+32]
		w1 := binary.LittleEndian.Uint64(c)
		w2 := binary.LittleEndian.Uint64(c[8:])
		w3 := binary.LittleEndian.Uint64(c[16:])
		w4 := binary.LittleEndian.Uint64(c[24:])
		if ((w1-lsb*0x20)&^w1|(w2-lsb*0x20)&^w2|(w3-lsb*0x20)&^w3|(w4-lsb*0x20)&^w4)&msb != 0 {
			break
		}
	}
	for ; i+8 <= len(b); i += 8 {
		if w := binary.LittleEndian.Uint64(b[i:]); (w-lsb*0x20)&^w&msb != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if b[i] < 0x20 {
			return i
		}
	}
	return i
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanNumber validates the number starting at i against JSON's grammar,
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, and returns its end.
// What may follow it is checked by the caller.
func scanNumber(b []byte, i int) (int, failure) {
	n := len(b)
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= n:
		return i, syntaxError(-1)
	case b[i] == '0':
		i++
	case isDigit(b[i]):
		for i < n && isDigit(b[i]) {
			i++
		}
	default:
		return i, syntaxError(i)
	}
	if i < n && b[i] == '.' {
		return fractionAndExponent(b, i+1)
	}
	return exponent(b, i)
}

// fractionAndExponent scans the digits of a fraction from i, then an
// exponent if one follows.
func fractionAndExponent(b []byte, i int) (int, failure) {
	i, f := digits(b, i)
	if f.kind != failNone {
		return i, f
	}
	return exponent(b, i)
}

// exponent scans [eE][+-]?[0-9]+ at i if it is there.
func exponent(b []byte, i int) (int, failure) {
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		return digits(b, i)
	}
	return i, failure{}
}

// digits scans one or more digits at i and returns their end.
func digits(b []byte, i int) (int, failure) {
	switch {
	case i >= len(b):
		return i, syntaxError(-1)
	case !isDigit(b[i]):
		return i, syntaxError(i)
	}
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i, failure{}
}

// Kind returns v's JSON type; Invalid for the missing value.
func (v Value) Kind() Kind {
	if v.t == nil {
		return Invalid
	}
	return v.t.nodes[v.i].kind
}

// Exists reports whether v is a value of the text (null included), not
// the missing value.
func (v Value) Exists() bool { return v.t != nil }

// IsObject reports whether v is a JSON object.
func (v Value) IsObject() bool { return v.Kind() == Object }

// IsArray reports whether v is a JSON array.
func (v Value) IsArray() bool { return v.Kind() == Array }

// Raw returns v's JSON text exactly as it appears in the input (for an
// object or array, from its opening to its closing bracket, inner white
// space included); "" for the missing value. It shares the input's memory.
func (v Value) Raw() string {
	if v.t == nil {
		return ""
	}
	nd := &v.t.nodes[v.i]
	return v.t.src[nd.start:nd.end]
}

// Str returns the value of a JSON string, "" for any other kind. A string
// without escapes is returned as a substring of the input, without
// copying; one with escapes is decoded into a new string each call.
//
// Escapes decode as in encoding/json, an escaped lone surrogate becoming
// U+FFFD. Unlike encoding/json, input bytes that are not valid UTF-8 are
// kept as they are rather than replaced by U+FFFD (so that the common case
// needs no copy); encoders that sanitise UTF-8, such as encoding/json's,
// then produce the same output.
func (v Value) Str() string {
	if v.Kind() != String {
		return ""
	}
	return v.t.str(v.i)
}

// str returns the decoded text of the string node i (a value or a key).
func (t *tape) str(i uint32) string {
	nd := &t.nodes[i]
	raw := t.src[nd.start+1 : nd.end-1]
	if !nd.esc {
		return raw
	}
	return unescape(raw)
}

// Num returns the value of a JSON number as strconv.ParseFloat gives it
// (the nearest float64; ±Inf for a magnitude beyond float64's range), 0 for
// any other kind.
func (v Value) Num() float64 {
	if v.Kind() != Number {
		return 0
	}
	f, _ := strconv.ParseFloat(v.Raw(), 64)
	return f
}

// Int returns the value of a JSON number written as an integer (no
// fraction or exponent) that fits an int64. ok is false for any other
// number or kind.
func (v Value) Int() (n int64, ok bool) {
	if v.Kind() != Number {
		return 0, false
	}
	n, err := strconv.ParseInt(v.Raw(), 10, 64)
	return n, err == nil
}

// Get returns the value of object v's member whose (decoded) key is key,
// the first one when the key is repeated; the missing value when v is not
// an object or has no such member. It walks v's members, not their text.
func (v Value) Get(key string) Value {
	if v.Kind() != Object {
		return Value{}
	}
	t := v.t
	end := t.nodes[v.i].next
	for k := v.i + 1; k < end; k = t.nodes[k+1].next {
		nd := &t.nodes[k]
		raw := t.src[nd.start+1 : nd.end-1]
		// Decoding never lengthens a string and an escape shortens it, so
		// only a longer escaped key can decode to key.
		if !nd.esc && raw == key || nd.esc && len(raw) > len(key) && unescape(raw) == key {
			return Value{t: t, i: k + 1}
		}
	}
	return Value{}
}

// Members returns an iterator over object v's members in document order,
// with decoded keys (repeated keys are all yielded); it yields nothing when
// v is not an object.
func (v Value) Members() iter.Seq2[string, Value] {
	return func(yield func(string, Value) bool) {
		if v.Kind() != Object {
			return
		}
		t := v.t
		end := t.nodes[v.i].next
		for k := v.i + 1; k < end; k = t.nodes[k+1].next {
			if !yield(t.str(k), Value{t: t, i: k + 1}) {
				return
			}
		}
	}
}

// Elements returns an iterator over array v's elements in order; it yields
// nothing when v is not an array.
func (v Value) Elements() iter.Seq[Value] {
	return func(yield func(Value) bool) {
		if v.Kind() != Array {
			return
		}
		t := v.t
		end := t.nodes[v.i].next
		for k := v.i + 1; k < end; k = t.nodes[k].next {
			if !yield(Value{t: t, i: k}) {
				return
			}
		}
	}
}

// Len returns the number of members of an object or elements of an array,
// 0 for any other kind. It is O(number of children).
func (v Value) Len() int {
	k := v.Kind()
	if k != Object && k != Array {
		return 0
	}
	t := v.t
	n := 0
	end := t.nodes[v.i].next
	for c := v.i + 1; c < end; n++ {
		if k == Object {
			c++ // the key
		}
		c = t.nodes[c].next
	}
	return n
}

// unescape decodes the text of a valid JSON string that contains escapes.
// Escapes decode as in encoding/json; other bytes are copied unchanged.
func unescape(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			// Copy the run up to the next escape in one append.
			j := strings.IndexByte(s[i:], '\\')
			if j < 0 {
				j = len(s) - i
			}
			b = append(b, s[i:i+j]...)
			i += j
			continue
		}
		if i+1 >= len(s) { // cannot happen for validated text
			break
		}
		switch e := s[i+1]; e {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(s, i+2)
			i += 6
			if utf16.IsSurrogate(r) {
				// A valid pair decodes to one rune; anything else leaves
				// the first half as U+FFFD and the next escape alone, as
				// encoding/json does.
				if r2 := hex4(s, i+2); i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						b = utf8.AppendRune(b, d)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			b = utf8.AppendRune(b, r)
			continue
		default: // '"', '\\', '/'
			b = append(b, e)
		}
		i += 2
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// hex4 decodes the 4 hex digits at s[i:], -1 when there are not 4.
func hex4(s string, i int) rune {
	if i+4 > len(s) {
		return -1
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}
