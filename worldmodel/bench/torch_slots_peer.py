"""PyTorch peer of the generic world model (worldmodel/slots).

Run by worldmodel/bench through foundation/torchpeer (see its package doc for
the protocol). The request carries the model as slots.Model.Export gives it
(background, sprites and their reaches, proprioception head, effector
calibrations and radii, per passive object its contact field, outline and
network, the room) and an agreement case: Go's states along pushing
episodes (slots.Model.Trace), the actions and what Go's Step returned. This
script computes the same full step, vectorised over the batch:

  proprioception: next = p0 + [p0-p1, p1-p2, a, p0, 1] . M (float64), and
  next2 from (next, p0, p1); effectors at W . [p, 1] along p1, p0, next,
  next2; per passive object (a loop over objects, not episodes): contact
  test (9 points of each effector's step against the contact field), for
  the episodes in contact the network's inputs (path in the object's frame,
  contact depths), the MLP (batched matmuls, SiLU), the move and the room's
  bisection; effectors placed at next; the frame: background, then each
  sprite sampled bilinearly (grid_sample) over the pixels it can reach
  (gathered from and scattered back into the frames) and composited in
  drawing order, rounded to bytes.

Go's bookkeeping is float64 and its network and compositing float32; so is
this script's, in the same order of operations where the result would
otherwise round differently. The sprites are sampled by grid_sample, whose
grid is float32: sampling positions about 1e-5 cells from Go's, which moves
a byte about once in a million (SlotsFramesTolerance).

Commands: {"op": "time", "kind": "step"|"net", "batch", "chunk", "seconds",
"min_calls", "warmup", "max_steps"} -> {"calls", "seconds", "frames",
"minor_faults_per_call", "threads"}.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

import peerlib

F64 = torch.float64


def t(x, dtype=None):
    x = torch.from_numpy(np.ascontiguousarray(x))
    return x if dtype is None else x.to(dtype)


class Sprite:
    def __init__(self, s, c):
        self.side, self.scale = int(s["side"]), int(s["scale"])
        self.r1 = float(s["reach"]) + 1  # Scene.bounds looks reach+1 px out
        # Scene.bounds spans floor(x-r1) .. ceil(x+r1) inclusive: at most
        # 2*r1+3 pixels.
        self.n = int(math.floor(2 * self.r1)) + 3
        self.ar = torch.arange(self.n, dtype=F64)
        # (1, 1+C, side, side): coverage and premultiplied colour.
        self.image = torch.cat([t(s["alpha"])[None], t(s["premul"]).permute(2, 0, 1)])[None].contiguous()
        # grid_sample (align_corners) puts cell i at -1 + 2i/(side-1): the
        # sprite's centre at 0, a frame pixel 2*scale/(side-1) further.
        self.unit = 2 * self.scale / (self.side - 1)


class Passive:
    def __init__(self, p):
        self.object = int(p["object"])
        self.half = int(p["half"])
        self.field = t(p["field"]).double().reshape(-1)  # Go reads float64(dist)
        self.side = 2 * self.half + 1
        self.outline = t(p["outline"])  # (P,2) float64
        self.layers = [(t(l["w"]), t(l["b"])) for l in p["layers"]]


class Slots:
    def __init__(self, m):
        self.h, self.w, self.c, self.d = int(m["h"]), int(m["w"]), int(m["c"]), int(m["d"])
        hw = self.h * self.w
        self.bg = t(m["background"]).reshape(hw, self.c)
        self.bg_bytes = to_bytes(self.bg)
        # The room, with one more cell (index hw, not allowed) for points
        # off the frame.
        self.room = torch.cat([t(m["room"]).reshape(-1) != 0, torch.tensor([False])])
        self.head = t(m["head"])  # (3D+A+1, D) float64
        self.sprites = [Sprite(s, self.c) for s in m["sprites"]]
        self.eff = [(int(e["object"]), t(e["w"]), float(e["angle"]), float(e["radius"])) for e in m["effectors"]]
        self.passives = [Passive(p) for p in m["passives"]]
        self.pos_scale, self.shift, self.turn = float(m["pos_scale"]), float(m["shift_scale"]), float(m["turn_scale"])
        self.depth_scale, self.depth_min, self.depth_max = float(m["depth_scale"]), float(m["depth_min"]), float(m["depth_max"])
        self.margin, self.contact_depth = float(m["contact_margin"]), bool(m["contact_depth"])
        self.samples, self.bisections = int(m["path_samples"]), int(m["room_bisections"])
        self.fracs = torch.arange(self.samples + 1, dtype=F64) / self.samples

    # --- dynamics -------------------------------------------------------

    def next_proprio(self, p0, p1, p2, a):
        """proprioHead.next: (B,D) float32 each -> (B,D) float32."""
        ones = torch.ones(p0.shape[0], 1, dtype=F64)
        f = torch.cat([(p0 - p1).double(), (p1 - p2).double(), a.double(), p0.double(), ones], 1)
        return (p0.double() + f @ self.head).float()

    def effector_xy(self, e, p):
        """effector.pose's position: (B,D) float32 -> (B,2) float64."""
        w = self.eff[e][1]
        return w[self.d] + p.double() @ w[: self.d]

    @staticmethod
    def local(pose, x, y):
        """Pose.local, pose (...,3) broadcast against x, y."""
        s, c = torch.sin(pose[..., 2]), torch.cos(pose[..., 2])
        dx, dy = x - pose[..., 0], y - pose[..., 1]
        return c * dx + s * dy, -s * dx + c * dy

    def field_at(self, j, lx, ly):
        """contactField.at: bilinear, +inf off the grid."""
        p = self.passives[j]
        fx, fy = lx + p.half, ly + p.half
        x0, y0 = torch.floor(fx), torch.floor(fy)
        ok = (x0 >= 0) & (y0 >= 0) & (x0 + 1 < p.side) & (y0 + 1 < p.side)
        wx, wy = fx - x0, fy - y0
        i = (y0.clamp(0, p.side - 2) * p.side + x0.clamp(0, p.side - 2)).long()
        d00, d10 = p.field[i], p.field[i + 1]
        d01, d11 = p.field[i + p.side], p.field[i + p.side + 1]
        v = (1 - wy) * ((1 - wx) * d00 + wx * d10) + wy * ((1 - wx) * d01 + wx * d11)
        return torch.where(ok, v, torch.full_like(v, math.inf))

    def touches(self, j, pose, paths):
        """contactField.mayTouch over every effector: (B,) bool."""
        touch = torch.zeros(pose.shape[0], dtype=torch.bool)
        f = self.fracs[None, :]
        for e in range(len(self.eff)):
            now, nxt = paths[:, e, 1], paths[:, e, 2]
            x = now[:, 0:1] + f * (nxt[:, 0:1] - now[:, 0:1])
            y = now[:, 1:2] + f * (nxt[:, 1:2] - now[:, 1:2])
            lx, ly = self.local(pose[:, None], x, y)
            touch |= (self.field_at(j, lx, ly) < self.eff[e][3] + self.margin).any(1)
        return touch

    def features(self, j, pose, paths):
        """dynamics.features: (B,3), (B,E,4,2) -> (B, E*perEffector) float32."""
        lx, ly = self.local(pose[:, None, None], paths[..., 0], paths[..., 1])  # (B,E,4)
        parts = [torch.stack([lx, ly], -1).flatten(2) / self.pos_scale]
        if self.contact_depth:
            radius = torch.tensor([e[3] for e in self.eff], dtype=F64)[None, :, None]
            g = (self.field_at(j, lx, ly) - radius) / self.depth_scale
            parts.append(g.clamp(self.depth_min, self.depth_max))
        return torch.cat(parts, -1).flatten(1).float()

    def mlp(self, j, x):
        layers = self.passives[j].layers
        for w, b in layers[:-1]:
            x = F.silu(torch.addmm(b, x, w))
        w, b = layers[-1]
        return torch.addmm(b, x, w)

    def fits(self, j, pose):
        """room.fits: every outline point on an allowed pixel, (B,) bool."""
        q = self.passives[j].outline
        s, c = torch.sin(pose[:, 2:3]), torch.cos(pose[:, 2:3])
        x = pose[:, 0:1] + c * q[:, 0] - s * q[:, 1]
        y = pose[:, 1:2] + s * q[:, 0] + c * q[:, 1]
        xi, yi = torch.floor(x), torch.floor(y)
        on = (xi >= 0) & (yi >= 0) & (xi < self.w) & (yi < self.h)
        idx = torch.where(on, yi * self.w + xi, torch.full_like(xi, self.h * self.w)).long()
        return self.room[idx].all(1)

    def constrain(self, j, a, b):
        """room.constrain: the move a -> b, cut short where it leaves the room."""
        need = ~self.fits(j, b) & self.fits(j, a)
        if not bool(need.any()):
            return b
        lo = torch.zeros(a.shape[0], 1, dtype=F64)
        hi = torch.ones_like(lo)
        for _ in range(self.bisections):
            mid = (lo + hi) / 2
            ok = self.fits(j, a + mid * (b - a))[:, None]
            lo, hi = torch.where(ok, mid, lo), torch.where(ok, hi, mid)
        return torch.where(need[:, None], a + lo * (b - a), b)

    def step(self, hist, poses, a):
        """One step for a batch: hist (B,3,D) float32 newest first, poses
        (B,K,3) float64, a (B,A) float32 -> frame (B,H,W,C) uint8, hist, poses."""
        p0, p1, p2 = hist[:, 0], hist[:, 1], hist[:, 2]
        nxt = self.next_proprio(p0, p1, p2, a)
        nxt2 = self.next_proprio(nxt, p0, p1, a)
        paths = torch.stack([torch.stack([self.effector_xy(e, p) for p in (p1, p0, nxt, nxt2)], 1)
                             for e in range(len(self.eff))], 1)  # (B,E,4,2)
        out = poses.clone()
        for j, pas in enumerate(self.passives):
            p = poses[:, pas.object]
            rows = self.touches(j, p, paths).nonzero().squeeze(1)
            if rows.numel() == 0:
                continue
            pr = p[rows]
            o = self.mlp(j, self.features(j, pr, paths[rows])).double()
            dx, dy, da = self.shift * o[:, 0], self.shift * o[:, 1], self.turn * o[:, 2]
            s, c = torch.sin(pr[:, 2]), torch.cos(pr[:, 2])
            moved = torch.stack([pr[:, 0] + c * dx - s * dy, pr[:, 1] + s * dx + c * dy, pr[:, 2] + da], 1)
            out[rows, pas.object] = self.constrain(j, pr, moved)
        for e, (obj, _, angle, _) in enumerate(self.eff):
            out[:, obj, :2] = paths[:, e, 2]
            out[:, obj, 2] = angle
        return self.render(out), torch.stack([nxt, p0, p1], 1), out

    # --- renderer -------------------------------------------------------

    def render(self, poses):
        """Scene.Render: (B,K,3) float64 -> (B,H,W,C) uint8."""
        bsz, hw, c = poses.shape[0], self.h * self.w, self.c
        # Every episode's pixels in one flat canvas, plus one spare pixel
        # (index bsz*hw) that window pixels off the frame write to.
        canvas = torch.zeros(bsz * hw + 1, c)
        canvas[:-1].view(bsz, hw, c).copy_(self.bg.expand(bsz, hw, c))
        frame = torch.empty(bsz * hw + 1, c, dtype=torch.uint8)
        frame[:-1].view(bsz, hw, c).copy_(self.bg_bytes.expand(bsz, hw, c))
        base = torch.arange(bsz)[:, None, None] * hw
        drawn = []
        for k, sp in enumerate(self.sprites):
            x, y, ang = poses[:, k, 0], poses[:, k, 1], poses[:, k, 2]
            xs = torch.floor(x - sp.r1)[:, None] + sp.ar  # (B,n) pixel columns
            ys = torch.floor(y - sp.r1)[:, None] + sp.ar
            # Scene.bounds: [max(0, floor(x-r1)), min(w, ceil(x+r1)+1)).
            okx = (xs >= 0) & (xs < torch.clamp(torch.ceil(x + sp.r1) + 1, max=self.w)[:, None])
            oky = (ys >= 0) & (ys < torch.clamp(torch.ceil(y + sp.r1) + 1, max=self.h)[:, None])
            dx = (xs + 0.5 - x[:, None])[:, None, :]  # (B,1,n)
            dy = (ys + 0.5 - y[:, None])[:, :, None]  # (B,n,1)
            sn, cs = torch.sin(ang)[:, None, None], torch.cos(ang)[:, None, None]
            lx, ly = cs * dx + sn * dy, -sn * dx + cs * dy  # (B,n,n), Sprite.sample's point
            # Bilinear between cells, zero off the sprite: Sprite.sample.
            grid = torch.stack([lx * sp.unit, ly * sp.unit], -1).float()
            acc = F.grid_sample(sp.image.expand(bsz, -1, -1, -1), grid, mode="bilinear", padding_mode="zeros",
                                align_corners=True).permute(0, 2, 3, 1)
            ok = oky[:, :, None] & okx[:, None, :]
            al, col = acc[..., :1].reshape(bsz, -1, 1), acc[..., 1:].reshape(bsz, -1, c)
            q = torch.where(ok, (ys[:, :, None] * self.w + xs[:, None, :]).long() + base, torch.full(ok.shape, bsz * hw))
            q = q.reshape(bsz, -1)
            qc = q.reshape(-1, 1).expand(-1, c)
            o = canvas.gather(0, qc).view(bsz, -1, c)
            new = torch.where(al == 0, o, col + (1 - al) * o)
            canvas.scatter_(0, qc, new.reshape(-1, c))
            drawn.append(qc)
        for qc in drawn:
            frame.scatter_(0, qc, to_bytes(canvas.gather(0, qc)))
        return frame[:-1].view(bsz, self.h, self.w, c)


def to_bytes(v):
    """toByte: math.Round of the value clamped to 0..255 (float64; values are
    non-negative, so half away from zero is floor(v + 0.5))."""
    return torch.floor(v.double().clamp(0, 255) + 0.5).to(torch.uint8)


STATE = {}


def load(req):
    wm = Slots(req["model"])
    case = req["case"]
    hist, poses = t(case["hist"]), t(case["poses"])  # (E,S+1,3,D), (E,S+1,K,3)
    acts = t(case["actions"])  # (E,S,A)
    e, s = acts.shape[0], acts.shape[1]
    # Every step from Go's state before it, all at once: the comparison
    # never carries one step's rounding into the next.
    frame, nh, npos = wm.step(hist[:, :s].reshape(e * s, 3, -1), poses[:, :s].reshape(e * s, *poses.shape[2:]),
                              acts.reshape(e * s, -1))
    want = t(case["go_frames"]).reshape(frame.shape)
    d = (frame.int() - want.int()).abs()
    chunk = int(req["chunk"])
    STATE.update(wm=wm, hist=hist[:, 0], poses=poses[:, 0], actions=acts[:, :chunk],
                 feat=wm.features(0, poses[:, 0, wm.passives[0].object], first_paths(wm, hist[:, 0], acts[:, 0])) if wm.passives else None)
    return {
        "max_abs_diff": peerlib.max_abs(npos, poses[:, 1:].reshape(npos.shape)),
        "frames_max_abs_diff": int(d.max()),
        "frames_diff_fraction": float((d > 0).double().mean()),
        "proprio_max_abs_diff": max(peerlib.max_abs(nh[:, 0], t(case["go_proprio"]).reshape(e * s, -1)),
                                    peerlib.max_abs(nh, hist[:, 1:].reshape(nh.shape))),
    }


def first_paths(wm, hist, a):
    """The effectors' paths of a first step (the net timing's inputs)."""
    p0, p1, p2 = hist[:, 0], hist[:, 1], hist[:, 2]
    nxt = wm.next_proprio(p0, p1, p2, a)
    nxt2 = wm.next_proprio(nxt, p0, p1, a)
    return torch.stack([torch.stack([wm.effector_xy(e, p) for p in (p1, p0, nxt, nxt2)], 1) for e in range(len(wm.eff))], 1)


def pick(x, batch):
    """batch rows cycling through x's."""
    return x[torch.arange(batch) % x.shape[0]].contiguous()


def time_op(cmd):
    wm, b, chunk = STATE["wm"], int(cmd["batch"]), int(cmd["chunk"])
    if cmd["kind"] == "net":
        if STATE["feat"] is None:
            raise ValueError("the model has no passive object: no network to time")
        x = pick(STATE["feat"], b)
        call = lambda: wm.mlp(0, x)
        per_call = b
    else:
        hist0, poses0, acts = pick(STATE["hist"], b), pick(STATE["poses"], b), pick(STATE["actions"], b)
        st = {"h": hist0, "p": poses0, "steps": 0}

        def call():
            # Rollouts restart at worldmodel/bench.MaxRolloutSteps, as Go's.
            if st["steps"] + chunk > int(cmd.get("max_steps", 300)):
                st.update(h=hist0, p=poses0, steps=0)
            h, p = st["h"], st["p"]
            for k in range(chunk):
                _, h, p = wm.step(h, p, acts[:, k % acts.shape[1]])
            st.update(h=h, p=p, steps=st["steps"] + chunk)
        per_call = b * chunk
    calls, secs, faults, threads = peerlib.time_calls(call, float(cmd["seconds"]), int(cmd["min_calls"]), int(cmd["warmup"]))
    return {"calls": calls, "seconds": secs, "frames": calls * per_call, "minor_faults_per_call": faults, "threads": threads}


if __name__ == "__main__":
    peerlib.serve(load, {"time": time_op})
