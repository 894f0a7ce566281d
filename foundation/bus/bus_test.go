package bus

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"dreamrank/foundation/errcode"
)

// TestEmbeddedJetStream checks the embedded default: a server on a random
// port with JetStream in a temp dir, a connection, a stream, a message.
func TestEmbeddedJetStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e, err := StartEmbedded(ctx, EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	nc, err := Connect(ctx, Config{URL: e.URL(), Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "SMOKE", Subjects: []string{"dreamrank.smoke"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "dreamrank.smoke", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	msg, err := s.GetMsg(ctx, 1)
	if err != nil || string(msg.Data) != "hello" {
		t.Fatalf("got %v, %v", msg, err)
	}
}

func TestStartEmbeddedNeedsStoreDir(t *testing.T) {
	if _, err := StartEmbedded(context.Background(), EmbeddedConfig{}); err == nil {
		t.Fatal("no error without a StoreDir")
	}
}

func TestEmbeddedUsers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	limited := &Permissions{Publish: Subjects{Allow: []string{"dreamrank.limited.>"}}, Subscribe: Subjects{Allow: []string{"_INBOX.>"}}}
	e, err := StartEmbedded(ctx, EmbeddedConfig{StoreDir: t.TempDir(), User: "admin", Password: "pw",
		Users: []User{{Name: "limited", Password: "pw2", Permissions: limited}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	tests := []struct {
		name, user, password string
		ok                   bool
	}{
		{"admin kept working", "admin", "pw", true},
		{"a listed user", "limited", "pw2", true},
		{"wrong password", "limited", "pw", false},
		{"nobody", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := Connect(ctx, Config{URL: e.URL(), User: tt.user, Password: tt.password})
			if tt.ok != (err == nil) {
				t.Fatalf("connect: %v", err)
			}
			if err != nil {
				if !errors.Is(err, errcode.Unauthorized) {
					t.Fatalf("error %v, want unauthorized", err)
				}
				return
			}
			nc.Close()
		})
	}
	// The limited user may not subscribe outside its permissions.
	nc, err := Connect(ctx, Config{URL: e.URL(), User: "limited", Password: "pw2"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	denied := make(chan error, 1)
	nc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { denied <- err })
	if _, err := nc.SubscribeSync("dreamrank.other"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-denied:
		if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			t.Fatalf("error %v", err)
		}
	case <-ctx.Done():
		t.Fatal("no permission violation")
	}
}

func TestEmbeddedUsersConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  EmbeddedConfig
	}{
		{"token with users", EmbeddedConfig{Token: "t", Users: []User{{Name: "a", Password: "b"}}}},
		{"user twice", EmbeddedConfig{User: "a", Users: []User{{Name: "a", Password: "b"}}}},
		{"name and nkey", EmbeddedConfig{Users: []User{{Name: "a", Nkey: "UABC"}}}},
		{"neither", EmbeddedConfig{Users: []User{{Password: "b"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.StoreDir = t.TempDir()
			if _, err := StartEmbedded(context.Background(), tt.cfg); !errors.Is(err, ErrAuthConfig) {
				t.Fatalf("error %v, want ErrAuthConfig", err)
			}
		})
	}
}
