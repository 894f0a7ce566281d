// Package openpi speaks the openpi policy-server protocol, the websocket
// protocol robot teams serve policies with (PROTOCOL.md): a msgpack metadata
// frame on connect, then msgpack observations answered by msgpack action
// chunks, NumPy arrays as maps with bin keys (foundation/ndarray), errors as
// a text frame followed by close code 1011, GET /healthz, and an optional
// "Authorization: Api-Key" header. The connection is foundation/peer's,
// with openpi's free-text error frames ("Error in policy server: ...", a
// traceback from Python) in place of the kit's errcode texts.
//
// Serve serves any policy.Policy to openpi clients; Dial connects to any
// openpi-compatible server and returns a Client implementing policy.Policy.
//
// A Layout says what an observation looks like on the wire: the key paths
// of the cameras and the state ("." nests maps, as ALOHA's "images"), the
// image size, HWC or CHW, uint8 or float32. Preset gives the flat layout
// dreamrank's own servers use and openpi's published example layouts,
// DROID, ALOHA and LIBERO (each following the openpi files named in
// Preset); ParseLayout builds one from options. The client resizes and
// converts each camera frame to the layout, always sends the task as
// "prompt", and learns the action dimension and horizon from the first
// reply when the metadata does not say them (openpi's servers send {} or
// {"reset_pose": ...}). The server checks every image's dtype and shape
// against its layout, not just its byte count, and converts it to the
// policy's frame.
//
// Importing the package registers the client as policy backend "openpi"
// (options "url", "api_key", "frame_size" and the layout's, LayoutOptions),
// so zoo arms and fleet requests name an openpi endpoint with its layout.
package openpi
