"""PyTorch peer of the built-in pixel world model (worldmodel/latent).

Run by worldmodel/bench through foundation/torchpeer (see its package doc for
the protocol). The request carries the network's weights by name (conv
weights [out, in, kh, kw], biases [out]), the model config, the proprio
head and an agreement case computed by Go; this script computes the same
thing in PyTorch:

  network (latent.convSpecs): x0 = [rgb, planes]; e1 = lrelu(conv3x3/2 x0);
  h = lrelu(conv3x3/2 e1); residual blocks h = lrelu(h + conv(lrelu(conv h)));
  d1 = lrelu(conv3x3 [up2 h, e1]); d0 = lrelu(conv3x3 [up2 d1, x0]);
  frame' = rgb + gate * conv1x1 d0            (leaky ReLU slope 0.1)

  full step (latent's Step): the agent's next position from the linear
  proprio head, the three agent discs and the change gate, the network,
  rounding to bytes and the block snap (ModelConfig.Snap), fed back.

Commands: {"op": "time", "kind": "step"|"net", "batch", "chunk", "seconds",
"min_calls", "warmup"} -> {"calls", "seconds", "frames", "minor_faults_per_call"}.
"""
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

import peerlib


class WorldModel:
    def __init__(self, req):
        c = req["config"]
        self.c = c
        self.h, self.w = int(c["frame_h"]), int(c["frame_w"])
        self.blocks = int(c["blocks"])
        self.w_ = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in req["weights"].items()}
        self.head = [float(v) for v in req["proprio_head"]]
        self.table = float(c["table"])
        self.sx = self.w / self.table
        self.sy = self.h / self.table
        # Pixel centres (float64, as latent's drawDisc and gatePlane).
        ys, xs = torch.meshgrid(torch.arange(self.h, dtype=torch.float64) + 0.5,
                                torch.arange(self.w, dtype=torch.float64) + 0.5, indexing="ij")
        self.px, self.py = xs, ys
        self.unmix = torch.tensor(palette_unmix(), dtype=torch.float64)

    def conv(self, name, x, stride):
        w = self.w_[name + ".w"]
        return F.conv2d(x, w, self.w_[name + ".b"], stride=stride, padding=w.shape[-1] // 2)

    def net(self, rgb, planes, gate):
        """rgb (B,3,H,W) 0..1, planes (B,3,H,W), gate (B,1,H,W) -> (B,3,H,W)."""
        lrelu = lambda x: F.leaky_relu(x, 0.1)
        x0 = torch.cat([rgb, planes], 1)
        e1 = lrelu(self.conv("enc1", x0, 2))
        h = lrelu(self.conv("enc2", e1, 2))
        for i in range(self.blocks):
            a = lrelu(self.conv(f"res{i}a", h, 1))
            h = lrelu(h + self.conv(f"res{i}b", a, 1))
        d1 = lrelu(self.conv("dec1", torch.cat([F.interpolate(h, scale_factor=2, mode="nearest"), e1], 1), 1))
        d0 = lrelu(self.conv("dec0", torch.cat([F.interpolate(d1, scale_factor=2, mode="nearest"), x0], 1), 1))
        return rgb + self.conv("out", d0, 1) * gate

    def predict_pos(self, hist, a):
        """hist (B,3,2) float32 newest first, a (B,2) -> (B,2) float32."""
        c = self.head
        f = [hist[:, 0].double(), hist[:, 1].double(), hist[:, 2].double(), a.double()]
        s = torch.zeros_like(f[0])
        for ci, fi in zip(c[:4], f):
            s = s + ci * fi
        s = s + c[4] * self.table
        return s.float()

    def disc(self, pos):
        """Anti-aliased discs at pos (B,2) -> (B,H,W) float32."""
        cx = pos[:, 0].double()[:, None, None] * self.sx
        cy = pos[:, 1].double()[:, None, None] * self.sy
        r = float(self.c["agent_radius"]) * self.sx
        v = r + 0.5 - torch.sqrt((self.px - cx) ** 2 + (self.py - cy) ** 2)
        return v.clamp(0, 1).float()

    def gate(self, before, after):
        r = float(self.c["gate_radius"]) * self.sx
        if r <= 0:
            return torch.ones(before.shape[0], self.h, self.w)
        g = torch.zeros(before.shape[0], self.h, self.w, dtype=torch.bool)
        for p in (before, after):
            dx = self.px - p[:, 0].double()[:, None, None] * self.sx
            dy = self.py - p[:, 1].double()[:, None, None] * self.sy
            g |= dx * dx + dy * dy <= r * r
        return g.float()

    def inputs(self, frame, hist, a):
        """One step's network inputs: frame (B,H,W,3) uint8."""
        nxt = self.predict_pos(hist, a)
        rgb = frame.permute(0, 3, 1, 2).float() / 255
        planes = torch.stack([self.disc(hist[:, 0]), self.disc(nxt), self.disc(a)], 1)
        gate = self.gate(hist[:, 0], nxt)[:, None]
        return rgb, planes, gate, nxt

    def snap(self, frame, prev, agent):
        """latent.snapBlock on (B,H,W,3) uint8 frames; agent (B,2)."""
        gain = float(self.c.get("snap", 0) or 0)
        if gain <= 0:
            return frame
        f64 = frame.double()
        r, g, b = f64[..., 0], f64[..., 1], f64[..., 2]
        changed = (frame.int() - prev.int()).abs().sum(-1) > 6
        pusher_or_grey = (b - r > 60) | (f64.amax(-1) - f64.amin(-1) < 8)
        ax = agent[:, 0].double()[:, None, None] * self.sx
        ay = agent[:, 1].double()[:, None, None] * self.sx
        ar = float(self.c["agent_radius"]) * self.sx + 2
        near_agent = (self.px - ax) ** 2 + (self.py - ay) ** 2 <= ar * ar
        mix = torch.einsum("ij,bhwj->bhwi", self.unmix, f64)
        not_palette = (mix < -0.15).any(-1)
        crisp = (mix[..., 2] >= 0.75) & (mix[..., 2] <= 1.05)
        sel = changed & ~pusher_or_grey & ~near_agent & ~not_palette & ~crisp
        fsh = (0.5 + gain * (mix[..., 2] - 0.5)).clamp(0, 1)
        wa, ga = mix[..., 0].clamp(min=0), mix[..., 1].clamp(min=0)
        wa = torch.where(wa + ga < 1e-6, torch.ones_like(wa), wa)
        s = wa + ga
        white = torch.tensor([255.0, 255, 255], dtype=torch.float64)
        goal = torch.tensor([144.0, 238, 144], dtype=torch.float64)
        fill = torch.tensor([143.0, 163, 184], dtype=torch.float64)
        bg = (wa[..., None] * white + ga[..., None] * goal) / s[..., None]
        v = fsh[..., None] * fill + (1 - fsh[..., None]) * bg
        v = torch.floor(v + 0.5).clamp(0, 255).to(torch.uint8)  # math.Round of a positive value
        return torch.where(sel[..., None], v, frame)

    def step(self, frame, hist, a):
        """One imagined step for a batch; returns the new frame and hist."""
        rgb, planes, gate, nxt = self.inputs(frame, hist, a)
        pred = self.net(rgb, planes, gate)
        out = torch.floor(pred.double() * 255 + 0.5).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()
        out = self.snap(out, frame, nxt)
        return out, torch.stack([nxt, hist[:, 0], hist[:, 1]], 1)


def palette_unmix():
    """latent.paletteUnmix, by the same cofactor formula (bit-equal)."""
    m = [[255, 144, 143], [255, 238, 163], [255, 144, 184]]
    det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    inv = [[0.0] * 3 for _ in range(3)]
    for i in range(3):
        for j in range(3):
            r0, r1 = (j + 1) % 3, (j + 2) % 3
            c0, c1 = (i + 1) % 3, (i + 2) % 3
            inv[i][j] = (m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]) / float(det)
    return inv


STATE = {}


def load(req):
    wm = WorldModel(req)
    case = req["case"]
    frames = torch.from_numpy(case["frames"])  # (B,H,W,3) uint8, the last context frame
    hist = torch.from_numpy(case["hist"])  # (B,3,2)
    actions = torch.from_numpy(case["actions"])  # (B,chunk,2)
    # The network alone on Go's step inputs, against the Go graph's output.
    rgb = torch.from_numpy(case["net_rgb"])
    planes = torch.from_numpy(case["net_planes"])
    gate = torch.from_numpy(case["net_gate"])[:, None]
    net_diff = peerlib.max_abs(wm.net(rgb, planes, gate), case["net_pred"])
    # This side's step inputs against Go's.
    prgb, pplanes, pgate, _ = wm.inputs(frames, hist, actions[:, 0])
    in_diff = max(peerlib.max_abs(prgb, rgb), peerlib.max_abs(pplanes, planes), peerlib.max_abs(pgate, gate))
    # A whole chunk of full steps against Go's Step.
    f, hh = frames, hist
    outs, props = [], []
    for k in range(actions.shape[1]):
        f, hh = wm.step(f, hh, actions[:, k])
        outs.append(f)
        props.append(hh[:, 0])
    got = torch.stack(outs, 1).int()
    want = torch.from_numpy(case["go_frames"]).int()
    d = (got - want).abs()
    STATE.update(wm=wm, frames=frames, hist=hist, actions=actions, rgb=rgb, planes=planes, gate=gate)
    return {
        "max_abs_diff": net_diff,
        "inputs_max_abs_diff": in_diff,
        "frames_max_abs_diff": int(d.max()),
        "frames_diff_fraction": float((d > 0).double().mean()),
        "proprio_max_abs_diff": peerlib.max_abs(torch.stack(props, 1), case["go_proprio"]),
    }


def pick(x, batch):
    """batch rows cycling through x's."""
    idx = torch.arange(batch) % x.shape[0]
    return x[idx].contiguous()


def time_op(cmd):
    wm, b, chunk = STATE["wm"], int(cmd["batch"]), int(cmd["chunk"])
    if cmd["kind"] == "net":
        rgb, planes, gate = pick(STATE["rgb"], b), pick(STATE["planes"], b), pick(STATE["gate"], b)
        call = lambda: wm.net(rgb, planes, gate)
        per_call = b
    else:
        frames0, hist0 = pick(STATE["frames"], b), pick(STATE["hist"], b)
        acts = pick(STATE["actions"], b)
        st = {"f": frames0, "h": hist0, "steps": 0}

        def call():
            # Rollouts restart at worldmodel/bench.MaxRolloutSteps, as Go's.
            if st["steps"] + chunk > int(cmd.get("max_steps", 300)):
                st.update(f=frames0, h=hist0, steps=0)
            f, h = st["f"], st["h"]
            for k in range(chunk):
                f, h = wm.step(f, h, acts[:, k % acts.shape[1]])
            st.update(f=f, h=h, steps=st["steps"] + chunk)
        per_call = b * chunk
    calls, secs, faults, threads = peerlib.time_calls(call, float(cmd["seconds"]), int(cmd["min_calls"]), int(cmd["warmup"]))
    return {"calls": calls, "seconds": secs, "frames": calls * per_call, "minor_faults_per_call": faults, "threads": threads}


if __name__ == "__main__":
    peerlib.serve(load, {"time": time_op})
