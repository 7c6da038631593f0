// Package s3client builds the S3 client the CLI and the Collector exporter
// open an S3 store with, from the standard AWS configuration chain.
package s3client

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// DefaultRegion is the region used when neither the caller nor the AWS
// configuration chain names one.
const DefaultRegion = "us-east-1"

// New returns an S3 client configured by the AWS chain (environment,
// shared config and credentials files, instance roles). A non-empty region
// overrides the chain's, and [DefaultRegion] stands in when neither gives
// one; a non-empty endpoint (an S3-compatible server such as MinIO or
// versitygw) is used with path-style addressing.
func New(ctx context.Context, region, endpoint string) (*s3.Client, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}
	}), nil
}
