// Package websocket joins world models served by websocket peers: a short
// Python server around a PyTorch video model, with no NATS client, speaking
// openpi's convention (foundation/peer: a msgpack-numpy metadata frame on
// connect, then request/reply, errors as a text frame and close 1011,
// optional Api-Key). The messages are in ../remote/PROTOCOL.md, "Websocket
// peers"; examples/python has a complete server.
//
// Dial, or worldmodel.Open(ctx, "websocket", {"url": ..., "api_key": ...}),
// returns a worldmodel.Model. Each Start opens a connection to the peer and
// resets it with the whole batch of episodes' context frames in one
// message; each Step sends the batch's action chunks in one message; Close
// closes the connection, and the peer drops the session with it. A peer
// that dies mid-session fails the step waiting on it at once, with
// worldmodel.ErrClosed.
//
// Serve serves any worldmodel.Model the same way (the Go reference peer the
// tests run the contract kit through). Because the client is an ordinary
// backend, `dreamrank wm serve --backend websocket --opt url=ws://...`
// serves a Python peer over NATS (worldmodel/remote): the gateway that makes
// it a remote model for workers anywhere on the cluster.
package websocket
