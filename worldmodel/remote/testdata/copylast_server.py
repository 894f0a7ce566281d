"""A dreamrank world-model replica in Python: the copy-last-frame baseline
served over NATS with the wire protocol of ../PROTOCOL.md.

    pip install nats-py numpy
    python3 copylast_server.py nats://127.0.0.1:4222
    python3 copylast_server.py --selftest testdata   # codec and logic, no NATS

Then, from Go: worldmodel.Open(ctx, "remote", {"model": "copylast-py", ...}).
"""
import asyncio, json, struct, sys, time, uuid
import numpy as np

MODEL = "copylast-py"
SPEC = {"frame_h": 96, "frame_w": 96, "channels": 3, "proprio_dim": 2,
        "action_dim": 2, "context_len": 1, "control_hz": 10}
REPLICA = uuid.uuid4().hex               # any [A-Za-z0-9_-]+ token
P = f"dreamrank.wm.{MODEL}"              # the model's subjects
R = f"{P}.r.{REPLICA}"                   # this replica's subjects
TTL = 300.0                              # idle seconds before a session expires
DTYPES = {"uint8": np.dtype("u1"), "float32": np.dtype("<f4")}


def decode(body):
    """Envelope -> (meta dict, {name: numpy array})."""
    n = struct.unpack(">I", body[:4])[0]
    meta, off, arrays = json.loads(body[4:4 + n]), 4 + n, {}
    for a in meta.get("arrays", []):
        dt, count = DTYPES[a["dtype"]], int(np.prod(a["shape"]))
        arrays[a["name"]] = np.frombuffer(body, dt, count, off).reshape(a["shape"])
        off += count * dt.itemsize
    if off != len(body):
        raise ValueError(f"{len(body) - off} bytes after the last array")
    return meta, arrays


def encode(meta, **arrays):
    """(meta, arrays in keyword order) -> envelope."""
    meta["arrays"], blobs = [], []
    for name, a in arrays.items():
        dtype = "uint8" if a.dtype == np.uint8 else "float32"
        meta["arrays"].append({"name": name, "dtype": dtype, "shape": list(a.shape)})
        blobs.append(np.ascontiguousarray(a, DTYPES[dtype]).tobytes())
    js = json.dumps(meta, separators=(",", ":")).encode()
    return b"".join([struct.pack(">I", len(js)), js, *blobs])


def guarded(handler):
    async def run(self, msg):
        try:
            await handler(self, msg)
        except Exception as e:  # a malformed request
            await self.error(msg.reply, "bad_request", f"{type(e).__name__}: {e}")
    return run


class Replica:
    def __init__(self, nc):
        self.nc, self.sessions, self.by_request, self.partial = nc, {}, {}, {}

    async def send(self, subject, body, headers=None):
        """Publish a reply, in parts if it exceeds max_payload."""
        size = self.nc.max_payload - 4096
        chunks = [body[i:i + size] for i in range(0, len(body), size)] or [b""]
        for i, chunk in enumerate(chunks, 1):
            h = dict(headers or {})
            if len(chunks) > 1:
                h["Dreamrank-Part"] = f"{i}/{len(chunks)}"
            await self.nc.publish(subject, chunk, headers=h or None)

    async def error(self, subject, code, message):
        await self.send(subject, json.dumps({"code": code, "message": message}).encode(),
                        {"Nats-Service-Error": message, "Nats-Service-Error-Code": code})

    async def body(self, msg):
        """The whole request once its last part is in, else None."""
        part = (msg.headers or {}).get("Dreamrank-Part")
        if not part:
            return msg.data
        i, n = map(int, part.split("/"))
        parts = self.partial.setdefault(msg.reply, [])
        if len(parts) != i - 1:
            del self.partial[msg.reply]
            await self.error(msg.reply, "unavailable", "a part was lost; resend the request")
            return None
        parts.append(msg.data)
        return b"".join(self.partial.pop(msg.reply)) if i == n else None

    async def info(self, msg):
        await self.send(msg.reply, json.dumps({
            "protocol": 1, "model": MODEL, "replica": REPLICA, "spec": SPEC,
            "describe": {"backend": "copylast-py"}, "start_subject": f"{R}.start",
            "idle_ttl_ms": int(TTL * 1000), "max_sessions": 256,
            "max_message_bytes": 256 << 20}).encode())

    @guarded
    async def start(self, msg):
        body = await self.body(msg)
        if body is None:
            return
        meta, a = decode(body)
        lens, frames = meta["context_lens"], a["frames"]
        if frames.shape[1:] != (SPEC["frame_h"], SPEC["frame_w"], SPEC["channels"]) \
                or a["proprio"].shape[1] != SPEC["proprio_dim"] \
                or not lens or min(lens) < 1 or max(lens) > SPEC["context_len"]:
            return await self.error(msg.reply, "bad_request", "contexts do not fit the spec")
        if meta["request_id"] not in self.by_request:  # else a retry: same session
            sid = self.by_request[meta["request_id"]] = uuid.uuid4().hex
            last = np.cumsum(lens) - 1  # each episode's newest observation
            self.sessions[sid] = {"frames": frames[last], "proprio": a["proprio"][last],
                                  "seq": 0, "cache": None, "used": time.monotonic()}
        await self.send(msg.reply, json.dumps({
            "session": self.by_request[meta["request_id"]], "batch": len(lens),
            "step_subject": f"{R}.step", "close_subject": f"{R}.close",
            "idle_ttl_ms": int(TTL * 1000)}).encode())

    @guarded
    async def step(self, msg):
        body = await self.body(msg)
        if body is None:
            return
        meta, a = decode(body)
        s, acts = self.sessions.get(meta["session"]), a["actions"]  # [B, K, A]
        if s is None or time.monotonic() - s["used"] > TTL:
            self.sessions.pop(meta["session"], None)
            return await self.error(msg.reply, "session_expired", "no such session here")
        s["used"] = time.monotonic()
        if s["cache"] and meta["seq"] == s["seq"] and s["cache"][0] == acts.tobytes():
            return await self.send(msg.reply, s["cache"][1])  # a retry: the same reply
        if meta["seq"] != s["seq"] + 1:
            return await self.error(msg.reply, "conflict", f"seq {meta['seq']}, session at {s['seq']}")
        if acts.shape[0] != len(s["frames"]) or acts.shape[1] < 1 or acts.shape[2] != SPEC["action_dim"]:
            return await self.error(msg.reply, "bad_request", "actions do not fit the session")
        k = acts.shape[1]  # the model: nothing moves
        out = encode({"session": meta["session"], "seq": meta["seq"]},
                     frames=np.repeat(s["frames"][:, None], k, axis=1),
                     proprio=np.repeat(s["proprio"][:, None], k, axis=1))
        s["seq"], s["cache"] = meta["seq"], (acts.tobytes(), out)
        await self.send(msg.reply, out)

    @guarded
    async def close(self, msg):
        body = await self.body(msg)
        if body is None:
            return
        self.sessions.pop(json.loads(body)["session"], None)
        await self.send(msg.reply, b'{"closed":true}')


async def main(url):
    import nats  # nats-py
    nc = await nats.connect(url)
    r = Replica(nc)
    await nc.subscribe(f"{P}.info", queue="q", cb=r.info)  # replicas share info
    for name in ("start", "step", "close"):
        await nc.subscribe(f"{R}.{name}", cb=getattr(r, name))
    await asyncio.Event().wait()


# --- self-test against the Go side's golden envelopes, without NATS ---------

class FakeMsg:
    def __init__(self, data, reply, headers=None):
        self.data, self.reply, self.headers = data, reply, headers


class FakeNATS:
    def __init__(self, max_payload):
        self.max_payload, self.sent = max_payload, []

    async def publish(self, subject, payload, reply="", headers=None):
        self.sent.append(FakeMsg(payload, subject, headers))


def selftest(testdata):
    global SPEC
    SPEC = {"frame_h": 1, "frame_w": 2, "channels": 3, "proprio_dim": 2,
            "action_dim": 2, "context_len": 2, "control_hz": 10}
    read = lambda name: open(f"{testdata}/{name}", "rb").read()
    golden = read("step_reply.bin")
    meta, a = decode(golden)
    assert meta["seq"] == 1 and a["frames"].shape == (2, 1, 1, 2, 3), meta
    assert a["proprio"].tolist() == [[[1.5, -2.0]], [[3.25, 4.0]]], a["proprio"]
    assert encode({"session": meta["session"], "seq": 1}, frames=a["frames"], proprio=a["proprio"]) == golden

    nc = FakeNATS(max_payload=4096 + 16)  # tiny, so replies come in parts
    r = Replica(nc)

    async def call(handler, body, reply):
        size = 16
        chunks = [body[i:i + size] for i in range(0, len(body), size)]
        for i, c in enumerate(chunks, 1):
            await handler(FakeMsg(c, reply, {"Dreamrank-Part": f"{i}/{len(chunks)}"}))
        got = [m for m in nc.sent if m.reply == reply]
        if (got[0].headers or {}).get("Nats-Service-Error-Code"):
            return got[0].headers["Nats-Service-Error-Code"]
        return b"".join(m.data for m in got)

    async def run():
        start = json.loads(await call(r.start, read("start_request.bin"), "in.1"))
        again = json.loads(await call(r.start, read("start_request.bin"), "in.2"))
        assert start == again and start["batch"] == 2 and len(r.sessions) == 1, (start, again)
        sid = start["session"]
        meta, acts = decode(read("step_request.bin"))
        meta["session"] = sid
        del meta["arrays"]
        body = encode(meta, actions=acts["actions"])
        reply = await call(r.step, body, "in.3")
        rmeta, ra = decode(reply)
        assert rmeta["seq"] == 1 and ra["frames"][:, 0].tolist() == [
            [[[10, 11, 12], [13, 14, 15]]], [[[20, 21, 22], [23, 24, 25]]]], ra["frames"]
        assert ra["proprio"][:, 0].tolist() == [[3.0, 4.0], [5.0, 6.0]], ra["proprio"]
        assert await call(r.step, body, "in.4") == reply  # a retried step: the cached reply
        meta["seq"] = 3
        assert await call(r.step, encode(dict(meta), actions=acts["actions"]), "in.5") == "conflict"
        await call(r.close, json.dumps({"session": sid}).encode(), "in.6")
        meta["seq"] = 2
        assert await call(r.step, encode(dict(meta), actions=acts["actions"]), "in.7") == "session_expired"
        assert await call(r.step, b"\x00\x00", "in.8") == "bad_request"

    asyncio.run(run())
    print("selftest ok")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--selftest"]:
        selftest(sys.argv[2])
    else:
        asyncio.run(main(sys.argv[1]))
