"""Evaluate a stage-1 SCFP bundle on held-out speakers (See the Speaker, arXiv 2510.26819, Fig. 3).

    python -m see_the_speaker.evaluation.eval_scfp --bundle weights/scfp_default.safetensors \
        --corpus ~/.cache/see-the-speaker/corpus/standard --out docs/scfp_eval.md

Everything is measured in dlib's 128-d face-descriptor space (evaluation/face_judges.py), a
space that was never trained with our models. For every held-out speaker (splits val + test):

* the true face = mean descriptor of the speaker's near-neutral frames (one per clip, ≤ 4 clips);
* the speech = one clip of the speaker (not used for the true face when the speaker has more);
* `--seeds` portraits per prior mode (none / fixed β⁰ / adaptive β), same seeds in every mode.

Metrics per mode:
* retrieval top-1 / top-5 of 10: each generated portrait ranks the true speaker among itself +
  9 other held-out speakers (random, `--trials` draws) by descriptor distance; chance 10 % / 50 %;
* consistency: mean distance from a portrait to its true face (lower is better);
* diversity: mean distance between portraits of one speaker across seeds;
* Fréchet distance between generated and real descriptors (all held-out speakers);
* detection: fraction of portraits in which dlib's HOG detector finds a face;
* paired consistency gap to adaptive β: per speaker, the mode's mean distance minus adaptive β's
  (same speech, same seeds), mean ± standard error over speakers — whether a gap is more than noise.
Reference rows: a real frame of the same speaker (best possible consistency) and the mean
training face (the prior alone).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

from .table_files import write_table

MODES = ("none", "fixed", "adaptive")


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to rows of a [N, D] and b [M, D]."""
    from scipy import linalg

    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean, _ = linalg.sqrtm(s1 @ s2, disp=False)
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def retrieval(gen: np.ndarray, gen_spk: np.ndarray, true: np.ndarray, k: int = 10, trials: int = 20,
              seed: int = 0) -> tuple[float, float]:
    """gen [N, D] with speaker index gen_spk [N] into true [S, D] -> (top-1, top-5) among k candidates."""
    rng = np.random.default_rng(seed)
    s = true.shape[0]
    top1 = top5 = 0
    total = 0
    for i, e in enumerate(gen):
        for _ in range(trials):
            others = rng.choice(np.delete(np.arange(s), gen_spk[i]), size=min(k - 1, s - 1), replace=False)
            cand = np.r_[gen_spk[i], others]
            d = np.linalg.norm(true[cand] - e, axis=1)
            rank = int((d < d[0]).sum())
            top1 += rank == 0
            top5 += rank < 5
            total += 1
    return top1 / total, top5 / total


def paired(x: np.ndarray) -> tuple[float, float]:
    """per-speaker differences [S] -> (mean, standard error; nan for one speaker)."""
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")


def add_noise(wave: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """wave [T] + white noise at `snr_db` dB below the wave's power (fixed seed: the same noise every run)."""
    noise = np.random.default_rng(seed).standard_normal(wave.shape).astype(np.float32)
    power = float(np.mean(wave.astype(np.float64) ** 2))
    return (wave + noise * np.sqrt(power / 10 ** (snr_db / 10))).astype(np.float32)


def held_out(model, corpus, splits, max_speakers: int, embed, snr_db: float | None = None, min_speakers: int = 10) -> dict:
    """Per held-out speaker: the true face, a real frame of the speech clip and the encoded speech.

    -> {"speakers": [S], "true": [S, D], "real_other": [S, D], "speech": [(utterance, tokens)] * S}
    `embed(img) -> (descriptor, found)`; `snr_db` adds white noise to the speech (degraded input); fewer than
    `min_speakers` speakers (10 by default: top-of-10 retrieval) stop the run."""
    from ..training.scfp_data import neutral_frames

    speakers = sorted({r.speaker for r in corpus.clips_in(list(splits))})
    if max_speakers:
        speakers = speakers[:max_speakers]
    if len(speakers) < min_speakers:
        raise SystemExit(f"need ≥ {min_speakers} speakers in split(s) {'+'.join(splits)}, found {len(speakers)}")
    true, real_other, speech = [], [], []
    for s in speakers:
        recs = [r for r in corpus.clips_in(list(splits)) if r.speaker == s]
        speech_rec = recs[0]
        face_recs = recs[1:5] if len(recs) > 1 else recs
        embs = []
        for r in face_recs:
            t = neutral_frames(corpus.load_arrays(r), r.n_frames, 1)[0]
            embs.append(embed(corpus.load_frames(r, t, t + 1)[0])[0])
        true.append(np.mean(embs, 0))
        t = neutral_frames(corpus.load_arrays(speech_rec), speech_rec.n_frames, 1)[0]
        real_other.append(embed(corpus.load_frames(speech_rec, t, t + 1)[0])[0])
        wave = corpus.load_audio(speech_rec)
        if snr_db is not None:
            wave = add_noise(wave, snr_db)
        speech.append(model.encode_speech(torch.from_numpy(wave)))
    return {"speakers": speakers, "true": np.stack(true), "real_other": np.stack(real_other), "speech": speech}


def dlib_embedder():
    """-> embed(img uint8 [H, W, 3]) -> (128-d dlib descriptor, whether the HOG detector found the face)."""
    from .face_judges import DlibFace

    dl = DlibFace()

    def embed(img: np.ndarray) -> tuple[np.ndarray, bool]:
        r = dl.analyse(img)
        return r.embedding, r.box_source == "hog"
    return embed


def evaluate(bundle: str, corpus_root: str, splits=("val", "test"), seeds: int = 4, steps: int | None = None,
             guidance: float | None = None, trials: int = 20, max_speakers: int = 0, pull_power: float | None = None,
             snr_db: float | None = None, log=print) -> dict:
    from ..checkpoint import load_model
    from ..data.corpus import Corpus
    from ..models.scfp import KIND

    model, ckpt = load_model(bundle, expected_kind=KIND)
    if pull_power is not None:
        model.diffusion.cfg.pull_power = float(pull_power)
    corpus = Corpus(os.path.expanduser(corpus_root))
    embed = dlib_embedder()
    t0 = time.time()
    h = held_out(model, corpus, splits, max_speakers, embed, snr_db)
    speakers, true, real_other, speech = h["speakers"], h["true"], h["real_other"], h["speech"]
    log(f"eval: {len(speakers)} held-out speakers, true faces in {time.time() - t0:.0f} s")

    rows, per_speaker = {}, {}  # per_speaker[mode]: mean distance to the true face per speaker [S]
    spk_idx = np.arange(len(speakers))
    for mode in MODES:
        t1 = time.time()
        gen, det, betas, gen_spk = [], [], [], []
        for i, cond in enumerate(speech):
            imgs, beta = model.sample(cond, n=seeds, seed=0, steps=steps, guidance=guidance, prior_mode=mode)
            betas.append(beta.mean().item())
            for im in (imgs.numpy() * 255).round().astype(np.uint8):
                e, found = embed(im)
                gen.append(e)
                det.append(found)
                gen_spk.append(i)
        gen, gen_spk = np.stack(gen), np.array(gen_spk)
        top1, top5 = retrieval(gen, gen_spk, true, trials=trials)
        dist = np.linalg.norm(gen - true[gen_spk], axis=1)
        cons = float(dist.mean())
        per_speaker[mode] = np.array([dist[gen_spk == i].mean() for i in spk_idx])
        div = float(np.mean([np.mean([np.linalg.norm(a - b) for j, a in enumerate(g) for b in g[j + 1:]])
                             for g in (gen[gen_spk == i] for i in spk_idx) if len(g) > 1])) if seeds > 1 else 0.0
        rows[mode] = {"top1": top1, "top5": top5, "consistency": cons, "diversity": div,
                      "fd": frechet(gen, real_other), "detected": float(np.mean(det)), "beta": float(np.mean(betas)),
                      "seconds": round(time.time() - t1, 1)}
        log(f"eval: {mode}: {rows[mode]}")
    for mode in MODES:
        rows[mode]["gap_vs_adaptive"], rows[mode]["gap_se"] = paired(per_speaker[mode] - per_speaker["adaptive"])
    # references
    r1, r5 = retrieval(real_other, spk_idx, true, trials=trials)
    rows["real frame (reference)"] = {"top1": r1, "top5": r5, "consistency": float(np.linalg.norm(real_other - true, axis=1).mean()),
                                      "diversity": float("nan"), "fd": float("nan"), "detected": 1.0, "beta": float("nan")}
    mean_face = model.decode_latents(model.prior.mu[None])[0].numpy()
    e_mean, found = embed((mean_face * 255).round().astype(np.uint8))
    m1, m5 = retrieval(np.repeat(e_mean[None], len(speakers), 0), spk_idx, true, trials=trials)
    rows["mean face μ (reference)"] = {"top1": m1, "top5": m5, "consistency": float(np.linalg.norm(true - e_mean, axis=1).mean()),
                                       "diversity": 0.0, "fd": float("nan"), "detected": float(found), "beta": float("nan")}
    return {"bundle": os.path.basename(bundle), "speakers": len(speakers), "seeds": seeds,
            "steps": steps or model.cfg.diffusion.default_steps,
            "guidance": model.cfg.diffusion.default_guidance if guidance is None else guidance,
            "pull_power": model.diffusion.cfg.pull_power, "splits": list(splits), "snr_db": snr_db, "rows": rows,
            "extra": ckpt.extra}


def markdown(result: dict) -> str:
    speech = "clean speech" if result.get("snr_db") is None else f"speech + white noise at {result['snr_db']:g} dB SNR"
    lines = [f"Held-out speakers: {result['speakers']} ({'+'.join(result.get('splits', []))}), {speech}, "
             f"{result['seeds']} seeds each, {result['steps']} DDIM steps, guidance {result['guidance']}, prior-guidance power {result.get('pull_power', '–')}; dlib 128-d descriptor space (chance top-1 of 10 = 10 %, top-5 = 50 %).", "",
             "| prior | top-1 of 10 | top-5 of 10 | consistency ↓ | vs adaptive (paired, ± SE) | diversity | "
             "Fréchet (dlib) ↓ | dlib detects | mean β |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    names = {"none": "no prior", "fixed": "fixed β⁰", "adaptive": "adaptive β (SAW)"}
    for k, r in result["rows"].items():
        def f(x, p="{:.3f}"):
            return "–" if x != x else p.format(x)
        gap = "–" if k == "adaptive" or "gap_vs_adaptive" not in r else \
            f"{r['gap_vs_adaptive']:+.3f} ± {f(r['gap_se'])}"
        lines.append(f"| {names.get(k, k)} | {f(r['top1'], '{:.1%}')} | {f(r['top5'], '{:.1%}')} | {f(r['consistency'])} | "
                     f"{gap} | {f(r['diversity'])} | {f(r['fd'], '{:.3f}')} | {f(r['detected'], '{:.0%}')} | {f(r['beta'], '{:.2f}')} |")
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bundle", default="weights/scfp_default.safetensors", help="SCFP bundle (.safetensors)")
    p.add_argument("--corpus", default="~/.cache/see-the-speaker/corpus/standard", help="corpus with held-out speakers")
    p.add_argument("--splits", default="val,test", help="held-out splits")
    p.add_argument("--seeds", type=int, default=4, help="portraits per speaker and prior mode")
    p.add_argument("--steps", type=int, default=None, help="DDIM steps (default: the bundle's)")
    p.add_argument("--guidance", type=float, default=None, help="CFG scale (default: the bundle's)")
    p.add_argument("--pull-power", type=float, default=None,
                   help="prior-guidance schedule power p (default: the bundle's; models/diffusion.py)")
    p.add_argument("--snr", type=float, default=None, help="add white noise to the speech at this SNR (dB)")
    p.add_argument("--trials", type=int, default=20, help="random distractor sets per portrait")
    p.add_argument("--max-speakers", type=int, default=0, help="limit held-out speakers (0 = all)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", default=None, help="write the markdown table here (and a .json next to it)")


def run(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.time()
    result = evaluate(args.bundle, args.corpus, tuple(args.splits.split(",")), args.seeds, args.steps, args.guidance,
                      args.trials, args.max_speakers, args.pull_power, args.snr, log=lambda m: print(m, file=sys.stderr))
    table = markdown(result)
    print(table)
    if args.out:
        write_table(args.out, table, {k: v for k, v in result.items() if k != "extra"})
    print(f"({time.time() - t0:.0f} s)", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="eval_scfp", description=__doc__.split("\n")[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
