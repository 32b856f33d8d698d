"""Motion generation speed and memory vs audio length (issue: any length, bounded memory).

Runs MotionBundle.generate (+ refine) on 10 s and on 10 min of speech, each in a fresh process so
peak RAM (ru_maxrss) is per length, and prints time per second of audio and peak RAM. Target:
peak RAM for 10 min within 1.5x that for 10 s; time linear in length.

    python benchmarks/motion_speed.py [--checkpoint weights/motion_default.safetensors] [--steps 20] [--threads 2]

Without a checkpoint it measures a randomly initialised bundle of the default architecture (same
cost; the figures are about speed and memory, not quality). The speech is the bundled sample
(samples/speech_en.flac) tiled to length.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def one(seconds: float, checkpoint: str | None, steps: int, guidance: float, threads: int, backend: str) -> dict:
    torch.set_num_threads(threads)
    from see_the_speaker.audio.decode import decode_audio
    from see_the_speaker.audio.frontend import speech_from_audio
    from see_the_speaker.checkpoint import load_model
    from see_the_speaker.models.content_encoder import ContentEncoderConfig
    from see_the_speaker.models.motion_bundle import KIND, MotionBundle, MotionBundleConfig

    if checkpoint:
        bundle, _ = load_model(checkpoint, expected_kind=KIND)
    else:
        bundle = MotionBundle(MotionBundleConfig(content=ContentEncoderConfig(backend=backend))).eval()
    d = decode_audio(os.path.join(os.path.dirname(HERE), "samples", "speech_en.flac"))
    wave = speech_from_audio(d.waveform, d.sample_rate)
    n = int(seconds * 16000)
    wave = wave.repeat(n // wave.shape[0] + 1)[:n].contiguous()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.time()
    raw = bundle.speech_raw(wave)
    t1 = time.time()
    with torch.inference_mode():
        m = bundle.generate(raw, None, seed=0, steps=steps, guidance=guidance)
        t2 = time.time()
        bundle.refine(m, raw, 1.0)
    t3 = time.time()
    return {"seconds": seconds, "frames": int(m.shape[0]), "features_s": t1 - t0, "generate_s": t2 - t1, "refine_s": t3 - t2,
            "s_per_s_audio": (t3 - t0) / seconds, "rss_before_mb": rss0,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--guidance", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--backend", default="whisper", help="content backend of the random bundle (no --checkpoint)")
    ap.add_argument("--lengths", default="10,600", help="seconds of speech, comma-separated")
    ap.add_argument("--_one", type=float, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a._one is not None:
        print(json.dumps(one(a._one, a.checkpoint, a.steps, a.guidance, a.threads, a.backend)))
        return
    rows = []
    for s in [float(x) for x in a.lengths.split(",")]:
        cmd = [sys.executable, __file__, "--_one", str(s), "--steps", str(a.steps), "--guidance", str(a.guidance),
               "--threads", str(a.threads), "--backend", a.backend] + (["--checkpoint", a.checkpoint] if a.checkpoint else [])
        out = subprocess.run(cmd, capture_output=True, text=True, cwd="/tmp")
        if out.returncode:
            sys.exit(out.stderr)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    print(f"\nmotion generation, {a.steps} steps, guidance {a.guidance}, {a.threads} threads "
          f"({'checkpoint ' + os.path.basename(a.checkpoint) if a.checkpoint else 'random ' + a.backend + ' bundle'})\n")
    print("| speech | frames | features s | generate s | refine s | s per s of audio | peak RAM MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['seconds']:.0f} s | {r['frames']} | {r['features_s']:.2f} | {r['generate_s']:.2f} | {r['refine_s']:.2f} | "
              f"{r['s_per_s_audio']:.3f} | {r['peak_rss_mb']:.0f} |")
    if len(rows) >= 2:
        a0, a1 = rows[0], rows[-1]
        print(f"\nRAM ratio {a1['peak_rss_mb'] / a0['peak_rss_mb']:.2f}x (target <= 1.5x); time per second of audio "
              f"ratio {a1['s_per_s_audio'] / a0['s_per_s_audio']:.2f} (1.0 = linear)")


if __name__ == "__main__":
    main()
