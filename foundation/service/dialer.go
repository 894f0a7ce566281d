package service

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"dreamrank/foundation/bus"
)

// Options every NATS backend's opener takes, besides the one naming the
// served object (worldmodel.Open(ctx, "remote", opts) and the like).
const (
	OptNATSURL  = "nats_url" // default nats://127.0.0.1:4222
	OptTimeout  = "timeout"  // per attempt, a Go duration
	OptAttempts = "attempts" // per request
	OptPrefix   = "prefix"   // subject prefix
	OptCreds    = "creds"    // NATS credentials file (JWT + nkey)
	OptToken    = "token"    // NATS token
	OptUser     = "user"     // NATS user (with password)
	OptPassword = "password"
	OptNkey     = "nkey"     // NATS nkey seed file
	OptLogin    = "login"    // login file of a named user (bus.Login)
	OptTLSCA    = "tls_ca"   // CA that signed the server's certificate
	OptTLSCert  = "tls_cert" // client certificate, for servers that require one
	OptTLSKey   = "tls_key"  // its key
)

// Dialer is a protocol's client side: its clients' defaults and its
// registry backend's options.
type Dialer struct {
	// Label starts the clients' errors, before the served name ("remote
	// policy").
	Label string
	// Prefix and Timeout are the defaults of DialOptions.
	Prefix  string
	Timeout time.Duration
	// Whole: the protocol has no parts (requests are one NATS message).
	Whole bool
	// NameOption is the backend option naming the served object; required.
	NameOption string
	// Client names connections in NATS monitoring ("dreamrank <Client>
	// client <name>").
	Client string
	// Bad is the sentinel that errors about backend options wrap.
	Bad error
}

// Caller returns a caller for the object served under name, with opts'
// zero values defaulted. A name that is not one subject token is
// bad_request.
func (d Dialer) Caller(nc *nats.Conn, name string, opts DialOptions) (*Caller, error) {
	if err := CheckName(name); err != nil {
		return nil, fmt.Errorf("%s: %w", d.Label, err)
	}
	if d.Whole {
		opts.MaxPartBytes = math.MaxInt
	}
	return newCaller(nc, d.Label+" "+name, name, opts, d.Prefix, d.Timeout), nil
}

// Backend is what a backend's options say.
type Backend struct {
	Name string // the served object's name
	Dial DialOptions
	Bus  bus.Config
}

// Parse reads a backend's options; unknown ones are errors, so a typo does
// not silently take a default.
func (d Dialer) Parse(opts map[string]string) (Backend, error) {
	known := []string{OptNATSURL, d.NameOption, OptTimeout, OptAttempts, OptPrefix, OptCreds, OptToken, OptUser, OptPassword,
		OptNkey, OptLogin, OptTLSCA, OptTLSCert, OptTLSKey}
	for k := range opts {
		if !slices.Contains(known, k) {
			return Backend{}, fmt.Errorf("unknown option %q (known: %s): %w", k, strings.Join(known, ", "), d.Bad)
		}
	}
	b := Backend{Name: opts[d.NameOption], Dial: DialOptions{Prefix: opts[OptPrefix]}}
	if b.Name == "" {
		return b, fmt.Errorf("option %s is required: %w", d.NameOption, d.Bad)
	}
	if v := opts[OptTimeout]; v != "" {
		t, err := time.ParseDuration(v)
		if err != nil || t <= 0 {
			return b, fmt.Errorf("option %s=%q: want a positive duration such as 30s: %w", OptTimeout, v, d.Bad)
		}
		b.Dial.Timeout = t
	}
	if v := opts[OptAttempts]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return b, fmt.Errorf("option %s=%q: want a positive integer: %w", OptAttempts, v, d.Bad)
		}
		b.Dial.Attempts = n
	}
	b.Bus = bus.Config{
		URL: opts[OptNATSURL], Creds: opts[OptCreds], Token: opts[OptToken],
		User: opts[OptUser], Password: opts[OptPassword], Nkey: opts[OptNkey], Login: opts[OptLogin],
		TLSCA: opts[OptTLSCA], TLSCert: opts[OptTLSCert], TLSKey: opts[OptTLSKey], Name: "dreamrank " + d.Client + " client " + b.Name,
	}
	return b, nil
}

// Opener returns a registry backend's opener (a worldmodel.Opener, say: O
// is the registry's options type, I its interface). It parses the options,
// connects to NATS and dials with a caller that owns the connection (the
// client's Close closes it; a failed dial closes it at once). On error the
// client is I's zero value, never a nil pointer in an interface.
func Opener[O ~map[string]string, I any](d Dialer, dial func(context.Context, *Caller) (I, error)) func(context.Context, O) (I, error) {
	return func(ctx context.Context, opts O) (I, error) {
		var zero I
		b, err := d.Parse(opts)
		if err == nil {
			err = CheckName(b.Name)
		}
		if err != nil {
			return zero, fmt.Errorf("%s: %w", d.Label, err)
		}
		nc, err := bus.Connect(ctx, b.Bus)
		if err != nil {
			return zero, fmt.Errorf("%s: %w", d.Label, err)
		}
		call, _ := d.Caller(nc, b.Name, b.Dial) // the name is checked
		call.OwnConn = true
		c, err := dial(ctx, call)
		if err != nil {
			nc.Close()
			return zero, err
		}
		return c, nil
	}
}
