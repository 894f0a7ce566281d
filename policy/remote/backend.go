package remote

import "dreamrank/policy"

// BackendName is the policy backend that opens policies served over NATS.
const BackendName = "nats"

// OptPolicy names the served policy; the "nats" backend requires it. It
// takes the kit's options too (service.OptNATSURL, OptTimeout: default
// 30s, OptAttempts: default 3, OptPrefix: default dreamrank.policy, and the
// NATS credentials).
const OptPolicy = "policy"

func init() { policy.Register(BackendName, Open) }
