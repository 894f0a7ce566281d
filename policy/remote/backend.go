package remote

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"dreamrank/foundation/bus"
	"dreamrank/policy"
)

// BackendName is the policy backend that opens policies served over NATS.
const BackendName = "nats"

// Options of the "nats" backend (policy.Open(ctx, "nats", opts)).
const (
	OptNATSURL  = "nats_url" // default nats://127.0.0.1:4222
	OptPolicy   = "policy"   // the served policy's name; required
	OptTimeout  = "timeout"  // per attempt, a Go duration; default 30s
	OptAttempts = "attempts" // per request; default 3
	OptPrefix   = "prefix"   // subject prefix; default dreamrank.policy
	OptCreds    = "creds"    // NATS credentials file (JWT + nkey)
	OptToken    = "token"
	OptUser     = "user"
	OptPassword = "password"
)

func init() {
	policy.Register(BackendName, Open)
}

// Open is the "nats" backend's opener: it connects to NATS itself and dials
// the policy. The returned *Client owns the connection; Close closes it.
func Open(ctx context.Context, opts policy.Options) (policy.Policy, error) {
	known := []string{OptNATSURL, OptPolicy, OptTimeout, OptAttempts, OptPrefix, OptCreds, OptToken, OptUser, OptPassword}
	for k := range opts {
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("remote: unknown option %q (known: %s): %w", k, strings.Join(known, ", "), policy.ErrBadInput)
		}
	}
	name := opts[OptPolicy]
	if name == "" {
		return nil, fmt.Errorf("remote: option %s is required: %w", OptPolicy, policy.ErrBadInput)
	}
	dial := DialOptions{Prefix: opts[OptPrefix]}
	if v := opts[OptTimeout]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("remote: option %s=%q: want a positive duration such as 30s: %w", OptTimeout, v, policy.ErrBadInput)
		}
		dial.Timeout = d
	}
	if v := opts[OptAttempts]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("remote: option %s=%q: want a positive integer: %w", OptAttempts, v, policy.ErrBadInput)
		}
		dial.Attempts = n
	}
	nc, err := bus.Connect(ctx, bus.Config{
		URL: opts[OptNATSURL], Creds: opts[OptCreds], Token: opts[OptToken],
		User: opts[OptUser], Password: opts[OptPassword], Name: "dreamrank policy client " + name,
	})
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	c, err := Dial(ctx, nc, name, dial)
	if err != nil {
		nc.Close()
		return nil, err
	}
	c.ownConn = true
	return c, nil
}
