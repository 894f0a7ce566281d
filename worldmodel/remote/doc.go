// Package remote serves world models over NATS and dials them, so a model
// hosted anywhere on the cluster, in any language, is a worldmodel.Model.
//
// Serve exposes a worldmodel.Model as a NATS micro service (discovery and
// stats under $SRV, name "dreamrank-worldmodel"); replicas of one model share
// the info subject's queue group, and each keeps the sessions (rollouts) it
// started. Dial, or worldmodel.Open(ctx, "remote", opts), returns a client
// Model whose Rollout steps a session on its replica.
//
// The wire protocol (subjects, envelopes, parts, errors, sessions and
// idempotent retries) is specified in PROTOCOL.md, for implementers in
// other languages. Errors travel with codes from dreamrank/foundation/errcode and come
// back as the same sentinels: errors.Is(err, worldmodel.ErrBadInput) holds
// on the client when the server's model rejected the input.
package remote
