"""How much can a sample-adaptive prior weight gain at all? (See the Speaker, arXiv 2510.26819, SAW)

    python -m see_the_speaker.evaluation.saw_headroom --bundle weights/scfp_default.safetensors \
        --corpus ~/.cache/see-the-speaker/corpus/standard_v3 --splits val,test --seeds 8 --threads 2

SAW (models/saw.py) picks the face prior's weight β per utterance. Its best possible gain over a
constant weight is bounded by an oracle that knows, for every held-out speaker, which β makes that
speaker's portraits closest to the true face. This command measures that bound in the same dlib
space and with the same true faces as `eval_scfp` (evaluation/eval_scfp.py):

* every speaker's portraits are drawn with β = clip(k·β⁰, 0, 1) for each scale k of `--scales`
  (k = 0: no prior, k = 1: fixed β⁰) and with SAW's β ("adaptive"), same seeds everywhere;
* the seeds are split in two halves. The first half *selects*: the best constant k (lowest mean
  consistency over all speakers) and the oracle's k per speaker. The second half *measures*, so
  the oracle gets no credit for fitting seed noise (an in-sample oracle would);
* reported on the measuring half, paired per speaker (mean ± standard error over speakers):
  oracle − best constant (the headroom of any per-sample weight), adaptive − best constant,
  adaptive − fixed β⁰, best constant − fixed β⁰.

`--snr DB` adds white noise to the speech first (degraded input: where a less reliable voice might
call for more prior).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

from .eval_scfp import dlib_embedder, held_out, paired
from .table_files import write_table


def headroom(dist: np.ndarray, names: list[str], fixed: str = "k=1") -> dict:
    """dist [S, K, N] (speaker, setting, seed) distances to the true face -> the split-half analysis.

    Settings whose name starts with "k=" are constants (oracle and best constant choose among
    them); "adaptive" is SAW."""
    s, _, n = dist.shape
    if n < 2:
        raise ValueError(f"need ≥ 2 seeds to split into selecting and measuring halves, got {n}")
    half = n // 2
    sel, mea = dist[:, :, :half].mean(2), dist[:, :, half:].mean(2)  # [S, K]
    const = [i for i, m in enumerate(names) if m.startswith("k=")]
    best = const[int(np.argmin(sel[:, const].mean(0)))]
    oracle_pick = np.array(const)[np.argmin(sel[:, const], axis=1)]  # [S]
    oracle = mea[np.arange(s), oracle_pick]
    i_fix, i_ada = names.index(fixed), names.index("adaptive")
    gaps = {"oracle - best constant": oracle - mea[:, best],
            "adaptive - best constant": mea[:, i_ada] - mea[:, best],
            "adaptive - fixed β⁰": mea[:, i_ada] - mea[:, i_fix],
            "best constant - fixed β⁰": mea[:, best] - mea[:, i_fix]}
    picks = {m: int((oracle_pick == i).sum()) for i, m in enumerate(names) if i in const}
    return {"speakers": s, "seeds": n, "mean": dict(zip(names, dist.mean((0, 2)).tolist())),
            "best_constant": names[best], "oracle_picks": picks,
            "gaps": {k: paired(v) for k, v in gaps.items()}}


def consistency(model, h: dict, settings: list, seeds: int, embed, log=None) -> tuple[np.ndarray, list]:
    """Distance to the true face of `seeds` portraits per held-out speaker and setting -> (dist [S, K, N], SAW β per
    speaker). h: evaluation/eval_scfp.held_out; a setting is a scale k (β = clip(k·β⁰, 0, 1); 0 = no prior,
    1 = fixed β⁰) or "adaptive" (SAW's β). Same seeds in every setting."""
    beta0 = model.prior.beta0.float().cpu()
    dist = np.zeros((len(h["speakers"]), len(settings), seeds))
    saw = []
    for i, cond in enumerate(h["speech"]):
        for j, k in enumerate(settings):
            kw = {"prior_mode": "adaptive"} if k == "adaptive" else {"beta": (float(k) * beta0).clamp(0, 1)}
            imgs, beta = model.sample(cond, n=seeds, seed=0, **kw)
            if k == "adaptive":
                saw.append(beta.tolist())
            for t, im in enumerate((imgs.numpy() * 255).round().astype(np.uint8)):
                dist[i, j, t] = np.linalg.norm(embed(im)[0] - h["true"][i])
        if log:
            log(f"  {h['speakers'][i]}: " + " ".join(f"{k if k == 'adaptive' else f'k={k:g}'} {dist[i, j].mean():.3f}"
                                                 for j, k in enumerate(settings)))
    return dist, saw


def measure(bundle: str, corpus_root: str, splits=("val", "test"), seeds: int = 8, scales=(0.0, 0.5, 0.75, 1.0, 1.2, 1.35),
            max_speakers: int = 0, snr_db: float | None = None, log=print) -> dict:
    from ..checkpoint import load_model
    from ..data.corpus import Corpus
    from ..models.scfp import KIND

    model, _ = load_model(bundle, expected_kind=KIND)
    embed = dlib_embedder()
    h = held_out(model, Corpus(os.path.expanduser(corpus_root)), splits, max_speakers, embed, snr_db)
    if 1.0 not in scales:
        raise ValueError("--scales must include 1 (fixed β⁰)")
    names = [f"k={k:g}" for k in scales] + ["adaptive"]
    dist, saw = consistency(model, h, list(scales) + ["adaptive"], seeds, embed, log)
    beta0 = model.prior.beta0.float().cpu()
    out = headroom(dist, names)
    out.update(bundle=os.path.basename(bundle), splits=list(splits), snr_db=snr_db, beta0=beta0.tolist(),
               saw_beta_mean=np.mean(saw, 0).tolist(), saw_beta_std=np.std(saw, 0).tolist())
    return out


def markdown(r: dict) -> str:
    speech = "clean speech" if r["snr_db"] is None else f"speech + white noise at {r['snr_db']:g} dB SNR"
    lines = [f"{r['speakers']} held-out speakers ({'+'.join(r['splits'])}), {speech}, {r['seeds']} seeds each "
             f"(first half selects, second half measures); β = clip(k·β⁰, 0, 1), β⁰ = "
             f"{', '.join(f'{b:.2f}' for b in r['beta0'])}; SAW β mean {', '.join(f'{b:.2f}' for b in r['saw_beta_mean'])} "
             f"(spread across speakers {', '.join(f'{b:.2f}' for b in r['saw_beta_std'])}).", "",
             "| setting | consistency ↓ (all seeds) | oracle picks it for |", "|---|---:|---:|"]
    for m, v in r["mean"].items():
        lines.append(f"| {m}{' (best constant)' if m == r['best_constant'] else ''} | {v:.4f} | "
                     f"{r['oracle_picks'].get(m, '–')} |")
    lines += ["", "| paired gap on the measuring half (− = first is closer to the true face) | mean ± SE |", "|---|---:|"]
    lines += [f"| {k} | {m:+.4f} ± {se:.4f} |" for k, (m, se) in r["gaps"].items()]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="saw_headroom", description=__doc__.split("\n")[0])
    p.add_argument("--bundle", default="weights/scfp_default.safetensors", help="SCFP bundle (.safetensors)")
    p.add_argument("--corpus", default="~/.cache/see-the-speaker/corpus/standard_v3", help="corpus with held-out speakers")
    p.add_argument("--splits", default="val,test", help="held-out splits")
    p.add_argument("--seeds", type=int, default=8, help="portraits per speaker and setting (split in halves)")
    p.add_argument("--scales", type=float, nargs="+", default=[0.0, 0.5, 0.75, 1.0, 1.2, 1.35],
                   help="constant settings β = clip(k·β⁰, 0, 1); must include 1")
    p.add_argument("--snr", type=float, default=None, help="add white noise to the speech at this SNR (dB)")
    p.add_argument("--max-speakers", type=int, default=0, help="limit held-out speakers (0 = all)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", default=None, help="write the markdown table here (and a .json next to it)")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    t0 = time.time()
    r = measure(a.bundle, a.corpus, tuple(a.splits.split(",")), a.seeds, tuple(a.scales), a.max_speakers, a.snr,
                log=lambda m: print(m, file=sys.stderr))
    table = markdown(r)
    print(table)
    if a.out:
        write_table(a.out, table, r)
    print(f"({time.time() - t0:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
