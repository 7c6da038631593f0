package b64

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"testing"
)

func check(t *testing.T, src []byte) {
	t.Helper()
	want := base64.URLEncoding.EncodeToString(src)
	got := make([]byte, EncodedLen(len(src)))
	Encode(got, src)
	if string(got) != want {
		t.Fatalf("Encode(%d bytes) = %q, want %q", len(src), got, want)
	}
	wantRaw := base64.RawURLEncoding.EncodeToString(src)
	gotRaw := make([]byte, RawEncodedLen(len(src)))
	EncodeRaw(gotRaw, src)
	if string(gotRaw) != wantRaw {
		t.Fatalf("EncodeRaw(%d bytes) = %q, want %q", len(src), gotRaw, wantRaw)
	}
}

func TestMatchesEncodingBase64(t *testing.T) {
	buf := make([]byte, 4100)
	if _, err := rand.Read(buf); err != nil {
		t.Fatal(err)
	}
	for n := 0; n <= len(buf); n++ {
		check(t, buf[:n])
	}
	check(t, bytes.Repeat([]byte{0xff}, 96))
	check(t, make([]byte, 96))
}

func FuzzEncode(f *testing.F) {
	f.Add([]byte("hello, world"))
	f.Add([]byte{0xfb, 0xff, 0xbf, 0x00, 0x10, 0x83})
	f.Fuzz(func(t *testing.T, src []byte) { check(t, src) })
}

func BenchmarkEncode1KiB(b *testing.B) {
	src := make([]byte, 1040)
	dst := make([]byte, EncodedLen(len(src)))
	b.Run("b64", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			Encode(dst, src)
		}
	})
	b.Run("encoding-base64", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			base64.URLEncoding.Encode(dst, src)
		}
	})
}
