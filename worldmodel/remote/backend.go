package remote

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"dreamrank/foundation/bus"
	"dreamrank/foundation/errcode"
	"dreamrank/worldmodel"
)

// BackendName is the name of the registry backend that opens remote models.
const BackendName = "remote"

// Options of the "remote" backend (worldmodel.Open(ctx, "remote", opts)).
const (
	OptNATSURL  = "nats_url" // default nats://127.0.0.1:4222
	OptModel    = "model"    // the served model's name; required
	OptTimeout  = "timeout"  // per attempt, a Go duration; default 30s
	OptAttempts = "attempts" // per request; default 3
	OptPrefix   = "prefix"   // subject prefix; default dreamrank.wm
	OptCreds    = "creds"    // NATS credentials file (JWT + nkey)
	OptToken    = "token"    // NATS token
	OptUser     = "user"     // NATS user (with password)
	OptPassword = "password"
)

func init() {
	worldmodel.Register(BackendName, Open)
}

// Open is the "remote" backend's opener: it connects to NATS itself and
// dials the model. The returned *Model owns the connection; Close closes it.
func Open(ctx context.Context, opts worldmodel.Options) (worldmodel.Model, error) {
	known := []string{OptNATSURL, OptModel, OptTimeout, OptAttempts, OptPrefix, OptCreds, OptToken, OptUser, OptPassword}
	for k := range opts {
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("remote: unknown option %q (known: %s): %w", k, strings.Join(known, ", "), errcode.BadRequest)
		}
	}
	name := opts[OptModel]
	if name == "" {
		return nil, fmt.Errorf("remote: option %s is required: %w", OptModel, errcode.BadRequest)
	}
	var dial DialOptions
	dial.Prefix = opts[OptPrefix]
	if v := opts[OptTimeout]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("remote: option %s=%q: want a positive duration such as 30s: %w", OptTimeout, v, errcode.BadRequest)
		}
		dial.Timeout = d
	}
	if v := opts[OptAttempts]; v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err != nil || n <= 0 {
			return nil, fmt.Errorf("remote: option %s=%q: want a positive integer: %w", OptAttempts, v, errcode.BadRequest)
		}
		dial.Attempts = n
	}
	nc, err := bus.Connect(ctx, bus.Config{
		URL: opts[OptNATSURL], Creds: opts[OptCreds], Token: opts[OptToken],
		User: opts[OptUser], Password: opts[OptPassword], Name: "dreamrank worldmodel client " + name,
	})
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	m, err := Dial(ctx, nc, name, dial)
	if err != nil {
		nc.Close()
		return nil, err
	}
	m.ownConn = true
	return m, nil
}
