package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"dreamrank/foundation/certs"
)

func TestInit(t *testing.T) {
	dir := t.TempDir()
	f, err := certs.Init(dir, []string{"nats.example.org", "10.0.0.5"}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	raw, err := os.ReadFile(f.CA)
	if err != nil || !pool.AppendCertsFromPEM(raw) {
		t.Fatalf("CA: %v", err)
	}
	srv, err := tls.LoadX509KeyPair(f.ServerCert, f.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(srv.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, host string
		ok         bool
	}{
		{"a given name", "nats.example.org", true},
		{"a given address", "10.0.0.5", true},
		{"loopback address", "127.0.0.1", true},
		{"localhost", "localhost", true},
		{"another host", "evil.example.org", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := leaf.Verify(x509.VerifyOptions{DNSName: tt.host, Roots: pool})
			if (err == nil) != tt.ok {
				t.Fatalf("verify %s: %v", tt.host, err)
			}
		})
	}
	cc, err := tls.LoadX509KeyPair(f.Clients["alice"][0], f.Clients["alice"][1])
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := x509.ParseCertificate(cc.Certificate[0])
	if _, err := cl.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("client certificate: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dir, certs.CAKeyFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("CA key mode: %v %v", st, err)
	}
	if _, err := certs.Init(dir, nil, nil); !errors.Is(err, certs.ErrCerts) {
		t.Fatalf("a second init over the first: %v, want a refusal", err)
	}
	ca, err := certs.LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := certs.IssueClient(ca, dir, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := certs.IssueClient(ca, dir, "../bob"); !errors.Is(err, certs.ErrCerts) {
		t.Fatalf("a path as a name: %v", err)
	}
}
