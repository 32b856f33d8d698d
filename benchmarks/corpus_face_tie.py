"""How strongly does the synthetic speaker's hidden state decide its face, as dlib sees it?

Two figures behind data/synth/speaker.py's `morph` factor (stage-1 retrieval context, issue 5):

1. sweep: for a few speakers, each FaceIdentity attribute is set to 10 % and 90 % of its range
   and the dlib descriptor distance between the two neutral renders is printed, largest first
   (which attributes dlib reacts to);
2. ceiling: N speakers' neutral faces -> dlib descriptors; a ridge from the hidden factors (+ pairwise
   products) fitted on 80 % predicts the other 20 %'s descriptors, which rank the true speaker
   among 10 (top-1 / top-5, chance 10 %) — the most any voice carrying those factors could reach.

    python benchmarks/corpus_face_tie.py --speakers 300 --sweep-speakers 6
"""

import argparse
import dataclasses

import numpy as np

from see_the_speaker.data.synth.face import FaceIdentity, neutral_motion, render_face
from see_the_speaker.data.synth.speaker import make_speaker
from see_the_speaker.evaluation import voice_face_baseline as vb
from see_the_speaker.evaluation.eval_scfp import retrieval
from see_the_speaker.evaluation.face_judges import DlibFace


def descriptor(judge: DlibFace, identity: FaceIdentity):
    img = render_face(identity, neutral_motion(), 256)
    r = judge.analyse(img[0] if isinstance(img, tuple) else img)
    return None if r is None else r.embedding


def sweep(judge: DlibFace, n: int, seed: int) -> None:
    res = {f: [] for f in FaceIdentity.FIELDS}
    for i in range(n):
        idn = make_speaker(seed, i).identity
        for f in FaceIdentity.FIELDS:
            lo, hi = FaceIdentity.RANGES[f]
            a, b = (descriptor(judge, dataclasses.replace(idn, **{f: v})) for v in (lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo)))
            if a is not None and b is not None:
                res[f].append(float(np.linalg.norm(a - b)))
    print("| attribute | dlib distance, 10 % vs 90 % of its range |\n|---|---:|")
    for f, v in sorted(res.items(), key=lambda kv: -np.mean(kv[1] or [0])):
        print(f"| {f} | {np.mean(v or [0]):.3f} |")


def ceiling(judge: DlibFace, n: int, seed: int) -> None:
    fac, emb = [], []
    for i in range(n):
        s = make_speaker(seed, i)
        e = descriptor(judge, s.identity)
        if e is not None:
            fac.append(s.factors)
            emb.append(e)
    f, y = np.array(fac, float), np.array(emb)
    x = np.concatenate([f, (f[:, :, None] * f[:, None, :]).reshape(len(f), -1)], 1)
    tr = np.arange(len(f)) < int(0.8 * len(f))
    x = (x - x[tr].mean(0)) / (x[tr].std(0) + 1e-8)
    alphas = vb.grouped_cv_alpha(x[tr], y[tr], np.arange(len(f))[tr])
    w, b = vb.ridge_fit_multi(x[tr], y[tr], alphas)
    t1, t5 = retrieval(x[~tr] @ w + b, np.arange(int((~tr).sum())), y[~tr], trials=200)
    print(f"\nfactors {f.shape[1]}, {len(f)} speakers ({int(tr.sum())} fit / {int((~tr).sum())} held out): "
          f"top-1 of 10 {t1:.1%}, top-5 {t5:.1%}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--speakers", type=int, default=300, help="speakers for the ceiling (0 = skip)")
    p.add_argument("--sweep-speakers", type=int, default=6, help="speakers for the attribute sweep (0 = skip)")
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    judge = DlibFace()
    if a.sweep_speakers:
        sweep(judge, a.sweep_speakers, 0)
    if a.speakers:
        ceiling(judge, a.speakers, a.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
