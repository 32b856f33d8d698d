"""How strongly does the synthetic speaker's hidden state decide its face, as dlib sees it?

Figures behind data/synth/speaker.py's tie versions (stage-1 retrieval context, issue 5):

1. sweep: for a few speakers, each FaceIdentity attribute is set to 10 % and 90 % of its range
   and the dlib descriptor distance between the two neutral renders is printed, largest first
   (which attributes dlib reacts to);
2. ceiling: N speakers' neutral faces -> dlib descriptors; a ridge from the hidden factors (+ pairwise
   products) fitted on 80 % predicts the other 20 %'s descriptors, which rank the true speaker
   among 10 (top-1 / top-5, chance 10 %) — the most any voice carrying those factors could reach;
3. voice (--voice-clips K): the same ridge and retrieval from what is actually heard, the
   Resemblyzer GE2E embedding (models/ge2e.py) of K synthesized utterances per speaker, one
   query per utterance — what a speech encoder could learn of the face, before any corpus is made.

    python benchmarks/corpus_face_tie.py --speakers 300 --sweep-speakers 6 --tie v2
    python benchmarks/corpus_face_tie.py --speakers 300 --sweep-speakers 0 --voice-clips 2 --tie v3
"""

import argparse
import dataclasses

import numpy as np

from see_the_speaker.data.synth.face import FaceIdentity, neutral_motion, render_face
from see_the_speaker.data.synth.speaker import FACTOR_NAMES, TIES, make_speaker
from see_the_speaker.evaluation import voice_face_baseline as vb
from see_the_speaker.evaluation.eval_scfp import retrieval
from see_the_speaker.evaluation.face_judges import DlibFace


def descriptor(judge: DlibFace, identity: FaceIdentity):
    img = render_face(identity, neutral_motion(), 256)
    r = judge.analyse(img[0] if isinstance(img, tuple) else img)
    return None if r is None else r.embedding


def sweep(judge: DlibFace, n: int, seed: int, tie: str) -> None:
    res = {f: [] for f in FaceIdentity.FIELDS}
    for i in range(n):
        idn = make_speaker(seed, i, tie).identity
        for f in FaceIdentity.FIELDS:
            lo, hi = FaceIdentity.RANGES[f]
            a, b = (descriptor(judge, dataclasses.replace(idn, **{f: v})) for v in (lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo)))
            if a is not None and b is not None:
                res[f].append(float(np.linalg.norm(a - b)))
    print("| attribute | dlib distance, 10 % vs 90 % of its range |\n|---|---:|")
    for f, v in sorted(res.items(), key=lambda kv: -np.mean(kv[1] or [0])):
        print(f"| {f} | {np.mean(v or [0]):.3f} |")


def ridge_retrieval(x: np.ndarray, y: np.ndarray, spk: np.ndarray, n_fit: int) -> tuple[float, float]:
    """Rows x [R, F] of speakers spk [R] (0..S-1) -> their face descriptors y [S, 128]: a ridge fitted
    on speakers < n_fit (speaker-grouped CV) ranks each other row's true speaker among 10."""
    tr = spk < n_fit
    x = (x - x[tr].mean(0)) / (x[tr].std(0) + 1e-8)
    alphas = vb.grouped_cv_alpha(x[tr], y[spk[tr]], spk[tr])
    w, b = vb.ridge_fit_multi(x[tr], y[spk[tr]], alphas)
    return retrieval(x[~tr] @ w + b, spk[~tr] - n_fit, y[n_fit:], trials=200 if (~tr).sum() < 200 else 50)


def ceiling(judge: DlibFace, n: int, seed: int, tie: str, voice_clips: int) -> None:
    spk, emb = [], []
    for i in range(n):
        s = make_speaker(seed, i, tie)
        e = descriptor(judge, s.identity)
        if e is not None:
            spk.append(s)
            emb.append(e)
    y, n_fit = np.array(emb), int(0.8 * len(spk))
    f = np.array([s.factors for s in spk], float)
    x = np.concatenate([f, (f[:, :, None] * f[:, None, :]).reshape(len(f), -1)], 1)
    t1, t5 = ridge_retrieval(x, y, np.arange(len(spk)), n_fit)
    print(f"\ntie {tie}: {len(spk)} speakers ({n_fit} fit / {len(spk) - n_fit} held out)\n")
    print("| predictor of the neutral face's dlib descriptor | top-1 of 10 | top-5 of 10 |\n|---|---:|---:|")
    print(f"| hidden factors {f.shape[1]} (linear + pairwise) | {t1:.1%} | {t5:.1%} |")
    if voice_clips:
        g, rows, who = voice_embeddings(spk, seed, voice_clips)
        t1, t5 = ridge_retrieval(g, y, who, n_fit)
        print(f"| GE2E of one utterance ({voice_clips} per speaker, {len(rows)} utterances) | {t1:.1%} | {t5:.1%} |")
        tr = who < n_fit  # how well each hidden factor is heard: held-out R² of a ridge from GE2E
        gs = (g - g[tr].mean(0)) / (g[tr].std(0) + 1e-8)
        w, b = vb.ridge_fit_multi(gs[tr], f[who[tr]], vb.grouped_cv_alpha(gs[tr], f[who[tr]], who[tr]))
        r2 = vb.r2_score(f[who[~tr]], gs[~tr] @ w + b)
        print("\n| hidden factor | " + " | ".join(FACTOR_NAMES) + " |\n|---|" + "---:|" * len(FACTOR_NAMES))
        print("| R² from GE2E (held out) | " + " | ".join(f"{v:.2f}" for v in r2) + " |")


def voice_embeddings(spk: list, seed: int, clips: int):
    """GE2E [R, 256] of `clips` synthesized utterances (2 sentences) per speaker, with speaker rows."""
    import torch

    from see_the_speaker.data.synth.text import sentences
    from see_the_speaker.data.synth.voice import synthesize
    from see_the_speaker.models.ge2e import GE2E, load_pretrained

    torch.set_num_threads(1)
    g = load_pretrained(GE2E()).eval()
    out, rows, who = [], [], []
    for k, s in enumerate(spk):
        for c in range(clips):
            rng = np.random.default_rng([seed, s.index, c, 0x7E])
            utt = synthesize(" ".join(sentences(s.voice.language, rng, 2)), s.voice, seed=int(rng.integers(2**31)))
            with torch.no_grad():
                out.append(g(torch.from_numpy(utt.wave)[None])[0].numpy())
            rows.append((s.index, c))
            who.append(k)
    return np.stack(out).astype(float), rows, np.array(who)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--speakers", type=int, default=300, help="speakers for the ceiling (0 = skip)")
    p.add_argument("--sweep-speakers", type=int, default=6, help="speakers for the attribute sweep (0 = skip)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--tie", choices=TIES, default="v2", help="voice-face tie version (data/synth/speaker.py)")
    p.add_argument("--voice-clips", type=int, default=0, help="utterances per speaker for the GE2E probe (0 = skip)")
    a = p.parse_args()
    judge = DlibFace()
    if a.sweep_speakers:
        sweep(judge, a.sweep_speakers, 0, a.tie)
    if a.speakers:
        ceiling(judge, a.speakers, a.seed, a.tie, a.voice_clips)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
