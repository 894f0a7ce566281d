package bus

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"dreamrank/foundation/errcode"
)

// ServerTLS is the embedded server's TLS: its certificate and key, and
// optionally the CA whose client certificates it requires.
type ServerTLS struct {
	Cert, Key string
	// ClientCA, when set, makes every TCP client present a certificate
	// signed by it (mutual TLS), on top of its login.
	ClientCA string
}

// tlsHandshakeTimeout is generous: a loaded 2-core machine under -race
// takes far longer than nats-server's half second default.
const tlsHandshakeTimeout = 5 // seconds

// apply turns TLS on in opts: every TCP client must speak TLS. In-process
// connections (the serving process's own) skip it, as nats-server allows.
func (t *ServerTLS) apply(opts *server.Options) error {
	if t == nil {
		return nil
	}
	if t.Cert == "" || t.Key == "" {
		return fmt.Errorf("%w: TLS needs a certificate and its key (--tls-cert, --tls-key)", ErrAuthConfig)
	}
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: t.Cert, KeyFile: t.Key, CaFile: t.ClientCA, Verify: t.ClientCA != ""})
	if err != nil {
		return fmt.Errorf("%w: TLS: %w", ErrAuthConfig, err)
	}
	opts.TLS, opts.TLSConfig, opts.TLSVerify, opts.TLSTimeout = true, tc, t.ClientCA != "", tlsHandshakeTimeout
	opts.TLSCert, opts.TLSKey, opts.TLSCaCert = t.Cert, t.Key, t.ClientCA
	return nil
}

// tlsOptions are a client's TLS options: the CA that must have signed the
// server's certificate (without it, the system's roots) and the client's
// own certificate when the server requires one.
func (c Config) tlsOptions() ([]nats.Option, error) {
	var opts []nats.Option
	if c.TLSCA != "" {
		opts = append(opts, nats.RootCAs(c.TLSCA))
	}
	switch {
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return nil, fmt.Errorf("bus: a client certificate needs its key and the key its certificate (%q, %q): %w", c.TLSCert, c.TLSKey, errcode.BadRequest)
	case c.TLSCert != "":
		opts = append(opts, nats.ClientCert(c.TLSCert, c.TLSKey))
	}
	return opts, nil
}

// connectCode says what a failed dial means to the caller: credentials or
// TLS that the server refused or that cannot verify it (fix the
// configuration) or a server that is not there (retry later).
func connectCode(err error) errcode.Code {
	var (
		unknownCA *x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		certErr   *tls.CertificateVerificationError
		alert     tls.AlertError
		recHeader tls.RecordHeaderError
		opErr     *net.OpError
		timeout   interface{ Timeout() bool }
	)
	switch {
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked),
		errors.Is(err, nats.ErrSecureConnRequired), errors.Is(err, nats.ErrSecureConnWanted),
		errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &certErr), errors.As(err, &alert), errors.As(err, &recHeader):
		return errcode.Unauthorized
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		// A TLS alert from the server (it refused our certificate).
		return errcode.Unauthorized
	case errors.Is(err, nats.ErrTLS) && !(errors.As(err, &timeout) && timeout.Timeout()):
		// With TLS 1.3 the server checks a client certificate after the
		// handshake completed on our side and then closes: depending on
		// timing we read its alert, EOF or a broken pipe, which nats.go
		// wraps as "closed by remote after TLS handshake".
		return errcode.Unauthorized
	}
	return errcode.Unavailable
}
