package bus

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
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
