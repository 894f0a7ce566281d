"""PyTorch peer of the flow policy (policy/flow, convolutional front end).

Run by policy/bench through foundation/torchpeer (see its package doc for
the protocol). The request carries the policy's weights by name (conv
weights [out, in, kh, kw], dense weights [in, out], biases [out]), its
config, and a pool of observations with what Go's Act feeds the head
besides the frames (flow.ActInputs: normalised proprio, context rows,
initial noise, guidance) plus Go's chunks for them. One chunk, as Act:

  frames average-pooled by Pool (integer, rounded) / 255;
  trunk: relu(conv3x3 enc1), relu(conv3x3/2 enc2), conv3x3 enc3, then a
  spatial softmax per channel -> expected (x, y) in [-1, 1] (keypoints),
  followed by the proprio;
  EulerSteps (10) Euler steps from t = 1 to 0 of the flow head:
  h = silu(in [x_t, temb(t), obs, ctx]); h += silu(h_l h) per hidden layer;
  v = out h; with guidance v = v_u + beta (v_c - v_u); x += dt v;
  actions from x (absolute, or offsets from the pusher when Relative).

Commands: {"op": "time", "batch", "seconds", "min_calls", "warmup"} ->
{"calls", "seconds", "chunks", "minor_faults_per_call"}.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

import peerlib

EULER_STEPS = 10


class Flow:
    def __init__(self, req):
        c = req["config"]
        self.c = c
        self.w = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in req["weights"].items()}
        self.pool = int(c["pool"])
        self.layers = int(c["layers"])
        self.scale = float(c["scale"])
        self.relative = float(c.get("relative", 0) or 0)
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

    def linear(self, name, x):
        return torch.addmm(self.w[name + ".b"], x, self.w[name + ".w"])

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

    def velocity(self, xt, temb, obs, ctx):
        h = F.silu(self.linear("in", torch.cat([xt, temb, obs, ctx], 1)))
        for l in range(1, self.layers):
            h = h + F.silu(self.linear(f"h{l}", h))
        return self.linear("out", h)

    def chunk(self, frames, proprio, raw_proprio, noise, ctx, guided, beta):
        """Actions (N, Horizon, ActionDim) in table units."""
        n = frames.shape[0]
        obs = self.encode(frames, proprio)
        if guided:
            obs = torch.cat([obs, obs], 0)
        rows = obs.shape[0]
        x = noise.clone()
        dt = np.float32(-1.0 / EULER_STEPS)
        for k in range(EULER_STEPS):
            xt = torch.cat([x, x], 0) if guided else x
            v = self.velocity(xt, self.temb[k].expand(rows, -1), obs, ctx)
            if guided:
                vc, vu = v[:n], v[n:]
                v = vu + beta * (vc - vu)
            x = x + dt * v
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
    st = dict(flow=fl, frames=t("frames"), proprio=t("proprio"), raw=t("raw_proprio"), noise=t("noise"),
              ctx=t("ctx"), ctx_uncond=t("ctx_uncond") if pool["guided"] else None,
              guided=bool(pool["guided"]), beta=np.float32(pool["guidance"]))
    STATE.update(st)
    n = int(req["agree"])
    got = chunk_of(torch.arange(n))
    return {"max_abs_diff": peerlib.max_abs(got, pool["go_actions"][:n])}


def chunk_of(idx):
    s = STATE
    ctx = s["ctx"][idx]
    if s["guided"]:
        ctx = torch.cat([ctx, s["ctx_uncond"][idx]], 0)
    return s["flow"].chunk(s["frames"][idx], s["proprio"][idx], s["raw"][idx], s["noise"][idx], ctx, s["guided"], s["beta"])


def time_op(cmd):
    b = int(cmd["batch"])
    n = STATE["frames"].shape[0]
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
