"""Export a trained renderer run (training/train_renderer.py) to one renderer `.safetensors` bundle
(kind "renderer", arXiv 2510.26819 stage 2).

    python -m see_the_speaker.training.export_renderer --run runs/renderer \
        --out weights/renderer_default.safetensors [--metrics eval.json]

Reads the run's config.json (architecture) and state.safetensors (weights), checks the run has
finished all its phases (unless --allow-partial), stores the training summary (steps, wall time,
last logged metrics) and optional evaluation figures in the checkpoint's `sts.extra`, and refuses
files over --max-mb (40 MB for the bundled default).
"""

from __future__ import annotations

import argparse
import json
import os

from ..checkpoint import config_from_dict, save_module
from ..models.renderer import KIND, Renderer, RendererConfig


def load_run(run: str) -> tuple[Renderer, dict, dict]:
    """-> (renderer with the run's weights, train config dict, state meta dict)."""
    from safetensors.torch import load_file

    with open(os.path.join(run, "config.json")) as f:
        tcfg = json.load(f)
    with open(os.path.join(run, "state.json")) as f:
        meta = json.load(f)
    cfg = config_from_dict(RendererConfig, tcfg["model"], where="config.json: model")
    renderer = Renderer(cfg)
    tensors = load_file(os.path.join(run, "state.safetensors"))
    prefix = "module.renderer."
    renderer.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
    return renderer.eval(), tcfg, meta


def last_metrics(run: str) -> dict:
    """Last logged row of each phase in metrics.jsonl."""
    out: dict[str, dict] = {}
    path = os.path.join(run, "metrics.jsonl")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                row = json.loads(line)
                out[row.get("phase", "?")] = row
    return out


def export(run: str, out: str, metrics_path: str | None = None, allow_partial: bool = False, max_mb: float = 40.0) -> str:
    renderer, tcfg, meta = load_run(run)
    total = sum(tcfg["steps"])
    if meta["step"] < total and not allow_partial:
        raise SystemExit(f"{run}: stopped at step {meta['step']} of {total}; finish it (rerun the training "
                         "command to resume) or pass --allow-partial")
    logged = last_metrics(run)
    extra = {
        "trained": True,
        "training": {"corpus": tcfg["corpus"], "steps": tcfg["steps"], "step": meta["step"], "batch": tcfg["batch"],
                     "seed": tcfg["seed"], "wall_time_s": max((r.get("time_s", 0) for r in logged.values()), default=None),
                     "last_metrics": logged},
        "params": sum(p.numel() for p in renderer.parameters()),
        "motion_parts": renderer.spec.parts(),
    }
    if tcfg.get("init"):  # a fine-tune: keep the history of the weights it started from
        extra["training"]["init"] = {"file": os.path.basename(tcfg["init"])}
        if os.path.exists(tcfg["init"]):
            from ..checkpoint import load_checkpoint
            extra["training"]["init"]["training"] = load_checkpoint(tcfg["init"]).extra.get("training")
    if metrics_path:
        with open(metrics_path) as f:
            extra["evaluation"] = json.load(f)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    save_module(out, KIND, renderer.cfg, renderer, extra=extra)
    mb = os.path.getsize(out) / 2**20
    if mb > max_mb:
        os.remove(out)
        raise SystemExit(f"{out}: {mb:.1f} MB is over the {max_mb} MB limit")
    print(f"wrote {out} ({mb:.1f} MB, {extra['params'] / 1e6:.2f} M parameters, step {meta['step']}/{total})")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, help="training run folder")
    p.add_argument("--out", default="weights/renderer_default.safetensors")
    p.add_argument("--metrics", default=None, help="evaluation JSON (evaluation/eval_renderer.py --out) to embed")
    p.add_argument("--allow-partial", action="store_true", help="export a run that has not finished every phase")
    p.add_argument("--max-mb", type=float, default=40.0)
    a = p.parse_args(argv)
    export(a.run, a.out, a.metrics, a.allow_partial, a.max_mb)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
