// Package certs makes a development certificate authority and the TLS
// certificates of a dreamrank deployment with crypto/x509 alone: one CA, a
// server certificate for the NATS server's host names and addresses, and
// client certificates for the deployments that require them. A real
// deployment may use its own CA instead; the files are ordinary PEM.
package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"
)

// ErrCerts: certificates cannot be made, read or written.
var ErrCerts = errors.New("certs")

// File names in a certificate directory.
const (
	CAFile        = "ca.pem"
	CAKeyFile     = "ca-key.pem"
	ServerFile    = "server.pem"
	ServerKeyFile = "server-key.pem"
)

// ClientFiles are the certificate and key files of client name.
func ClientFiles(dir, name string) (cert, key string) {
	return filepath.Join(dir, "client-"+name+".pem"), filepath.Join(dir, "client-"+name+"-key.pem")
}

// Loopback names are always in a server certificate: clients on the
// server's own machine dial 127.0.0.1 or localhost.
var Loopback = []string{"localhost", "127.0.0.1", "::1"}

// Validity of what Init makes: long enough for a development deployment,
// short enough that a forgotten key expires.
const (
	CAValidity   = 5 * 365 * 24 * time.Hour
	LeafValidity = 2 * 365 * 24 * time.Hour
)

// Authority is a CA that issues certificates.
type Authority struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	PEM  []byte // the certificate, PEM
}

// NewCA makes a self-signed CA named cn.
func NewCA(cn string) (*Authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCerts, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: cn, Organization: []string{"dreamrank"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(CAValidity),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCerts, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCerts, err)
	}
	return &Authority{Cert: cert, Key: key, PEM: pemBlock("CERTIFICATE", der)}, nil
}

// Leaf is an issued certificate and its private key, PEM.
type Leaf struct {
	CertPEM, KeyPEM []byte
}

// Server issues a server certificate for hosts (DNS names or IP
// addresses), usable by clients too (cluster routes authenticate both ways).
func (a *Authority) Server(cn string, hosts []string) (Leaf, error) {
	if len(hosts) == 0 {
		return Leaf{}, fmt.Errorf("%w: a server certificate needs at least one host", ErrCerts)
	}
	return a.issue(cn, hosts, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth})
}

// Client issues a client certificate named cn.
func (a *Authority) Client(cn string) (Leaf, error) {
	return a.issue(cn, nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
}

func (a *Authority) issue(cn string, hosts []string, usage []x509.ExtKeyUsage) (Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Leaf{}, fmt.Errorf("%w: %w", ErrCerts, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: cn, Organization: []string{"dreamrank"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(LeafValidity),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usage,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, key.Public(), a.Key)
	if err != nil {
		return Leaf{}, fmt.Errorf("%w: %w", ErrCerts, err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Leaf{}, fmt.Errorf("%w: %w", ErrCerts, err)
	}
	return Leaf{CertPEM: pemBlock("CERTIFICATE", der), KeyPEM: pemBlock("PRIVATE KEY", kder)}, nil
}

// Write writes the leaf to certFile and keyFile (the key mode 0600).
func (l Leaf) Write(certFile, keyFile string) error {
	if err := writeNew(keyFile, l.KeyPEM, 0o600); err != nil {
		return err
	}
	return writeNew(certFile, l.CertPEM, 0o644)
}

// Save writes the CA to dir (ca.pem, and ca-key.pem mode 0600).
func (a *Authority) Save(dir string) error {
	kder, err := x509.MarshalPKCS8PrivateKey(a.Key)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCerts, err)
	}
	if err := writeNew(filepath.Join(dir, CAKeyFile), pemBlock("PRIVATE KEY", kder), 0o600); err != nil {
		return err
	}
	return writeNew(filepath.Join(dir, CAFile), a.PEM, 0o644)
}

// LoadCA reads the CA Save wrote in dir.
func LoadCA(dir string) (*Authority, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCerts, err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %w (issuing needs the CA's key)", ErrCerts, err)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, fmt.Errorf("%w: %s: not PEM", ErrCerts, dir)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCerts, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCerts, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: the CA key cannot sign", ErrCerts)
	}
	return &Authority{Cert: cert, Key: signer, PEM: certPEM}, nil
}

// Files are what Init wrote.
type Files struct {
	CA, ServerCert, ServerKey string
	// Clients maps a client name to its certificate and key.
	Clients map[string][2]string
}

// nameRE keeps client names to safe file names.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Init makes a development CA in dir, a server certificate for hosts plus
// the loopback names, and a client certificate per name in clients. It
// refuses to overwrite any file, so an existing CA is never replaced.
func Init(dir string, hosts, clients []string) (Files, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Files{}, fmt.Errorf("%w: %w", ErrCerts, err)
	}
	ca, err := NewCA("dreamrank development CA")
	if err != nil {
		return Files{}, err
	}
	if err := ca.Save(dir); err != nil {
		return Files{}, err
	}
	all := slices.Clone(hosts)
	for _, h := range Loopback {
		if !slices.Contains(all, h) {
			all = append(all, h)
		}
	}
	srv, err := ca.Server("dreamrank server", all)
	if err != nil {
		return Files{}, err
	}
	f := Files{CA: filepath.Join(dir, CAFile), ServerCert: filepath.Join(dir, ServerFile), ServerKey: filepath.Join(dir, ServerKeyFile),
		Clients: map[string][2]string{}}
	if err := srv.Write(f.ServerCert, f.ServerKey); err != nil {
		return Files{}, err
	}
	for _, name := range clients {
		cert, key, err := IssueClient(ca, dir, name)
		if err != nil {
			return Files{}, err
		}
		f.Clients[name] = [2]string{cert, key}
	}
	return f, nil
}

// IssueClient issues client name's certificate from ca into dir.
func IssueClient(ca *Authority, dir, name string) (cert, key string, err error) {
	if !nameRE.MatchString(name) {
		return "", "", fmt.Errorf("%w: client name %q: want letters, digits, - and _", ErrCerts, name)
	}
	l, err := ca.Client(name)
	if err != nil {
		return "", "", err
	}
	cert, key = ClientFiles(dir, name)
	return cert, key, l.Write(cert, key)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCerts, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("%w: %w", ErrCerts, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%w: %w", ErrCerts, err)
	}
	return nil
}
