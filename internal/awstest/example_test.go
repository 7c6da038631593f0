package awstest_test

import (
	"context"
	"fmt"

	"github.com/otelaudit/otelaudit-go/internal/awstest"
)

// Config and the clients built from it reach the emulator at the endpoint
// given, in the fixed region, with fixed test credentials. Building them
// sends no request.
func ExampleConfig() {
	cfg := awstest.Config("http://127.0.0.1:5000")
	creds, err := cfg.Credentials.Retrieve(context.Background())
	fmt.Println(cfg.Region, *cfg.BaseEndpoint, creds.AccessKeyID, err)

	o := awstest.KMS("http://127.0.0.1:5000").Options()
	fmt.Println(o.Region, *o.BaseEndpoint)
	// Output:
	// us-east-1 http://127.0.0.1:5000 testing <nil>
	// us-east-1 http://127.0.0.1:5000
}
