package remote

import (
	"context"
	"fmt"
	"time"

	"dreamrank/foundation/service"
	"dreamrank/policy"
)

// BackendName is the policy backend that opens policies served over NATS.
const BackendName = "nats"

// OptPolicy names the served policy; the "nats" backend requires it. It
// takes the kit's options too (service.OptNATSURL, OptTimeout: default
// 30s, OptAttempts: default 3, OptPrefix: default dreamrank.policy, and the
// NATS credentials).
const OptPolicy = "policy"

// dialer holds the protocol's client defaults and backend options. Act
// requests are one NATS message each: the client splits batches instead.
var dialer = service.Dialer{
	Label: "remote policy", Prefix: DefaultPrefix, Timeout: 30 * time.Second, Whole: true,
	NameOption: OptPolicy, Client: "policy", Bad: policy.ErrBadInput,
}

func init() {
	policy.Register(BackendName, Open)
}

// Open is the "nats" backend's opener: it connects to NATS itself and dials
// the policy. The returned *Client owns the connection; Close closes it.
func Open(ctx context.Context, opts policy.Options) (policy.Policy, error) {
	c, err := service.Open(ctx, dialer, opts, func(ctx context.Context, call *service.Caller) (*Client, error) {
		return newClient(ctx, call, 0)
	})
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	return c, nil
}
