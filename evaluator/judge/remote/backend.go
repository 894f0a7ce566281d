package remote

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"dreamrank/evaluator/judge"
	"dreamrank/foundation/bus"
)

// BackendName is the registry name of judges served over NATS.
const BackendName = "remote"

// Options of the "remote" judge (judge.Open(ctx, "remote", opts)).
const (
	OptNATSURL  = "nats_url" // default nats://127.0.0.1:4222
	OptJudge    = "judge"    // the served judge's name; required
	OptTimeout  = "timeout"  // per attempt, a Go duration; default 60s
	OptAttempts = "attempts" // per request; default 3
	OptPrefix   = "prefix"   // subject prefix; default dreamrank.judge
	OptCreds    = "creds"    // NATS credentials file (JWT + nkey)
	OptToken    = "token"
	OptUser     = "user"
	OptPassword = "password"
)

func init() {
	judge.Register(BackendName, Open)
}

// Open is the "remote" judge's opener: it connects to NATS itself and dials
// the judge; Close on the result closes that connection.
func Open(ctx context.Context, opts judge.Options) (judge.Judge, error) {
	known := []string{OptNATSURL, OptJudge, OptTimeout, OptAttempts, OptPrefix, OptCreds, OptToken, OptUser, OptPassword}
	for k := range opts {
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("%w: unknown option %q (known: %s)", judge.ErrBadInput, k, strings.Join(known, ", "))
		}
	}
	name := opts[OptJudge]
	if name == "" {
		return nil, fmt.Errorf("%w: option %s is required", judge.ErrBadInput, OptJudge)
	}
	dial := DialOptions{Prefix: opts[OptPrefix]}
	if v := opts[OptTimeout]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%w: option %s=%q: want a positive duration such as 60s", judge.ErrBadInput, OptTimeout, v)
		}
		dial.Timeout = d
	}
	if v := opts[OptAttempts]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%w: option %s=%q: want a positive integer", judge.ErrBadInput, OptAttempts, v)
		}
		dial.Attempts = n
	}
	nc, err := bus.Connect(ctx, bus.Config{
		URL: opts[OptNATSURL], Creds: opts[OptCreds], Token: opts[OptToken],
		User: opts[OptUser], Password: opts[OptPassword], Name: "dreamrank judge client " + name,
	})
	if err != nil {
		return nil, err
	}
	c, err := Dial(ctx, nc, name, dial)
	if err != nil {
		nc.Close()
		return nil, err
	}
	c.owned = true
	return c, nil
}
