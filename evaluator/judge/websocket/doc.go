// Package websocket joins judges served by websocket peers: a short Python
// server around a judge (a VLM, a scorer written with numpy), with no NATS
// client, speaking openpi's convention (foundation/peer: a msgpack-numpy
// metadata frame on connect, then request/reply, errors as a text frame and
// close 1011, optional Api-Key). The messages are in ../remote/PROTOCOL.md,
// "Websocket peers"; examples/python has a complete server.
//
// Dial, or judge.Open(ctx, "websocket", {"url": ..., "api_key": ...}),
// returns a judge.Judge: a batch of episodes is one request (split when it
// would exceed the request size), on a connection kept for the next call;
// concurrent calls use connections of their own. Serve serves any
// judge.Judge the same way (the Go reference peer the tests run the
// contract kit through). Because the client is an ordinary judge,
// `dreamrank judge serve --judge websocket --opt url=ws://...` serves a
// Python peer over NATS (evaluator/judge/remote): the gateway.
package websocket
