"""PyTorch peer of the flow policy (policy/flow) and its foresight adapters.

Run by policy/bench through foundation/torchpeer (see its package doc for
the protocol). The request carries the policy's weights by name (conv
weights [out, in, kh, kw], dense weights [in, out], biases [out]), its
config, optionally an adapter's weights (package foresight), and a pool of
observations with what Go's Act feeds the head besides the observation
feature (flow.ActInputs: context rows, initial noise, guidance) plus Go's
chunks for the first ones. The front end (config "encoder"):

  "" (pixels): the request has the frames and normalised proprio; frames
  average-pooled by Pool (integer, rounded) / 255; trunk: relu(conv3x3
  enc1), relu(conv3x3/2 enc2), conv3x3 enc3, then a spatial softmax per
  channel -> expected (x, y) in [-1, 1] (keypoints), followed by the
  proprio. The timed unit is the whole chunk, frames to actions.
  "pose": the PushT pose reader (analysis by synthesis in Go, not a
  network) already read the frames: the request has the observation
  features Go's head sees (flow.Policy.Features). The timed unit is the
  network given those features, as on the Go side.

Then, as Act: EulerSteps (10) Euler steps from t = 1 to 0 of the flow head,
  h = silu(in [x_t, temb(t), obs, ctx]); h += silu(h_l h) per hidden layer;
  v = out h; with an adapter v += g(v, temb(t)[, obs]) where g is a SiLU
  MLP (adapter.in, adapter.h1.., adapter.out, hidden layers not residual);
  with guidance v = v_u + beta (v_c - v_u); x += dt v;
actions from x (absolute, or offsets from the pusher when Relative).

Written as a careful PyTorch user would: the whole batch's rows (both
guidance rows) in one addmm per layer, SiLU in place, and the input rows'
observation and context columns written once per chunk (they do not change
between steps; Go does the same).

Commands: {"op": "time", "batch", "seconds", "min_calls", "warmup"} ->
{"calls", "seconds", "chunks", "minor_faults_per_call", "threads"}.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

import peerlib

EULER_STEPS = 10


def dense_layers(w, prefix):
    """The (weight, bias) pairs prefix.in, prefix.h1, ..., prefix.out."""
    names = [prefix + "in"]
    l = 1
    while f"{prefix}h{l}.w" in w:
        names.append(f"{prefix}h{l}")
        l += 1
    names.append(prefix + "out")
    return [(w[n + ".w"], w[n + ".b"]) for n in names]


class Adapter:
    """g(v, temb[, obs]) of package foresight."""

    def __init__(self, w, reads_obs):
        self.layers = dense_layers(w, "adapter.")
        self.reads_obs = reads_obs

    def __call__(self, v, temb, obs):
        x = torch.cat([v, temb, obs] if self.reads_obs else [v, temb], 1)
        for wt, b in self.layers[:-1]:
            x = F.silu(torch.addmm(b, x, wt), inplace=True)
        wt, b = self.layers[-1]
        return torch.addmm(b, x, wt)


class Flow:
    def __init__(self, req):
        c = req["config"]
        self.c = c
        tensor = lambda v: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))
        self.w = {k: tensor(v) for k, v in req["weights"].items()}
        self.head = dense_layers(self.w, "")
        self.adapter = None
        if req.get("adapter"):
            self.adapter = Adapter({k: tensor(v) for k, v in req["adapter"].items()}, bool(req["adapter_obs"]))
        self.pixels = (c.get("encoder") or "") == ""
        self.pool = int(c["pool"])
        self.scale = float(c["scale"])
        self.relative = float(c.get("relative", 0) or 0)
        if self.pixels:
            h, w = int(c["frame_h"]) // self.pool // 2, int(c["frame_w"]) // self.pool // 2
            ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
            self.grid = torch.stack([2 * (xs + 0.5) / w - 1, 2 * (ys + 0.5) / h - 1], -1).reshape(h * w, 2).float()
        # The time embedding of every Euler step (flow.timeEmbedding).
        td = int(c["time_dim"])
        half = td // 2
        self.temb = []
        for k in range(EULER_STEPS):
            t = 1 + k * (-1.0 / EULER_STEPS)
            e = np.zeros(td, dtype=np.float32)
            for i in range(half):
                f = math.pow(1000, i / max(1, half - 1))
                e[i], e[half + i] = math.sin(t * f), math.cos(t * f)
            self.temb.append(torch.from_numpy(e))

    def conv(self, name, x, stride):
        w = self.w[name + ".w"]
        return F.conv2d(x, w, self.w[name + ".b"], stride=stride, padding=w.shape[-1] // 2)

    def encode(self, frames, proprio):
        """frames (N,H,W,3) uint8, proprio (N,P) normalised -> (N, 2*C3+P)."""
        f = self.pool
        x = frames.permute(0, 3, 1, 2).int()
        n, ch, hh, ww = x.shape
        s = x.reshape(n, ch, hh // f, f, ww // f, f).sum((3, 5))
        img = torch.div(s + (f * f) // 2, f * f, rounding_mode="floor").float() * np.float32(1.0 / 255)
        x = F.relu(self.conv("enc1", img, 1))
        x = F.relu(self.conv("enc2", x, 2))
        x = self.conv("enc3", x, 1)
        kp = torch.softmax(x.flatten(2), -1) @ self.grid  # (N, C3, 2)
        return torch.cat([kp.flatten(1), proprio], 1)

    def velocity(self, xin):
        wt, b = self.head[0]
        h = F.silu(torch.addmm(b, xin, wt), inplace=True)
        for wt, b in self.head[1:-1]:
            h += F.silu(torch.addmm(b, h, wt), inplace=True)
        wt, b = self.head[-1]
        return torch.addmm(b, h, wt)

    def chunk(self, obs, raw_proprio, noise, ctx, guided, beta):
        """Actions (N, Horizon, ActionDim) in table units from the
        observation features obs (N, ObsDim)."""
        n, cd, td = obs.shape[0], noise.shape[1], self.temb[0].shape[0]
        if guided:
            obs = torch.cat([obs, obs], 0)
        rows = obs.shape[0]
        xin = torch.empty(rows, cd + td + obs.shape[1] + ctx.shape[1])
        xin[:, cd + td:] = torch.cat([obs, ctx], 1)
        x = noise.clone()
        dt = np.float32(-1.0 / EULER_STEPS)
        for k in range(EULER_STEPS):
            xin[:n, :cd] = x
            if guided:
                xin[n:, :cd] = x
            xin[:, cd:cd + td] = self.temb[k]
            v = self.velocity(xin)
            if self.adapter is not None:
                v += self.adapter(v, xin[:, cd:cd + td], obs)
            if guided:
                vc, vu = v[:n], v[n:]
                v = vu + beta * (vc - vu)
            x += dt * v
        return self.actions(x, raw_proprio)

    def actions(self, x, raw_proprio):
        c = self.c
        ad = int(c["action_dim"])
        x = x.reshape(x.shape[0], int(c["horizon"]), ad).double()
        if self.relative > 0:
            p = raw_proprio[:, None, :ad].double()
            normp = (p / self.scale * 2 - 1).float()  # flow's norm: float64 math, float32 result
            x = ((x / self.relative).float() + normp).double()
        return ((x + 1) / 2 * self.scale).float()


STATE = {}


def load(req):
    fl = Flow(req)
    pool = req["pool"]
    t = lambda k: torch.from_numpy(pool[k])
    st = dict(flow=fl, raw=t("raw_proprio"), noise=t("noise"),
              ctx=t("ctx"), ctx_uncond=t("ctx_uncond") if pool["guided"] else None,
              guided=bool(pool["guided"]), beta=np.float32(pool["guidance"]))
    if fl.pixels:
        st.update(frames=t("frames"), proprio=t("proprio"))
    else:
        st.update(feat=t("feat"))
    STATE.update(st)
    n = int(req["agree"])
    got = chunk_of(torch.arange(n))
    return {"max_abs_diff": peerlib.max_abs(got, pool["go_actions"][:n])}


def chunk_of(idx):
    s = STATE
    fl = s["flow"]
    ctx = s["ctx"][idx]
    if s["guided"]:
        ctx = torch.cat([ctx, s["ctx_uncond"][idx]], 0)
    obs = fl.encode(s["frames"][idx], s["proprio"][idx]) if fl.pixels else s["feat"][idx]
    return fl.chunk(obs, s["raw"][idx], s["noise"][idx], ctx, s["guided"], s["beta"])


def time_op(cmd):
    b = int(cmd["batch"])
    n = STATE["raw"].shape[0]
    st = {"off": 0}

    def call():
        # Every call takes the next b observations of the pool, as Go's bench.
        idx = (torch.arange(b) + st["off"]) % n
        st["off"] = (st["off"] + b) % n
        chunk_of(idx)

    calls, secs, faults, threads = peerlib.time_calls(call, float(cmd["seconds"]), int(cmd["min_calls"]), int(cmd["warmup"]))
    return {"calls": calls, "seconds": secs, "chunks": calls * b, "minor_faults_per_call": faults, "threads": threads}


if __name__ == "__main__":
    peerlib.serve(load, {"time": time_op})
