package jsontext_test

import (
	"errors"
	"fmt"

	"github.com/otelaudit/otelaudit-go/internal/jsontext"
)

// AppendValue writes a nested value with its map keys sorted, so equal
// values give equal bytes, and refuses values nested too deep; an error
// names where (the key path), never the value.
func ExampleAppendValue() {
	v := map[string]any{
		"user":  "ana",
		"tags":  []string{"a", "b"},
		"score": 0.5,
		"meta":  map[string]any{"n": 3, "ok": true, "none": nil},
	}
	b, err := jsontext.AppendValue(nil, v, 0, 4)
	fmt.Println(string(b), err)

	_, err = jsontext.AppendValue(nil, v, 0, 0)
	var deep *jsontext.TooDeepError
	fmt.Println(errors.As(err, &deep), err)
	// Output:
	// {"meta":{"n":3,"none":null,"ok":true},"score":0.5,"tags":["a","b"],"user":"ana"} <nil>
	// true at ["meta"]: nested deeper than 0 levels
}

// AppendString escapes quotes, control characters and U+2028 and keeps
// '<', '>' and '&'.
func ExampleAppendString() {
	b := jsontext.AppendString([]byte("prompt="), "say \"hi\"\n<b>&\u2028")
	fmt.Println(string(b))
	// Output:
	// prompt="say \"hi\"\n<b>&\u2028"
}
