"""Benchmark: procedural face renderer speed on one core.

Renders clips of random identities with random motions through ``render_clip`` (OpenCV limited to
one thread) and prints wall-clock and CPU ms per frame at each size, plus the implied time for a
200 k-frame corpus on 2 worker processes (from CPU time; wall time inflates when other jobs share
the cores). Usage: python benchmarks/face_render_speed.py [--frames 400] [--sizes 128 256 512]
"""

import argparse
import time

import cv2
import numpy as np

from see_the_speaker.data.synth.face import FaceIdentity, Scene, render_clip
from see_the_speaker.evaluation.corpus_realism import random_motion


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=400, help="frames per size (in clips of 25)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512], help="crop sizes in px")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    n_clips = max(1, args.frames // 25)
    clips = [(FaceIdentity.random(rng), Scene.random(rng), np.stack([random_motion(rng) for _ in range(25)]))
             for _ in range(n_clips)]
    render_clip(clips[0][0], clips[0][2][:2], 64, clips[0][1])  # warm-up (caches)
    print(f"{'size':>6} {'frames':>7} {'wall ms/frame':>14} {'cpu ms/frame':>13} {'p90 cpu ms':>11} {'200k frames, 2 procs':>21}")
    for size in args.sizes:
        wall, cpu = [], []
        for idn, scene, motions in clips:
            t0, c0 = time.perf_counter(), time.process_time()
            render_clip(idn, motions, size, scene)
            wall.append((time.perf_counter() - t0) / len(motions))
            cpu.append((time.process_time() - c0) / len(motions))
        wall, cpu = np.array(wall) * 1000, np.array(cpu) * 1000
        total_min = 200_000 * cpu.mean() / 1000 / 2 / 60
        print(f"{size:>6} {n_clips * 25:>7} {wall.mean():>14.2f} {cpu.mean():>13.2f} {np.percentile(cpu, 90):>11.2f} {total_min:>17.1f} min")


if __name__ == "__main__":
    main()
