// Package remote serves judges over NATS and dials them, so a judge hosted
// anywhere on the cluster, in any language (a VLM behind a GPU, say), is a
// judge.Judge.
//
// Serve exposes a judge.Judge as a NATS micro service (discovery and stats
// under $SRV, name "dreamrank-judge"); Dial, or judge.Open(ctx, "remote",
// opts), returns a client. Requests are stateless, so any replica may judge
// any batch and every retry is safe. Messages larger than NATS's
// max_payload travel in parts, as in the world-model protocol.
//
// The wire protocol is specified in PROTOCOL.md. Errors travel with codes
// from dreamrank/foundation/errcode and come back as the same sentinels:
// errors.Is(err, judge.ErrBadInput) holds on the client when the served
// judge rejected the episodes.
package remote
