"""Voice → face learnability baseline (``python -m see_the_speaker.evaluation.voice_face_baseline``).

How much of a speaker's face can a *simple* model read from their voice? On a synthetic corpus
(identity ground truth in ``index.json``), per clip:

* utterance-level audio statistics (:func:`audio_statistics`): mean and std of 24 log-mel bands
  over speech frames, F0 statistics from a normalised-autocorrelation pitch tracker (median,
  spread and percentiles of log F0, voiced fraction), speaking rate (energy peaks per second of
  speech), speech fraction, spectral centroid/flatness;
* closed-form ridge regression (numpy) from the standardised statistics to each identity
  attribute and hidden factor, trained on the *train* speakers, ridge strength chosen by
  speaker-grouped 5-fold cross-validation on train;
* scored on *held-out* speakers (val + test by default): R² per clip and R² of the per-speaker
  mean prediction; attributes with few distinct values (categorical codes) are scored by
  one-vs-rest AUC of the ridge scores instead.

Prints (and with ``--out`` writes) a markdown table. Expected on the synthetic corpus: attributes
tied to the hidden factors (face width, jaw, age cues, brows…) clearly above 0, independent ones
(hair/iris colour…) near 0 (R²) or 0.5 (AUC).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

N_MELS = 24
N_FFT = 512
HOP = 160  # 10 ms at 16 kHz


def mel_filterbank(sample_rate: int, n_fft: int = N_FFT, n_mels: int = N_MELS, fmin: float = 60.0, fmax: float | None = None) -> np.ndarray:
    """Triangular HTK-style mel filters → float32 [n_mels, n_fft//2+1]."""
    fmax = fmax or sample_rate / 2

    def hz2mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def mel2hz(m):
        return 700.0 * (10 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = mel2hz(np.linspace(hz2mel(fmin), hz2mel(fmax), n_mels + 2))
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    lo, c, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    fb = np.maximum(0, np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)))
    return fb.astype(np.float32)


def _frames(x: np.ndarray, size: int, hop: int) -> np.ndarray:
    """[N] → [F, size] overlapping frames (zero-padded at the end)."""
    n = 1 + max(0, (len(x) - size + hop - 1) // hop)
    pad = np.pad(x, (0, max(0, (n - 1) * hop + size - len(x))))
    idx = np.arange(size)[None, :] + hop * np.arange(n)[:, None]
    return pad[idx]


def pitch_track(x: np.ndarray, sr: int, fmin: float = 60.0, fmax: float = 450.0, threshold: float = 0.55) -> np.ndarray:
    """F0 in Hz per 10 ms frame (0 = unvoiced) by normalised autocorrelation, 40 ms windows."""
    win = int(0.04 * sr)
    fr = _frames(x, win, HOP) * np.hanning(win)[None]  # [F, win]
    spec = np.fft.rfft(fr, 2 * win, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :win]  # [F, win]
    ac_w = np.fft.irfft(np.abs(np.fft.rfft(np.hanning(win), 2 * win)) ** 2)[:win]
    ac = ac / np.maximum(ac[:, :1], 1e-9) / np.maximum(ac_w / ac_w[0], 1e-3)[None]
    lo, hi = int(sr / fmax), int(sr / fmin)
    seg = ac[:, lo:hi]
    k = seg.argmax(1)
    peak = seg[np.arange(len(k)), k]
    energy = (fr**2).mean(1)
    voiced = (peak > threshold) & (energy > 1e-3 * energy.max())
    return np.where(voiced, sr / (k + lo), 0.0)


def audio_statistics(x: np.ndarray, sr: int, fb: np.ndarray | None = None) -> np.ndarray:
    """Utterance statistics → float64 [2*N_MELS + 12] (see :func:`statistic_names`)."""
    fb = mel_filterbank(sr) if fb is None else fb
    fr = _frames(x, N_FFT, HOP) * np.hanning(N_FFT)[None]
    pw = np.abs(np.fft.rfft(fr, axis=1)) ** 2  # [F, 257]
    logmel = np.log(pw @ fb.T + 1e-8)  # [F, 40]
    e = logmel.max(1)
    speech = e > e.max() - 6.0  # frames within 6 (nat-log) of the loudest
    if speech.sum() < 5:
        speech[:] = True
    lm = logmel[speech]
    f0 = pitch_track(x, sr)
    v = f0[f0 > 0]
    lf = np.log(v) if v.size >= 3 else np.log(np.array([100.0, 100.0, 100.0]))
    freqs = np.linspace(0, sr / 2, pw.shape[1])
    ps = pw[speech]
    centroid = (ps * freqs).sum(1) / (ps.sum(1) + 1e-12)
    flat = np.exp(np.log(ps + 1e-12).mean(1)) / (ps.mean(1) + 1e-12)
    env = np.convolve(np.sqrt((fr**2).mean(1)), np.hanning(7) / 3.5, mode="same")
    peaks = (env[1:-1] > env[:-2]) & (env[1:-1] >= env[2:]) & (env[1:-1] > 0.3 * env.max())
    dur_speech = speech.sum() * HOP / sr
    rest = [
        np.median(lf), lf.std(), np.percentile(lf, 10), np.percentile(lf, 90),
        v.size / max(1, speech.sum()), peaks.sum() / max(dur_speech, 0.1), speech.mean(),
        np.log(centroid.mean() + 1), centroid.std() / 1000, np.log(flat.mean() + 1e-9),
        np.log(env.max() + 1e-9), (np.diff(lf) ** 2).mean() ** 0.5 if lf.size > 1 else 0.0,
    ]
    return np.concatenate([lm.mean(0), lm.std(0), np.asarray(rest, np.float64)])


def statistic_names() -> list[str]:
    return ([f"logmel_mean_{i}" for i in range(N_MELS)] + [f"logmel_std_{i}" for i in range(N_MELS)]
            + ["f0_median", "f0_spread", "f0_p10", "f0_p90", "voiced_frac", "syllable_rate", "speech_frac",
               "centroid", "centroid_std", "flatness", "peak_level", "f0_jitter"])


# --------------------------------------------------------------------------------------------
# Ridge + metrics
# --------------------------------------------------------------------------------------------


def ridge_fit(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form ridge on centred data: x [N,D], y [N,K] → (W [D,K], b [K])."""
    mx, my = x.mean(0), y.mean(0)
    xc = x - mx
    w = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ (y - my))
    return w, my - mx @ w


def r2_score(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per column R² = 1 - SSE/SST, y/p [N,K] → [K] (SST from the held-out mean)."""
    sst = ((y - y.mean(0)) ** 2).sum(0)
    return 1.0 - ((y - p) ** 2).sum(0) / np.maximum(sst, 1e-12)


def auc_score(labels: np.ndarray, scores: np.ndarray) -> float:
    """Binary ROC AUC by the rank-sum formula (ties averaged)."""
    from scipy.stats import rankdata

    pos = labels.astype(bool)
    n1, n0 = pos.sum(), (~pos).sum()
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(scores)
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def grouped_cv_alpha(x: np.ndarray, y: np.ndarray, groups: np.ndarray, alphas=(0.1, 1, 10, 100, 1000, 1e4), folds: int = 5) -> np.ndarray:
    """Per target column, the ridge strength with the best R² in speaker-grouped CV → [K]."""
    ug = np.unique(groups)
    fold_of = {g: i % folds for i, g in enumerate(np.random.default_rng(0).permutation(ug))}
    f = np.array([fold_of[g] for g in groups])
    score = np.zeros((len(alphas), y.shape[1]))  # [A, K] mean held-out-fold R²
    for ai, a in enumerate(alphas):
        per = []
        for k in range(folds):
            tr, te = f != k, f == k
            if te.sum() < 2 or tr.sum() < 2:
                continue
            w, b = ridge_fit(x[tr], y[tr], a)
            per.append(r2_score(y[te], x[te] @ w + b))
        score[ai] = np.mean(per, 0)
    return np.asarray(alphas, float)[score.argmax(0)]


def ridge_fit_multi(x: np.ndarray, y: np.ndarray, alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ridge with one strength per target column: x [N,D], y [N,K], alphas [K] → (W [D,K], b [K])."""
    w = np.zeros((x.shape[1], y.shape[1]))
    b = np.zeros(y.shape[1])
    for a in np.unique(alphas):
        cols = np.flatnonzero(alphas == a)
        w[:, cols], b[cols] = ridge_fit(x, y[:, cols], float(a))
    return w, b


@dataclasses.dataclass
class AttributeScore:
    name: str
    group: str  # "identity" | "factor"
    metric: str  # "R2" | "AUC"
    clip: float
    speaker: float


def load_features(root: str | Path, splits=("train", "val", "test"), log=print) -> tuple[np.ndarray, list, object]:
    """Audio statistics for every clip of ``splits`` → (X [N,D], clip records, corpus)."""
    from ..data.corpus import Corpus

    corpus = Corpus(root)
    recs = corpus.clips_in(list(splits))
    fb = mel_filterbank(corpus.sample_rate)
    feats = []
    t0 = time.time()
    for i, rec in enumerate(recs):
        feats.append(audio_statistics(corpus.load_audio(rec), corpus.sample_rate, fb))
        if log and (i + 1) % 500 == 0:
            log(f"  features: {i + 1}/{len(recs)} clips, {time.time() - t0:.0f} s")
    return np.stack(feats), recs, corpus


def categorical_fields() -> dict[str, tuple[str, ...]]:
    """Identity fields that encode a category as a bucket of [0, 1) (face.py's convention)."""
    try:
        from ..data.synth.face import FACIAL_HAIR, HAIR_STYLES
    except ImportError:  # pragma: no cover
        return {}
    return {"hair_style": HAIR_STYLES, "facial_hair": FACIAL_HAIR}


def _bucket(values: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Bucketed [0,1) codes → class index over the *distinct* names (duplicates merged)."""
    uniq = sorted(set(names), key=names.index)
    idx = np.minimum((values * len(names)).astype(int), len(names) - 1)
    return np.array([uniq.index(names[i]) for i in idx])


def _nanmean(xs: list[float]) -> float:
    """Mean of the finite values (nan when there are none: a class absent from the held-out set)."""
    a = np.asarray(xs, float)
    return float(a[np.isfinite(a)].mean()) if np.isfinite(a).any() else float("nan")


def evaluate(root: str | Path, heldout=("val", "test"), categorical_max_values: int = 8, log=print) -> list[AttributeScore]:
    """Fit on train speakers, score on ``heldout`` speakers; one score per attribute."""
    x, recs, corpus = load_features(root, ("train",) + tuple(heldout), log=log)
    spk = corpus.speakers
    targets: list[tuple[str, str]] = []
    first = spk[recs[0].speaker]
    for group, key in (("identity", "identity"), ("factor", "factors")):
        if isinstance(first.get(key), dict):
            targets += [(group, n) for n in first[key]]
    if not targets:
        raise SystemExit(f"{corpus.root}: speakers carry no 'identity'/'factors' attributes; this baseline needs a synthetic corpus")
    key_of = {"identity": "identity", "factor": "factors"}
    y = np.array([[float(spk[r.speaker][key_of[g]][n]) for g, n in targets] for r in recs])  # [N,K]
    cats = categorical_fields()
    for k, (g, n) in enumerate(targets):
        if g == "identity" and n in cats:
            y[:, k] = _bucket(y[:, k], cats[n])
    groups = np.array([r.speaker for r in recs])
    train = np.array([r.split == "train" for r in recs])
    mu, sd = x[train].mean(0), x[train].std(0) + 1e-8
    xs = (x - mu) / sd
    alpha = grouped_cv_alpha(xs[train], y[train], groups[train])  # [K]
    w, b = ridge_fit_multi(xs[train], y[train], alpha)
    p = xs @ w + b
    te = ~train
    held_speakers = sorted(set(groups[te]))
    sp_idx = [np.flatnonzero(groups == s) for s in held_speakers]
    out = []
    for k, (g, n) in enumerate(targets):
        vals = np.unique(y[:, k])
        yt, pt = y[te, k], p[te, k]
        ys = np.array([y[i[0], k] for i in sp_idx])
        ps = np.array([p[i, k].mean() for i in sp_idx])
        if (g == "identity" and n in cats) or (len(vals) <= categorical_max_values and np.allclose(vals, np.round(vals))):
            # categorical code: one-vs-rest ridge scores, macro AUC over classes present
            yc = (y[:, k][:, None] == vals[None]).astype(float)  # [N, C]
            wc, bc = ridge_fit(xs[train], yc[train], float(alpha[k]))
            sc = xs @ wc + bc
            ssc = np.stack([sc[i].mean(0) for i in sp_idx])
            a_clip = _nanmean([auc_score(yc[te, c], sc[te, c]) for c in range(len(vals))])
            a_spk = _nanmean([auc_score(ys == v, ssc[:, c]) for c, v in enumerate(vals)])
            out.append(AttributeScore(n, g, "AUC", float(a_clip), float(a_spk)))
        else:
            out.append(AttributeScore(n, g, "R2", float(r2_score(yt[:, None], pt[:, None])[0]), float(r2_score(ys[:, None], ps[:, None])[0])))
    log = log or (lambda _m: None)
    log(f"ridge alpha per attribute in {sorted(set(alpha.tolist()))} (grouped CV on {len(set(groups[train]))} train speakers); held out: {len(held_speakers)} speakers, {int(te.sum())} clips")
    return out


def markdown_table(scores: list[AttributeScore]) -> str:
    lines = ["| attribute | kind | metric | per clip | per speaker (mean prediction) |", "|---|---|---|---:|---:|"]
    for s in sorted(scores, key=lambda s: (s.group != "factor", -s.speaker if s.metric == "R2" else -(s.speaker - 0.5) * 2)):
        lines.append(f"| {s.name} | {s.group} | {s.metric} | {s.clip:.2f} | {s.speaker:.2f} |")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", default="~/.cache/see-the-speaker/corpus/standard", help="synthetic corpus directory")
    parser.add_argument("--heldout", default="val,test", help="comma-separated splits to score on (speakers never seen in training)")
    parser.add_argument("--out", default=None, help="also write the markdown table to this file")


def run(args: argparse.Namespace) -> int:
    t0 = time.time()
    scores = evaluate(Path(args.corpus).expanduser(), tuple(s for s in args.heldout.split(",") if s), log=lambda m: print(m, file=sys.stderr))
    table = markdown_table(scores)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n", encoding="utf-8")
    print(f"({time.time() - t0:.1f} s)", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="voice_face_baseline", description=__doc__.split("\n")[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
