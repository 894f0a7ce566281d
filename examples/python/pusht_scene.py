"""What the Python examples know about PushT's 96x96 camera frames.

The table is 512x512 "table pixels" (proprioception and actions are in them),
drawn at 96x96: a white table, the green goal T at a fixed pose, the slate
T-shaped block, the blue agent disc (foundation/pusht/render.go).
"""
import numpy as np

SIZE = 96                        # frame side in pixels
SCALE = SIZE / 512               # frame pixels per table pixel
AGENT_RADIUS = 15 * SCALE        # the disc, in frame pixels
WHITE = np.array([255, 255, 255], np.uint8)
GOAL_GREEN = np.array([144, 238, 144], np.uint8)
AGENT_BLUE = np.array([65, 105, 225], np.uint8)
AGENT_LIGHT = np.array([78, 126, 255], np.uint8)
BLOCK_COLOURS = np.array([[143, 163, 184], [119, 136, 153]], np.float32)  # fill, edge

# The T in its own frame (table pixels): a 120x30 bar over a 30x90 stem;
# the goal puts its origin at (256, 256), turned by 45 degrees.
TEE = [((-60, 0), (60, 30)), ((-15, 30), (15, 120))]
GOAL = (256.0, 256.0, np.pi / 4)

_ys, _xs = np.mgrid[0:SIZE, 0:SIZE] + 0.5   # pixel centres


def goal_mask():
    """[96, 96] bool: the pixels whose centre lies in the goal T."""
    gx, gy, a = GOAL
    wx, wy = _xs / SCALE - gx, _ys / SCALE - gy          # table pixels, from the origin
    bx = np.cos(a) * wx + np.sin(a) * wy                 # rotated into the T's frame
    by = -np.sin(a) * wx + np.cos(a) * wy
    inside = np.zeros((SIZE, SIZE), bool)
    for (x0, y0), (x1, y1) in TEE:
        inside |= (bx >= x0) & (bx <= x1) & (by >= y0) & (by <= y1)
    return inside


def block_mask(frames):
    """[..., 96, 96] bool: pixels of the block's slate colours (near either)."""
    f = frames.astype(np.float32)[..., None, :]
    return (np.abs(f - BLOCK_COLOURS).max(-1) <= 24).any(-1)


def disc(cx, cy, radius):
    """[96, 96] bool: the pixels within radius of (cx, cy), frame pixels."""
    return (_xs - cx) ** 2 + (_ys - cy) ** 2 <= radius ** 2


def agent_mask(frame, agent):
    """[96, 96] bool: the agent disc's blue pixels around table position agent."""
    near = disc(agent[0] * SCALE, agent[1] * SCALE, AGENT_RADIUS + 2)
    f = frame.astype(np.int16)
    return near & (f[..., 2] - f[..., 0] > 60)


def fill_table(frame, mask, goal):
    """Paint what lies under removed pixels: the goal's green, else the table."""
    frame[mask & goal] = GOAL_GREEN
    frame[mask & ~goal] = WHITE


def draw_agent(frame, agent):
    """Draw the agent disc at table position agent, as the renderer does."""
    cx, cy = agent[0] * SCALE, agent[1] * SCALE
    frame[disc(cx, cy, AGENT_RADIUS)] = AGENT_BLUE
    frame[disc(cx, cy, AGENT_RADIUS - 4 * SCALE)] = AGENT_LIGHT
