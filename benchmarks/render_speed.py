"""HRCodebookDecode speed and memory on the CPU (DESIGN §6; issue 4 targets: ≥ 15 frames/s at 256²
on 2 cores; peak RAM flat between 100 and 1000 frames).

    python benchmarks/render_speed.py [--ckpt weights/renderer_default.safetensors] [--threads 2]

Prints: parameters per module; frames/s of the streaming render loop the node runs
(models/renderer.render_sequence: warp + code transformer + codebook lookup + HR decoder) at 256²
for several frame batches, contiguous vs channels-last; and, in fresh subprocesses, peak RSS for
100 and 1000 frames, split into the output tensor (which ComfyUI's IMAGE type must hold) and the
rest (working memory, which must not grow with the video length). Speed does not depend on the
weights, so without a checkpoint a default-config renderer with random weights is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import torch


def build(ckpt: str | None):
    from see_the_speaker.checkpoint import load_model
    from see_the_speaker.models.renderer import KIND, Renderer, RendererConfig

    if ckpt and os.path.exists(ckpt):
        return load_model(ckpt, KIND)[0].eval(), ckpt
    torch.manual_seed(0)
    return Renderer(RendererConfig()).eval(), "default config, random weights"


def fps(renderer, frames: int, batch: int, size: int, channels_last: bool) -> float:
    from see_the_speaker.models.renderer import render_sequence

    r = renderer.to(memory_format=torch.channels_last) if channels_last else renderer.to(memory_format=torch.contiguous_format)
    portrait = torch.rand(1, 256, 256, 3)
    motion = torch.randn(frames, r.spec.dim) * 0.05
    render_sequence(r, portrait, motion[:batch], 1.0, size, batch, channels_last=channels_last)  # warm-up
    t = time.perf_counter()
    render_sequence(r, portrait, motion, 1.0, size, batch, channels_last=channels_last)
    return frames / (time.perf_counter() - t)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def memory_child(ckpt: str | None, frames: int, batch: int, threads: int) -> None:
    import threading

    torch.set_num_threads(threads)
    from see_the_speaker.models.renderer import render_sequence

    r, _ = build(ckpt)
    portrait, motion = torch.rand(1, 256, 256, 3), torch.randn(frames, r.spec.dim) * 0.05
    base = _rss()  # current RSS before rendering (model + runtime), sampled every 2 ms while rendering
    peak, done = [base], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.002)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out = render_sequence(r, portrait, motion, 1.0, 256, batch)  # the node's path (channels-last on CPU)
    done.set()
    th.join()
    peak = max(peak[0], _rss())
    print(json.dumps({"frames": frames, "peak_rss_mb": peak / 2**20, "before_mb": base / 2**20,
                      "output_mb": out.numel() * 4 / 2**20,
                      "working_mb": (peak - base - out.numel() * 4) / 2**20}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ckpt", default="weights/renderer_default.safetensors")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--frames", type=int, default=64, help="frames per speed measurement")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--memory-child", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=16)
    a = p.parse_args()
    if a.memory_child:
        memory_child(a.ckpt, a.memory_child, a.batch, a.threads)
        return
    torch.set_num_threads(a.threads)
    r, what = build(a.ckpt)
    print(f"renderer: {what}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, m in r.named_children():
        print(f"  {name:18s} {sum(q.numel() for q in m.parameters()) / 1e6:6.3f} M params")
    print(f"  {'total':18s} {sum(q.numel() for q in r.parameters()) / 1e6:6.3f} M params")
    with torch.inference_mode():
        for batch in (() if a.skip_speed else (8, 16, 32)):
            for cl in (False, True):
                print(f"HRCodebookDecode 256²: frame_batch {batch:2d} {'channels-last' if cl else 'contiguous   '}: "
                      f"{fps(r, a.frames, batch, 256, cl):5.1f} frames/s", flush=True)
        if not a.skip_speed:
            print(f"HRCodebookDecode 512² (native 256² + bicubic): {fps(r, a.frames // 2, 16, 512, True):5.1f} frames/s")
    if not a.skip_memory:
        for frames in (100, 1000):
            res = subprocess.run([sys.executable, __file__, "--ckpt", a.ckpt, "--memory-child", str(frames),
                                  "--threads", str(a.threads), "--batch", str(a.batch)],
                                 capture_output=True, text=True, check=True)
            row = json.loads(res.stdout.strip().splitlines()[-1])
            print(f"{frames:5d} frames: peak RSS {row['peak_rss_mb']:7.1f} MB = model/runtime {row['before_mb']:6.1f} + "
                  f"output tensor {row['output_mb']:6.1f} + working {row['working_mb']:6.1f} MB", flush=True)


if __name__ == "__main__":
    main()
