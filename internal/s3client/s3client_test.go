package s3client

import (
	"context"
	"path/filepath"
	"testing"
)

// isolate points the AWS configuration chain at empty files and clears
// the region variables, so only what a case sets counts.
func isolate(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
		t.Setenv(k, "")
	}
}

func TestNew(t *testing.T) {
	for _, c := range []struct {
		name, envRegion, region, endpoint string
		wantRegion, wantEndpoint          string
		wantPathStyle                     bool
	}{
		{name: "defaults", wantRegion: DefaultRegion},
		{name: "chain region", envRegion: "eu-west-3", wantRegion: "eu-west-3"},
		{name: "argument overrides chain", envRegion: "eu-west-3", region: "ap-south-1", wantRegion: "ap-south-1"},
		{name: "endpoint is path-style", region: "us-west-2", endpoint: "http://127.0.0.1:7070",
			wantRegion: "us-west-2", wantEndpoint: "http://127.0.0.1:7070", wantPathStyle: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			isolate(t)
			if c.envRegion != "" {
				t.Setenv("AWS_REGION", c.envRegion)
			}
			cl, err := New(context.Background(), c.region, c.endpoint)
			if err != nil {
				t.Fatal(err)
			}
			o := cl.Options()
			endpoint := ""
			if o.BaseEndpoint != nil {
				endpoint = *o.BaseEndpoint
			}
			if o.Region != c.wantRegion || endpoint != c.wantEndpoint || o.UsePathStyle != c.wantPathStyle {
				t.Errorf("region %q endpoint %q path-style %v, want %q %q %v",
					o.Region, endpoint, o.UsePathStyle, c.wantRegion, c.wantEndpoint, c.wantPathStyle)
			}
		})
	}
}

// A configuration chain that cannot be loaded (a profile that does not
// exist) is an error, not a client with guessed settings.
func TestNewBadProfile(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_PROFILE", "no-such-profile")
	if cl, err := New(context.Background(), "", ""); err == nil {
		t.Fatalf("got a client (region %q) for a missing profile, want an error", cl.Options().Region)
	}
}
