"""The prior weight sampling needs, measured on calibration speakers (See the Speaker, arXiv 2510.26819, SAW).

    python -m see_the_speaker.training.saw_calibration --bundle weights/scfp_default.safetensors \
        --corpus ~/.cache/see-the-speaker/corpus/standard_v3 --out weights/scfp_default.saw_calibration.md

SAW (models/saw.py) sets β, the weight of the face prior μ: the residual offset and the prior-guidance
pull of every DDIM step (models/diffusion.py). Which weight draws portraits closest to the true face
depends on how much the speech can be trusted, and that can only be seen by sampling on speakers
the denoiser never learnt (it reproduces its training speakers far better than new ones). So SAW's
target is measured, not assumed:

* on the calibration speakers (default: the val split; the test split stays the evaluation's),
  each speaker's speech is degraded to each condition of `--conditions` (clean, or white noise at
  an SNR in dB: a less reliable voice);
* portraits are drawn at β = clip(k·β⁰, 0, 1) for each scale k of `--scales`, same seeds
  everywhere, and scored by their distance to the true face in dlib's descriptor space (as
  evaluation/eval_scfp.py; like the prior-guidance power and CFG scale, this is a choice made on
  the val speakers);
* per condition, the minimum of the mean curve over speakers and seeds (vertex of the parabola
  through the best grid scale and its neighbours, kept between them); then k*(condition) is made
  monotone (pool-adjacent-violators): noisier speech never gets less prior than cleaner speech.
  The curves are flat near their minimum, and without this seed noise alone can order them.

`scale_at(cal, snr_db)` interpolates k* between the conditions (clean sits at CLEAN_DB), and
training/fit_saw.py teaches SAW to give clip(k*·β⁰) from the utterance embedding of speech at
random SNRs: the prior leans harder on speech that says less.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

from ..evaluation.table_files import write_table

CONDITIONS = (None, 10.0, 0.0)  # speech SNR in dB; None = clean
SCALES = (0.75, 1.0, 1.3, 1.85)  # β = clip(k·β⁰, 0, 1); with the bundled β⁰, 1.3 fills channels 0–2 and 1.85 all four
CLEAN_DB = 40.0  # where clean speech sits on the SNR axis of scale_at


def best_scale(scales, curve) -> float:
    """Grid scales [K] (increasing) and mean distances [K] -> the scale of the minimum: the vertex of the
    parabola through the best grid point and its two neighbours, kept between those neighbours; an
    end of the grid when the best point is there."""
    scales, curve = np.asarray(scales, float), np.asarray(curve, float)
    i = int(np.argmin(curve))
    if i in (0, len(curve) - 1):
        return float(scales[i])
    a, b, _ = np.polyfit(scales[i - 1: i + 2], curve[i - 1: i + 2], 2)
    return float(np.clip(-b / (2 * a), scales[i - 1], scales[i + 1])) if a > 0 else float(scales[i])


def condition_db(snr_db: float | None) -> float:
    return CLEAN_DB if snr_db is None else min(float(snr_db), CLEAN_DB)


def monotone(k, db) -> list[float]:
    """k [n] at SNRs db [n] -> the least-squares fit to k that does not rise with the SNR (pool adjacent
    violators over the conditions sorted from noisiest to cleanest), in the input order."""
    order = np.argsort(db)
    blocks = []  # [sum, count], noisiest first; each block's mean must be ≥ the next's
    for v in np.asarray(k, float)[order]:
        blocks.append([v, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] < blocks[-1][0] / blocks[-1][1]:
            s, n = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += n
    fitted = np.concatenate([[s / n] * n for s, n in blocks])
    out = np.empty(len(fitted))
    out[order] = fitted
    return out.tolist()


def scale_at(cal: dict, snr_db: float | None) -> float:
    """k* at an SNR (None = clean), interpolated linearly in dB between the calibrated conditions."""
    db = np.array([condition_db(c) for c in cal["conditions"]])
    order = np.argsort(db)
    return float(np.interp(condition_db(snr_db), db[order], np.asarray(cal["best_scale"], float)[order]))


def calibrate(bundle: str, corpus_root: str, splits=("val",), conditions=CONDITIONS, scales=SCALES, seeds: int = 3,
              log=print) -> dict:
    """-> {"conditions", "scales", "curve" [cond][K], "best_scale" [cond], "speakers", "seeds", "splits", "beta0"}."""
    from ..checkpoint import load_model
    from ..data.corpus import Corpus
    from ..evaluation.eval_scfp import dlib_embedder, held_out
    from ..evaluation.saw_headroom import consistency
    from ..models.scfp import KIND

    if list(scales) != sorted(scales) or len(scales) < 3:
        raise ValueError(f"scales must be ≥ 3 increasing values, got {list(scales)}")
    model, _ = load_model(bundle, expected_kind=KIND)
    corpus, embed = Corpus(os.path.expanduser(corpus_root)), dlib_embedder()
    curves, speakers = [], 0
    for snr in conditions:
        t0 = time.time()
        h = held_out(model, corpus, splits, 0, embed, snr, min_speakers=2)
        dist, _ = consistency(model, h, list(scales), seeds, embed)  # [S, K, N]
        curves.append(dist.mean((0, 2)).tolist())
        speakers = len(h["speakers"])
        log(f"saw_calibration: {'clean' if snr is None else f'{snr:g} dB'}: "
            + " ".join(f"k={k:g} {c:.4f}" for k, c in zip(scales, curves[-1])) + f" ({time.time() - t0:.0f} s)")
    minima = [best_scale(scales, c) for c in curves]
    return {"conditions": list(conditions), "scales": list(scales), "curve": curves, "minimum": minima,
            "best_scale": monotone(minima, [condition_db(c) for c in conditions]), "speakers": speakers, "seeds": seeds,
            "splits": list(splits), "beta0": model.prior.beta0.float().cpu().tolist()}


def markdown(cal: dict) -> str:
    name = lambda c: "clean" if c is None else f"{c:g} dB SNR"  # noqa: E731
    lines = [f"Prior-weight calibration on {cal['speakers']} speakers ({'+'.join(cal['splits'])}), {cal['seeds']} seeds "
             f"each; β = clip(k·β⁰, 0, 1), β⁰ = {', '.join(f'{b:.2f}' for b in cal['beta0'])}; mean distance to the "
             "true face in dlib space (↓).", "",
             "| speech | " + " | ".join(f"k = {k:g}" for k in cal["scales"]) + " | minimum at | k* (monotone) |",
             "|---|" + "---:|" * (len(cal["scales"]) + 2)]
    for c, curve, m, k in zip(cal["conditions"], cal["curve"], cal["minimum"], cal["best_scale"]):
        lines.append(f"| {name(c)} | " + " | ".join(f"{v:.4f}" for v in curve) + f" | {m:.2f} | {k:.2f} |")
    return "\n".join(lines)


def write_calibration(path: str, cal: dict) -> str:
    """The table to `path` (.md) and the calibration beside it (.json, what fit_saw reads) -> the markdown."""
    table = markdown(cal)
    write_table(path, table, cal)
    return table


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="saw_calibration", description=__doc__.split("\n")[0])
    p.add_argument("--bundle", default="weights/scfp_default.safetensors", help="stage-1 bundle")
    p.add_argument("--corpus", default="~/.cache/see-the-speaker/corpus/standard_v3", help="corpus of the bundle")
    p.add_argument("--splits", default="val", help="calibration speakers (never the evaluation's test split)")
    p.add_argument("--conditions", nargs="+", default=["clean" if c is None else f"{c:g}" for c in CONDITIONS],
                   help="speech conditions: clean or an SNR in dB (white noise)")
    p.add_argument("--scales", type=float, nargs="+", default=list(SCALES), help="β = clip(k·β⁰, 0, 1) grid, increasing")
    p.add_argument("--seeds", type=int, default=3, help="portraits per speaker, condition and scale")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", required=True, help="markdown table (a .json next to it is what fit_saw reads)")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    t0 = time.time()
    conditions = tuple(None if c == "clean" else float(c) for c in a.conditions)
    cal = calibrate(a.bundle, a.corpus, tuple(a.splits.split(",")), conditions, tuple(a.scales), a.seeds,
                    log=lambda m: print(m, file=sys.stderr, flush=True))
    print(write_calibration(a.out, cal))
    print(f"({time.time() - t0:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
