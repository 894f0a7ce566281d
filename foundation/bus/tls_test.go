package bus

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"dreamrank/foundation/certs"
	"dreamrank/foundation/errcode"
)

// testPKI is a CA made in the test with a server certificate for loopback
// and a client certificate, and a second, unrelated CA with its own client.
type testPKI struct {
	ca, serverCert, serverKey, clientCert, clientKey string
	otherCA, otherCert, otherKey                     string
}

func newPKI(t *testing.T) testPKI {
	t.Helper()
	dir, other := t.TempDir(), t.TempDir()
	f, err := certs.Init(dir, nil, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := certs.Init(other, nil, []string{"mallory"})
	if err != nil {
		t.Fatal(err)
	}
	return testPKI{ca: f.CA, serverCert: f.ServerCert, serverKey: f.ServerKey, clientCert: f.Clients["alice"][0], clientKey: f.Clients["alice"][1],
		otherCA: g.CA, otherCert: g.Clients["mallory"][0], otherKey: g.Clients["mallory"][1]}
}

// Real TLS handshakes against the embedded server: a client must verify
// the server's certificate against the deployment's CA, and with a client
// CA the server requires a certificate signed by it. Every refusal is
// errcode.Unauthorized (fix the configuration, do not retry).
func TestEmbeddedTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := newPKI(t)
	start := func(t *testing.T, tls *ServerTLS) *Embedded {
		e, err := StartEmbedded(ctx, EmbeddedConfig{StoreDir: t.TempDir(), TLS: tls})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Shutdown)
		return e
	}
	serverOnly := start(t, &ServerTLS{Cert: p.serverCert, Key: p.serverKey})
	mutual := start(t, &ServerTLS{Cert: p.serverCert, Key: p.serverKey, ClientCA: p.ca})
	plain := start(t, nil)
	tests := []struct {
		name   string
		server *Embedded
		client Config
		want   error // nil: connects
	}{
		{"the deployment's CA", serverOnly, Config{TLSCA: p.ca}, nil},
		{"no CA: the system's roots do not know it", serverOnly, Config{}, errcode.Unauthorized},
		{"a wrong CA", serverOnly, Config{TLSCA: p.otherCA}, errcode.Unauthorized},
		{"plain nats:// URL is upgraded and verified", serverOnly, Config{TLSCA: p.ca, URL: "nats://" + serverOnly.Server.Addr().String()}, nil},
		{"mutual: a client certificate", mutual, Config{TLSCA: p.ca, TLSCert: p.clientCert, TLSKey: p.clientKey}, nil},
		{"mutual: no client certificate", mutual, Config{TLSCA: p.ca}, errcode.Unauthorized},
		{"mutual: a certificate from another CA", mutual, Config{TLSCA: p.ca, TLSCert: p.otherCert, TLSKey: p.otherKey}, errcode.Unauthorized},
		{"mutual: a wrong CA for the server", mutual, Config{TLSCA: p.otherCA, TLSCert: p.clientCert, TLSKey: p.clientKey}, errcode.Unauthorized},
		{"a certificate without its key", mutual, Config{TLSCA: p.ca, TLSCert: p.clientCert}, errcode.BadRequest},
		{"in process: no TLS needed", mutual, Config{InProcess: mutual.Server}, nil},
		{"TLS asked of a plain server", plain, Config{URL: "tls://" + plain.Server.Addr().String(), TLSCA: p.ca}, errcode.Unauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.client
			if c.URL == "" {
				c.URL = tt.server.URL()
			}
			nc, err := Connect(ctx, c)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				if err := nc.Publish("dreamrank.tls", []byte("x")); err != nil {
					t.Fatal(err)
				}
				if err := nc.FlushWithContext(ctx); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			t.Logf("refused: %v", err)
		})
	}
	if u := serverOnly.URL(); u[:6] != "tls://" {
		t.Errorf("URL %s of a TLS server", u)
	}
}

func TestEmbeddedTLSConfig(t *testing.T) {
	p := newPKI(t)
	tests := []struct {
		name string
		tls  ServerTLS
	}{
		{"no key", ServerTLS{Cert: p.serverCert}},
		{"missing files", ServerTLS{Cert: filepath.Join(t.TempDir(), "x.pem"), Key: filepath.Join(t.TempDir(), "y.pem")}},
		{"key of another certificate", ServerTLS{Cert: p.serverCert, Key: p.clientKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := StartEmbedded(context.Background(), EmbeddedConfig{StoreDir: t.TempDir(), TLS: &tt.tls}); !errors.Is(err, ErrAuthConfig) {
				t.Fatalf("err %v, want ErrAuthConfig", err)
			}
		})
	}
}
