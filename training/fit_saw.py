"""Fit SAW to the calibrated prior weight, with speaker-held-out model selection (See the Speaker, arXiv 2510.26819, SAW).

    python -m see_the_speaker.training.fit_saw --bundle weights/scfp_default.safetensors \
        --corpus ~/.cache/see-the-speaker/corpus/standard_v3 \
        --calibration weights/scfp_default.saw_calibration.json --out weights/scfp_default.safetensors

SAW (models/saw.py) maps the utterance embedding to β, the weight of the face prior in sampling.
Its target is the weight that draws portraits closest to the true face, measured by
training/saw_calibration.py on speakers the denoiser never saw, as a function of how degraded the
speech is: k*(SNR)·β⁰. (Trained jointly with the denoiser, SAW regresses β*(z), the least-squares
weight of the true latent on μ: a property of the face that the voice hardly predicts, under 1 %
of its variance on unseen speakers; weights/scfp_default.md.)

This command fits SAW on the bundle's own frozen speech encoder:

1. inputs: the utterance embedding of every training clip, clean and with white noise at
   `--variants` random SNRs (0–40 dB); targets: clip(k*(SNR)·β⁰) with k* interpolated from the
   calibration (training/saw_calibration.scale_at);
2. model selection: for each weight decay of `--weight-decays`, a fresh SAW is trained full-batch
   on 4/5 of the training *speakers* and scored on the held-out fifth (5 folds, grouped by speaker,
   so a voice is never scored on its own speech); the score is the fold-summed squared error
   relative to predicting the training mean (R²; 0 = no better than a constant β);
3. the chosen decay (highest held-out R²; ties to the stronger decay) is refitted on all training
   speakers and written into the bundle; everything else is copied unchanged. The bundle's extra
   metadata records the calibration and the cross-validation table.

About 3 minutes on 2 CPU cores (1,600 training clips × 2 conditions: 172 s), most of it encoding speech.
"""

from __future__ import annotations

import argparse
import json
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


VARIANTS = 1  # noisy copies of every training clip besides the clean one


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
def utterance_targets(model, cache, cal: dict, variants: int = VARIANTS, seed: int = 0, log=print):
    """Every training clip's speech, clean and at `variants` random SNRs (white noise, uniform in 0..CLEAN_DB dB)
    -> (utterance [N, D], target β [N, C] = clip(k*(SNR)·β⁰), speaker [N], SNR [N] with CLEAN_DB for clean)."""
    from ..evaluation.eval_scfp import add_noise
    from .saw_calibration import CLEAN_DB, scale_at

    rng = np.random.default_rng(seed)
    clips = cache.clips_of(("train",))
    t0 = time.time()
    utt, snrs = [], []
    for i, c in enumerate(clips):
        wave = cache.clip_audio(int(c))
        for v in range(1 + variants):
            snr = None if v == 0 else float(rng.uniform(0.0, CLEAN_DB))
            w = wave if snr is None else add_noise(wave, snr, seed=int(rng.integers(2 ** 31)))
            utt.append(model.encode_speech(torch.from_numpy(w))[0])
            snrs.append(CLEAN_DB if snr is None else snr)
        if (i + 1) % 400 == 0:
            log(f"fit_saw: {i + 1}/{len(clips)} clips × {1 + variants} conditions ({time.time() - t0:.0f} s)")
    beta0, p = model.prior.beta0.float().cpu(), model.prior.cfg
    k = torch.tensor([scale_at(cal, s) for s in snrs])
    y = (k[:, None] * beta0[None]).clamp(p.beta_min, p.beta_max)
    groups = np.repeat(cache.clip_speaker[clips], 1 + variants)
    return torch.stack(utt).float(), y, groups, np.array(snrs)


WEIGHT_DECAYS = (0.0, 1.0, 5.0, 10.0, 20.0, 35.0, 50.0, 75.0, 95.0)  # the grid searched (decay × lr < 1)
SNR_BANDS = ((0.0, 10.0), (10.0, 20.0), (20.0, 40.0))  # dB bands of the report (clean reported apart)


def refit(bundle: str, corpus: str, cache_dir: str, out: str, cal: dict, weight_decays=WEIGHT_DECAYS,
          cfg: FitConfig = FitConfig(), variants: int = VARIANTS, log=print) -> dict:
    from ..checkpoint import load_model, save_module
    from ..models.scfp import KIND
    from .saw_calibration import CLEAN_DB
    from .scfp_data import build_cache

    model, ckpt = load_model(bundle, expected_kind=KIND)
    cache = build_cache(os.path.expanduser(corpus), os.path.expanduser(cache_dir), log=log)
    x, y, groups, snr = utterance_targets(model, cache, cal, variants, cfg.seed, log)
    r2 = cross_validate(model.cfg.saw, x, y, groups, weight_decays, cfg)
    wd = choose(r2)
    saw = fit(model.cfg.saw, x, y, wd, cfg)
    with torch.no_grad():
        new = saw(x)
    model.saw.load_state_dict(saw.state_dict())
    bands = [("clean", snr >= CLEAN_DB)] + [(f"{lo:g}–{hi:g} dB", (snr >= lo) & (snr < hi)) for lo, hi in SNR_BANDS]
    report = {"weight_decay": wd, "cv_r2": r2, "utterances": int(len(y)), "speakers": int(len(np.unique(groups))),
              "variants": variants, "calibration": cal,
              "beta_by_speech": {name: {"target": y[m].mean(0).tolist(), "saw": new[m].mean(0).tolist(),
                                        "saw_spread": new[m].std(0).tolist()} for name, m in bands if m.any()},
              "fit": {"steps": cfg.steps, "lr": cfg.lr, "folds": cfg.folds, "seed": cfg.seed}}
    extra = dict(ckpt.extra)
    extra["saw_refit"] = report
    save_module(out, KIND, model.cfg, model, extra=extra, dtype=torch.float16)
    return report


def markdown(r: dict) -> str:
    f = lambda v: ", ".join(f"{x:.2f}" for x in v)  # noqa: E731
    snrs = f"{r['variants']} random SNR{'s' if r['variants'] > 1 else ''}"
    lines = [f"SAW fitted to the calibrated prior weight on {r['utterances']} training utterances of {r['speakers']} "
             f"speakers (each clip clean and at {snrs}); {r['fit']['folds']}-fold cross-validation grouped by speaker "
             f"({r['fit']['steps']} full-batch AdamW steps, lr {r['fit']['lr']}).", "",
             "| weight decay | held-out R² of the target β |", "|---:|---:|"]
    lines += [f"| {wd:g}{' (chosen)' if wd == r['weight_decay'] else ''} | {v:+.4f} |" for wd, v in r["cv_r2"].items()]
    lines += ["", "| training speech | target β (per channel) | SAW β | SAW spread |", "|---|---|---|---|"]
    lines += [f"| {name} | {f(b['target'])} | {f(b['saw'])} | {f(b['saw_spread'])} |" for name, b in r["beta_by_speech"].items()]
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
    p.add_argument("--calibration", required=True, help="the .json of training/saw_calibration.py for this bundle")
    p.add_argument("--out", required=True, help="bundle to write (may be --bundle itself)")
    p.add_argument("--weight-decays", type=float, nargs="+", default=list(WEIGHT_DECAYS))
    p.add_argument("--steps", type=int, default=FitConfig.steps)
    p.add_argument("--variants", type=int, default=VARIANTS, help="noisy copies of every training clip (+ the clean one)")
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    t0 = time.time()
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    with open(os.path.expanduser(a.calibration)) as f:
        cal = json.load(f)
    r = refit(a.bundle, a.corpus, a.cache, a.out, cal, a.weight_decays, FitConfig(steps=a.steps), a.variants, log)
    print(write_report(a.out, r))
    print(f"({time.time() - t0:.0f} s)", file=sys.stderr)
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
