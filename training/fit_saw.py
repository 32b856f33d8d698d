"""Refit SAW with speaker-held-out model selection (See the Speaker, arXiv 2510.26819, SAW).

    python -m see_the_speaker.training.fit_saw --bundle weights/scfp_default.safetensors \
        --corpus ~/.cache/see-the-speaker/corpus/standard_v3 --out weights/scfp_default.safetensors

SAW (models/saw.py) maps the utterance embedding to β, regressing β*(z), the least-squares weight
of the speaker's true portrait latent on the face prior μ (FacePrior.beta_target). Trained jointly
with the denoiser and without any check on unseen speakers, it can fit the training speakers'
β* and generalise worse than the constant β⁰ (the default bundle did: weights/scfp_default.md).

This command fits SAW again on the bundle's own frozen speech encoder and autoencoder:

1. targets: β* of every training-split portrait; inputs: the clean utterance embedding of the
   portrait's clip (what sampling sees);
2. model selection: for each weight decay of `--weight-decays`, a fresh SAW is trained full-batch
   on 4/5 of the training *speakers* and scored on the held-out fifth (5 folds, grouped by speaker,
   so a voice is never scored on its own portraits); the score is the fold-summed squared error
   relative to predicting the training mean (R²; 0 = no better than a constant β);
3. the chosen decay (highest held-out R²; ties to the stronger decay) is refitted on all training
   speakers and written into the bundle; everything else is copied unchanged. The bundle's extra
   metadata records the cross-validation table.

Only training speakers are used (val/test stay the evaluation's). Minutes on 2 CPU cores, most
of it encoding 2,000 utterances and 4,000 portraits.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

from ..evaluation.table_files import write_table
from ..models.saw import SAW


@dataclass
class FitConfig:
    steps: int = 400  # full-batch AdamW steps per fit
    lr: float = 1e-2  # AdamW learning rate
    folds: int = 5  # speaker-grouped cross-validation folds
    seed: int = 0


def fit(saw_cfg, x: torch.Tensor, y: torch.Tensor, weight_decay: float, cfg: FitConfig = FitConfig()) -> SAW:
    """x [N, D] utterance embeddings, y [N, C] β* targets -> a SAW trained full-batch (MSE + decoupled decay
    on the weight matrices; the output bias starts at the mean target, so strong decay -> constant mean β)."""
    if not 0 <= weight_decay * cfg.lr < 1:
        raise ValueError(f"weight decay × lr must be in [0, 1) (decoupled decay), got {weight_decay} × {cfg.lr}")
    torch.manual_seed(cfg.seed)
    saw = SAW(saw_cfg)
    last = saw.net[-1]
    with torch.no_grad():  # start at the mean target: a fully decayed SAW predicts the mean β, not 0.5
        last.bias.copy_(torch.logit(y.mean(0).clamp(1e-3, 1 - 1e-3)))
    weights = [m.weight for m in saw.net if isinstance(m, torch.nn.Linear)]  # decay the matrices only
    rest = [q for q in saw.parameters() if all(q is not w for w in weights)]
    opt = torch.optim.AdamW([{"params": weights, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}],
                            lr=cfg.lr)
    for _ in range(cfg.steps):
        loss = torch.nn.functional.mse_loss(saw(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return saw.eval().requires_grad_(False)


def cross_validate(saw_cfg, x: torch.Tensor, y: torch.Tensor, groups: np.ndarray, weight_decays, cfg: FitConfig = FitConfig()) -> dict:
    """Speaker-grouped K-fold: weight decay -> held-out R² (1 − SSE / SSE of the fold's training mean)."""
    rng = np.random.default_rng(cfg.seed)
    speakers = np.unique(groups)
    rng.shuffle(speakers)
    folds = np.array_split(speakers, cfg.folds)
    if min(len(f) for f in folds) < 1:
        raise ValueError(f"need ≥ {cfg.folds} speakers for {cfg.folds}-fold cross-validation, got {len(speakers)}")
    out = {}
    for wd in weight_decays:
        sse = base = 0.0
        for f in folds:
            test = torch.from_numpy(np.isin(groups, f))
            saw = fit(saw_cfg, x[~test], y[~test], wd, cfg)
            with torch.no_grad():
                sse += float(((saw(x[test]) - y[test]) ** 2).sum())
            base += float(((y[~test].mean(0) - y[test]) ** 2).sum())
        out[float(wd)] = 1.0 - sse / base
    return out


def choose(r2: dict) -> float:
    """Weight decay with the highest held-out R²; on a tie (within 1e-4) the stronger decay."""
    best = max(r2.values())
    return max(wd for wd, v in r2.items() if v >= best - 1e-4)


@torch.no_grad()
def portrait_pairs(model, cache, splits=("train",), log=print) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """-> (utterance of each portrait's clip [P, D], β* of the portrait [P, C], speaker [P]) over `splits`."""
    from .train_scfp import faces_tensor

    faces = cache.portraits_of(splits)
    clips = np.unique(cache.face_clip[faces])
    t0 = time.time()
    utt = {}
    for i, c in enumerate(clips):
        utt[int(c)] = model.encode_speech(torch.from_numpy(cache.clip_audio(int(c))))[0]
        if (i + 1) % 400 == 0:
            log(f"fit_saw: {i + 1}/{len(clips)} utterances ({time.time() - t0:.0f} s)")
    targets = []
    for i in range(0, len(faces), 32):
        x = faces_tensor(cache, faces[i:i + 32]).to(model.compute_device, model.compute_dtype)
        z = model.autoencoder.encode(x)[0].float() / model.prior.latent_scale.float()
        targets.append(model.prior.beta_target(z).cpu())
    log(f"fit_saw: {len(faces)} portraits of {len(np.unique(cache.face_speaker[faces]))} speakers ({time.time() - t0:.0f} s)")
    x = torch.stack([utt[int(c)] for c in cache.face_clip[faces]]).float()
    return x, torch.cat(targets).float(), cache.face_speaker[faces]


WEIGHT_DECAYS = (0.0, 1.0, 5.0, 10.0, 20.0, 35.0, 50.0, 75.0, 95.0)  # the grid searched (decay × lr < 1)


def refit(bundle: str, corpus: str, cache_dir: str, out: str, weight_decays=WEIGHT_DECAYS, cfg: FitConfig = FitConfig(),
          report_splits=(), log=print) -> dict:
    from ..checkpoint import load_model, save_module
    from ..models.scfp import KIND
    from .scfp_data import build_cache

    model, ckpt = load_model(bundle, expected_kind=KIND)
    cache = build_cache(os.path.expanduser(corpus), os.path.expanduser(cache_dir), log=log)
    x, y, groups = portrait_pairs(model, cache, ("train",), log)
    saw_of = lambda m, u: m(u.to(model.compute_device, model.compute_dtype)).float().cpu()  # noqa: E731
    with torch.no_grad():
        old = saw_of(model.saw, x)
        held = portrait_pairs(model, cache, report_splits, log) if report_splits else None
        old_held = saw_of(model.saw, held[0]) if held else None
    base = float(((y - y.mean(0)) ** 2).sum())
    r2 = cross_validate(model.cfg.saw, x, y, groups, weight_decays, cfg)
    wd = choose(r2)
    saw = fit(model.cfg.saw, x, y, wd, cfg)
    with torch.no_grad():
        new = saw(x)
    model.saw.load_state_dict(saw.state_dict())
    if held:  # reported only: the evaluation's speakers never choose anything here
        xh, yh, _ = held
        with torch.no_grad():
            report_held = {"splits": list(report_splits), "portraits": int(len(yh)),
                           "mse_previous_saw": float(((old_held - yh) ** 2).mean()),
                           "mse_refit": float(((saw_of(model.saw, xh) - yh) ** 2).mean()),
                           "mse_constant_training_mean": float(((y.mean(0) - yh) ** 2).mean())}
    report = {"weight_decay": wd, "cv_r2": r2, "portraits": int(len(y)), "speakers": int(len(np.unique(groups))),
              "train_r2_previous_saw": 1 - float(((old - y) ** 2).sum()) / base,
              "train_r2_refit": 1 - float(((new - y) ** 2).sum()) / base,
              "spread_previous_saw": old.std(0).tolist(), "spread_refit": new.std(0).tolist(),
              "fit": {"steps": cfg.steps, "lr": cfg.lr, "folds": cfg.folds, "seed": cfg.seed}}
    if held:
        report["held_out"] = report_held
    extra = dict(ckpt.extra)
    extra["saw_refit"] = report
    save_module(out, KIND, model.cfg, model, extra=extra, dtype=torch.float16)
    return report


def markdown(r: dict) -> str:
    f = lambda v: ", ".join(f"{x:.3f}" for x in v)  # noqa: E731
    lines = [f"SAW refit on {r['portraits']} training portraits of {r['speakers']} speakers; {r['fit']['folds']}-fold "
             f"cross-validation grouped by speaker ({r['fit']['steps']} full-batch AdamW steps, lr {r['fit']['lr']}).", "",
             "| weight decay | held-out R² of β* |", "|---:|---:|"]
    lines += [f"| {wd:g}{' (chosen)' if wd == r['weight_decay'] else ''} | {v:+.4f} |" for wd, v in r["cv_r2"].items()]
    lines += ["", f"Training-speaker R²: previous SAW {r['train_r2_previous_saw']:+.4f}, refit {r['train_r2_refit']:+.4f}; "
              f"spread of β across portraits (per channel): previous {f(r['spread_previous_saw'])}, refit {f(r['spread_refit'])}."]
    if "held_out" in r:
        h = r["held_out"]
        lines += ["", f"Held-out speakers ({'+'.join(h['splits'])}, {h['portraits']} portraits; reported, not used to choose): "
                  f"mean squared error of β* — previous SAW {h['mse_previous_saw']:.4f}, refit {h['mse_refit']:.4f}, "
                  f"constant training mean (= β⁰) {h['mse_constant_training_mean']:.4f}."]
    return "\n".join(lines)


def write_report(bundle: str, r: dict) -> str:
    """The cross-validation table next to the bundle: <stem>.saw_fit.md and .json -> the markdown."""
    table = markdown(r)
    write_table(os.path.splitext(bundle)[0] + ".saw_fit.md", table, r)
    return table


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="fit_saw", description=__doc__.split("\n")[0])
    p.add_argument("--bundle", default="weights/scfp_default.safetensors", help="stage-1 bundle to refit")
    p.add_argument("--corpus", default="~/.cache/see-the-speaker/corpus/standard_v3", help="the corpus the bundle was trained on")
    p.add_argument("--cache", default="~/.cache/see-the-speaker/runs/scfp_saw/cache", help="portrait cache folder (built if missing)")
    p.add_argument("--out", required=True, help="bundle to write (may be --bundle itself)")
    p.add_argument("--weight-decays", type=float, nargs="+", default=list(WEIGHT_DECAYS))
    p.add_argument("--steps", type=int, default=FitConfig.steps)
    p.add_argument("--report-splits", default="", help="also report β* errors on these splits, e.g. val (never used to choose)")
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    t0 = time.time()
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    r = refit(a.bundle, a.corpus, a.cache, a.out, a.weight_decays, FitConfig(steps=a.steps),
              tuple(x for x in a.report_splits.split(",") if x), log)
    print(write_report(a.out, r))
    print(f"({time.time() - t0:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
