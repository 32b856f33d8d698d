"""Export the stage-1 bundle (kind "scfp") from a finished `train_scfp` run folder.

    python -m see_the_speaker.training.export_scfp --run runs/scfp --out weights/scfp_default.safetensors

Collects the autoencoder (phase autoencoder), the ConRe speech and face encoders (phase conre),
and the face prior, SAW and the EMA denoiser (phase denoiser) into one `SCFP` module, stores it
in fp16 (≤ 30 MB; loaded back in the module's dtype) with the config and a training summary in
the metadata (checkpoint.py).
"""

from __future__ import annotations

import argparse
import json
import os

import torch

from ..checkpoint import save_module
from ..models.scfp import KIND, SCFP


def _last_metrics(run: str, phase: str) -> dict:
    path = os.path.join(run, phase, "metrics.jsonl")
    if not os.path.exists(path):
        return {}
    last: dict = {}
    for line in open(path):
        row = json.loads(line)
        last.update({k: v for k, v in row.items() if k not in ("phase",)})
    return last


def export(run: str, out: str, dtype: str = "fp16") -> str:
    from .train_scfp import load_config, load_phase

    cfg = load_config(run)
    model = SCFP(cfg)
    load_phase(run, "autoencoder", {"autoencoder": model.autoencoder})
    load_phase(run, "conre", {"speech_encoder": model.speech_encoder, "face_encoder": model.face_encoder})
    load_phase(run, "denoiser", {"denoiser": model.denoiser, "saw": model.saw, "prior": model.prior},
               prefer={"denoiser": "ema"})
    if not bool(model.prior.fitted):
        raise SystemExit(f"{run}: the face prior was never fitted; run the denoiser phase")
    cache_info = json.load(open(os.path.join(run, "cache", "info.json")))
    extra = {
        "trained": True,
        "corpus": cache_info.get("corpus"),
        "portraits": cache_info.get("portraits"),
        "steps": {p: _last_metrics(run, p).get("step") for p in ("autoencoder", "conre", "denoiser")},
        "train_seconds": {p: _last_metrics(run, p).get("time_s") for p in ("autoencoder", "conre", "denoiser")},
        "final_metrics": {p: _last_metrics(run, p) for p in ("autoencoder", "conre", "denoiser")},
    }
    save_module(out, KIND, cfg, model, extra=extra, dtype={"fp16": torch.float16, "fp32": None}[dtype])
    size = os.path.getsize(out) / 2**20
    print(f"exported {out} ({size:.1f} MB, {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters)")
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", default="runs/scfp", help="train_scfp run folder")
    p.add_argument("--out", default="weights/scfp_default.safetensors", help="bundle to write")
    p.add_argument("--dtype", default="fp16", choices=["fp16", "fp32"], help="storage precision")


def run(args: argparse.Namespace) -> int:
    export(os.path.expanduser(args.run), args.out, args.dtype)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="export_scfp", description=__doc__.split("\n")[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
