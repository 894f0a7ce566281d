"""The websocket side of a dreamrank peer, in openpi's convention: a msgpack
metadata frame on connect, then one msgpack reply per msgpack request, NumPy
arrays as msgpack-numpy maps, errors as a text frame and close code 1011,
GET /healthz, an optional "Authorization: Api-Key <key>" header.

The protocol is in worldmodel/remote/PROTOCOL.md and
evaluator/judge/remote/PROTOCOL.md ("Websocket peers"). Needs numpy, msgpack
and websockets (Debian: python3-numpy python3-msgpack python3-websockets).
"""
import asyncio
import http
import traceback

import msgpack
import numpy as np
import websockets


# --- msgpack-numpy, as openpi's msgpack_numpy writes it ----------------------

def _pack_numpy(obj):
    if isinstance(obj, np.ndarray):
        return {b"__ndarray__": True, b"data": np.ascontiguousarray(obj).tobytes(),
                b"dtype": obj.dtype.str, b"shape": list(obj.shape)}
    if isinstance(obj, np.generic):
        return {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
    raise TypeError(f"cannot pack {type(obj).__name__}")


def _unpack_numpy(obj):
    if b"__ndarray__" in obj:
        return np.ndarray(buffer=obj[b"data"], dtype=np.dtype(obj[b"dtype"]), shape=obj[b"shape"])
    if b"__npgeneric__" in obj:
        return np.dtype(obj[b"dtype"]).type(obj[b"data"])
    return obj


def pack(obj):
    return msgpack.packb(obj, default=_pack_numpy, use_bin_type=True)


def unpack(data):
    # Arrays come back read-only, as views of the message.
    return msgpack.unpackb(data, object_hook=_unpack_numpy, raw=False)


# --- errors: the text frame starts with a code dreamrank maps -------------------

class PeerError(Exception):
    """An error with a code of dreamrank's catalogue (foundation/errcode)."""
    code = "internal"


class BadRequest(PeerError):
    """Input the model cannot take: dreamrank reports ErrBadInput."""
    code = "bad_request"


def error_text(e):
    if isinstance(e, PeerError):
        return f"{e.code}: {e}"
    return "internal: " + traceback.format_exc()   # anything else: a traceback


# --- the server --------------------------------------------------------------

def serve(metadata, new_session, host="127.0.0.1", port=0, api_key=None):
    """Serve until interrupted. Each connection gets new_session(), whose
    handle(request) returns the reply (a dict) and whose optional close()
    runs when the connection ends. Prints "listening on ws://host:port"."""
    try:
        asyncio.run(_serve(metadata, new_session, host, port, api_key))
    except KeyboardInterrupt:
        pass


async def _serve(metadata, new_session, host, port, api_key):
    async def check(a, b):
        # websockets < 14 passes (path, headers), later ones (connection, request).
        legacy = isinstance(a, str)
        path, headers = (a, b) if legacy else (b.path, b.headers)
        if path == "/healthz":
            status, body = http.HTTPStatus.OK, "OK\n"
        elif api_key and headers.get("Authorization") != f"Api-Key {api_key}":
            status, body = http.HTTPStatus.UNAUTHORIZED, "unauthorized\n"
        else:
            return None
        return (status, [], body.encode()) if legacy else a.respond(status, body)

    async def handler(ws, path=None):
        await ws.send(pack(metadata))
        session = new_session()
        try:
            async for message in ws:
                try:
                    if isinstance(message, str):
                        raise BadRequest("a text frame; requests are binary msgpack")
                    try:
                        request = unpack(message)
                    except Exception as e:
                        raise BadRequest(f"malformed msgpack: {e}") from e
                    # A thread, so pings are answered while a model works.
                    reply = await asyncio.to_thread(session.handle, request)
                except Exception as e:
                    await ws.send(error_text(e))
                    await ws.close(1011, "Internal server error. Traceback included in previous frame.")
                    return
                await ws.send(pack(reply))
        except websockets.ConnectionClosed:
            pass   # the client left: its session goes with it
        finally:
            if hasattr(session, "close"):
                session.close()

    # max_size=None: a judge request of PushT episodes is megabytes.
    async with websockets.serve(handler, host, port, max_size=None, compression=None,
                                process_request=check) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on ws://{host}:{port}", flush=True)
        await asyncio.Future()
