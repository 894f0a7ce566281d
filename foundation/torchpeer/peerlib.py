"""Shared part of dreamrank's PyTorch peers (foundation/torchpeer).

A peer script calls serve(load, handlers): load(request) builds the model
from the request (a dict; msgpack-numpy arrays decoded to NumPy arrays) and
returns the hello dict; each JSON line on stdin {"op": name, ...} is
answered by handlers[name](command) as one JSON line on stdout.
"""
import json
import os
import resource
import sys
import time
import traceback

import msgpack
import numpy as np
import torch


def _decode(obj):
    # msgpack-numpy maps carry bin keys (foundation/ndarray, openpi).
    if b"__ndarray__" in obj:
        arr = np.frombuffer(obj[b"data"], dtype=np.dtype(obj[b"dtype"]))
        return arr.reshape(obj[b"shape"]).copy()
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in obj.items()}


def read_request(path):
    with open(path, "rb") as f:
        return msgpack.unpackb(f.read(), object_hook=_decode, raw=False, strict_map_key=False)


def setup():
    """The fair settings: the Go side's thread count, one inter-op thread."""
    threads = int(os.environ.get("DREAMRANK_PEER_THREADS", "1"))
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set (interop threads can be set once, before use)
    torch.manual_seed(0)
    return {
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "allocator": os.environ.get("LD_PRELOAD", "") or ("glibc tuned" if "MALLOC_MMAP_THRESHOLD_" in os.environ else "glibc"),
    }


def time_calls(call, seconds, min_calls, warmup):
    """Warm-up calls, then timed calls until both bounds are met, once per
    intra-op thread count (1 and the Go side's), keeping the faster: on a
    shared 2-core VM torch's OpenMP team stalls at small batches (measured
    here: the world model's network at batch 1, 423 frames/s on one thread,
    115 on two), and the Go side's oneDNN pass also runs one core per
    group. Returns (calls, seconds of the timed calls, minor page faults per
    timed call: what the allocator setting is about, threads used)."""
    most = int(os.environ.get("DREAMRANK_PEER_THREADS", "1"))
    best = None
    for threads in sorted({1, most}):
        torch.set_num_threads(threads)
        for _ in range(warmup):
            call()
        total, calls = 0.0, 0
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        while calls < min_calls or total < seconds:
            t0 = time.perf_counter()
            call()
            total += time.perf_counter() - t0
            calls += 1
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
        run = (calls, total, faults / max(calls, 1), threads)
        if best is None or calls / total > best[0] / best[1]:
            best = run
    torch.set_num_threads(most)
    return best


def max_abs(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes {a.shape} and {b.shape} differ")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def _send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def serve(load, handlers):
    try:
        with torch.inference_mode():
            hello = setup()
            hello.update(load(read_request(sys.argv[1])))
            _send(hello)
            for line in sys.stdin:
                if not line.strip():
                    continue
                cmd = json.loads(line)
                try:
                    _send(handlers[cmd["op"]](cmd))
                except Exception as e:  # reported to Go, which stops
                    traceback.print_exc()
                    _send({"error": f"{cmd.get('op')}: {type(e).__name__}: {e}"})
    except Exception as e:
        traceback.print_exc()
        _send({"error": f"{type(e).__name__}: {e}"})
        sys.exit(1)
