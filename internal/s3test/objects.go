package s3test

import (
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Keys returns the keys of the objects in bucket under prefix, in the
// server's listing order; it fails the test on an error.
func Keys(tb testing.TB, client *s3.Client, bucket, prefix string) []string {
	tb.Helper()
	var out []string
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(tb.Context())
		if err != nil {
			tb.Fatalf("list s3://%s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, aws.ToString(o.Key))
		}
	}
	return out
}

// Body returns the bytes of the object at key; it fails the test on an
// error.
func Body(tb testing.TB, client *s3.Client, bucket, key string) []byte {
	tb.Helper()
	out, err := client.GetObject(tb.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		tb.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		tb.Fatalf("read s3://%s/%s: %v", bucket, key, err)
	}
	return b
}
