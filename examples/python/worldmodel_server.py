"""A PushT world model served to dreamrank over websocket, without NATS.

A toy model with the shape of a real one: it copies the last context frame,
then moves the agent disc toward each action's target and, while the disc
touches the block, carries the block along. Different policies push the
block differently, so they get different judged outcomes. A real team puts
its PyTorch video model where Session.reset and Session.step are (see
torch_worldmodel_server.py).

    python3 worldmodel_server.py [--port 8765] [--api-key KEY]
    dreamrank wm serve --backend websocket --opt url=ws://127.0.0.1:8765   # NATS gateway
    # or in a job: world_model: {backend: websocket, options: {url: ws://127.0.0.1:8765}}

Protocol: worldmodel/remote/PROTOCOL.md, "Websocket peers".
"""
import argparse

import numpy as np

import pusht_scene as scene
from dreamrank_peer import BadRequest, serve

# What the model consumes and produces (worldmodel.Spec): 96x96 RGB frames,
# proprioception = agent position, action = target position, both in table
# pixels; one context observation; 10 Hz.
SPEC = {"frame_h": 96, "frame_w": 96, "channels": 3, "proprio_dim": 2,
        "action_dim": 2, "context_len": 1, "control_hz": 10}
GAIN = 0.5   # the agent covers this share of the way to its target per step


class Session:
    """One connection: a batch of imagined episodes, stepped together."""

    def handle(self, req):
        if req.get("type") == "reset":
            return self.reset(req["frames"], req["proprio"])
        if req.get("type") == "step":
            return self.step(req["actions"])
        raise BadRequest(f"unknown request type {req.get('type')!r}")

    def reset(self, frames, proprio):
        """frames uint8 [B, T, 96, 96, 3], proprio float32 [B, T, 2]: each
        episode's context, oldest first (short ones padded at the front)."""
        if frames.shape[2:] != (96, 96, 3) or proprio.shape[2] != 2:
            raise BadRequest(f"frames {frames.shape}, proprio {proprio.shape}: not PushT")
        last = frames[:, -1]                                   # [B, 96, 96, 3]
        self.agent = proprio[:, -1].astype(np.float64)         # [B, 2]
        self.block = scene.block_mask(last)                    # [B, 96, 96]
        self.block_rgb = last.copy()                           # the block's own colours
        self.shift = np.zeros((len(last), 2))                  # block offset, frame pixels
        goal = scene.goal_mask()
        self.table = last.copy()                               # the frame without block and agent
        for i, frame in enumerate(self.table):
            scene.fill_table(frame, self.block[i] | scene.agent_mask(frame, self.agent[i]), goal)
        return {"type": "reset", "batch": len(last)}

    def step(self, actions):
        """actions float32 [B, K, 2] -> K predicted frames and positions each."""
        b, k, _ = actions.shape
        if b != len(self.agent):
            raise BadRequest(f"actions for {b} episodes, the session has {len(self.agent)}")
        frames = np.empty((b, k, 96, 96, 3), np.uint8)
        proprio = np.empty((b, k, 2), np.float32)
        for j in range(k):
            target = np.clip(actions[:, j], 0, 512)
            moved = self.agent + GAIN * (target - self.agent)
            for i in range(b):
                if self.touches(i, moved[i]):   # the disc carries the block along
                    self.shift[i] += (moved[i] - self.agent[i]) * scene.SCALE
                frames[i, j] = self.render(i, moved[i])
            self.agent = moved
            proprio[:, j] = moved
        return {"type": "step", "frames": frames, "proprio": proprio}

    def block_pixels(self, i):
        """The block's pixels in the context frame and where they are now
        (moved by the block's offset; those pushed off the frame dropped)."""
        ys, xs = np.nonzero(self.block[i])
        dx, dy = np.rint(self.shift[i]).astype(int)
        ok = (ys + dy >= 0) & (ys + dy < 96) & (xs + dx >= 0) & (xs + dx < 96)
        return ys[ok], xs[ok], ys[ok] + dy, xs[ok] + dx

    def touches(self, i, agent):
        _, _, ny, nx = self.block_pixels(i)
        x, y = agent * scene.SCALE
        return scene.disc(x, y, scene.AGENT_RADIUS)[ny, nx].any()

    def render(self, i, agent):
        frame = self.table[i].copy()
        ys, xs, ny, nx = self.block_pixels(i)
        frame[ny, nx] = self.block_rgb[i, ys, xs]
        scene.draw_agent(frame, agent)
        return frame


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    p.add_argument("--api-key", help="require Authorization: Api-Key <key>")
    a = p.parse_args()
    metadata = {"protocol": 1, "kind": "worldmodel", "spec": SPEC,
                "describe": {"backend": "python-toy-pusht", "version": "1"}}
    serve(metadata, Session, a.host, a.port, a.api_key)


if __name__ == "__main__":
    main()
