"""Frame storage options for the corpus: size, encode/decode speed, random access, fidelity.

    python benchmarks/frame_storage.py [--frames 100]

Compares H.264 in MP4 (PyAV, several x264 settings) with per-frame JPEG and PNG (OpenCV) and
raw uint8 arrays, on two 100-frame 256² clips: a synthetic talking face from the corpus renderer
and scikit-image's astronaut photo under a slow similarity motion (camera-like, textured).
Prints a markdown table; ``docs/corpus.md`` quotes its figures.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import cv2
import numpy as np


def synthetic_clip(t: int) -> np.ndarray:
    from see_the_speaker.data.synth.behaviour import speech_motion
    from see_the_speaker.data.synth.face import Scene, render_clip
    from see_the_speaker.data.synth.speaker import make_speaker
    from see_the_speaker.data.synth.voice import synthesize

    spk = make_speaker(0, 1)
    utt = synthesize("Maria bought a basket of plums at the market. Where is the purple umbrella?", spk.voice, 0)
    motion = speech_motion(utt, t, 25, spk.style, np.random.default_rng(0))
    return render_clip(spk.identity, motion, 256, Scene.random(np.random.default_rng(1)))[0]


def astronaut_clip(t: int) -> np.ndarray:
    import skimage.data

    crop = cv2.resize(skimage.data.astronaut()[0:300, 100:400], (256, 256), interpolation=cv2.INTER_AREA)
    out = []
    for k in range(t):
        m = cv2.getRotationMatrix2D((128, 128), 3 * np.sin(k / 7), 1 + 0.03 * np.sin(k / 5))
        m[:, 2] += [2 * np.sin(k / 9), 1.5 * np.cos(k / 6)]
        out.append(cv2.warpAffine(crop, m, (256, 256), borderMode=cv2.BORDER_REFLECT))
    return np.stack(out)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b) ** 2)))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=100)
    args = p.parse_args(argv)
    cv2.setNumThreads(1)
    from see_the_speaker.data.video_io import VideoConfig, decode_frames, encode_frames

    t = args.frames
    clips = {"synthetic face": synthetic_clip(t), "astronaut": astronaut_clip(t)}
    print("| clip | storage | KB/frame | encode ms/frame | decode all ms/frame | one random frame ms | PSNR dB |")
    print("|---|---|---:|---:|---:|---:|---:|")
    tmp = tempfile.mkdtemp()
    for name, frames in clips.items():
        for label, cfg in [
            ("H.264 crf16 veryfast 444 gop25 (corpus default)", VideoConfig()),
            ("H.264 crf16 fast 444 gop25", VideoConfig(preset="fast")),
            ("H.264 crf18 veryfast 420 gop25", VideoConfig(crf=18, pix_fmt="yuv420p")),
            ("H.264 crf16 veryfast 444 gop250", VideoConfig(gop=250)),
        ]:
            path = os.path.join(tmp, "x.mp4")
            t0 = time.perf_counter()
            encode_frames(path, frames, 25, cfg)
            te = (time.perf_counter() - t0) / t * 1e3
            t0 = time.perf_counter()
            dec = decode_frames(path)
            td = (time.perf_counter() - t0) / t * 1e3
            rng = np.random.default_rng(0)
            idx = rng.integers(0, t, 20)
            t0 = time.perf_counter()
            for i in idx:
                decode_frames(path, int(i), int(i) + 1)
            tr = (time.perf_counter() - t0) / len(idx) * 1e3
            print(f"| {name} | {label} | {os.path.getsize(path) / t / 1024:.1f} | {te:.2f} | {td:.2f} | {tr:.1f} | {psnr(dec, frames):.1f} |")
        for q in (90, 95):
            t0 = time.perf_counter()
            bufs = [cv2.imencode(".jpg", f[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])[1] for f in frames]
            te = (time.perf_counter() - t0) / t * 1e3
            t0 = time.perf_counter()
            dec = np.stack([cv2.imdecode(b, cv2.IMREAD_COLOR)[..., ::-1] for b in bufs])
            td = (time.perf_counter() - t0) / t * 1e3
            print(f"| {name} | JPEG q{q} per frame | {sum(b.nbytes for b in bufs) / t / 1024:.1f} | {te:.2f} | {td:.2f} | {td:.1f} | {psnr(dec, frames):.1f} |")
        t0 = time.perf_counter()
        bufs = [cv2.imencode(".png", f)[1] for f in frames]
        te = (time.perf_counter() - t0) / t * 1e3
        t0 = time.perf_counter()
        [cv2.imdecode(b, cv2.IMREAD_COLOR) for b in bufs]
        td = (time.perf_counter() - t0) / t * 1e3
        print(f"| {name} | PNG per frame (lossless) | {sum(b.nbytes for b in bufs) / t / 1024:.1f} | {te:.2f} | {td:.2f} | {td:.1f} | inf |")
        print(f"| {name} | raw uint8 | {frames[0].nbytes / 1024:.1f} | 0 | 0 | 0 | inf |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
