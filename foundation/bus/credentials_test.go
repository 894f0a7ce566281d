package bus

import (
	"context"
	"errors"
	"testing"
	"time"

	"dreamrank/foundation/errcode"
)

// The embedded server asks for the credentials it was given; wrong ones
// are refused with errcode.Unauthorized, a stopped server with
// errcode.Unavailable.
func TestEmbeddedCredentials(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tests := []struct {
		name   string
		server EmbeddedConfig
		client Config
		want   error
	}{
		{"user and password", EmbeddedConfig{User: "ops", Password: "s3cret"}, Config{User: "ops", Password: "s3cret"}, nil},
		{"wrong password", EmbeddedConfig{User: "ops", Password: "s3cret"}, Config{User: "ops", Password: "guess"}, errcode.Unauthorized},
		{"no credentials", EmbeddedConfig{User: "ops", Password: "s3cret"}, Config{}, errcode.Unauthorized},
		{"token", EmbeddedConfig{Token: "t0ken"}, Config{Token: "t0ken"}, nil},
		{"wrong token", EmbeddedConfig{Token: "t0ken"}, Config{Token: "nope"}, errcode.Unauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := tc.server
			sc.StoreDir = t.TempDir()
			e, err := StartEmbedded(ctx, sc)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Shutdown()
			c := tc.client
			c.URL = e.URL()
			nc, err := Connect(ctx, c)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				nc.Close()
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("server gone", func(t *testing.T) {
		e, err := StartEmbedded(ctx, EmbeddedConfig{StoreDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		url := e.URL()
		e.Shutdown()
		if _, err := Connect(ctx, Config{URL: url}); !errors.Is(err, errcode.Unavailable) {
			t.Fatalf("err %v, want unavailable", err)
		}
	})
}
