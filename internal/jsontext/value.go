package jsontext

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrNotUTF8 is returned by [AppendValue] when a string or an object key
// is not valid UTF-8 (encoding/json would silently write U+FFFD instead).
var ErrNotUTF8 = errors.New("a string or key is not valid UTF-8")

// TooDeepError is returned by [AppendValue] and [CheckValue] when objects
// and arrays nest deeper than the limit.
type TooDeepError struct{ Limit int }

func (e *TooDeepError) Error() string { return fmt.Sprintf("nested deeper than %d levels", e.Limit) }

// pathError is an error about a value inside the one given to
// [AppendValue] or [CheckAny]: it names where, as the key path from the
// given value down (["key"][index]...), and matches (errors.Is, As) the
// error it wraps. Values may be content (metadata may hold anything), so
// errors name the problem and the path, never the value.
type pathError struct {
	// steps are the path's steps innermost first, as the walk unwinds.
	steps []string
	err   error
}

// maxPathSteps is how many steps of a path an error shows (the outermost).
const maxPathSteps = 8

// maxKeyInPath is how many bytes of a key a path shows.
const maxKeyInPath = 64

func (e *pathError) Error() string {
	var b strings.Builder
	b.WriteString("at ")
	n := len(e.steps)
	for i := n - 1; i >= 0 && i >= n-maxPathSteps; i-- {
		b.WriteString(e.steps[i])
	}
	if n > maxPathSteps {
		b.WriteString("...")
	}
	b.WriteString(": ")
	b.WriteString(e.err.Error())
	return b.String()
}

func (e *pathError) Unwrap() error { return e.err }

// inKey returns err, an error about the value of key k, as an error about
// the map holding it.
func inKey(err error, k string) error {
	if len(k) > maxKeyInPath {
		k = k[:maxKeyInPath] + "..."
	}
	return within(err, "["+strconv.Quote(k)+"]")
}

// inIndex returns err, an error about item i, as an error about the list.
func inIndex(err error, i int) error {
	return within(err, "["+strconv.Itoa(i)+"]")
}

func within(err error, step string) error {
	if pe, ok := err.(*pathError); ok {
		pe.steps = append(pe.steps, step)
		return pe
	}
	return &pathError{steps: []string{step}, err: err}
}

// errNotNumber is the error for a json.Number that is not a JSON number.
var errNotNumber = errors.New("a json.Number that is not a JSON number")

// marshalError is the error for v, a value of another type than
// AppendValue's own, that encoding/json failed to encode with err. It
// names v's type, never its value: encoding/json's messages may quote it
// (an invalid character of a json.RawMessage, the error of a MarshalJSON
// or MarshalText method).
func marshalError(v any, err error) error {
	var ut *json.UnsupportedTypeError
	if errors.As(err, &ut) {
		return err // "json: unsupported type: chan int"
	}
	var uv *json.UnsupportedValueError
	if errors.As(err, &uv) {
		return fmt.Errorf("a %T holds a value JSON cannot encode (NaN, an infinity or a cycle)", v)
	}
	var me *json.MarshalerError
	if errors.As(err, &me) {
		return fmt.Errorf("a %s does not encode as JSON: its marshal method failed or wrote invalid JSON", me.Type)
	}
	return fmt.Errorf("a %T does not encode as JSON", v)
}

// AppendValue appends v to b as JSON text whose decoding (encoding/json)
// equals v. The types JSON decoding produces, Go's integer types and
// []string are encoded here; any other value goes through encoding/json.
// Strings and keys must be valid UTF-8 ([ErrNotUTF8]); objects and arrays
// may nest at most maxDepth levels, v itself being at level depth
// ([TooDeepError]); map keys are sorted, so equal values encode to equal
// bytes. On error the caller discards b. Errors name the problem and,
// for a value inside v, its key path (at ["key"][0]: ...), never the value
// itself, which may be content.
func AppendValue(b []byte, v any, depth, maxDepth int) ([]byte, error) {
	return appendValue(b, v, depth, maxDepth, true)
}

// CheckAny returns the error [AppendValue] returns for v (nil when it
// encodes), without writing its JSON text: strings are checked for UTF-8
// but not escaped, numbers not formatted, map keys not sorted. Values of
// other types than AppendValue's own still go through encoding/json.
func CheckAny(v any, depth, maxDepth int) error {
	if _, err := appendValue(nil, v, depth, maxDepth, false); err != nil {
		// A map is walked here in no particular order: AppendValue's
		// sorted walk names the same first error every time.
		if _, sorted := appendValue(nil, v, depth, maxDepth, true); sorted != nil {
			return sorted
		}
		return err
	}
	return nil
}

// appendValue is AppendValue with write set, and CheckAny without: one
// walk, so that both apply the same rules. Without write, b stays as it
// is.
func appendValue(b []byte, v any, depth, maxDepth int, write bool) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		if write {
			b = append(b, "null"...)
		}
		return b, nil
	case string:
		return appendChecked(b, x, write)
	case bool:
		if write {
			b = strconv.AppendBool(b, x)
		}
		return b, nil
	case json.Number:
		if x == "" || !json.Valid([]byte(x)) || x[0] == '"' || x[0] == '{' || x[0] == '[' || x[0] == 't' || x[0] == 'f' || x[0] == 'n' {
			return b, errNotNumber
		}
		if write {
			b = append(b, x...)
		}
		return b, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return b, fmt.Errorf("%v is not a finite number", x)
		}
		if write {
			b = AppendFloat(b, x)
		}
		return b, nil
	case int, int64, int32, uint64, uint32:
		if write {
			b = appendInteger(b, x)
		}
		return b, nil
	case []string:
		switch {
		case x == nil:
			if write {
				b = append(b, "null"...)
			}
			return b, nil
		case write:
			b, ok := AppendValidStrings(b, x)
			if !ok {
				return b, ErrNotUTF8
			}
			return b, nil
		}
		for _, s := range x {
			if !utf8.ValidString(s) {
				return b, ErrNotUTF8
			}
		}
		return b, nil
	case []any:
		if x == nil {
			if write {
				b = append(b, "null"...)
			}
			return b, nil
		}
		if depth > maxDepth {
			return b, &TooDeepError{maxDepth}
		}
		if write {
			b = append(b, '[')
		}
		for i, el := range x {
			if write && i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, el, depth+1, maxDepth, write); err != nil {
				return b, inIndex(err, i)
			}
		}
		if write {
			b = append(b, ']')
		}
		return b, nil
	case map[string]any:
		if x == nil {
			if write {
				b = append(b, "null"...)
			}
			return b, nil
		}
		if depth > maxDepth {
			return b, &TooDeepError{maxDepth}
		}
		if !write {
			for k, el := range x {
				if !utf8.ValidString(k) {
					return b, ErrNotUTF8
				}
				if _, err := appendValue(b, el, depth+1, maxDepth, false); err != nil {
					return b, inKey(err, k)
				}
			}
			return b, nil
		}
		// Metadata maps are small: sort their keys on the stack.
		var keyBuf [16]string
		keys := keyBuf[:0]
		if len(x) > len(keyBuf) {
			keys = make([]string, 0, len(x))
		}
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = AppendValidString(b, k); !ok {
				return b, ErrNotUTF8
			}
			b = append(b, ':')
			var err error
			if b, err = appendValue(b, x[k], depth+1, maxDepth, true); err != nil {
				return b, inKey(err, k)
			}
		}
		return append(b, '}'), nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return b, marshalError(v, err)
	}
	// encoding/json replaces invalid UTF-8 with the escape \ufffd (and
	// writes a real U+FFFD as is), so the escape reveals a silent change.
	if hasReplacementEscape(raw) {
		return b, ErrNotUTF8
	}
	if depth-1+nesting(raw) > maxDepth {
		return b, &TooDeepError{maxDepth}
	}
	if write {
		b = append(b, raw...)
	}
	return b, nil
}

// appendChecked appends s as a JSON string with write set; without, it
// only checks that s is valid UTF-8.
func appendChecked(b []byte, s string, write bool) ([]byte, error) {
	ok := true
	if write {
		b, ok = AppendValidString(b, s)
	} else {
		ok = utf8.ValidString(s)
	}
	if !ok {
		return b, ErrNotUTF8
	}
	return b, nil
}

// appendInteger appends x, one of AppendValue's integer types, in decimal.
func appendInteger(b []byte, x any) []byte {
	switch n := x.(type) {
	case int:
		return strconv.AppendInt(b, int64(n), 10)
	case int64:
		return strconv.AppendInt(b, n, 10)
	case int32:
		return strconv.AppendInt(b, int64(n), 10)
	case uint64:
		return strconv.AppendUint(b, n, 10)
	case uint32:
		return strconv.AppendUint(b, uint64(n), 10)
	}
	return b
}

// AppendValidStrings appends ss as a JSON array of strings; ok is false
// when one of them is not valid UTF-8 (the caller then discards b).
func AppendValidStrings(b []byte, ss []string) (_ []byte, ok bool) {
	ok = true
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		var valid bool
		b, valid = AppendValidString(b, s)
		ok = ok && valid
	}
	return append(b, ']'), ok
}

// CheckValue reports whether raw is exactly one JSON value nested at most
// maxDepth levels ([TooDeepError]). Strings in it are not checked for
// UTF-8: raw text is kept byte for byte.
func CheckValue(raw []byte, maxDepth int) error {
	if !json.Valid(raw) {
		return errors.New("invalid JSON")
	}
	if nesting(raw) > maxDepth {
		return &TooDeepError{maxDepth}
	}
	return nil
}

// nesting returns the deepest nesting of objects and arrays in valid JSON
// text.
func nesting(raw []byte) int {
	depth, deepest := 0, 0
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '{', '[':
			depth++
			deepest = max(deepest, depth)
		case '}', ']':
			depth--
		case '"':
			for i++; i < len(raw) && raw[i] != '"'; i++ {
				if raw[i] == '\\' {
					i++
				}
			}
		}
	}
	return deepest
}

// hasReplacementEscape reports whether JSON text holds the escape \ufffd.
func hasReplacementEscape(raw []byte) bool {
	for i := 0; i+6 <= len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if raw[i+1] == 'u' && strings.EqualFold(string(raw[i+2:i+6]), "fffd") {
			return true
		}
		i++ // skip the escaped character
	}
	return false
}

// AppendFloat appends f as encoding/json formats it: the shortest text
// that round-trips, in exponent form outside [1e-6, 1e21).
func AppendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	fmtc := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmtc = 'e'
	}
	b = strconv.AppendFloat(b, f, fmtc, -1, 64)
	if fmtc == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
