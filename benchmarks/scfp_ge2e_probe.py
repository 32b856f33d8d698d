"""Probe behind the GE2E decision of the stage-1 speech encoder (models/ge2e.py).

How much of the face do two voice representations carry on held-out speakers, with clean test
audio and with a channel shift the training audio never had (white noise at 15 dB SNR + a
first-order EQ)? Ridge regression (evaluation/voice_face_baseline.py, speaker-grouped CV) from
(a) handcrafted utterance statistics (log-mel mean/std, F0, rate …) and (b) Resemblyzer's GE2E
embedding to the hidden factors and the face attributes most tied to them. Prints a markdown
table of held-out R².

    python benchmarks/scfp_ge2e_probe.py --corpus /tmp/corpus_small   # needs resemblyzer==0.1.4 (--no-deps)
"""

import argparse
import sys
import time

import numpy as np
import torch
from scipy.signal import lfilter

from see_the_speaker.data.corpus import Corpus
from see_the_speaker.evaluation import voice_face_baseline as vb
from see_the_speaker.models.ge2e import GE2E, load_pretrained

FACTORS = ("gender", "age", "size", "weight")
ATTRS = ("face_width", "jaw_width", "cheek_fullness", "neck_width")


def shift(w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    w = w + rng.standard_normal(w.shape[0]).astype(np.float32) * np.sqrt(np.mean(w ** 2)) * 10 ** (-15 / 20)
    return lfilter([1.0, -0.7 * rng.uniform(0.3, 1)], [1.0], w).astype(np.float32)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", required=True)
    args = p.parse_args()
    torch.set_num_threads(1)
    g = load_pretrained(GE2E())
    c = Corpus(args.corpus)
    recs = c.clips_in(["train", "val", "test"])
    rng = np.random.default_rng(0)
    fb = vb.mel_filterbank(16000)
    feats = {"stats": [], "ge2e": [], "stats_shift": [], "ge2e_shift": []}
    t0 = time.time()
    for r in recs:
        a = c.load_audio(r)
        s = shift(a, rng)
        feats["stats"].append(vb.audio_statistics(a, 16000, fb))
        feats["stats_shift"].append(vb.audio_statistics(s, 16000, fb))
        feats["ge2e"].append(g(torch.from_numpy(a)[None])[0].numpy())
        feats["ge2e_shift"].append(g(torch.from_numpy(s)[None])[0].numpy())
    print(f"features of {len(recs)} clips in {time.time() - t0:.0f} s", file=sys.stderr)
    x = {k: np.stack(v) for k, v in feats.items()}
    spk = c.speakers
    y = np.array([[spk[r.speaker]["factors"][n] for n in FACTORS] + [spk[r.speaker]["identity"][n] for n in ATTRS]
                  for r in recs])
    groups = np.array([r.speaker for r in recs])
    tr = np.array([r.split == "train" for r in recs])
    print(f"{len(set(groups[tr]))} train / {len(set(groups[~tr]))} held-out speakers\n")
    print("| features | test audio | " + " | ".join(FACTORS + ATTRS) + " | mean |")
    print("|---|---|" + "---:|" * (len(FACTORS) + len(ATTRS) + 1))
    for feat in ("stats", "ge2e"):
        for name, key in (("clean", feat), ("noise+EQ", feat + "_shift")):
            mu, sd = x[feat][tr].mean(0), x[feat][tr].std(0) + 1e-8
            xs, xt = (x[feat] - mu) / sd, (x[key] - mu) / sd
            alphas = vb.grouped_cv_alpha(xs[tr], y[tr], groups[tr])
            w, b = vb.ridge_fit_multi(xs[tr], y[tr], alphas)
            r2 = vb.r2_score(y[~tr], xt[~tr] @ w + b)
            print(f"| {feat} | {name} | " + " | ".join(f"{v:.2f}" for v in r2) + f" | {r2.mean():.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
