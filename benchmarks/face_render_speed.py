"""Benchmark: procedural face renderer speed on one core.

Renders clips of random identities with random motions through ``render_clip`` (OpenCV limited to
one thread) and prints ms per frame at each size, plus the implied time for a 200 k-frame corpus
on 2 worker processes. Usage: python benchmarks/face_render_speed.py [--frames 400] [--sizes 128 256 512]
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
    print(f"{'size':>6} {'frames':>7} {'ms/frame':>9} {'p90 ms/clip-frame':>18} {'200k frames, 2 procs':>21}")
    for size in args.sizes:
        per_clip = []
        for idn, scene, motions in clips:
            t0 = time.perf_counter()
            render_clip(idn, motions, size, scene)
            per_clip.append((time.perf_counter() - t0) / len(motions))
        per_clip = np.array(per_clip) * 1000
        mean = per_clip.mean()
        total_min = 200_000 * mean / 1000 / 2 / 60
        print(f"{size:>6} {n_clips * 25:>7} {mean:>9.2f} {np.percentile(per_clip, 90):>18.2f} {total_min:>17.1f} min")


if __name__ == "__main__":
    main()
