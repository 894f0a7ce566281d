"""A PyTorch world model served to dreamrank over websocket, without NATS.

The shape a team's own model takes: an nn.Module that maps the last context
frame, the agent position and an action chunk to the predicted frames and
positions, batched, on the GPU if there is one. This one is the toy of
worldmodel_server.py without the block pushing (it moves the agent disc
toward each target over the copied frame); put your network in its place.

    apt-get install python3-torch      # Debian's PyTorch (not needed by the tests)
    python3 torch_worldmodel_server.py [--port 8765] [--device cuda]
    make example-torch                 # starts it and runs the model contract against it

Protocol: worldmodel/remote/PROTOCOL.md, "Websocket peers".
"""
import argparse

import numpy as np
import torch

import pusht_scene as scene
from dreamrank_peer import BadRequest, serve

SPEC = {"frame_h": 96, "frame_w": 96, "channels": 3, "proprio_dim": 2,
        "action_dim": 2, "context_len": 1, "control_hz": 10}


class ToyVideoModel(torch.nn.Module):
    """frame uint8 [B,3,H,W], agent [B,2] and actions [B,K,2] (table
    pixels) -> frames uint8 [B,K,3,H,W], agents [B,K,2]. (It paints exact
    colours, so it stays in uint8; a learned model takes floats.)"""

    def __init__(self, size=96, gain=0.5):
        super().__init__()
        self.gain = gain
        ys, xs = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
        self.register_buffer("grid", torch.stack([xs, ys]))                     # [2,H,W], frame pixels
        self.register_buffer("blue", torch.tensor(scene.AGENT_BLUE).view(3, 1, 1))
        self.register_buffer("white", torch.tensor(scene.WHITE).view(3, 1, 1))

    def disc(self, agent, radius):
        """[B,1,H,W] bool: the pixels within radius of each agent position."""
        centre = (agent * scene.SCALE)[:, :, None, None]                        # [B,2,1,1]
        return ((self.grid - centre) ** 2).sum(1, keepdim=True) <= radius ** 2

    def forward(self, frame, agent, actions):
        # Erase the disc where it was (the table's white; a real model learns this).
        bluish = (frame[:, 2:3].int() - frame[:, 0:1].int()) > 60
        table = torch.where(self.disc(agent, scene.AGENT_RADIUS + 2) & bluish, self.white, frame)
        frames, agents = [], []
        for k in range(actions.shape[1]):
            agent = agent + self.gain * (actions[:, k].clamp(0, 512) - agent)
            frames.append(torch.where(self.disc(agent, scene.AGENT_RADIUS), self.blue, table))
            agents.append(agent)
        return torch.stack(frames, 1), torch.stack(agents, 1)


class Session:
    """One connection: a batch of episodes on the model's device."""

    def __init__(self, model, device):
        self.model, self.device = model, device

    def handle(self, req):
        if req.get("type") == "reset":
            frames, proprio = req["frames"], req["proprio"]     # [B,T,96,96,3] uint8, [B,T,2]
            if frames.shape[2:] != (96, 96, 3):
                raise BadRequest(f"frames {frames.shape}: not PushT")
            last = torch.from_numpy(np.array(frames[:, -1])).to(self.device)
            self.frame = last.permute(0, 3, 1, 2)                           # [B,3,96,96]
            self.agent = torch.from_numpy(np.array(proprio[:, -1], np.float32)).to(self.device)
            return {"type": "reset", "batch": len(frames)}
        if req.get("type") == "step":
            actions = torch.from_numpy(np.array(req["actions"], np.float32)).to(self.device)
            if actions.shape[0] != len(self.agent):
                raise BadRequest(f"actions for {actions.shape[0]} episodes, the session has {len(self.agent)}")
            with torch.no_grad():
                frames, agents = self.model(self.frame, self.agent, actions)
            self.frame, self.agent = frames[:, -1], agents[:, -1]
            frames = frames.permute(0, 1, 3, 4, 2)                          # [B,K,96,96,3]
            return {"type": "step", "frames": frames.cpu().numpy(), "proprio": agents.cpu().numpy()}
        raise BadRequest(f"unknown request type {req.get('type')!r}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--api-key", help="require Authorization: Api-Key <key>")
    a = p.parse_args()
    model = ToyVideoModel().to(a.device).eval()
    metadata = {"protocol": 1, "kind": "worldmodel", "spec": SPEC,
                "describe": {"backend": "python-torch-toy", "device": a.device, "torch": torch.__version__}}
    serve(metadata, lambda: Session(model, a.device), a.host, a.port, a.api_key)


if __name__ == "__main__":
    main()
