package b64_test

import (
	"encoding/base64"
	"fmt"

	"github.com/otelaudit/otelaudit-go/internal/b64"
)

// Encode and EncodeRaw write the same text as encoding/base64's URL-safe
// encodings ('-' and '_' for 62 and 63; padding only from Encode), so the
// standard decoders read it back.
func Example() {
	src := []byte("audit ciphertext\xfb\xff\xbe") // 19 bytes: 3 blocks and a tail
	padded := make([]byte, b64.EncodedLen(len(src)))
	b64.Encode(padded, src)
	raw := make([]byte, b64.RawEncodedLen(len(src)))
	b64.EncodeRaw(raw, src)
	fmt.Println(string(padded))
	fmt.Println(string(raw))

	back, err := base64.URLEncoding.DecodeString(string(padded))
	fmt.Println(string(back) == string(src), err)
	back, err = base64.RawURLEncoding.DecodeString(string(raw))
	fmt.Println(string(back) == string(src), err)
	// Output:
	// YXVkaXQgY2lwaGVydGV4dPv_vg==
	// YXVkaXQgY2lwaGVydGV4dPv_vg
	// true <nil>
	// true <nil>
}
