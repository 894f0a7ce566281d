#!/usr/bin/env python3
"""An openpi peer for dreamrank's tests, written from PROTOCOL.md.

It speaks the openpi websocket protocol the way openpi's Python server and
client do (openpi's serving/websocket_policy_server.py and openpi_client):
msgpack with NumPy arrays as maps with bin keys __ndarray__, data, dtype,
shape; a metadata frame on connect; errors as a text frame holding the
traceback followed by close code 1011.

  openpi_peer.py serve --layout droid [--metadata JSON]
      Serves a stand-in policy that reads observations the way openpi's
      example policies do (the DROID, ALOHA and LIBERO layouts of openpi's
      make_*_example functions, or dreamrank's flat one) and refuses
      anything else with an exception. Prints "PORT <n>" once listening;
      exits when stdin closes.

  openpi_peer.py client --url ws://HOST:PORT --layout droid --cases good,chw
      Sends each case's observation on a fresh connection and prints one
      JSON line per case: the reply's shapes, or the error text and the
      close code the server answered with.

Only Debian's python3-msgpack, python3-numpy and python3-websockets.
"""

import argparse
import asyncio
import json
import sys
import threading
import os
import traceback

import msgpack
import numpy as np
import websockets

# --- msgpack-numpy, as on the wire (PROTOCOL.md, "Encoding") ---------------


def _to_wire(obj):
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "VOcUS":
            raise TypeError(f"cannot send dtype {obj.dtype}")
        return {b"__ndarray__": True, b"data": obj.tobytes(), b"dtype": obj.dtype.str, b"shape": list(obj.shape)}
    if isinstance(obj, np.generic):
        return {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
    return obj


def _from_wire(obj):
    if b"__ndarray__" in obj:
        dtype = np.dtype(obj[b"dtype"])
        return np.frombuffer(obj[b"data"], dtype=dtype).reshape(obj[b"shape"])
    if b"__npgeneric__" in obj:
        return np.dtype(obj[b"dtype"]).type(obj[b"data"])
    return obj


def pack(obj):
    return msgpack.packb(obj, default=_to_wire, use_bin_type=True)


def unpack(data):
    return msgpack.unpackb(data, object_hook=_from_wire, raw=False)


# --- layouts: what each stand-in server reads --------------------------------

# Per layout: the cameras (key path, required), the state keys and sizes,
# the image shape and the action chunk the stand-in policy answers with.
# The openpi ones follow openpi's make_droid_example, aloha_policy.py's
# AlohaInputs (cam_high required) and make_libero_example.
LAYOUTS = {
    "droid": {
        "cameras": [("observation/exterior_image_1_left", True), ("observation/wrist_image_left", True)],
        "state": [("observation/joint_position", 7), ("observation/gripper_position", 1)],
        "image": (224, 224, 3), "chw": False, "chunk": (10, 8),
    },
    "aloha": {
        "cameras": [("images/cam_high", True), ("images/cam_low", False),
                    ("images/cam_left_wrist", False), ("images/cam_right_wrist", False)],
        "state": [("state", 14)],
        "image": (224, 224, 3), "chw": True, "chunk": (50, 14),
    },
    "libero": {
        "cameras": [("observation/image", True), ("observation/wrist_image", True)],
        "state": [("observation/state", 8)],
        "image": (224, 224, 3), "chw": False, "chunk": (10, 7),
    },
    "flat": {
        "cameras": [("observation/image", True)],
        "state": [("observation/state", 2)],
        "image": (96, 96, 3), "chw": False, "chunk": (16, 2),
    },
}


def lookup(obs, path):
    """A key path: "images/cam_high" is a nested map here (ALOHA's), any
    other key is flat."""
    if path.startswith("images/"):
        return obs["images"][path[len("images/"):]]
    return obs[path]


def describe(value):
    return f"{value.dtype.str} {list(value.shape)}"


def read_camera(layout, path, image):
    h, w, c = layout["image"]
    want = (c, h, w) if layout["chw"] else (h, w, c)
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.shape != want:
        raise ValueError(f"{path}: got {describe(image) if isinstance(image, np.ndarray) else type(image)}, want |u1 {list(want)}")
    if layout["chw"]:
        image = np.transpose(image, (1, 2, 0))
    return image


def infer(layout, obs):
    """The stand-in policy: checks the observation like openpi's input
    transforms would fail on it, then answers a chunk derived from it."""
    seen, means = {}, {}
    for path, required in layout["cameras"]:
        try:
            image = lookup(obs, path)
        except KeyError:
            if required:
                raise
            continue
        seen[path] = describe(image)
        means[path] = [float(m) for m in read_camera(layout, path, image).reshape(-1, 3).mean(axis=0)]
    state = []
    for path, size in layout["state"]:
        part = np.asarray(lookup(obs, path))
        if part.shape != (size,):
            raise ValueError(f"{path}: shape {list(part.shape)}, want [{size}]")
        seen[path] = describe(part)
        state.append(part.astype(np.float64))
    state = np.concatenate(state)
    prompt = obs["prompt"]  # pi0-family servers tokenize it: it must be there
    if not isinstance(prompt, str):
        raise TypeError(f"prompt is {type(prompt)}, want str")
    h, d = layout["chunk"]
    actions = state.sum() + 0.25 * np.arange(h)[:, None] + np.arange(d)[None, :]
    return {
        "actions": actions.astype(np.float32),
        "seen": seen, "means": means, "prompt": prompt, "keys": sorted(obs),
        "policy_timing": {"infer_ms": 0.0},
    }


# --- server -------------------------------------------------------------------


async def serve(layout, metadata):
    async def handler(ws, path=None):
        await ws.send(pack(metadata))
        while True:
            try:
                obs = unpack(await ws.recv())
                reply = infer(layout, obs)
                reply["server_timing"] = {"infer_ms": 0.0}
                await ws.send(pack(reply))
            except websockets.exceptions.ConnectionClosed:
                return
            except Exception:
                await ws.send(traceback.format_exc())
                await ws.close(code=1011, reason="Internal server error. Traceback included in previous frame.")
                return

    async with websockets.serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
        print("PORT", server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()


def exit_when_stdin_closes():
    """The test holds stdin open; when it goes (the test ended or died) so
    does the server."""
    def watch():
        sys.stdin.read()
        os._exit(0)
    threading.Thread(target=watch, daemon=True).start()


# --- client -------------------------------------------------------------------


def constant_image(layout, values=(11, 22, 33)):
    h, w, c = layout["image"]
    image = np.empty((h, w, c), dtype=np.uint8)
    image[...] = np.array(values, dtype=np.uint8)
    return np.ascontiguousarray(np.transpose(image, (2, 0, 1))) if layout["chw"] else image


def good_observation(layout):
    obs = {"prompt": "do something"}
    for path, required in layout["cameras"]:
        if required:
            put(obs, path, constant_image(layout))
    at = 0
    for path, size in layout["state"]:
        put(obs, path, (np.arange(at, at + size) / 10).astype(np.float64))
        at += size
    return obs


def put(obs, path, value):
    if path.startswith("images/"):
        obs.setdefault("images", {})[path[len("images/"):]] = value
    else:
        obs[path] = value


def case_observation(layout, case):
    """The observation of a case: good, or malformed one way."""
    obs = good_observation(layout)
    main = layout["cameras"][0][0]
    image = lookup(obs, main)
    if case == "good":
        return obs
    if case == "transposed":  # HWC where CHW is wanted, or CHW where HWC
        flipped = np.transpose(image, (1, 2, 0)) if layout["chw"] else np.transpose(image, (2, 0, 1))
        put(obs, main, np.ascontiguousarray(flipped))
    elif case == "float64":
        put(obs, main, image.astype(np.float64) / 255)
    elif case == "no_image":
        if main.startswith("images/"):
            del obs["images"]
        else:
            del obs[main]
    elif case == "short_state":
        path, size = layout["state"][0]
        put(obs, path, np.zeros(max(size - 1, 1) if size > 1 else 2))
    elif case == "not_msgpack":
        return None
    else:
        raise SystemExit(f"unknown case {case}")
    return obs


async def run_case(url, layout, case):
    async with websockets.connect(url, compression=None, max_size=None) as ws:
        metadata = unpack(await ws.recv())
        obs = case_observation(layout, case)
        await ws.send(b"\xc1" if obs is None else pack(obs))
        reply = await ws.recv()
        if isinstance(reply, str):
            code = None
            try:
                await ws.recv()
            except websockets.exceptions.ConnectionClosed as e:
                code = e.rcvd.code if e.rcvd is not None else None
            return {"case": case, "error": reply, "code": code}
        reply = unpack(reply)
        actions = reply["actions"]
        # A second request on the same connection: it serves many.
        await ws.send(pack(obs))
        again = unpack(await ws.recv())
        return {"case": case, "metadata_keys": sorted(metadata), "actions_shape": list(actions.shape),
                "actions_dtype": actions.dtype.str, "first_action": [float(a) for a in actions[0]],
                "again_equal": bool(np.array_equal(again["actions"], actions)),
                "timing": sorted(reply.get("server_timing", {}))}


async def client(url, layout, cases):
    for case in cases:
        print(json.dumps(await run_case(url, layout, case)), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["serve", "client"])
    ap.add_argument("--layout", choices=sorted(LAYOUTS), required=True)
    ap.add_argument("--metadata", default="{}", help="serve: the metadata frame, as JSON")
    ap.add_argument("--url", help="client: the server")
    ap.add_argument("--cases", default="good", help="client: comma-separated cases")
    args = ap.parse_args()
    layout = LAYOUTS[args.layout]
    if args.mode == "serve":
        exit_when_stdin_closes()
        asyncio.run(serve(layout, json.loads(args.metadata)))
    else:
        asyncio.run(client(args.url, layout, args.cases.split(",")))


if __name__ == "__main__":
    main()
