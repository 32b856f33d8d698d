"""Stage-1 speed: bundle load time, speech encoding, and SpeechToPortrait for N candidates.

    python benchmarks/scfp_speed.py [--bundle weights/scfp_default.safetensors] [--threads 2]

Without --bundle (or when the file is missing) it times a randomly initialised model of the
default architecture (timings do not depend on the weights). Target (issue 5): N = 4 at the
default steps in ≤ 10 s on 2 CPU cores.
"""

import argparse
import os
import time

import torch

from see_the_speaker.checkpoint import load_model, save_module
from see_the_speaker.models.scfp import KIND, SCFP, SCFPConfig


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bundle", default="weights/scfp_default.safetensors")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--n", type=int, default=4)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    path = args.bundle
    if not os.path.exists(path):
        path = "/tmp/scfp_speed_random.safetensors"
        save_module(path, KIND, SCFPConfig(), SCFP(SCFPConfig()), extra={"trained": False}, dtype=torch.float16)
        print(f"(no bundle at {args.bundle}: timing random weights of the default architecture)")
    t0 = time.perf_counter()
    model, ckpt = load_model(path, expected_kind=KIND)
    load_s = time.perf_counter() - t0
    n_params = sum(p.numel() for p in model.parameters())
    print(f"bundle: {os.path.basename(path)} {os.path.getsize(path) / 2**20:.1f} MB, {n_params / 1e6:.2f} M parameters, "
          f"load {load_s:.2f} s")
    for name in ("speech_encoder", "face_encoder", "autoencoder", "saw", "denoiser"):
        print(f"  {name}: {sum(p.numel() for p in getattr(model, name).parameters()) / 1e6:.2f} M")
    t = torch.arange(16000 * 4) / 16000
    wave = 0.3 * torch.sin(2 * torch.pi * 140 * t) * (1 + torch.sin(2 * torch.pi * 3 * t)) + 0.01 * torch.randn(t.shape)
    steps = args.steps or model.cfg.diffusion.default_steps
    with torch.inference_mode():
        for r in range(args.repeats):
            t0 = time.perf_counter()
            cond = model.encode_speech(wave)
            enc_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            model.sample(cond, n=args.n, seed=r, steps=steps)
            gen_s = time.perf_counter() - t0
            print(f"run {r}: encode 4 s of speech {enc_s:.2f} s; SpeechToPortrait N={args.n}, {steps} steps, "
                  f"guidance {model.cfg.diffusion.default_guidance}: {gen_s:.2f} s ({args.threads} threads)")
        long = torch.randn(16000 * 600) * 0.1
        t0 = time.perf_counter()
        model.encode_speech(long)
        print(f"encode 10 min of audio (bounded windows): {time.perf_counter() - t0:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
