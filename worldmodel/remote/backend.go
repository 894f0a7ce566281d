package remote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"dreamrank/errcode"
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
	url := opts[OptNATSURL]
	if url == "" {
		url = nats.DefaultURL
	}
	nopts := []nats.Option{nats.Name("dreamrank worldmodel client " + name)}
	if v := opts[OptCreds]; v != "" {
		nopts = append(nopts, nats.UserCredentials(v))
	}
	if v := opts[OptToken]; v != "" {
		nopts = append(nopts, nats.Token(v))
	}
	if u, p := opts[OptUser], opts[OptPassword]; u != "" || p != "" {
		nopts = append(nopts, nats.UserInfo(u, p))
	}
	if dl, ok := ctx.Deadline(); ok {
		nopts = append(nopts, nats.Timeout(max(time.Until(dl), time.Millisecond)))
	}
	nc, err := nats.Connect(url, nopts...)
	if err != nil {
		if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) {
			return nil, fmt.Errorf("remote: connect %s: %w: %w", url, errcode.Unauthorized, err)
		}
		return nil, fmt.Errorf("remote: connect %s: %w: %w", url, errcode.Unavailable, err)
	}
	m, err := Dial(ctx, nc, name, dial)
	if err != nil {
		nc.Close()
		return nil, err
	}
	m.ownConn = true
	return m, nil
}
