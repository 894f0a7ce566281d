"""A PushT judge served to dreamrank over websocket, without NATS.

It scores each frame by how much of the green goal T the slate block
covers, read from the pixels with numpy alone: coverage is the share of the
goal's pixels (known from the scene's fixed geometry) that show the block's
colours. Reward and success follow PushT's rule (reward coverage/0.95
clipped to 1, success above 0.95); --threshold lowers the bar. A team puts
its own scorer (a VLM, a success classifier) where Session.judge is.

    python3 judge_server.py [--port 8766] [--threshold 0.95] [--api-key KEY]
    dreamrank judge serve --judge websocket --opt url=ws://127.0.0.1:8766   # NATS gateway
    # or in a job: judge: websocket, judge_options: {url: ws://127.0.0.1:8766}

Protocol: evaluator/judge/remote/PROTOCOL.md, "Websocket peers".
"""
import argparse

import numpy as np

import pusht_scene as scene
from dreamrank_peer import BadRequest, serve


class Session:
    """One connection; judging keeps no state between requests."""

    def __init__(self, threshold):
        self.threshold = threshold
        self.goal = scene.goal_mask()

    def handle(self, req):
        if req.get("type") != "judge":
            raise BadRequest(f"unknown request type {req.get('type')!r}")
        return {"type": "judge", "verdicts": [self.judge(ep) for ep in req["episodes"]]}

    def judge(self, episode):
        """episode: frames uint8 [T, H, W, 3], optional proprio float32 [T, P]
        and instruction; the verdict has one coverage and reward per frame."""
        frames = episode["frames"]
        if frames.ndim != 4 or frames.shape[0] == 0 or frames.shape[1:] != (96, 96, 3):
            raise BadRequest(f"frames of shape {frames.shape}, want [T>0, 96, 96, 3]")
        covered = scene.block_mask(frames) & self.goal            # [T, 96, 96]
        coverage = covered.sum(axis=(1, 2)) / self.goal.sum()     # float64 [T]
        reward = np.clip(coverage / self.threshold, 0, 1)
        success = coverage > self.threshold
        return {"coverage": coverage, "reward": reward, "max_reward": float(reward.max()),
                "success": bool(success.any()),
                "success_step": int(success.argmax()) if success.any() else -1,
                "unreadable": 0}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    p.add_argument("--threshold", type=float, default=0.95, help="success above this coverage")
    p.add_argument("--api-key", help="require Authorization: Api-Key <key>")
    a = p.parse_args()
    metadata = {"protocol": 1, "kind": "judge",
                "describe": {"judge": "python-goal-coverage", "threshold": str(a.threshold)}}
    serve(metadata, lambda: Session(a.threshold), a.host, a.port, a.api_key)


if __name__ == "__main__":
    main()
