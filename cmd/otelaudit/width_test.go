package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCell(t *testing.T) {
	for _, tc := range []struct {
		in    string
		width int
		want  string
	}{
		{"gpt-4", 8, "gpt-4   "},
		{"exactly8", 8, "exactly8"},
		{"too-long-model", 8, "too-lon…"},
		{"模型-1", 8, "模型-1  "},
		{"模型模型模型", 8, "模型模… "},
		{"e\u0301t\u00e9", 4, "e\u0301t\u00e9 "},
		{"a\x1bb", 8, `a\x1bb  `},
	} {
		got := cell(tc.in, tc.width)
		assert.Equal(t, tc.want, got, "cell(%q, %d)", tc.in, tc.width)
		assert.Equal(t, tc.width, displayWidth(got), "cell(%q, %d) is %d columns wide", tc.in, tc.width, displayWidth(got))
	}
}
