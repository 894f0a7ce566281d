// Package ndarray is the msgpack-numpy wire codec: NumPy arrays carried in
// msgpack as maps with bin keys (b"__ndarray__", b"data", b"dtype",
// b"shape"), the format of openpi's msgpack_numpy and of dreamrank's
// websocket peers (openpi policies, Python world models and judges).
// Pack and Unpack encode and decode whole messages; Array is one array.
package ndarray
