package jsontape

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// benchRequest is the 1 KiB Chat Completions request of the middleware's
// benchmarks (middleware/bench_test.go).
var benchRequest = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"` +
	strings.Repeat("audit ", 150) + `"}]}`)

// wantWalk is the number of text bytes the walk reads: the model, two
// roles and two contents.
const wantWalk = len("gpt-4o-mini") + len("system") + len("You are terse.") + len("user") + 150*len("audit ")

// BenchmarkWalk validates the request and reads what genai reads from it
// (model, every message's role and content), once with this package and
// once with gjson the way genai used it (Valid, then ForEach and Get).
func BenchmarkWalk(b *testing.B) {
	b.Run("jsontape", func(b *testing.B) {
		b.SetBytes(int64(len(benchRequest)))
		b.ReportAllocs()
		for b.Loop() {
			v, err := Parse(benchRequest)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for k, m := range v.Members() {
				switch k {
				case "model":
					n += len(m.Str())
				case "messages":
					for msg := range m.Elements() {
						n += len(msg.Get("role").Str()) + len(msg.Get("content").Str())
					}
				}
			}
			if n != wantWalk {
				b.Fatal(n)
			}
		}
	})
	b.Run("gjson", func(b *testing.B) {
		b.SetBytes(int64(len(benchRequest)))
		b.ReportAllocs()
		for b.Loop() {
			if !gjson.ValidBytes(benchRequest) {
				b.Fatal("invalid")
			}
			doc := gjson.ParseBytes(benchRequest)
			n := 0
			doc.ForEach(func(k, m gjson.Result) bool {
				switch k.Str {
				case "model":
					n += len(m.Str)
				case "messages":
					m.ForEach(func(_, msg gjson.Result) bool {
						n += len(msg.Get("role").Str) + len(msg.Get("content").Str)
						return true
					})
				}
				return true
			})
			if n != wantWalk {
				b.Fatal(n)
			}
		}
	})
}

// BenchmarkValid compares validation alone.
func BenchmarkValid(b *testing.B) {
	for _, impl := range []struct {
		name  string
		valid func([]byte) bool
	}{{"jsontape", Valid}, {"gjson", gjson.ValidBytes}} {
		b.Run(impl.name, func(b *testing.B) {
			b.SetBytes(int64(len(benchRequest)))
			b.ReportAllocs()
			for b.Loop() {
				if !impl.valid(benchRequest) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
