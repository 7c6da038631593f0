package s3client_test

import (
	"context"
	"fmt"

	"github.com/otelaudit/otelaudit-go/internal/s3client"
)

// A client for an S3-compatible server on a local endpoint uses
// path-style addressing and the region given. Making the client sends no
// request.
func ExampleNew() {
	cl, err := s3client.New(context.Background(), "eu-central-1", "http://127.0.0.1:7070")
	if err != nil {
		fmt.Println(err)
		return
	}
	o := cl.Options()
	fmt.Println(o.Region, *o.BaseEndpoint, o.UsePathStyle)
	// Output:
	// eu-central-1 http://127.0.0.1:7070 true
}
