"""Which raw content front end carries lip movement best, and most robustly? (models/content_encoder.py)

A linear probe (ridge on ±2 frames of raw features) predicts the ground-truth lip motion of the
synthetic corpus (lips = jaw_open, mouth_width, lip_round, lip_press, teeth, tongue) from each front
end, trained on the train speakers and scored on held-out speakers, on clean audio and on audio
perturbed the way real recordings differ from the corpus voices (pitch shift, spectral tilt,
noise, all three). Prints a markdown table of correlations (jaw_open, and mean over the six lip
fields). A robust front end keeps its score under perturbation.

    python benchmarks/motion_content_probe.py --corpus /tmp/corpus_dev [--max-clips 120]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torchaudio

from see_the_speaker.data.corpus import Corpus
from see_the_speaker.data.synth.face import MOTION_FIELDS, MOTION_RANGES
from see_the_speaker.models.content_encoder import ContentEncoderConfig, raw_features
from see_the_speaker.training.motion_augment import pitch_shift

LIPS = ["jaw_open", "mouth_width", "lip_round", "lip_press", "teeth", "tongue"]
SR = 16000


def perturb(wave: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    x = torch.from_numpy(wave.astype(np.float32))
    if kind in ("pitch", "all"):
        x = pitch_shift(x, float(rng.choice([-4, 4])))
    if kind in ("tilt", "all"):  # strong spectral tilt: a one-pole low-pass or a pre-emphasis
        if rng.random() < 0.5:
            x = torchaudio.functional.lowpass_biquad(x, SR, 1500.0)
        else:
            x = torchaudio.functional.highpass_biquad(x, SR, 600.0)
    if kind in ("noise", "all"):  # 10 dB SNR pink-ish noise
        n = torch.from_numpy(rng.standard_normal(x.shape[0]).astype(np.float32))
        n = torchaudio.functional.lowpass_biquad(n, SR, 3000.0)
        snr = 10.0
        x = x + n * (x.pow(2).mean().sqrt() / n.pow(2).mean().sqrt().clamp_min(1e-8)) * 10 ** (-snr / 20)
    return x.numpy()


def stack(f: np.ndarray, k: int = 2) -> np.ndarray:
    """[T, F] -> [T, (2k+1) F]: each frame with its ±k neighbours (edge-padded)."""
    p = np.pad(f, ((k, k), (0, 0)), mode="edge")
    return np.concatenate([p[i:i + f.shape[0]] for i in range(2 * k + 1)], 1)


def lips_target(motion: np.ndarray) -> np.ndarray:
    idx = [MOTION_FIELDS.index(n) for n in LIPS]
    lo = np.array([MOTION_RANGES[n][0] for n in LIPS]); hi = np.array([MOTION_RANGES[n][1] for n in LIPS])
    return (motion[:, idx] - lo) / (hi - lo)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--max-clips", type=int, default=120, help="train clips used (held-out: all val+test clips)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    corpus = Corpus(args.corpus)
    rng = np.random.default_rng(0)
    train = corpus.clips_in("train")
    train = [train[i] for i in sorted(rng.permutation(len(train))[: args.max_clips])]
    held = corpus.clips_in(["val", "test"])
    conditions = ["clean", "pitch", "tilt", "noise", "all"]
    rows = []
    for backend in ("mel", "whisper"):
        cfg = ContentEncoderConfig(backend=backend)
        t0 = time.time()
        X = np.concatenate([stack(raw_features(corpus.load_audio(r), cfg, r.n_frames).numpy()) for r in train])
        Y = np.concatenate([lips_target(corpus.load_arrays(r)["motion"]) for r in train])
        mu, sd = X.mean(0), X.std(0) + 1e-6
        Xn = (X - mu) / sd
        lam = 1e-1 * Xn.shape[0]
        W = np.linalg.solve(Xn.T @ Xn + lam * np.eye(Xn.shape[1]), Xn.T @ (Y - Y.mean(0)))
        feat_s = (time.time() - t0) / sum(r.n_frames for r in train) * 25
        scores = {}
        for cond in conditions:
            prng = np.random.default_rng(1)
            P, G = [], []
            for r in held:
                w = corpus.load_audio(r)
                if cond != "clean":
                    w = perturb(w, cond, prng)
                f = stack(raw_features(w, cfg, r.n_frames).numpy())
                P.append(((f - mu) / sd) @ W + Y.mean(0)); G.append(lips_target(corpus.load_arrays(r)["motion"]))
            P, G = np.concatenate(P), np.concatenate(G)
            corr = [np.corrcoef(P[:, i], G[:, i])[0, 1] for i in range(len(LIPS))]
            scores[cond] = (corr[0], float(np.nanmean(corr)))
        rows.append((backend, scores, feat_s))
        print(backend, {k: tuple(round(float(x), 3) for x in v) for k, v in scores.items()}, flush=True)
    print(f"\nheld-out speakers: {len({r.speaker for r in held})}, clips {len(held)}; probe trained on {len(train)} clips\n")
    print("| front end | " + " | ".join(conditions) + " | feature s per s audio |")
    print("|---|" + "---:|" * (len(conditions) + 1))
    for backend, scores, feat_s in rows:
        cells = [f"{scores[c][0]:.2f} / {scores[c][1]:.2f}" for c in conditions]
        print(f"| {backend} | " + " | ".join(cells) + f" | {feat_s:.3f} |")
    print("\ncells: correlation jaw_open / mean over the 6 lip fields (linear probe, held-out speakers)")


if __name__ == "__main__":
    main()
