// Package peer is the websocket connection of openpi's convention, spoken
// by dreamrank's peers that have no NATS client (a short Python server
// around a PyTorch world model or judge): on connect the server sends one
// binary msgpack-numpy frame of metadata; then each client request, one
// binary msgpack map, gets one binary msgpack map in reply, in order. An
// error is a text frame carrying the message, then close code 1011. Servers
// answer GET /healthz and may require the header "Authorization: Api-Key
// <key>" (401 otherwise).
//
// dreamrank's error texts start with a code of the errcode catalogue
// ("bad_request: frames of 95x96"), so a ServerError unwraps to that code
// and errors.Is matches the sentinels registered for it; a text without a
// known code (a Python traceback) is internal. policy/openpi speaks the
// same connection with openpi's free-text errors (ServeOptions.ErrorText).
//
// Dial returns a Conn (client); Serve returns an http.Handler (server).
// Each protocol's package (worldmodel/websocket, evaluator/judge/websocket)
// keeps its own messages; the codec is foundation/ndarray. What their
// clients share is here too: the registry options (ParseOptions), a
// connection with its metadata read (Connect), and the metadata entries
// every protocol has, kind, protocol and describe (NewMetadata,
// ReadMetadata).
package peer
