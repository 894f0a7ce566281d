// Package remote serves policies over NATS and dials them, so a policy
// hosted anywhere on the cluster, in any language, is a policy.Policy for
// dreamrank's workers.
//
// Serve exposes a policy.Policy as a NATS micro service (discovery and
// stats under $SRV, name "dreamrank-policy"). Policies are stateless, so
// there are no sessions: an info request and act requests, both answered by
// any replica of the name through one queue group. Dial, or
// policy.Open(ctx, "nats", opts), returns a Client implementing
// policy.Policy; it splits batches that do not fit one NATS message and
// retries lost or timed-out requests, which is safe because Act is
// stateless.
//
// The wire protocol is specified in PROTOCOL.md for implementers in other
// languages. Frames travel as raw bytes with their shape; errors carry codes
// from dreamrank/foundation/errcode and come back as the same sentinels:
// errors.Is(err, policy.ErrBadInput) holds on the client when the served
// policy rejected the input.
package remote
