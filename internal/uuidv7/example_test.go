package uuidv7_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otelaudit/otelaudit-go/internal/uuidv7"
)

// Ids sort in the order they were made, and the first 48 bits carry the
// Unix time in milliseconds.
func ExampleNew() {
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = uuidv7.New()
	}

	fmt.Println(len(ids[0]), ids[0][14:15]) // 36 characters, version 7
	fmt.Println(slices.IsSorted(ids))

	ms, _ := strconv.ParseInt(strings.ReplaceAll(ids[0][:13], "-", ""), 16, 64)
	fmt.Println(time.Since(time.UnixMilli(ms)).Abs() < time.Second)
	// Output:
	// 36 7
	// true
	// true
}
