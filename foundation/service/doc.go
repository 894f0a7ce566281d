// Package service is the kit the project's NATS protocols share: world
// models, policies and judges served over NATS and dialled back (each
// protocol's package keeps its wire messages and logic; its PROTOCOL.md
// specifies them).
//
// A replica is a NATS micro service: New registers it, Serve adds its
// endpoints, and the kit assembles multi-part requests, runs each on its
// own goroutine with a concurrency bound, answers errors with errcode
// codes, expires stale parts and stops cleanly. A client is a Caller: one
// request per attempt, retried while the code is retryable, each attempt
// told its deadline. Open is the body of every "remote" backend's opener:
// the shared options (nats_url, timeout, attempts, prefix, credentials,
// login file, TLS)
// and a connection the dialled client owns.
package service
