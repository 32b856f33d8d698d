"""How far can voice alone go in the stage-1 retrieval metric? (context for issue 5's ≥ 30 % target)

For every speaker: the true face = mean dlib descriptor of near-neutral frames (as in
evaluation/eval_scfp.py). A ridge regression from one utterance's voice features (GE2E, and/or
handcrafted statistics from evaluation/voice_face_baseline.py) to the speaker's true descriptor
is fitted on train speakers; each held-out utterance's *predicted* descriptor then ranks the true
speaker among 10 held-out speakers (top-1 of 10, chance 10 %). A generator that drew the
conditional-mean face perfectly would score about this; real samples add seed variation. The
"hidden factors" row replaces the voice by the generator's own speaker factors (gender, age,
size, weight, energy) — the most any voice in this corpus can reveal about the face.

    python benchmarks/scfp_retrieval_probe.py --corpus ~/.cache/see-the-speaker/corpus/standard
"""

import argparse
import sys
import time

import numpy as np
import torch

from see_the_speaker.data.corpus import Corpus
from see_the_speaker.evaluation import voice_face_baseline as vb
from see_the_speaker.evaluation.eval_scfp import retrieval
from see_the_speaker.evaluation.face_judges import DlibFace
from see_the_speaker.models.ge2e import GE2E, load_pretrained
from see_the_speaker.training.scfp_data import neutral_frames


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", required=True)
    p.add_argument("--faces-per-speaker", type=int, default=4)
    args = p.parse_args()
    torch.set_num_threads(1)
    c = Corpus(args.corpus)
    dl = DlibFace()
    g = load_pretrained(GE2E())
    fb = vb.mel_filterbank(16000)
    speakers = sorted(c.speakers)
    t0 = time.time()
    true = {}
    for s in speakers:
        recs = [r for r in c.clips_in(None) if r.speaker == s][: args.faces_per_speaker]
        embs = []
        for r in recs:
            t = neutral_frames(c.load_arrays(r), r.n_frames, 1)[0]
            embs.append(dl.analyse(c.load_frames(r, t, t + 1)[0]).embedding)
        true[s] = np.mean(embs, 0)
    print(f"true faces: {time.time() - t0:.0f} s", file=sys.stderr)
    recs = c.clips_in(None)
    ge2e, stats = [], []
    for r in recs:
        a = c.load_audio(r)
        ge2e.append(g(torch.from_numpy(a)[None])[0].numpy())
        stats.append(vb.audio_statistics(a, 16000, fb))
    print(f"voice features: {time.time() - t0:.0f} s", file=sys.stderr)
    y = np.stack([true[r.speaker] for r in recs])
    groups = np.array([r.speaker for r in recs])
    tr = np.array([r.split == "train" for r in recs])
    held = sorted(set(groups[~tr]))
    true_held = np.stack([true[s] for s in held])
    spk_idx = np.array([held.index(s) for s in groups[~tr]])
    feats = {"GE2E": np.stack(ge2e), "statistics": np.stack(stats)}
    feats["GE2E + statistics"] = np.concatenate([feats["GE2E"], feats["statistics"]], 1)
    # ceiling: the speaker's hidden factors themselves (all a voice can reveal about the face in
    # this corpus, without the voice's noise); ridge + their pairwise products
    f = np.array([[c.speakers[r.speaker]["factors"][k] for k in sorted(c.speakers[r.speaker]["factors"])] for r in recs])
    feats["hidden factors (ceiling)"] = np.concatenate([f, (f[:, :, None] * f[:, None, :]).reshape(len(f), -1)], 1)
    print(f"{len(set(groups[tr]))} train / {len(held)} held-out speakers, {int((~tr).sum())} held-out utterances\n")
    print("| voice features | top-1 of 10 | top-5 of 10 | mean distance to true face |")
    print("|---|---:|---:|---:|")
    for name, x in feats.items():
        mu, sd = x[tr].mean(0), x[tr].std(0) + 1e-8
        xs = (x - mu) / sd
        alphas = vb.grouped_cv_alpha(xs[tr], y[tr], groups[tr])
        w, b = vb.ridge_fit_multi(xs[tr], y[tr], alphas)
        pred = xs[~tr] @ w + b
        t1, t5 = retrieval(pred, spk_idx, true_held, trials=50)
        dist = float(np.linalg.norm(pred - true_held[spk_idx], axis=1).mean())
        print(f"| {name} | {t1:.1%} | {t5:.1%} | {dist:.3f} |")
    # nonlinear ceiling: the real faces of the train speakers nearest in hidden-factor space
    train_spk = [s for s in speakers if c.speakers[s]["split"] == "train"]
    fac = {s: np.array([c.speakers[s]["factors"][k] for k in sorted(c.speakers[s]["factors"])]) for s in speakers}
    ftr = np.stack([fac[s] for s in train_spk])
    fmu, fsd = ftr.mean(0), ftr.std(0) + 1e-8
    for k in (1, 5):
        pred = []
        for s in groups[~tr]:
            d = np.linalg.norm((ftr - fac[s]) / fsd, axis=1)
            pred.append(np.mean([true[train_spk[i]] for i in np.argsort(d)[:k]], 0))
        t1, t5 = retrieval(np.stack(pred), spk_idx, true_held, trials=50)
        dist = float(np.linalg.norm(np.stack(pred) - true_held[spk_idx], axis=1).mean())
        print(f"| real faces of the {k} train speaker(s) nearest in hidden factors (ceiling) | {t1:.1%} | {t5:.1%} | {dist:.3f} |")
    mean_face = np.stack([true[s] for s in speakers if c.speakers[s]["split"] == "train"]).mean(0)
    t1, t5 = retrieval(np.repeat(mean_face[None], len(spk_idx), 0), spk_idx, true_held, trials=50)
    print(f"| none (mean train face) | {t1:.1%} | {t5:.1%} | {float(np.linalg.norm(mean_face - true_held[spk_idx], axis=1).mean()):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
