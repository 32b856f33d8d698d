"""Export a trained motion bundle (training/train_motion.py) as the pack's default checkpoint.

    python -m see_the_speaker.training.export_motion --run runs/motion [--out weights/motion_default.safetensors] \
        [--eval-json report.json] [--dtype fp32|fp16]

Reads `<run>/motion.safetensors`, checks that it rebuilds, optionally casts to fp16, and writes the
bundle with provenance (training config, phases, corpus) and, when given, the evaluation figures
(evaluation/eval_motion.py --out report.md writes report.json) in its metadata.
"""

from __future__ import annotations

import argparse
import json
import os

import torch

from ..checkpoint import load_model, save_module
from ..models.motion_bundle import KIND

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights", "motion_default.safetensors")


def export(run: str, out: str = DEFAULT_OUT, eval_json: str | None = None, dtype: str = "fp32") -> str:
    src = run if run.endswith(".safetensors") else os.path.join(run, "motion.safetensors")
    bundle, ckpt = load_model(src, expected_kind=KIND)
    extra = dict(ckpt.extra)
    if eval_json:
        with open(eval_json) as f:
            extra["evaluation"] = json.load(f)
    extra["exported_from"] = os.path.abspath(src)
    cast = {"fp32": None, "fp16": torch.float16}[dtype]
    save_module(out, KIND, bundle.cfg, bundle, extra=extra, dtype=cast)
    load_model(out, expected_kind=KIND)  # must rebuild
    n = sum(p.numel() for p in bundle.parameters())
    print(f"{out}: {n / 1e6:.2f} M parameters, {os.path.getsize(out) / 1e6:.1f} MB")
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, help="training run folder (or a motion .safetensors)")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--eval-json", default=None)
    ap.add_argument("--dtype", choices=["fp32", "fp16"], default="fp32")
    a = ap.parse_args(argv)
    export(a.run, a.out, a.eval_json, a.dtype)


if __name__ == "__main__":
    main()
