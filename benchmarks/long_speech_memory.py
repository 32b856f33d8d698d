"""Long speech to a finished talking video: wall time and peak RAM against the speech length (issue 8:
one hour of speech must finish with peak RAM within 1.5x of a 10 s run).

    python benchmarks/long_speech_memory.py [--seconds 10 60 600] [--hours 1] \
        [--renderer weights/renderer_default.safetensors] [--motion-ckpt PATH] [--render model|repeat] \
        [--frame-batch 32] [--threads 2]

Each length runs in a fresh subprocess (peak RSS of that process alone, read with os.wait4, so runs
do not contaminate each other). The child does what STS_SaveTalkingVideo does, in-process and
without a server: it holds the whole speech as a ComfyUI AUDIO would (16 kHz mono float32), makes the
motion, then renders and writes the MP4 chunk by chunk (video/render_stream.render_talking_video:
renderer -> H.264 + AAC muxed in step).

Motion: with --motion-ckpt the motion bundle generates it from the speech (as MotionDiffusion does;
its time and memory are included); without it, a smooth synthetic motion (a sum of slow sinusoids
per latent dimension, amplitude 0.05) stands in — rendering cost and memory do not depend on what
the motion says. --render repeat renders one frame_batch with the model and writes it over and over:
it measures the writer and the audio path at encoder speed for lengths the 2-core renderer cannot
reach in minutes (x264 compresses repeated frames more cheaply, so its times are optimistic).

Printed per length: seconds of speech, frames, wall time of motion + render + write, wall seconds per
second of speech, peak RSS, RSS after loading the model and building the audio + motion (so the
difference is the streaming path's working memory), file size, and the MP4's audio-minus-video
duration (container).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import torch

PACK = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_RENDERER = os.path.join(PACK, "weights", "renderer_default.safetensors")
FPS = 25.0
RATE = 16000


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def speech_wave(seconds: float) -> torch.Tensor:
    """[1, 1, N] float32 speech-like signal (gated harmonics), built block by block (no N-sized temporaries)."""
    n = int(round(seconds * RATE))
    out = torch.empty(1, 1, n)
    block = 10 * RATE
    for a in range(0, n, block):
        t = torch.arange(a, min(a + block, n), dtype=torch.float64) / RATE
        phase = 2 * math.pi * (140 * t - 20 / (2 * math.pi * 0.7) * torch.cos(2 * math.pi * 0.7 * t))
        voiced = sum(torch.sin(k * phase) / k for k in range(1, 6))
        gate = (0.5 * (1 + torch.sin(2 * math.pi * 4.0 * t))) ** 2
        out[0, 0, a:a + t.shape[0]] = (0.2 * voiced * gate).float()
    return out


def synthetic_motion(frames: int, dim: int) -> torch.Tensor:
    t = torch.arange(frames, dtype=torch.float32)[:, None] / FPS
    k = torch.arange(dim, dtype=torch.float32)[None]
    return 0.05 * (torch.sin(2 * math.pi * (0.3 + 0.17 * k) * t + k) + 0.5 * torch.sin(2 * math.pi * 2.1 * t + 3 * k))


def motion_from_bundle(path: str, renderer, portrait: torch.Tensor, wave16k: torch.Tensor, frames: int) -> torch.Tensor:
    from see_the_speaker.checkpoint import load_model
    from see_the_speaker.models.motion_bundle import KIND, resample_motion

    bundle, _ = load_model(path, KIND)
    bundle.eval()
    ident = None
    if bundle.cfg.diffusion.identity_dim:
        with torch.inference_mode():
            ident = renderer.encode_portrait(portrait.permute(0, 3, 1, 2))[1][0]
    with torch.inference_mode():
        latent = bundle.generate(wave16k, ident, seed=0, steps=10).float()
    return resample_motion(latent, bundle.cfg.fps, FPS, frames)


def child(a) -> None:
    torch.set_num_threads(a.threads)
    from see_the_speaker.checkpoint import load_model
    from see_the_speaker.models.renderer import KIND
    from see_the_speaker.video.render_stream import RenderStreamConfig, iter_render, render_talking_video
    from see_the_speaker.video.talking_video import TalkingVideoConfig, write_talking_video

    renderer, _ = load_model(a.renderer, KIND)
    renderer.eval()
    torch.manual_seed(0)
    portrait = (0.5 + 0.1 * torch.rand(1, 256, 256, 3)).clamp(0, 1)
    t0 = time.perf_counter()
    audio = {"waveform": speech_wave(a.length), "sample_rate": RATE}  # held whole, as ComfyUI's AUDIO is
    frames = math.ceil(a.length * FPS - 1e-9)
    if a.motion_ckpt:
        motion = motion_from_bundle(a.motion_ckpt, renderer, portrait, audio["waveform"][0, 0], frames)
    else:
        motion = synthetic_motion(frames, renderer.spec.dim)
    rss_ready = _status_kb("VmRSS")
    path = os.path.join(a.out, f"long_{int(a.length)}s.mp4")
    rcfg = RenderStreamConfig(out_size=256, frame_batch=a.frame_batch)
    vcfg = TalkingVideoConfig(fps=FPS)
    if a.render == "model":
        info = render_talking_video(path, renderer, portrait, motion, audio, rcfg, vcfg)
    else:
        chunk = next(iter_render(renderer, portrait, motion[:a.frame_batch], rcfg))

        def repeated():
            for s in range(0, frames, a.frame_batch):
                yield chunk[:min(a.frame_batch, frames - s)]

        info = write_talking_video(path, repeated(), audio, vcfg)
    wall = time.perf_counter() - t0
    import av
    with av.open(path) as c:
        vs, aus = c.streams.video[0], c.streams.audio[0]
        av_diff = float(aus.duration * aus.time_base) - float(vs.duration * vs.time_base)
    size = os.path.getsize(path)
    os.unlink(path)
    print(json.dumps({"seconds": a.length, "frames": info.frames, "wall": wall, "rss_ready_kb": rss_ready,
                      "hwm_kb": _status_kb("VmHWM"), "file_bytes": size, "av_diff_s": av_diff}))


def run_length(seconds: float, a) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--length", str(seconds), "--renderer", a.renderer,
           "--render", a.render, "--frame-batch", str(a.frame_batch), "--threads", str(a.threads), "--out", a.out]
    if a.motion_ckpt:
        cmd += ["--motion-ckpt", a.motion_ckpt]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"length {seconds} s failed (exit {p.returncode})")
    row = json.loads(out.strip().splitlines()[-1])
    row["maxrss_kb"] = usage.ru_maxrss  # peak RSS of that child alone (Linux: KiB)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, nargs="*", default=[10, 60, 600])
    p.add_argument("--hours", type=float, default=0, help="also run this many hours of speech")
    p.add_argument("--renderer", default=DEFAULT_RENDERER)
    p.add_argument("--motion-ckpt", default=None, help="motion bundle to generate motion from the speech")
    p.add_argument("--render", choices=["model", "repeat"], default="model")
    p.add_argument("--frame-batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None, help="folder for the temporary mp4s (deleted after each run)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--length", type=float, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        return child(a)
    lengths = list(a.seconds) + ([a.hours * 3600] if a.hours else [])
    with tempfile.TemporaryDirectory() as tmp:
        a.out = a.out or tmp
        print(f"renderer {os.path.relpath(a.renderer, PACK) if a.renderer.startswith(PACK) else a.renderer}, "
              f"motion {'from ' + a.motion_ckpt if a.motion_ckpt else 'synthetic'}, render {a.render}, "
              f"frame_batch {a.frame_batch}, {a.threads} torch threads, 256² @ {FPS:g} fps, "
              f"speech 16 kHz mono float32 held whole", flush=True)
        head = (f"{'speech s':>9} {'frames':>7} {'wall s':>8} {'s per s':>8} {'peak RSS MB':>12} "
                f"{'ready MB':>9} {'vs first':>8} {'file MB':>8} {'A-V ms':>7}")
        print(head + "\n" + "-" * len(head), flush=True)
        base = None
        for s in lengths:
            r = run_length(s, a)
            peak = r["maxrss_kb"] / 1024
            base = base or peak
            print(f"{s:9.0f} {r['frames']:7d} {r['wall']:8.1f} {r['wall'] / s:8.2f} {peak:12.0f} "
                  f"{r['rss_ready_kb'] / 1024:9.0f} {peak / base:7.2f}x {r['file_bytes'] / 2**20:8.2f} "
                  f"{1000 * r['av_diff_s']:7.1f}", flush=True)


if __name__ == "__main__":
    main()
