// Package openpi speaks the openpi policy-server protocol, the websocket
// protocol robot teams serve policies with (PROTOCOL.md): a msgpack metadata
// frame on connect, then msgpack observations answered by msgpack action
// chunks, NumPy arrays as maps with bin keys, errors as a text frame followed
// by close code 1011, GET /healthz, and an optional "Authorization: Api-Key"
// header.
//
// Serve serves any policy.Policy to openpi clients; Dial connects to any
// openpi-compatible server and returns a Client implementing policy.Policy.
// Importing the package registers the client as policy backend "openpi"
// (options "url" and "api_key"). Pack, Unpack and Array are the wire codec.
package openpi
